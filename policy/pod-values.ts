// dosh.yaml's `pod:` values for one user: every string expanded ($USER-style, $$ a literal $), then checked against
// the names Kubernetes accepts, so a bad value fails at load (with a stand-in user) or at her login with its line,
// never as an API error when her pod is made.
import type { PodField, PodSettings } from '../api/pod-settings.ts';
import { fail, type Origin } from './errors.ts';
import { expand, parseTemplate, type Vars } from './template.ts';

/** RFC 1123 label (namespaces) and subdomain (most other object names). */
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

function expandAll(v: unknown, vars: Vars): unknown {
  if (typeof v === 'string') return expand(parseTemplate(v, true), vars);
  if (Array.isArray(v)) return v.map((x) => expandAll(x, vars));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expandAll(x, vars)]));
  return v;
}

function nameProblem(what: string, v: string, re: RegExp, kind: string): string | null {
  return re.test(v) ? null : `${what} ${JSON.stringify(v)} is not a valid Kubernetes name (${kind}: lower case letters, digits and '-'${kind === 'DNS subdomain' ? ", '.' between parts" : ', at most 63'})`;
}

/** Why an expanded value cannot be sent to the API server, or null. */
export function podValueProblem<K extends PodField>(field: K, v: PodSettings[K]): string | null {
  switch (field) {
    case 'namespace':
      return nameProblem('namespace', v as string, DNS_LABEL, 'DNS label');
    case 'serviceAccountName':
    case 'runtimeClassName':
      return nameProblem(field, v as string, DNS_SUBDOMAIN, 'DNS subdomain');
    case 'home': {
      const h = v as NonNullable<PodSettings['home']>;
      if ('persistentVolumeClaim' in h) return nameProblem('claimName', h.persistentVolumeClaim.claimName, DNS_SUBDOMAIN, 'DNS subdomain');
      // A host path would skip every check a bind mount gets (policy/host-path.ts): bind mounts are the way to one.
      if ('hostPath' in h.volume) return 'home.volume cannot be a hostPath: mount a host directory with mounts (or -v), whose source is checked';
      const [kind, src] = Object.entries(h.volume)[0];
      if (!src || typeof src !== 'object' || Array.isArray(src)) return `home.volume.${kind} must be a map (the volume source's fields, as Kubernetes writes them)`;
      return null;
    }
    default:
      return null;
  }
}

/** The value for these variables, or a PolicyError at its line (`who` says for whom, at a login). */
export function podValue<K extends PodField>(field: K, raw: PodSettings[K], vars: Vars, where: Origin, who = ''): PodSettings[K] {
  const v = expandAll(raw, vars) as PodSettings[K];
  const p = podValueProblem(field, v);
  if (p) fail(where, who ? `for user ${who}: ${p}` : p);
  return v;
}
