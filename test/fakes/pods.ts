// The kubernetes backend as admission and the end of a login use it (controller/deps.ts PodPort), recording its
// actions; the real one is controller/pods/pod-backend.ts, tested on a real cluster in test/integration/user-pods.test.ts.
import type { PodPort } from '../../controller/deps.ts';
import { podCommand } from '../../controller/pods/pod-backend.ts';
import type { UserPod } from '../../controller/pods/user-pods.ts';

export class FakePods implements PodPort {
  actions: string[] = [];
  pod: UserPod = { namespace: 'dosh', name: 'dosh-ann', uid: 'u1', node: 'k1', outdated: false };
  /** Set: ensure fails with it (the cluster's refusal, an API error). */
  fail?: Error;
  private seq = 0;

  async ensure(_policy: Parameters<PodPort['ensure']>[0], user: Parameters<PodPort['ensure']>[1]): Promise<UserPod> {
    this.actions.push(`ensure ${user.name}`);
    if (this.fail) throw this.fail;
    return this.pod;
  }

  createExec(pod: UserPod, plan: Parameters<PodPort['createExec']>[1], argv: string[], home: string, tty: boolean): string {
    this.actions.push(`exec ${pod.namespace}/${pod.name}${tty ? ' tty' : ''}: ${podCommand(plan, argv, home).slice(4).join(' ')}`);
    return `pe${++this.seq}`;
  }

  /** What isOutdated answers (a pod of an older policy: true; gone: undefined). */
  outdated: boolean | undefined = false;
  async isOutdated(pod: { namespace: string; name: string }): Promise<boolean | undefined> {
    this.actions.push(`outdated? ${pod.namespace}/${pod.name}`);
    return this.outdated;
  }

  end(id: string): void {
    this.actions.push(`end ${id}`);
  }

  /** Housekeeping passes that asked for idle pods to be collected (controller/pods/pod-collector.ts has its own tests). */
  collections = 0;
  async collect(): Promise<void> {
    this.collections++;
  }
}
