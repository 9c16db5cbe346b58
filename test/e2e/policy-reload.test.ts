// Policy hot reload, end to end: the installed doshd watching its real
// dosh.conf and a CONF= include, real users logging in through su, real containers on the real engine.
//   (a) an edited policy applies to the next login, without restarting doshd;
//   (b) a broken policy is rejected whole: logins go on with the last good one, `doshctl policy status` exits 1 with
//       file:line, the reload error counter grows; fixing the file clears the error;
//   (e) an edited, added or broken CONF= include is picked up like the main file;
//   (c) a container whose settings changed is kept while its user has a live session, recreated at her next login
//       after it ended;
//   (d) `doshctl policy check`, `explain --config`, `convert` on files.
// needs: docker busybox dosh
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, BUSYBOX, delUser, Doshd, doshctl, METRICS_PORT, pidAlive, removeContainersOf, run, sessionsOf, sh, STORE, su, until } from './harness.ts';

const ADA = 'dtr-ada'; // (a), (b): plain logins; (d): the user explained
const BEN = 'dtr-ben'; // (c): the user with a live session
const CY = 'dtr-cy'; // (e): the user an include file is about
const GROUP = 'dtr-grp';
const IMG = (tag: string) => `dtr-image:${tag}`;
const TAGS = ['v1', 'v2', 'v3', 'v4'];
const STATUS_FILE = `${STORE}/policy-status.json`;
const RELOAD_TIMEOUT = 10_000;

/** The main dosh.conf; line numbers matter to the error checks: line 4 is DOCKERPARAMETERS, EXTRA starts at line 7. */
function mainPolicy(o: { gen: number; image?: string; benImage?: string; params?: string; extra?: string[] }): string {
  return [
    '# policy-reload e2e', // 1
    `CONTAINERIMAGE=${o.image ?? IMG('v1')}`, // 2
    'CONTAINERCOMMAND=/bin/sh', // 3
    `DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro -e DOSH_GEN=${o.gen}${o.params ? ' ' + o.params : ''}`, // 4
    'IDLETIMEOUT=0', // 5
    'CONF=inc/*.conf', // 6
    ...(o.extra ?? []), // 7…
    `[user:${BEN}]`,
    `CONTAINERIMAGE=${o.benImage ?? IMG('v1')}`,
    '',
  ].join('\n');
}

const includePolicy = (n: number) => `# about ${CY}\n[user:${CY}]\nDOCKERPARAMETERS=-e DOSH_INC=${n}\n`;

let doshd: Doshd;
let inc: string; // the include directory, next to the main file
let work: string; // files for (d)

interface Status {
  file: string;
  loaded: boolean;
  loadedAt?: string;
  files: string[];
  error?: { message: string; file?: string; line?: number; at: string };
}

const statusText = () => readFileSync(STATUS_FILE, 'utf8');

/** Makes a change to the policy files and waits for doshd to publish the reload it causes; returns the new status. */
async function reloadAfter(change: () => void): Promise<{ status: Status; ms: number }> {
  const before = statusText();
  const t0 = performance.now();
  change();
  const text = await until('doshd to reload the policy', () => {
    const now = statusText();
    return now !== before ? now : undefined;
  }, RELOAD_TIMEOUT);
  return { status: JSON.parse(text) as Status, ms: performance.now() - t0 };
}

const containerOf = (u: string) => {
  const [id, image] = sh(`docker inspect -f '{{.Id}} {{.Config.Image}}' dosh-${u}`).trim().split(' ');
  return { id, image };
};

/** One login as U running CMD; asserts it worked and returns its standard output. */
async function login(u: string, cmd: string): Promise<string> {
  const r = await su(u, cmd);
  assert.equal(r.code, 0, `login of ${u} failed (${r.code}): ${r.stderr}`);
  return r.stdout.toString();
}

async function reloadErrors(): Promise<number> {
  const r = await run('curl', ['-sf', `127.0.0.1:${METRICS_PORT}/metrics`]);
  assert.equal(r.code, 0, r.stderr);
  const m = r.stdout.toString().match(/^dosh_policy_reloads_total\{result="error"\} (\d+)$/m);
  return m ? Number(m[1]) : 0;
}

