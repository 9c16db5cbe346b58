// --gpus values, parsed as the docker CLI's GpuOpts does, into an Engine API DeviceRequest.
import type { HostConfig } from '../api/policy.ts';
import { kvMap, readCsvRecord } from './csv.ts';
import { parseGoInt } from './units.ts';

type DeviceRequest = NonNullable<HostConfig['DeviceRequests']>[number];

function count(s: string): number | string {
  if (s === 'all') return -1;
  const n = /^[+-]?\d+$/.test(s) ? parseGoInt(s, 10) : null;
  return n ?? `count must be an integer or all, got ${JSON.stringify(s)}`;
}

/** The request, or an error message. */
export function parseGpus(v: string): DeviceRequest | string {
  const fields = readCsvRecord(v);
  if (typeof fields === 'string') return `cannot read value: ${fields}`;
  const req: DeviceRequest = { Driver: '', Count: 0, DeviceIDs: null, Capabilities: [], Options: {} };
  const seen = new Set<string>();
  for (const f of fields) {
    const eq = f.indexOf('=');
    const key = eq === -1 ? f : f.slice(0, eq);
    const val = f.slice(eq + 1);
    if (seen.has(key)) return `gpu request key ${JSON.stringify(key)} can be given only once`;
    seen.add(key);
    if (eq === -1 || key === 'count') {
      seen.add('count');
      const n = count(eq === -1 ? key : val);
      if (typeof n === 'string') return n;
      req.Count = n;
    } else if (key === 'driver') req.Driver = val;
    else if (key === 'device') req.DeviceIDs = val.split(',');
    else if (key === 'capabilities') req.Capabilities = [[...val.split(','), 'gpu']];
    else if (key === 'options') {
      const o = readCsvRecord(val);
      if (typeof o === 'string') return `cannot read gpu options: ${o}`;
      req.Options = kvMap(o);
    } else return `unexpected key ${JSON.stringify(key)} in ${JSON.stringify(f)}`;
  }
  if (!seen.has('count') && req.DeviceIDs === null) req.Count = 1;
  if (req.Capabilities.length === 0) req.Capabilities = [['gpu']];
  return req;
}
