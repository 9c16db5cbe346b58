// One record of Go's encoding/csv (what the docker CLI uses for --mount and --gpus values).

export function readCsvRecord(s: string): string[] | string {
  if (s === '') return 'empty value';
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) return 'extraneous or missing " in quoted-field';
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += s[i++];
      }
      if (i < s.length && s[i] !== ',') return 'extraneous or missing " in quoted-field';
    } else {
      while (i < s.length && s[i] !== ',') {
        if (s[i] === '"') return 'bare " in non-quoted-field';
        if (s[i] === '\n' || s[i] === '\r') return 'line break in value';
        field += s[i++];
      }
    }
    fields.push(field);
    if (i >= s.length) return fields;
    i++; // the comma
  }
}

/** Go opts.ConvertKVStringsToMap: `k=v` → k:v, `k` → k:"". */
export function kvMap(items: string[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (const it of items) {
    const eq = it.indexOf('=');
    if (eq === -1) m[it] = '';
    else m[it.slice(0, eq)] = it.slice(eq + 1);
  }
  return m;
}
