// Structured logs: JSON lines for machines, a short human format on a terminal.
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Logger = {
  [L in Level]: (msg: string, fields?: Record<string, unknown>) => void;
};

export function createLogger(opts: { level?: Level; json?: boolean; write?: (line: string) => void; now?: () => number } = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((l: string) => process.stderr.write(l + '\n'));
  const now = opts.now ?? Date.now;
  const json = opts.json ?? !process.stderr.isTTY;
  const emit = (level: Level) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[level] < min) return;
    const time = new Date(now()).toISOString();
    if (json) write(JSON.stringify({ time, level, msg, ...fields }));
    else {
      const kv = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      write(`${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${msg}${kv ? ' ' + kv : ''}`);
    }
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
