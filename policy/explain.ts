// `doshctl policy explain USER`: every effective setting with the file, line and section that set it.
import type { UserInfo } from '../api/policy.ts';
import type { PolicyHost } from './host-path.ts';
import { resolvePolicy } from './resolve.ts';
import type { CompiledPolicy } from './types.ts';

export interface ExplainEntry {
  /** e.g. `image`, `create.HostConfig.Memory`. */
  setting: string;
  value: unknown;
  file: string;
  line: number;
  section: string;
}

export function explain(policy: CompiledPolicy, user: UserInfo, host?: PolicyHost): ExplainEntry[] {
  const eff = resolvePolicy(policy, user, host);
  const at = (p: string): unknown => p.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), eff);
  return Object.entries(eff.provenance)
    .map(([setting, o]) => ({ setting, value: at(setting), file: o.file, line: o.line, section: o.section }))
    .sort((a, b) => a.setting.localeCompare(b.setting));
}

/** One line per setting: `setting = value    file:line [section]`. */
export function formatExplain(entries: ExplainEntry[]): string {
  const rows = entries.map((e) => [e.setting, e.value === undefined ? '(not a container setting)' : JSON.stringify(e.value), e.line > 0 ? `${e.file}:${e.line} [${e.section}]` : e.file]);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.min(60, Math.max(...rows.map((r) => r[1].length)));
  return rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`).join('\n') + '\n';
}
