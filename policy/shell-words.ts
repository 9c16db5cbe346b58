// Splits a value into words the way a POSIX shell would (blanks, '…', "…", backslash), keeping
// login variables as parts of words so an expanded value can never add or split words.
import { fail } from './errors.ts';
import { matchVar, type Part, type Template } from './template.ts';

export interface Word {
  parts: Template;
  /** 1-based column of the word's first character in the source line. */
  column: number;
}

export interface SplitWhere {
  file: string;
  line: number;
  /** Column (1-based) of text[0] in the source line. */
  column: number;
}

export function splitWords(text: string, where: SplitWhere): Word[] {
  const words: Word[] = [];
  let parts: Part[] = [];
  let lit = '';
  let inWord = false;
  let start = 0;
  let quote: "'" | '"' | null = null;
  let quoteAt = 0;

  const flushLit = () => {
    if (lit) parts.push(lit);
    lit = '';
  };
  const endWord = () => {
    if (!inWord) return;
    flushLit();
    if (parts.length === 0) parts.push('');
    words.push({ parts, column: where.column + start });
    parts = [];
    inWord = false;
  };
  const begin = (i: number) => {
    if (!inWord) {
      inWord = true;
      start = i;
    }
  };

  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '$') {
      const m = matchVar(text, i);
      if (m) {
        begin(i);
        flushLit();
        parts.push({ v: m.name });
        i += m.len - 1;
        continue;
      }
    }
    if (quote === "'") {
      if (c === "'") quote = null;
      else lit += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < text.length && '$`"\\'.includes(text[i + 1])) lit += text[++i];
      else lit += c;
      continue;
    }
    if (c === ' ' || c === '\t') {
      endWord();
      continue;
    }
    begin(i);
    if (c === "'" || c === '"') {
      quote = c;
      quoteAt = i;
    } else if (c === '\\' && i + 1 < text.length) lit += text[++i];
    else lit += c;
  }
  if (quote) {
    fail(
      { file: where.file, line: where.line, column: where.column + quoteAt },
      `unbalanced ${quote === "'" ? 'single' : 'double'} quote: no closing ${quote}`,
    );
  }
  endWord();
  return words;
}
