// A recorded terminal session replayed on the administrator's terminal: what her programs printed, escape sequences
// included, is the point (colours, cursor movement, full-screen programs), but some sequences act on the terminal that
// shows them rather than on the picture: they set its title or clipboard (OSC), talk to it (DCS, APC, PM, SOS), or
// make it answer (device status, attributes, window reports), and the answer would be typed into the administrator's
// shell once doshctl exits. Those are dropped; the rest passes as recorded. A stateful filter: a sequence split
// between two events is held until it is complete.

/** CSI finals that only draw: cursor, erase, insert/delete, scroll, modes, colours (SGR), save/restore cursor. */
const CSI_DRAW = new Set('@ABCDEFGHIJKLMPSTXZ`abdefghlmrsu'.split(''));
/** Two-character escapes that only draw: save/restore cursor, keypad modes, index, reverse index, next line. */
const ESC_DRAW = new Set('78=>DEM'.split(''));

export class ReplayFilter {
  private held = '';

  /** The part of `text` that is safe to print now; an incomplete sequence at its end is held for the next call. */
  push(text: string): string {
    const s = this.held + text;
    this.held = '';
    let out = '';
    for (let i = 0; i < s.length; ) {
      const c = s[i];
      const code = c.charCodeAt(0);
      if (c === '\x1b') {
        const end = sequenceEnd(s, i);
        if (end === undefined) {
          this.held = s.slice(i);
          break;
        }
        const seq = s.slice(i, end);
        if (drawsOnly(seq)) out += seq;
        i = end;
        continue;
      }
      // C0 controls other than newline, return, tab, backspace and bell; DEL and the C1 controls (U+009B is a CSI).
      if ((code < 0x20 && !'\n\r\t\b\x07'.includes(c)) || (code >= 0x7f && code <= 0x9f)) {
        i++;
        continue;
      }
      out += c;
      i++;
    }
    // A sequence that never ends (a broken recording) is not held for ever.
    if (this.held.length > 4096) this.held = '';
    return out;
  }
}

/** Where the escape sequence starting at s[i] ends, or undefined when it is not complete yet. */
function sequenceEnd(s: string, i: number): number | undefined {
  const k = s[i + 1];
  if (k === undefined) return undefined;
  if (k === '[') {
    for (let j = i + 2; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c >= 0x40 && c <= 0x7e) return j + 1;
      if (c < 0x20 || c > 0x7e) return j; // malformed: ends before the stray byte, and is dropped
    }
    return undefined;
  }
  if (k === ']' || k === 'P' || k === '_' || k === '^' || k === 'X') {
    // A string, ended by ST (ESC \) or, for OSC, BEL.
    for (let j = i + 2; j < s.length; j++) {
      if (s[j] === '\x07') return j + 1;
      if (s[j] === '\x1b') return s[j + 1] === undefined ? undefined : j + (s[j + 1] === '\\' ? 2 : 0);
    }
    return undefined;
  }
  if ('()*+'.includes(k)) return s[i + 2] === undefined ? undefined : i + 3;
  return i + 2;
}

function drawsOnly(seq: string): boolean {
  if (seq.startsWith('\x1b[')) return seq.length > 2 && CSI_DRAW.has(seq[seq.length - 1]) && /^\x1b\[[\x20-\x3f]*[\x40-\x7e]$/.test(seq);
  if (seq.length === 3 && '()*+'.includes(seq[1])) return /^[0-9A-Za-z<>=]$/.test(seq[2]);
  return seq.length === 2 && ESC_DRAW.has(seq[1]);
}
