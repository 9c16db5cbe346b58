// Output helpers shared by the commands: kubectl-style aligned tables, relative ages, JSON/YAML.
import { stringify } from 'yaml';

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd()).join('\n') + '\n';
}

export function age(fromIso: string | undefined, now: number): string {
  if (!fromIso) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(fromIso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function render(obj: unknown, output: string): string {
  if (output === 'json') return JSON.stringify(obj, null, 2) + '\n';
  if (output === 'yaml') return stringify(obj);
  throw new Error(`unknown output format ${output}`);
}

export function list(kind: string, items: unknown[]): unknown {
  return { apiVersion: 'v1', kind: `${kind}List`, items };
}

/**
 * What doshctl prints, made safe for the terminal it is printed on: sessions carry text their users chose (a -c
 * command, its arguments), and an escape sequence in it would otherwise act on the administrator's terminal. C0
 * controls other than newline and tab become \xHH, DEL and C1 controls (U+0080-U+009F: U+009B starts a sequence on
 * some terminals) \u00HH. In JSON and in YAML's double-quoted strings, where the formatters leave C1 raw, \u00HH is
 * the same character, so machine-readable output keeps its values.
 */
export function terminalSafe(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u00${code.toString(16)}`;
  });
}
