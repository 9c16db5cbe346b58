// Turns one KEY=VALUE of dosh.conf into a checked Setting (shared by the YAML loader for values
// it hands over as text), so that every value is validated once, at load time.
import { fail, type Origin } from './errors.ts';
import { parseFlagWords, validateFlags, type FlagContext } from './flag-parse.ts';
import { imageRefProblem, prefixProblem } from './names.ts';
import { splitWords } from './shell-words.ts';
import { expand, parseTemplate, PROBE_VARS } from './template.ts';
import { BACKENDS, type Backend } from '../api/pod-settings.ts';
import type { Setting } from './types.ts';
import { parseSeconds } from './units.ts';

export const BOOL_KEYS = { INHERIT: 'inherit', RUNSCRIPTS: 'runScripts', DEBUG: 'debug', VERBOSE: 'verbose', RUNCOMMANDS: 'runCommands', NETWORKPERUSER: 'networkPerUser', ALLOWOTHERSHELL: 'allowOtherShell', FORWARDAGENT: 'forwardAgent', RECORDSESSIONS: 'recordSessions' } as const;
export const TEXT_KEYS = { CONTAINERIMAGE: 'image', PREFIXNAME: 'prefixName', LOGFILE: 'logFile', SCRIPTSFOLDER: 'scriptsFolder' } as const;
export const NUM_KEYS = { IDLETIMEOUT: 'idleTimeoutSeconds', MAXSESSIONSECONDS: 'maxSessionSeconds', MAXSESSIONS: 'maxSessionsPerUser' } as const;

export function parseBoolValue(value: string, where: Origin, key: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return fail(where, `${key} must be true or false, got ${JSON.stringify(value)}`);
}

/** Checks a text setting's value (with a stand-in user when it holds variables). */
export function checkText(key: Setting['key'], text: string, where: Origin): void {
  const problem =
    key === 'image'
      ? imageRefProblem(text)
      : key === 'prefixName'
        ? prefixProblem(text)
        : (key === 'logFile' || key === 'scriptsFolder') && text !== '' && !text.startsWith('/')
          ? `${key === 'logFile' ? 'LOGFILE' : 'SCRIPTSFOLDER'} must be an absolute path (or empty), got ${JSON.stringify(text)}`
          : null;
  if (problem) fail(where, problem);
}

export function numberSetting(key: keyof typeof NUM_KEYS, value: string, where: Origin): Setting {
  const n = key === 'MAXSESSIONS' ? (/^\d+$/.test(value) ? Number(value) : null) : parseSeconds(value);
  if (n === null || !Number.isSafeInteger(n)) {
    fail(where, key === 'MAXSESSIONS' ? `${key} must be a whole number (0 = unlimited), got ${JSON.stringify(value)}` : `${key} must be a number of seconds (or with a unit: 30m, 12h, 7d; 0 = none), got ${JSON.stringify(value)}`);
  }
  return { key: NUM_KEYS[key], num: n, origin: where };
}

/** A setting for one of the text/command/flags keys. */
export function valueSetting(key: 'CONTAINERIMAGE' | 'PREFIXNAME' | 'LOGFILE' | 'SCRIPTSFOLDER' | 'CONTAINERCOMMAND' | 'DOCKERPARAMETERS', value: string, where: Origin, flagCtx: Omit<FlagContext, 'file' | 'line' | 'section'>): Setting {
  if (key === 'CONTAINERCOMMAND') {
    const words = splitWords(value, { file: where.file, line: where.line, column: where.column ?? 1 });
    if (words.length === 0) fail(where, 'CONTAINERCOMMAND is empty');
    return { key: 'command', words, origin: where };
  }
  if (key === 'DOCKERPARAMETERS') {
    const words = splitWords(value, { file: where.file, line: where.line, column: where.column ?? 1 });
    const flags = parseFlagWords(words, { ...flagCtx, file: where.file, line: where.line, section: where.section });
    validateFlags(flags, flagCtx.io?.host);
    return { key: 'dockerParameters', flags, origin: where };
  }
  const tpl = parseTemplate(value);
  const k = TEXT_KEYS[key];
  checkText(k, expand(tpl, PROBE_VARS), where);
  return { key: k, tpl, origin: where };
}

/** BACKEND=docker|kubernetes: where the container of the users this section matches runs. */
export function backendSetting(value: string, where: Origin): Setting {
  if (!(BACKENDS as readonly string[]).includes(value)) fail(where, `BACKEND must be ${BACKENDS.join(' or ')}, got ${JSON.stringify(value)}`);
  return { key: 'backend', backend: value as Backend, origin: where };
}
