// `doshctl policy explain USER`: every effective setting with the file, line and section that set it, and for a user
// of the kubernetes backend the Pod she would get (as the setting `pod`, set where her BACKEND was).
import { stringify } from 'yaml';
import type { UserInfo } from '../api/policy.ts';
import type { PolicyHost } from './host-path.ts';
import { podManifest } from './pod-spec.ts';
import { resolvePolicy } from './resolve.ts';
import type { CompiledPolicy } from './types.ts';

export interface ExplainEntry {
  /** e.g. `image`, `create.HostConfig.Memory`. */
  setting: string;
  value: unknown;
  file: string;
  line: number;
  section: string;
}

export function explain(policy: CompiledPolicy, user: UserInfo, host?: PolicyHost): ExplainEntry[] {
  const eff = resolvePolicy(policy, user, host);
  const at = (p: string): unknown => p.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), eff);
  const entries = Object.entries(eff.provenance).map(([setting, o]) => ({ setting, value: at(setting), file: o.file, line: o.line, section: o.section }));
  if (eff.backend === 'kubernetes') {
    const o = eff.provenance.backend;
    entries.push({ setting: 'pod', value: podManifest(eff, user), file: o.file, line: o.line, section: o.section });
  }
  return entries.sort((a, b) => a.setting.localeCompare(b.setting));
}

/** Said wherever her pod is shown: until the controller makes pods, showing one must not suggest she gets it. */
export const POD_NOT_BUILT = 'doshd does not make pods yet: her logins are refused (BackendUnavailable) until the kubernetes backend is built';

/** One line per setting: `setting = value    file:line [section]`; then her pod, if she has one, as YAML. */
export function formatExplain(all: ExplainEntry[]): string {
  const pod = all.find((e) => e.setting === 'pod');
  const entries = all.filter((e) => e !== pod);
  const rows = entries.map((e) => [e.setting, e.value === undefined ? '(not a container setting)' : JSON.stringify(e.value), e.line > 0 ? `${e.file}:${e.line} [${e.section}]` : e.file]);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.min(60, Math.max(...rows.map((r) => r[1].length)));
  const table = rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`).join('\n') + '\n';
  if (!pod) return table;
  const head = `The Pod she would get (backend kubernetes, ${pod.file}:${pod.line} [${pod.section}]), made from the settings above (a pod has no pids limit of its own: the node's podPidsLimit applies):`;
  return `${table}\n${head}\n# ${POD_NOT_BUILT}\n${stringify(pod.value, { lineWidth: 0 })}`;
}