before(async () => {
  for (const t of TAGS) sh(`docker tag ${BUSYBOX} ${IMG(t)}`);
  addUser(ADA, { groups: [GROUP] });
  addUser(BEN);
  addUser(CY);
  removeContainersOf(ADA, BEN, CY);
  doshd = new Doshd(mainPolicy({ gen: 1 }));
  inc = path.join(doshd.dir, 'inc');
  mkdirSync(inc);
  writeFileSync(path.join(inc, 'cy.conf'), includePolicy(1));
  work = mkdtempSync(path.join(tmpdir(), 'dtr-files-'));
  await doshd.start();
});

after(async () => {
  await doshd?.stop();
  removeContainersOf(ADA, BEN, CY);
  for (const u of [ADA, BEN, CY]) delUser(u);
  sh(`docker rmi ${TAGS.map(IMG).join(' ')} >/dev/null`);
  doshd?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('(a) an edited policy applies to the next login, without a restart', () => {
  test('a new image and environment reach the next login', async () => {
    assert.equal(await login(ADA, 'echo $DOSH_GEN'), '1\n');
    const first = containerOf(ADA);
    assert.equal(first.image, IMG('v1'));
    const pid = doshd.pid;

    const { status, ms } = await reloadAfter(() => doshd.setPolicy(mainPolicy({ gen: 2, image: IMG('v2') })));
    assert.equal(status.loaded, true);
    assert.equal(status.error, undefined, status.error?.message);
    console.log(`# policy reload published ${ms.toFixed(0)} ms after the file was replaced`);

    assert.equal(await login(ADA, 'echo $DOSH_GEN'), '2\n', 'the first login after the reload has the new policy');
    const second = containerOf(ADA);
    assert.equal(second.image, IMG('v2'));
    assert.notEqual(second.id, first.id, 'her idle container was recreated with the new settings');
    assert.equal(doshd.pid, pid);
    assert.ok(pidAlive(pid), 'the same doshd process did it');
  });
});

describe('(b) a broken policy is rejected whole; the last good one stays in force', () => {
  const config = () => doshd.config;

  test('an unknown key: error at its line, logins still use the last good policy, error counted', async () => {
    const errorsBefore = await reloadErrors();
    const { status } = await reloadAfter(() => doshd.setPolicy(mainPolicy({ gen: 3, image: IMG('v3'), extra: ['COLOUR=blue'] })));
    assert.equal(status.error?.file, config());
    assert.equal(status.error?.line, 7);
    assert.match(status.error!.message, /unknown key "COLOUR"/);

    assert.equal(await login(ADA, 'echo $DOSH_GEN'), '2\n', 'nothing of the rejected file applies');
    assert.equal(containerOf(ADA).image, IMG('v2'));

    const st = await doshctl('policy', 'status');
    assert.equal(st.code, 1, st.stdout.toString() + st.stderr);
    assert.match(st.stdout.toString(), new RegExp(`Last error: +${escape(config())}:7:\\d+: unknown key "COLOUR"`));
    assert.match(st.stdout.toString(), /In force: +yes/);
    assert.ok((await reloadErrors()) > errorsBefore, 'dosh_policy_reloads_total{result="error"} grew');
  });

  test('an unsupported docker flag: error naming the flag at its line and column', async () => {
    const errorsBefore = await reloadErrors();
    const { status } = await reloadAfter(() => doshd.setPolicy(mainPolicy({ gen: 3, image: IMG('v3'), params: '--frobnicate 3' })));
    assert.equal(status.error?.line, 4);
    assert.match(status.error!.message, new RegExp(`^${escape(config())}:4:\\d+: unsupported docker run flag --frobnicate`));

    assert.equal(await login(ADA, 'echo $DOSH_GEN'), '2\n');
    const st = await doshctl('policy', 'status');
    assert.equal(st.code, 1);
    assert.match(st.stdout.toString(), new RegExp(`${escape(config())}:4:\\d+: unsupported docker run flag --frobnicate`));
    assert.ok((await reloadErrors()) > errorsBefore);
    assert.ok(errorsBefore > 0, 'the counter keeps the earlier error');
  });

  test('an unsafe flag without the opt-in is refused the same way', async () => {
    const { status } = await reloadAfter(() => doshd.setPolicy(mainPolicy({ gen: 3, params: '--privileged' })));
    assert.equal(status.error?.line, 4);
    assert.match(status.error!.message, /--privileged is refused/);
    assert.equal(await login(ADA, 'echo $DOSH_GEN'), '2\n');
  });

  test('fixing the file clears the error and applies the fix', async () => {
    const { status } = await reloadAfter(() => doshd.setPolicy(mainPolicy({ gen: 3, image: IMG('v3') })));
    assert.equal(status.error, undefined);
    assert.equal(status.loaded, true);
    const st = await doshctl('policy', 'status');
    assert.equal(st.code, 0, st.stdout.toString());
    assert.doesNotMatch(st.stdout.toString(), /Last error/);
    assert.equal(await login(ADA, 'echo $DOSH_GEN'), '3\n');
    assert.equal(containerOf(ADA).image, IMG('v3'));
  });
});

describe('(e) CONF= includes are watched too', () => {
  test('editing an included file reloads the policy', async () => {
    assert.equal(await login(CY, 'echo $DOSH_GEN $DOSH_INC'), '3 1\n');
    const { status } = await reloadAfter(() => writeFileSync(path.join(inc, 'cy.conf'), includePolicy(2)));
    assert.equal(status.error, undefined, status.error?.message);
    assert.ok(status.files.includes(path.join(inc, 'cy.conf')));
    assert.equal(await login(CY, 'echo $DOSH_GEN $DOSH_INC'), '3 2\n');
  });

  test('a new file matching the CONF glob is read', async () => {
    const more = path.join(inc, 'more.conf');
    const { status } = await reloadAfter(() => writeFileSync(more, `[user:${CY}]\nDOCKERPARAMETERS=-e DOSH_MORE=yes\n`));
    assert.deepEqual(status.files, [doshd.config, path.join(inc, 'cy.conf'), more]);
    assert.equal(await login(CY, 'echo $DOSH_INC $DOSH_MORE'), '2 yes\n');
  });

  test('a broken include is rejected with its own file and line; fixing it recovers', async () => {
    const file = path.join(inc, 'cy.conf');
    const { status } = await reloadAfter(() => writeFileSync(file, `# about ${CY}\n[user:${CY}]\nDOCKERPARAMETERS=-e DOSH_INC=3 --memory lots\n`));
    assert.equal(status.error?.file, file);
    assert.equal(status.error?.line, 3);
    assert.match(status.error!.message, /invalid size "lots"/);
    const st = await doshctl('policy', 'status');
    assert.equal(st.code, 1);
    assert.match(st.stdout.toString(), new RegExp(`${escape(file)}:3:\\d+: --memory: invalid size "lots"`));
    assert.equal(await login(CY, 'echo $DOSH_INC'), '2\n', 'the last good include stays in force');

    const fixed = await reloadAfter(() => writeFileSync(file, includePolicy(4)));
    assert.equal(fixed.status.error, undefined);
    assert.equal(await login(CY, 'echo $DOSH_INC'), '4\n');
  });
});

describe('(c) a changed container is kept under a live session, recreated at the next login after it', () => {
  let live: ChildProcessWithoutNullStreams | undefined;
  let liveOut = '';
  let kept: { id: string; image: string };

  after(() => live?.kill('SIGKILL'));

  test('with a session open, a policy change does not recreate her container', async () => {
    assert.equal(await login(BEN, 'echo $DOSH_GEN'), '3\n');
    kept = containerOf(BEN);
    assert.equal(kept.image, IMG('v1'));

    // The live session: a login waiting on its standard input.
    live = spawn('su', ['-', BEN, '-c', 'echo ready; read line; echo "bye $line"'], { env: { PATH: process.env.PATH, HOME: '/root' } });
    live.stdout.on('data', (d: Buffer) => (liveOut += d));
    await until('the live session to start', () => liveOut.includes('ready\n'));
    const open = (await sessionsOf(BEN)).filter((s) => s.status.phase === 'Running' || s.status.phase === 'Ready');
    assert.equal(open.length, 1, 'one live session');

    const { status } = await reloadAfter(() => doshd.setPolicy(mainPolicy({ gen: 4, image: IMG('v3'), benImage: IMG('v4') })));
    assert.equal(status.error, undefined);

    // A second login meanwhile: the new policy is in force, but her container is the one her open session uses.
    assert.equal(await login(BEN, 'echo $DOSH_GEN'), '3\n', 'the second login ran in the kept container');
    assert.deepEqual(containerOf(BEN), kept);
    // Other users get the new policy at once.
    assert.equal(await login(ADA, 'echo $DOSH_GEN'), '4\n');
  });

  test('doshctl shows the kept container as outdated', async () => {
    const r = await doshctl('get', 'containers', '-o', 'wide');
    assert.equal(r.code, 0, r.stderr);
    const row = r.stdout.toString().split('\n').find((l) => l.startsWith(BEN + ' '));
    assert.ok(row, r.stdout.toString());
    assert.match(row, /outdated/i, `a container kept under a logged-in user is shown as outdated by doshctl; got:\n${r.stdout}`);
  });

  test('once her session has ended, her next login gets a new container with the new settings', async () => {
    const exited = new Promise<number | null>((resolve) => live!.on('close', (code) => resolve(code)));
    live!.stdin.end('done\n');
    assert.equal(await exited, 0);
    assert.match(liveOut, /bye done\n$/);
    live = undefined;
    await until('her sessions to be recorded as ended', async () => (await sessionsOf(BEN)).every((s) => s.status.phase === 'Succeeded' || s.status.phase === 'Failed'));

    assert.equal(await login(BEN, 'echo $DOSH_GEN'), '4\n');
    const now = containerOf(BEN);
    assert.notEqual(now.id, kept.id, 'recreated');
    assert.equal(now.image, IMG('v4'));
  });
});

describe('a policy that loads but that the engine refuses', () => {
  const file = () => path.join(inc, 'cy.conf');
  after(() => writeFileSync(file(), includePolicy(1)));

  test('ends the login promptly with the reason, not a timeout blamed on doshd', async () => {
    // `--cap-add BOGUS` passes `doshctl policy check` today, but the engine answers 400 "unknown capability".
    const { status } = await reloadAfter(() => writeFileSync(file(), `[user:${CY}]\nDOCKERPARAMETERS=-e DOSH_INC=5 --cap-add BOGUS\n`));
    if (status.error) return; // the policy was refused at load time, with its line: the better outcome
    const r = await su(CY, 'echo should-not-run');
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout.toString(), '');
    assert.ok(r.ms < 10_000, `the login took ${(r.ms / 1000).toFixed(1)} s to fail; stderr: ${r.stderr.trim()}`);
    assert.match(r.stderr, /BOGUS|capabilit/i, 'the user (and the log) is told what is wrong');
    assert.doesNotMatch(r.stderr, /timed out waiting for the DoSH controller/);
  });
});

describe('(d) doshctl policy check, explain and convert on files', () => {
  const good = () => path.join(work, 'good.conf');
  const bad = () => path.join(work, 'bad.conf');
  const GOOD = [
    '# explain me', // 1
    `CONTAINERIMAGE=${BUSYBOX}`, // 2
    'DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -w /home/$USER', // 3
    'IDLETIMEOUT=45m', // 4
    `[group:${GROUP}]`, // 5
    'DOCKERPARAMETERS=-m 64m --pids-limit 99', // 6
    `[user:${ADA}]`, // 7
    `CONTAINERIMAGE=${IMG('v2')}`, // 8
    '',
  ].join('\n');

  before(() => {
    writeFileSync(good(), GOOD);
    writeFileSync(bad(), `CONTAINERIMAGE=${BUSYBOX}\n\nDOCKERPARAMETERS=-m 2X\n`);
  });

  test('check: 0 for a good file, 1 with file:line for a bad one, 1 when any of several is bad', async () => {
    const ok = await doshctl('policy', 'check', good());
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout.toString(), new RegExp(`^${escape(good())}: ok`));

    const ko = await doshctl('policy', 'check', bad());
    assert.equal(ko.code, 1);
    assert.match(ko.stderr, new RegExp(`^${escape(bad())}:3:\\d+: -m: invalid size "2X"`, 'm'));

    const both = await doshctl('policy', 'check', good(), bad());
    assert.equal(both.code, 1);
    assert.match(both.stdout.toString(), new RegExp(`${escape(good())}: ok`));
    assert.match(both.stderr, new RegExp(`${escape(bad())}:3:`));

    const yaml = path.join(work, 'bad.yaml');
    writeFileSync(yaml, `version: 1\ndefaults:\n  image: ${BUSYBOX}\nrules:\n  - match: { users: [${ADA}] }\n    resources: { memory: 2X }\n`);
    const ky = await doshctl('policy', 'check', yaml);
    assert.equal(ky.code, 1);
    assert.match(ky.stderr, new RegExp(`${escape(yaml)}:6(:\\d+)?: .*2X`));
  });

  test('explain USER --config FILE names file:line:section for the image and a DOCKERPARAMETERS setting', async () => {
    const r = await doshctl('policy', 'explain', ADA, '--config', good());
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.toString();
    assert.match(out, new RegExp(`^image +"${escape(IMG('v2'))}" +${escape(good())}:8 \\[user:${ADA}\\]$`, 'm'));
    assert.match(out, new RegExp(`^create\\.HostConfig\\.Memory +${64 << 20} +${escape(good())}:6 \\[group:${GROUP}\\]$`, 'm'));
    assert.match(out, new RegExp(`^create\\.HostConfig\\.Binds +.*${escape(good())}:3 \\[\\(top\\)\\]$`, 'm'));
    assert.match(out, new RegExp(`^idleTimeoutSeconds +2700 +${escape(good())}:4 \\[\\(top\\)\\]$`, 'm'), 'IDLETIMEOUT=45m');

    const j = await doshctl('policy', 'explain', ADA, '--config', good(), '-o', 'json');
    const entries = JSON.parse(j.stdout.toString()) as { setting: string; value: unknown; file: string; line: number; section: string }[];
    const at = (s: string) => entries.find((e) => e.setting === s);
    assert.deepEqual(at('image'), { setting: 'image', value: IMG('v2'), file: good(), line: 8, section: `user:${ADA}` });
    assert.deepEqual(at('create.HostConfig.PidsLimit'), { setting: 'create.HostConfig.PidsLimit', value: 99, file: good(), line: 6, section: `group:${GROUP}` });
  });

  test('convert FILE prints a dosh.yaml that loads and resolves to the same settings', async () => {
    const c = await doshctl('policy', 'convert', good());
    assert.equal(c.code, 0, c.stderr);
    const yaml = path.join(work, 'converted.yaml');
    writeFileSync(yaml, c.stdout);
    const chk = await doshctl('policy', 'check', yaml);
    assert.equal(chk.code, 0, chk.stderr);

    for (const u of [ADA, BEN]) {
      const values = async (file: string) => {
        const r = await doshctl('policy', 'explain', u, '--config', file, '-o', 'json');
        assert.equal(r.code, 0, r.stderr);
        const list = JSON.parse(r.stdout.toString()) as { setting: string; value: unknown }[];
        return Object.fromEntries(list.filter((e) => e.value !== undefined).map((e) => [e.setting, e.value]));
      };
      const [fromConf, fromYaml] = [await values(good()), await values(yaml)];
      assert.equal(fromYaml.image, u === ADA ? IMG('v2') : BUSYBOX);
      assert.equal(fromYaml.image, fromConf.image);
      for (const k of Object.keys(fromConf)) assert.deepEqual(fromYaml[k], fromConf[k], `${u}: ${k}`);
    }
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
