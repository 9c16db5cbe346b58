// The policy module: load a policy file (legacy dosh.conf or dosh.yaml) once, resolve it per user.
import { loadYamlPolicy } from './yaml.ts';
import { nodeIO, type PolicyIO } from './io.ts';
import { loadLegacyPolicy } from './legacy.ts';
import type { CompiledPolicy } from './types.ts';

export { PolicyError, type Origin } from './errors.ts';
export { nodeIO, memoryIO, type PolicyIO } from './io.ts';
export { loadLegacyPolicy, LEGACY_KEYS } from './legacy.ts';
export { resolvePolicy, DEFAULTS } from './resolve.ts';
export { SUPPORTED_FLAGS } from './flags.ts';
export { nodeHostFs, type HostFs, type PolicyHost } from './host-path.ts';
export { loadYamlPolicy } from './yaml.ts';
export { convertLegacyToYaml } from './convert.ts';
export { explain, formatExplain, type ExplainEntry } from './explain.ts';
export { UNSAFE_KEY, type CompiledPolicy, type LegacyPolicy } from './types.ts';
export type { UserInfo, EffectivePolicy, ContainerCreate } from '../api/policy.ts';

/** Loads a policy by file name: `*.yaml`/`*.yml` is dosh.yaml, anything else dosh.conf. */
export function loadPolicyFile(file: string, io: PolicyIO = nodeIO): CompiledPolicy {
  return /\.ya?ml$/i.test(file) ? loadYamlPolicy(file, io) : loadLegacyPolicy(file, io);
}
