// The DoshPolicy object: one cluster-wide dosh.yaml document, for a fleet of login nodes (see docs/INSTALL.md).
// Its spec is exactly a dosh.yaml policy (policy/yaml-schema.ts), so it is validated exactly like the file; the
// nodes report in its status whether they accepted it. Cluster-scoped: a fleet has one policy, named `default`.
import { z } from 'zod';
import { Condition, ObjectMeta } from './meta.ts';
import { API_VERSION } from './constants.ts';
import { YamlPolicy } from '../policy/yaml-schema.ts';

export const DOSHPOLICY_KIND = 'DoshPolicy';
/** The one policy object the nodes read (cluster-scoped, so no namespace). */
export const DOSHPOLICY_NAME = 'default';
/** Condition type: True when the spec passed dosh.yaml validation and is the policy in force. */
export const POLICY_ACCEPTED = 'Accepted';

export const DoshPolicySpec = YamlPolicy;
export type DoshPolicySpec = z.infer<typeof DoshPolicySpec>;

export const DoshPolicyStatus = z.object({
  conditions: z.array(Condition).default([]),
  /** The metadata.generation the conditions describe. */
  observedGeneration: z.number().int().nonnegative().optional(),
  /** The validation error of the last rejected spec (with its field path), while the last good one stays in force. */
  lastError: z.string().optional(),
});
export type DoshPolicyStatus = z.infer<typeof DoshPolicyStatus>;

export const DoshPolicy = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(DOSHPOLICY_KIND),
  metadata: ObjectMeta,
  spec: DoshPolicySpec,
  status: DoshPolicyStatus.default({ conditions: [] }),
});
export type DoshPolicy = z.infer<typeof DoshPolicy>;
