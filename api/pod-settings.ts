// Where a user's container runs (the backend) and, for the Kubernetes backend, the pod's own settings: what dosh.yaml
// says under `pod:`. The docker run flags that Kubernetes has too are translated into the same pod
// (policy/pod-spec.ts); these are what only a pod has. String values may use $USER-style variables.
import { z } from 'zod';

export const BACKENDS = ['docker', 'kubernetes'] as const;
export const Backend = z.enum(BACKENDS);
export type Backend = z.infer<typeof Backend>;

/** A Kubernetes resource quantity: `500m`, `2`, `1.5`, `512Mi`, `2G`, `1e3`. */
export const QUANTITY = /^(\d+(\.\d*)?|\.\d+)([numkMGTPE]|[KMGTPE]i|[eE][+-]?\d+)?$/;
const Quantity = z.union([z.number().nonnegative(), z.string().regex(QUANTITY, 'expected a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi')]);
const ResourceList = z.record(z.string().min(1), Quantity);

export const PodToleration = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.number().int().optional(),
});

/**
 * Her home directory in the pod, mounted at her account's home: a claim per user (its name a template, e.g.
 * `home-$USER`; the claim itself is the administrator's to make), or a volume source written as Kubernetes writes
 * one (`nfs: {server: ..., path: /export/home/$USER}`), exactly one kind.
 */
export const PodHome = z.union([
  z.strictObject({ persistentVolumeClaim: z.strictObject({ claimName: z.string().min(1), readOnly: z.boolean().optional() }) }),
  z.strictObject({ volume: z.record(z.string(), z.unknown()).refine((v) => Object.keys(v).length === 1, 'name exactly one kind of volume source, e.g. nfs: {server: ..., path: ...}') }),
]);
export type PodHome = z.infer<typeof PodHome>;

export const PodSettings = z.strictObject({
  /** Default `dosh`. */
  namespace: z.string().optional(),
  nodeSelector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(PodToleration).optional(),
  runtimeClassName: z.string().optional(),
  resources: z.strictObject({ requests: ResourceList.optional(), limits: ResourceList.optional() }).optional(),
  serviceAccountName: z.string().optional(),
  /** False unless the policy says so: her shell has no business holding an API token. */
  automountServiceAccountToken: z.boolean().optional(),
  home: PodHome.optional(),
});
export type PodSettings = z.infer<typeof PodSettings>;
export type PodField = keyof PodSettings;
export const POD_FIELDS = Object.keys(PodSettings.shape) as PodField[];
