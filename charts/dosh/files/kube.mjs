// The few API requests the chart's test and uninstall hook make, with the pod's service account: no client library,
// only node's https. KUBERNETES_SERVICE_HOST and _PORT say where the API server is (kubernetesApi in values.yaml).
import { readFileSync } from 'node:fs';
import https from 'node:https';

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
const TIMEOUT_MS = 15_000;

/** One request; resolves with the parsed JSON body of a 2xx answer, rejects naming the request otherwise. */
export function request(method, path, body, contentType = 'application/json') {
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = process.env;
  if (!host || !port) return Promise.reject(new Error('KUBERNETES_SERVICE_HOST/PORT not set: not in a pod?'));
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method,
        host,
        port,
        path,
        ca: readFileSync(`${SA}/ca.crt`),
        timeout: TIMEOUT_MS,
        headers: {
          authorization: `Bearer ${readFileSync(`${SA}/token`, 'utf8').trim()}`,
          accept: 'application/json',
          ...(data === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(data) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          if (res.statusCode >= 200 && res.statusCode < 300) return resolve(text ? JSON.parse(text) : {});
          const err = new Error(`${method} ${path}: HTTP ${res.statusCode}: ${safeMessage(text)}`);
          err.status = res.statusCode;
          reject(err);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer from ${host}:${port} within ${TIMEOUT_MS / 1000}s`)));
    req.on('error', reject);
    req.end(data);
  });
}

function safeMessage(text) {
  try {
    return JSON.parse(text).message ?? text.slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs main; prints its error and exits 1 when it throws. */
export function run(main) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(`error: ${e.message}`);
      process.exit(1);
    },
  );
}
