// A small shell-style glob (`*`, `?`, `[...]` within one path segment), enough for CONF=.
// Like bash, wildcards do not match a leading dot and results are sorted.

export interface DirLister {
  list(dir: string): string[];
  exists(path: string): boolean;
}

export function hasMagic(s: string): boolean {
  return /[*?[]/.test(s);
}

export function segmentRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end === -1) {
        re += '\\[';
        continue;
      }
      let body = seg.slice(i + 1, end);
      if (body.startsWith('!') || body.startsWith('^')) body = '^' + body.slice(1);
      re += '[' + body.replace(/\\/g, '\\\\') + ']';
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp('^' + re + '$');
}

export function globWith(pattern: string, fs: DirLister): string[] {
  if (!hasMagic(pattern)) return fs.exists(pattern) ? [pattern] : [];
  const segs = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let bases = [segs[0] === '' ? '/' : '.'];
  for (const seg of segs.slice(segs[0] === '' ? 1 : 0)) {
    const next: string[] = [];
    for (const base of bases) {
      const join = (n: string) => (base === '/' ? '/' + n : base === '.' ? n : base + '/' + n);
      if (!hasMagic(seg)) {
        next.push(join(seg));
        continue;
      }
      let re: RegExp;
      try {
        re = segmentRegExp(seg);
      } catch {
        continue;
      }
      for (const name of fs.list(base).sort()) {
        if (name.startsWith('.') && !seg.startsWith('.')) continue;
        if (re.test(name)) next.push(join(name));
      }
    }
    bases = next;
  }
  return bases.filter((p) => fs.exists(p)).sort();
}
