// IP address checks with the docker CLI's output forms (Go's net.IP String for --dns).
import { isIPv4, isIPv6 } from 'node:net';

/** Go net.ParseIP(strings.TrimSpace(s)).String(), or null when not an IP address. */
export function canonicalIP(raw: string): string | null {
  const s = raw.trim();
  if (isIPv4(s)) return s;
  if (!isIPv6(s) || s.includes('%')) return null;
  const h = new URL(`http://[${s}]`).hostname.slice(1, -1);
  // Go prints IPv4-mapped IPv6 addresses in dotted form.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (mapped) {
    const a = parseInt(mapped[1], 16);
    const b = parseInt(mapped[2], 16);
    return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  return h;
}

/** docker's ValidateExtraHost: `host:ip` or `host=ip` (ip may be `[v6]` or host-gateway) → `host:ip`. */
export function extraHost(val: string): string | null {
  let sep = val.indexOf('=');
  if (sep === -1) sep = val.indexOf(':');
  if (sep <= 0) return null;
  const host = val.slice(0, sep);
  let ip = val.slice(sep + 1);
  if (host.includes(':')) return null;
  if (ip !== 'host-gateway') {
    if (ip.length > 2 && ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (canonicalIP(ip) === null) return null;
  }
  return `${host}:${ip}`;
}
