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

/**
 * A command line as sshd hands it to a login shell (`SHELL -c COMMAND`), split into the words a POSIX shell would
 * run it with, when it holds nothing but words: blanks, '…', "…", backslashes, a leading `~` or `~/` (her home). Any
 * other shell syntax (a pipe, `;`, a redirection, `$`, a backquote, a wildcard, a brace, a comment, an assignment, a
 * newline) needs a shell to mean anything: `unsupported` says which, and `words` holds the words complete before it.
 * No shell runs these words: doshd executes them directly (a file transfer served without one, controller/transfer-plan.ts).
 */
export function commandWords(text: string, home: string): { words: string[]; unsupported?: string } {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  const stop = (why: string) => ({ words, unsupported: why });
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const atStart = !inWord;
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = quoted = false;
      continue;
    }
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return stop('an unbalanced quote');
      cur += text.slice(i + 1, end);
      i = end;
      quoted = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '$' || text[j] === '`') return stop('an expansion ($ or `) inside double quotes');
        if (text[j] === '\\' && j + 1 < text.length && '$`"\\\n'.includes(text[j + 1])) {
          if (text[j + 1] !== '\n') cur += text[j + 1];
          j++;
        } else cur += text[j];
      }
      if (j >= text.length) return stop('an unbalanced quote');
      i = j;
      quoted = true;
    } else if (c === '\\') {
      if (i + 1 >= text.length) return stop('a trailing backslash');
      i++;
      // A backslash-newline joins lines; between words it is nothing at all.
      if (text[i] === '\n') continue;
      cur += text[i];
      quoted = true;
    } else if (c === '~' && atStart) {
      if (i + 1 < text.length && !' \t/'.includes(text[i + 1])) return stop('a tilde expansion of another user (~NAME)');
      cur += home;
    } else {
      const why =
        SPECIAL[c] ??
        (c === '#' && atStart ? 'a comment (#)' : undefined) ??
        (c === '!' && atStart && words.length === 0 ? 'a negation (!)' : undefined) ??
        (c === '=' && words.length === 0 && !quoted && /^[A-Za-z_][A-Za-z0-9_]*$/.test(cur) ? 'a variable assignment' : undefined);
      if (why) return stop(why);
      cur += c;
    }
    inWord = true;
  }
  if (inWord) words.push(cur);
  if (words.length === 0) return stop('no command');
  return { words };
}

/** Unquoted characters that give a command line a meaning only a shell can carry out, wherever they stand. */
const SPECIAL: Record<string, string> = {
  '|': 'a pipe or list (|, ||)',
  '&': 'a list or background job (&, &&)',
  ';': 'a command list (;)',
  '<': 'a redirection',
  '>': 'a redirection',
  '(': 'a subshell',
  ')': 'a subshell',
  $: 'an expansion ($)',
  '`': 'a command substitution (`)',
  '*': 'a wildcard',
  '?': 'a wildcard',
  '[': 'a wildcard',
  '{': 'a brace expansion',
  '}': 'a brace expansion',
  '\n': 'more than one command (a newline)',
};
