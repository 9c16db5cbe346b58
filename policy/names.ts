// Image references and container names, checked with the grammars docker itself uses
// (distribution/reference and the engine's container name pattern).

const alnum = '[a-z0-9]+';
const sep = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${sep}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const host = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])`;
const domain = `${host}(?::[0-9]+)?`;
const name = `(?:${domain}/)?${pathComponent}(?:/${pathComponent})*`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${name})(?::${tag})?(?:@${digest})?$`);

/** Why `ref` is not a valid image reference, or null when it is. */
export function imageRefProblem(ref: string): string | null {
  if (ref === '') return 'the image is empty';
  const m = REFERENCE.exec(ref);
  if (!m) {
    if (ref !== ref.toLowerCase() && REFERENCE.test(ref.toLowerCase())) return `invalid image reference ${JSON.stringify(ref)}: repository names must be lowercase`;
    return `invalid image reference ${JSON.stringify(ref)} (expected [REGISTRY/]NAME[:TAG][@DIGEST])`;
  }
  if (m[1].length > 255) return 'image repository name is longer than 255 characters';
  return null;
}

const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Why PREFIXNAME + user name is not a valid container name, or null. */
export function containerNameProblem(prefix: string, user: string): string | null {
  const full = prefix + user;
  if (CONTAINER_NAME.test(full)) return null;
  return `container name ${JSON.stringify(full)} (PREFIXNAME ${JSON.stringify(prefix)} + user name) is not valid for docker: it must match [a-zA-Z0-9][a-zA-Z0-9_.-]+`;
}

/** Load-time check of a prefix alone (any user name made of [a-zA-Z0-9_.-] must give a valid name). */
export function prefixProblem(prefix: string): string | null {
  if (prefix === '' || /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(prefix)) return null;
  return `PREFIXNAME ${JSON.stringify(prefix)} cannot start a docker container name: use letters, digits, '_', '.' and '-', starting with a letter or digit`;
}
