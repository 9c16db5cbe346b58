// An in-memory Kubernetes API for the mirror's unit tests: records every call, keeps the objects as a watch cache
// would, and applies server-side apply's effect on finalizers and deletion the way the API server does.
import type { KubeObject } from '../../kube/client.ts';
import type { MirrorApi } from '../../controller/kube/mirror.ts';
import { UnavailableError } from '../../lib/errors.ts';

export class FakeKube implements MirrorApi {
  actions: string[] = [];
  objects = new Map<string, KubeObject>();
  down = false;
  private rv = 0;

  private check(): void {
    if (this.down) throw new UnavailableError('connect ECONNREFUSED 127.0.0.1:6443');
  }

  get(name: string): KubeObject | undefined {
    return this.objects.get(name);
  }

  list(): KubeObject[] {
    return [...this.objects.values()];
  }

  async applySession(_ns: string, obj: KubeObject): Promise<KubeObject> {
    this.check();
    const name = obj.metadata.name;
    this.actions.push(`apply ${name}${obj.metadata.finalizers?.length ? '' : ' (no finalizer)'}`);
    const cur = this.objects.get(name);
    const next: KubeObject = structuredClone({ ...obj, status: cur?.status, metadata: { ...cur?.metadata, ...obj.metadata, resourceVersion: String(++this.rv) } });
    // The last finalizer gone from an object being deleted: the server removes it.
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) this.objects.delete(name);
    else this.objects.set(name, next);
    return next;
  }

  async applySessionStatus(_ns: string, name: string, _v: string, _k: string, status: unknown): Promise<void> {
    this.check();
    this.actions.push(`status ${name} ${(status as { phase: string }).phase}`);
    const cur = this.objects.get(name)!;
    this.objects.set(name, structuredClone({ ...cur, status }));
  }

  async deleteSession(_ns: string, name: string): Promise<void> {
    this.check();
    this.actions.push(`delete ${name}`);
    const cur = this.objects.get(name);
    if (!cur) return;
    if (cur.metadata.finalizers?.length) this.objects.set(name, { ...cur, metadata: { ...cur.metadata, deletionTimestamp: '2026-11-30T12:00:00Z' } });
    else this.objects.delete(name);
  }

  /** What `kubectl delete` does: marks it while a finalizer holds it, else it is gone. */
  kubectlDelete(name: string): void {
    const cur = this.objects.get(name)!;
    if (!cur.metadata.finalizers?.length) this.objects.delete(name);
    else this.objects.set(name, { ...cur, metadata: { ...cur.metadata, deletionTimestamp: '2026-11-30T12:00:05Z' } });
  }
}
