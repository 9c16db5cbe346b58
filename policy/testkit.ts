// Helpers for the policy tests: users, in-memory policies, and error assertions.
import * as assert from 'node:assert/strict';
import type { EffectivePolicy, UserInfo } from '../api/policy.ts';
import { PolicyError } from './errors.ts';
import { memoryIO } from './io.ts';
import { loadLegacyPolicy } from './legacy.ts';
import { resolvePolicy } from './resolve.ts';
import type { CompiledPolicy } from './types.ts';

export function user(name: string, groups: string[] = [], uid = 1000): UserInfo {
  return {
    name,
    uid,
    gid: uid,
    home: `/home/${name}`,
    shell: '/bin/bash',
    groups: [{ name, gid: uid }, ...groups.map((g, i) => ({ name: g, gid: 2000 + i }))],
  };
}

export const MAIN = '/etc/dosh.conf';

export function loadText(text: string, more: Record<string, string | null> = {}): CompiledPolicy {
  return loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: text, ...more }));
}

export function resolveText(text: string, u: UserInfo = user('alice'), more: Record<string, string | null> = {}): EffectivePolicy {
  return resolvePolicy(loadText(text, more), u);
}

/** Flags on one DOCKERPARAMETERS line, resolved for alice: the HostConfig-and-all create body. */
export function translate(params: string, u: UserInfo = user('alice'), more: Record<string, string | null> = ENV_FILES): EffectivePolicy {
  return resolveText(`DOCKERPARAMETERS=${params}\n`, u, more);
}

export const ENV_FILES = { '/etc/dosh/env': '# site environment\r\nTZ=Europe/Madrid\n\n  LANG=C.UTF-8\nEMPTY=\n' };

/** Asserts that fn throws a PolicyError at file:line whose message matches re. */
export function throwsAt(fn: () => unknown, file: string, line: number, re: RegExp): PolicyError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PolicyError, `expected a PolicyError, got ${(e as Error)?.stack ?? e}`);
    assert.equal(e.file, file, e.message);
    assert.equal(e.line, line, e.message);
    assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected a PolicyError matching ${re}`);
}
