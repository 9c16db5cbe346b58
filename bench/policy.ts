// bench/policy: the cost of the policy module at a login, on a dosh.conf with 1,000 [user:] and [group:] sections.
// Prints the load time (what doshd pays once per reload), the resolve time for one user (what
// each login pays) for a user matching few sections and for users matching many, and, measured in the same run for
// scale, spawning /bin/true: a login runs several processes (su, PAM, the launcher, node, docker exec), so a resolve
// well below one process spawn is a tiny fraction of it.
// Run with `node --import tsx bench/policy.ts` (no root, no doshd, no engine needed). BENCH_N sets the resolve rounds.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os';
import path from 'node:path';
import type { UserInfo } from '../api/policy.ts';
import { loadLegacyPolicy, loadPolicyFile, memoryIO, resolvePolicy } from '../policy/index.ts';
import { median, p95 } from './stats.ts';

const N = Number(process.env.BENCH_N ?? 2000);
const LOADS = 50;
const SPAWNS = 300;
const SECTIONS = 1000;

/** The generator of policy/perf.test.ts `bigConf()`: top-level defaults, then alternating user and group sections. */
function bigConf(sections: number): string {
  let t = 'CONTAINERIMAGE=debian:12\nDOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /home/$USER:/home/$USER -w /home/$USER --memory 2g\n';
  for (let i = 0; i < sections; i++) {
    t += i % 2 ? `[group:g${i}]\nINHERIT=true\nDOCKERPARAMETERS=--cpus 1 -e G${i}=1 --ulimit nofile=1024\n` : `[user:u${i}]\nCONTAINERIMAGE=img${i}:latest\nDOCKERPARAMETERS=-m 1g\n`;
  }
  return t;
}

function user(name: string, groups: string[] = [], uid = 1000): UserInfo {
  return { name, uid, gid: uid, home: `/home/${name}`, shell: '/bin/bash', groups: [{ name, gid: uid }, ...groups.map((g, i) => ({ name: g, gid: 2000 + i }))] };
}


function timeEach(n: number, fn: () => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

function main(): void {
  const text = bigConf(SECTIONS);
  const MAIN = '/etc/dosh/dosh.conf';
  const dir = mkdtempSync(path.join(tmpdir(), 'dosh-bench-policy-'));
  const file = path.join(dir, 'dosh.conf');
  writeFileSync(file, text);
  try {
    // Loading: parse and check everything (every flag of every section), from memory and from the file system.
    for (let i = 0; i < 5; i++) loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: text }));
    const loadMem = timeEach(LOADS, () => loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: text })));
    const loadFile = timeEach(LOADS, () => loadPolicyFile(file));
    const policy = loadPolicyFile(file);

    const users: { label: string; u: UserInfo; sections: number }[] = [
      { label: 'few: a user with her own [user:] section, in no group section', u: user('u2'), sections: 2 },
      { label: 'none: a user matching no section', u: user('nobody'), sections: 1 },
      { label: 'many: [user:u500] + 200 of the group sections', u: user('u500', Array.from({ length: 200 }, (_, i) => `g${2 * i + 1}`)), sections: 202 },
      { label: 'all: a member of all 500 group sections', u: user('u998', Array.from({ length: 500 }, (_, i) => `g${2 * i + 1}`)), sections: 502 },
    ];
    const resolved = users.map(({ label, u, sections }) => {
      const eff = resolvePolicy(policy, u);
      // The matching is real: the right image, and one -e per matching group section.
      const groups = u.groups.length - 1;
      if ((eff.create.Env?.length ?? 0) !== groups) throw new Error(`${label}: expected ${groups} Env entries, got ${eff.create.Env?.length}`);
      for (let i = 0; i < 200; i++) resolvePolicy(policy, u); // warm up
      return { label, sections, ms: timeEach(N, () => resolvePolicy(policy, u)) };
    });

    spawnSync('/bin/true');
    const spawns = timeEach(SPAWNS, () => {
      const r = spawnSync('/bin/true');
      if (r.status !== 0) throw new Error('/bin/true failed');
    });

    const us = (x: number) => `${(x * 1000).toFixed(1)} µs`;
    const ms = (x: number) => `${x.toFixed(2)} ms`;
    const spawn = median(spawns);
    console.log(
      `bench/policy: ${SECTIONS} sections (${SECTIONS / 2} [user:], ${SECTIONS / 2} [group:]), ${text.split('\n').length - 1} lines, ${(text.length / 1024).toFixed(0)} KiB; ` +
        `nproc ${availableParallelism()} (${cpus()[0]?.model?.trim() ?? '?'}), node ${process.version}, Linux ${release()}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on the machine inflates p95)`,
    );
    console.log('');
    console.log(`| what | runs | median | p95 | median / spawn of /bin/true |`);
    console.log('|---|---|---|---|---|');
    for (const r of resolved) {
      console.log(`| resolve one user, ${r.label} (${r.sections} block${r.sections === 1 ? '' : 's'} applied) | ${N} | ${us(median(r.ms))} | ${us(p95(r.ms))} | ${(median(r.ms) / spawn).toFixed(3)} |`);
    }
    console.log(`| load the whole dosh.conf from memory (parse + check every section) | ${LOADS} | ${ms(median(loadMem))} | ${ms(p95(loadMem))} | ${(median(loadMem) / spawn).toFixed(2)} |`);
    console.log(`| load the whole dosh.conf from a file (doshd's reload) | ${LOADS} | ${ms(median(loadFile))} | ${ms(p95(loadFile))} | ${(median(loadFile) / spawn).toFixed(2)} |`);
    console.log(`| spawn /bin/true (spawnSync, for scale) | ${SPAWNS} | ${ms(spawn)} | ${ms(p95(spawns))} | 1.000 |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
