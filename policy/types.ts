// The compiled policy: what both file formats load into and what resolvePolicy walks per user.
import type { NetworkDecl } from '../api/policy.ts';
import type { Backend, PodField, PodSettings } from '../api/pod-settings.ts';
import type { Origin } from './errors.ts';
import type { Template } from './template.ts';
import type { Word } from './shell-words.ts';

export const UNSAFE_KEY = 'ALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK';

/** One docker run flag as written in a policy, its value still a template. */
export interface FlagOcc {
  /** Canonical long name without dashes, e.g. `volume`. */
  flag: string;
  /** As written, e.g. `-v` or `--volume`. */
  written: string;
  /** null for a boolean flag given without a value. */
  value: Template | null;
  origin: Origin;
  /** Whether the block this flag came from opted in to unsafe settings. */
  unsafeOk: boolean;
  /** --env-file: the variables read from the file at load time. */
  envFile?: string[];
  /** A --mount given as fields (dosh.yaml): each field is expanded first, then quoted, so no value can add fields. */
  csv?: [string, Template | null][];
}

export type Setting =
  | { key: 'image' | 'prefixName' | 'logFile' | 'scriptsFolder'; tpl: Template; origin: Origin }
  | { key: 'command'; words: Word[]; origin: Origin }
  | { key: 'dockerParameters'; flags: FlagOcc[]; origin: Origin }
  | { key: 'inherit' | 'runScripts' | 'debug' | 'verbose' | 'runCommands' | 'networkPerUser' | 'allowOtherShell' | 'forwardAgent' | 'recordSessions'; bool: boolean; origin: Origin }
  | { key: 'idleTimeoutSeconds' | 'maxSessionSeconds' | 'maxSessionsPerUser'; num: number; origin: Origin }
  | { key: 'conf'; include: string; origin: Origin }
  | { key: 'backend'; backend: Backend; origin: Origin }
  /** One key of dosh.yaml's `pod:`, as written (its strings are expanded for each user). */
  | { key: 'pod'; field: PodField; value: PodSettings[PodField]; origin: Origin };

export type Match =
  | { kind: 'all' }
  | { kind: 'user'; name: string }
  | { kind: 'group'; name: string }
  | { kind: 'uid'; from: number; to: number }
  | { kind: 'any'; of: Match[] };

export interface Block {
  file: string;
  line: number;
  /** `(top)`, `user:NAME`, `group:NAME`, or a YAML rule's name. */
  section: string;
  match: Match;
  settings: Setting[];
}

export interface CompiledPolicy {
  format: 'legacy' | 'yaml';
  mainFile: string;
  /** Every file read, in reading order. */
  files: string[];
  /** The blocks of each file, in file order. */
  units: Record<string, Block[]>;
  /** For each CONF value (as a key), the files it names, in reading order. */
  includes: Record<string, string[]>;
  /** Things worth telling the sysadmin that are not errors. */
  warnings: string[];
  /** Declared networks by name (dosh.yaml only). */
  networks?: Record<string, NetworkDecl>;
}

export type LegacyPolicy = CompiledPolicy;
