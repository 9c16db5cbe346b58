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

/** The exec channel's final status (a metav1.Status): Success, or Failure with the exit code among its causes. */
export interface PodExecStatus {
  status?: string;
  reason?: string;
  message?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

/** Where a pod exec's output and end go. */
export interface PodExecIO {
  stdout(b: Buffer): void;
  /** Not used with a terminal: its output is all on stdout. */
  stderr(b: Buffer): void;
  status(s: PodExecStatus): void;
  /** The WebSocket closed (after the status, or without one when the connection broke). */
  closed(): void;
}

/** A pod exec once open. */
export interface PodExecStream {
  stdin(b: Buffer): void;
  endStdin(): void;
  resize(rows: number, cols: number): void;
  close(): void;
}

/**
 * The part of the kubelet's stats/summary (its Summary API, k8s.io/kubelet/pkg/apis/stats/v1alpha1) that DoSH reads:
 * per pod, cumulative CPU, memory, network and process counts. Every field may be missing while a pod starts.
 */
export interface NodeSummary {
  pods?: {
    podRef: { name: string; namespace: string; uid?: string };
    cpu?: { usageCoreNanoSeconds?: number };
    memory?: { usageBytes?: number; workingSetBytes?: number };
    network?: { interfaces?: { name: string; rxBytes?: number; txBytes?: number }[] };
    process_stats?: { process_count?: number };
    containers?: { name: string; cpu?: { usageCoreNanoSeconds?: number }; memory?: { usageBytes?: number; workingSetBytes?: number } }[];
  }[];
}
