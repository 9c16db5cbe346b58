// The DoshPolicy object: one cluster-wide dosh.yaml document, for a fleet of login nodes (see docs/INSTALL.md).
// Its spec is exactly a dosh.yaml policy (api/dosh-yaml.ts), so it is validated exactly like the file; each
// node reports in its status whether it accepted it (a spec can be valid on one node and not on another: an
// --env-file is read from the node), and the top-level fields sum those reports up. Cluster-scoped: a fleet has
// one policy, named `default`.
import { z } from 'zod';
import { Condition, ObjectMeta } from './meta.ts';
import { API_VERSION } from './constants.ts';
import { YamlPolicy } from './dosh-yaml.ts';

export const DOSHPOLICY_KIND = 'DoshPolicy';
/** The one policy object the nodes read (cluster-scoped, so no namespace). */
export const DOSHPOLICY_NAME = 'default';
/** Condition type: True when the spec passed dosh.yaml validation and is the policy in force. */
export const POLICY_ACCEPTED = 'Accepted';

export const DoshPolicySpec = YamlPolicy;
export type DoshPolicySpec = z.infer<typeof DoshPolicySpec>;

/** One node's verdict on the spec: written by that node only (its own server-side apply field manager). */
export const DoshPolicyNodeStatus = z.object({
  node: z.string().min(1),
  /** The metadata.generation this verdict is about. */
  observedGeneration: z.number().int().nonnegative().optional(),
  accepted: z.boolean(),
  /** Why this node rejected the spec (with the line and field path); it keeps its last good policy meanwhile. */
  lastError: z.string().optional(),
});
export type DoshPolicyNodeStatus = z.infer<typeof DoshPolicyNodeStatus>;

export const DoshPolicyStatus = z.object({
  /** Accepted: True when every node that has reported on the current generation accepted it. */
  conditions: z.array(Condition).default([]),
  /** The metadata.generation the conditions describe. */
  observedGeneration: z.number().int().nonnegative().optional(),
  /** The first rejecting node's error, prefixed with its name; empty when every node that reported accepted. */
  lastError: z.string().optional(),
  /** Each node's verdict, keyed by node name (a list map: server-side apply merges the nodes' entries). */
  nodes: z.array(DoshPolicyNodeStatus).default([]),
});
export type DoshPolicyStatus = z.infer<typeof DoshPolicyStatus>;

export const DoshPolicy = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(DOSHPOLICY_KIND),
  metadata: ObjectMeta,
  spec: DoshPolicySpec,
  status: DoshPolicyStatus.default({ conditions: [], nodes: [] }),
});
export type DoshPolicy = z.infer<typeof DoshPolicy>;
