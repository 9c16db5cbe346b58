// A benchmark's test users and their containers: numbered names, creation through the test harness, and the cleanup
// that removes them again, leftovers of an interrupted run included (delUser refuses accounts that are not test users).
import { spawnSync } from 'node:child_process';
import { addUser, delUser, sh } from '../test/e2e/harness.ts';

/** STEM000, STEM001, ..: n names, the number zero-padded to `width` digits. */
export const numbered = (stem: string, n: number, width: number) => Array.from({ length: n }, (_, i) => `${stem}${String(i).padStart(width, '0')}`);

export function addUsers(users: string[]): void {
  for (const u of users) addUser(u);
}

/** Deletes each user; a failure is printed as `BENCH: cleanup: ...` and the others are still deleted. */
export function delUsers(bench: string, users: string[]): void {
  for (const u of users) {
    try {
      delUser(u);
    } catch (e) {
      console.error(`${bench}: cleanup: ${(e as Error).message}`);
    }
  }
}

/** Every user whose name starts with PREFIX, whoever created it. */
export function delUsersByPrefix(bench: string, prefix: string): void {
  delUsers(bench, sh(`getent passwd | cut -d: -f1 | grep '^${prefix}' || true`).split('\n').filter(Boolean));
}

/** `docker rm -f` of every container named, 50 names a call; missing ones are no error. */
export function removeContainers(names: string[]): void {
  for (let i = 0; i < names.length; i += 50) spawnSync('docker', ['rm', '-f', ...names.slice(i, i + 50)], { stdio: 'ignore' });
}
