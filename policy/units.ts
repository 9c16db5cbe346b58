// Number and size parsing with the docker CLI's rules (pflag ints use Go's base-0 syntax,
// sizes use go-units' RAMInBytes with binary multiples), so values mean what docker means.

/** Go strconv.ParseBool. */
export function parseGoBool(s: string): boolean | null {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return null;
}

/** Go strconv.ParseInt(s, base, 64) for base 0 (0x/0o/0b/leading-0 prefixes, underscores) or 10; null when invalid or not a safe integer. */
export function parseGoInt(s: string, base: 0 | 10 = 0): number | null {
  let t = s;
  let neg = false;
  if (t.startsWith('+') || t.startsWith('-')) {
    neg = t[0] === '-';
    t = t.slice(1);
  }
  let radix = 10;
  let digits = t;
  let prefixed = false;
  if (base === 0) {
    const p = t.slice(0, 2).toLowerCase();
    if (p === '0x') [radix, digits, prefixed] = [16, t.slice(2), true];
    else if (p === '0o') [radix, digits, prefixed] = [8, t.slice(2), true];
    else if (p === '0b') [radix, digits, prefixed] = [2, t.slice(2), true];
    else if (t.length > 1 && t[0] === '0') [radix, digits, prefixed] = [8, t.slice(1), true];
    if (digits.includes('_')) {
      // Go allows '_' only between digits or right after a base prefix.
      if (!/^_?[^_]+(_[^_]+)*$/.test(digits) || (!prefixed && digits.startsWith('_'))) return null;
      digits = digits.replace(/_/g, '');
    }
  }
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[radix as 2 | 8 | 10 | 16];
  if (!valid.test(digits)) return null;
  const n = parseInt(digits, radix);
  if (!Number.isSafeInteger(n)) return null;
  return neg ? -n : n;
}

const UNIT: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** go-units RAMInBytes: `512m`, `2G`, `1.5g`, `1024`, `10 KiB`; binary multiples, truncated to an integer. */
export function ramInBytes(s: string): number | null {
  const m = /^(\d+(?:\.\d*)?|\.\d+) ?([A-Za-z]{0,3})$/.exec(s);
  if (!m) return null;
  let size = parseFloat(m[1]);
  const sfx = m[2].toLowerCase();
  if (sfx !== '') {
    if (sfx === 'b') {
      /* plain bytes */
    } else {
      const mul = UNIT[sfx[0]];
      if (mul === undefined) return null;
      if (sfx.length === 2 && sfx[1] !== 'b') return null;
      if (sfx.length === 3 && sfx.slice(1) !== 'ib') return null;
      size *= mul;
    }
  }
  const n = Math.trunc(size);
  return Number.isSafeInteger(n) ? n : null;
}

/** docker's --cpus: a decimal number of CPUs as an exact count of nano-CPUs. */
export function parseNanoCpus(s: string): number | null {
  const m = /^(\d+)(?:\.(\d*))?$|^\.(\d+)$/.exec(s);
  if (!m) return null;
  const whole = m[1] ?? '0';
  const frac = (m[2] ?? m[3] ?? '').replace(/0+$/, '');
  if (frac.length > 9) return null;
  const n = Number(whole) * 1e9 + Number(frac.padEnd(9, '0') || '0');
  return Number.isSafeInteger(n) ? n : null;
}

/** A duration in seconds: `90`, `90s`, `30m`, `12h`, `7d`. */
export function parseSeconds(s: string): number | null {
  const m = /^(\d+)([smhd]?)$/.exec(s);
  if (!m) return null;
  const n = Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number.isSafeInteger(n) ? n : null;
}
