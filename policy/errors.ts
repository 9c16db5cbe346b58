// Every rejection of policy input is a PolicyError that says where (file, 1-based line,
// optional column or YAML path) and what was wrong, so callers print one line and no stack.

export interface Origin {
  file: string;
  line: number;
  column?: number;
  /** `(top)` for the section-less part of a file, else e.g. `user:bob` or `rules[2]`. */
  section: string;
  /** In dosh.yaml: the path of the value, e.g. `rules[2].resources.memory`. */
  yamlPath?: string;
}

export class PolicyError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  readonly yamlPath?: string;
  /** The message without the location prefix. */
  readonly reason: string;

  constructor(where: { file: string; line: number; column?: number; yamlPath?: string }, reason: string) {
    const col = where.column !== undefined ? `:${where.column}` : '';
    const yp = where.yamlPath ? ` (at ${where.yamlPath})` : '';
    super(`${where.file}:${where.line}${col}: ${reason}${yp}`);
    this.name = 'PolicyError';
    this.file = where.file;
    this.line = where.line;
    this.column = where.column;
    this.yamlPath = where.yamlPath;
    this.reason = reason;
  }

  override toString(): string {
    return this.message;
  }
}

export function fail(where: { file: string; line: number; column?: number; yamlPath?: string }, reason: string): never {
  throw new PolicyError(where, reason);
}

/** Shows a user-supplied value in a message without letting control characters garble the log line. */
export function show(value: string, max = 80): string {
  const s = JSON.stringify(value.length > max ? value.slice(0, max) + '…' : value);
  return s;
}
