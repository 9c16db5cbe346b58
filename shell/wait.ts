// Waiting for doshd to admit a session: woken by inotify on the store, with a slow poll as a safety net, and a clear
// message when doshd is not running. Every helper runs as root, so all of them share root's inotify instances
// (fs.inotify.max_user_instances, 128 by default): when none is left, the helper polls quickly instead of failing.
import type { Session } from '../api/session.ts';
import { ExitError } from '../lib/errors.ts';
import { isSameProcessAlive } from '../lib/proc.ts';
import type { HelperDeps } from './helper.ts';

export async function waitForSession(d: HelperDeps, name: string): Promise<Session> {
  const deadline = d.clock.now() + d.loginTimeoutMs;
  let wake: () => void = () => {};
  let unwatch: () => void;
  let pollMs = 250;
  try {
    unwatch = d.store.watch((n) => {
      if (n === name) wake();
    });
  } catch {
    unwatch = () => {};
    pollMs = 20;
  }
  let warned = false;
  try {
    for (;;) {
      // Armed before the read, so a change between the read and the sleep still wakes us.
      const ac = new AbortController();
      wake = () => ac.abort();
      const s = d.store.get(name);
      if (!s) throw new ExitError(1, 'the session was removed before it started');
      if (s.status.phase !== 'Pending') return s;
      const now = d.clock.now();
      if (now >= deadline) {
        throw new ExitError(1, controllerDown(d) ? 'login failed: the DoSH controller (doshd) is not running; ask your administrator' : 'login timed out waiting for the DoSH controller (doshd)');
      }
      if (!warned && now + d.loginTimeoutMs - deadline > 2000 && controllerDown(d)) {
        warned = true;
        d.io.stderr.write('dosh: the DoSH controller (doshd) is not running; waiting for it to start...\n');
      }
      await d.clock.sleep(Math.min(pollMs, deadline - now), ac.signal);
    }
  } finally {
    unwatch();
  }
}

function controllerDown(d: HelperDeps): boolean {
  const rec = d.controller();
  return !rec || !isSameProcessAlive(rec.pid, rec.startTime, d.proc);
}
