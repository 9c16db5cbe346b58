// The plain shapes DoSH reads and writes of the Kubernetes API, shared by the client and its reflector.

/** What DoSH reads and writes of a custom resource: plain JSON, as the API server sends it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
  };
  spec?: unknown;
  status?: unknown;
}

export type WatchEvent = 'add' | 'update' | 'delete';
