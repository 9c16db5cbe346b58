import type { LoginCgroups } from '../../controller/deps.ts';

/** A login cgroup per session, recorded: what was enclosed, killed and removed. */
export class FakeLoginCgroups implements LoginCgroups {
  actions: string[] = [];
  /** False: the host has no cgroup v2 (enclose gives nothing). */
  available = true;

  enclose(session: string, exec: { pid: number }, init: { pid: number }): string | undefined {
    if (!this.available) return undefined;
    this.actions.push(`enclose ${session} ${exec.pid} init ${init.pid}`);
    return `/cg/c/dosh-${session}`;
  }

  kill(dir: string): boolean {
    this.actions.push(`kill ${dir}`);
    return true;
  }

  remove(dir: string): boolean {
    this.actions.push(`remove ${dir}`);
    return true;
  }
}
