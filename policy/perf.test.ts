// Resolving one user against a dosh.conf with 1,000 sections must stay far below a login's budget.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { resolvePolicy } from './resolve.ts';
import { loadText, user } from './testkit.ts';

export function bigConf(sections: number): string {
  let t = 'CONTAINERIMAGE=debian:12\nDOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /home/$USER:/home/$USER -w /home/$USER --memory 2g\n';
  for (let i = 0; i < sections; i++) {
    t += i % 2 ? `[group:g${i}]\nINHERIT=true\nDOCKERPARAMETERS=--cpus 1 -e G${i}=1 --ulimit nofile=1024\n` : `[user:u${i}]\nCONTAINERIMAGE=img${i}:latest\nDOCKERPARAMETERS=-m 1g\n`;
  }
  return t;
}

test('1,000 sections: resolve takes well under 5 ms per user', () => {
  const pol = loadText(bigConf(1000));
  // A user matching many sections is the expensive case.
  const heavy = user('u500', Array.from({ length: 200 }, (_, i) => `g${2 * i + 1}`));
  for (let i = 0; i < 50; i++) resolvePolicy(pol, heavy); // warm up
  const n = 200;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) resolvePolicy(pol, i % 2 ? heavy : user('nobody'));
  const per = (performance.now() - t0) / n;
  assert.ok(per < 2, `resolve took ${per.toFixed(3)} ms per user`);
  assert.equal(resolvePolicy(pol, heavy).image, 'img500:latest');
  assert.equal(resolvePolicy(pol, heavy).create.Env?.length, 200);
});
