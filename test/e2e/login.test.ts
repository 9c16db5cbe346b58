// Real logins (su and sshd) into real containers: identity, exit status, byte-exact stdio, per-user and per-group
// policy from a legacy dosh.conf, secure defaults.
// needs: docker busybox dosh sshd
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { addUser, BUSYBOX, delUser, Doshd, removeContainersOf, run, sh, ssh, su } from './harness.ts';

const A = 'dte-ann';
const B = 'dte-bob';
const C = 'dte-cat';
const GROUP = 'dte-advanced';
const POLICY = `# the seed's examples, with local images
CONTAINERIMAGE=${BUSYBOX}
CONTAINERCOMMAND=/bin/sh
DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro -v /home/$USER:/home/$USER -w /home/$USER
IDLETIMEOUT=0

[user:${B}]
CONTAINERIMAGE=dte-image:bob

[group:${GROUP}]
CONTAINERIMAGE=dte-image:advanced
INHERIT=true
DOCKERPARAMETERS=-m 64m --pids-limit 99 -e DOSH_TIER=advanced
`;
let doshd: Doshd;

before(async () => {
  sh(`docker tag ${BUSYBOX} dte-image:bob && docker tag ${BUSYBOX} dte-image:advanced`);
  addUser(A);
  addUser(B);
  addUser(C, { groups: [GROUP] });
  removeContainersOf(A, B, C);
  doshd = await new Doshd(POLICY).start();
});

after(async () => {
  await doshd.stop();
  removeContainersOf(A, B, C);
  for (const u of [A, B, C]) delUser(u);
  sh('docker rmi dte-image:bob dte-image:advanced >/dev/null');
  doshd.cleanup();
});

const uid = (u: string) => sh(`id -u ${u}`).trim();

test('su - USER -c CMD runs inside the user container as the user, and returns its exit status', async () => {
  const r = await su(A, 'id -u; id -g; cat /proc/1/cgroup | grep -c docker; hostname; exit 7');
  assert.equal(r.code, 7, r.stderr);
  const [u, g, inDocker, host] = r.stdout.toString().trim().split('\n');
  assert.equal(u, uid(A));
  assert.equal(g, sh(`id -g ${A}`).trim());
  assert.ok(Number(inDocker) > 0, 'pid 1 of the command is in a docker cgroup');
  assert.notEqual(host, sh('hostname').trim());
  assert.equal(sh(`docker inspect -f '{{.Config.User}}' dosh-${A}`).trim(), `${uid(A)}:${uid(A)}`.replace(/:.*/, `:${sh(`id -g ${A}`).trim()}`));
});

test('ssh host CMD runs in the container and keeps the exit status', async () => {
  const r = await ssh(A, 'cat /proc/self/cgroup | grep -q docker && echo in-container; exit 42');
  assert.equal(r.stdout.toString(), 'in-container\n', r.stderr);
  assert.equal(r.code, 42);
});

test('stdin, stdout and stderr are relayed separately and byte-exact, with EOF', async () => {
  const data = randomBytes(3 << 20);
  const r = await su(A, 'cat; echo done >&2', { input: data });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(createHash('sha256').update(r.stdout).digest('hex'), createHash('sha256').update(data).digest('hex'));
  assert.equal(r.stderr, 'done\n');
  const viaSsh = await ssh(A, 'wc -c', { input: data });
  assert.equal(viaSsh.stdout.toString().trim(), String(data.length));
});

test('tar through ssh: tar c . | ssh host "tar x" lands the files in the home bind mount', async () => {
  sh(`rm -rf /home/${A}/unpacked && mkdir -p /tmp/dte-tar && head -c 200000 /dev/urandom > /tmp/dte-tar/blob && echo hi > /tmp/dte-tar/note`);
  const tarball = Buffer.from(sh('tar -C /tmp/dte-tar -cf - . | base64 -w0'), 'base64');
  const r = await ssh(A, 'mkdir -p unpacked && cd unpacked && tar xf - && ls', { input: tarball });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sh(`cmp /tmp/dte-tar/blob /home/${A}/unpacked/blob && cat /home/${A}/unpacked/note`), 'hi\n');
});

test('-c takes the whole string as bash would, with $0 and positional arguments', async () => {
  const r = await su(A, `set -- a 'b c'; printf '[%s]' "$@"; echo; echo "$((6*7))" 'quoted $HOME' "$HOME"`);
  assert.equal(r.stdout.toString(), `[a][b c]\n42 quoted $HOME /home/${A}\n`);
});

test('a script on stdin with no arguments runs in the container shell', async () => {
  const r = await run('su', ['-', A], { input: 'echo from-stdin $(id -u)\nexit 3\n' });
  assert.equal(r.stdout.toString(), `from-stdin ${uid(A)}\n`);
  assert.equal(r.code, 3);
});

test('per-user and per-group policy: images, INHERIT of DOCKERPARAMETERS, supplementary groups', async () => {
  await su(B, 'true');
  await su(C, 'true');
  assert.equal(sh(`docker inspect -f '{{.Config.Image}}' dosh-${A}`).trim(), BUSYBOX);
  assert.equal(sh(`docker inspect -f '{{.Config.Image}}' dosh-${B}`).trim(), 'dte-image:bob');
  assert.equal(sh(`docker inspect -f '{{.Config.Image}}' dosh-${C}`).trim(), 'dte-image:advanced');
  assert.equal(sh(`docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}' dosh-${C}`).trim(), `${64 << 20} 99`);
  const r = await su(C, 'echo $DOSH_TIER; id -G; pwd; ls -d /home/*');
  const gid = sh(`getent group ${GROUP} | cut -d: -f3`).trim();
  const [tier, groups, pwd, homes] = r.stdout.toString().trim().split('\n');
  assert.equal(tier, 'advanced');
  assert.ok(groups.split(' ').includes(gid), `supplementary group ${gid} in ${groups}`);
  assert.equal(pwd, `/home/${C}`, 'INHERIT kept -w from the defaults');
  assert.equal(homes, `/home/${C}`, 'only her own home is mounted');
});

test('secure defaults: no capabilities at all, no-new-privileges, an init process, a pids limit', async () => {
  const r = await su(A, 'grep -E "^(CapEff|CapBnd|CapPrm|NoNewPrivs)" /proc/self/status; cat /proc/1/cmdline | tr "\\0" " "');
  const out = r.stdout.toString();
  assert.match(out, /CapEff:\s+0000000000000000/);
  assert.match(out, /CapBnd:\s+0000000000000000/);
  assert.match(out, /CapPrm:\s+0000000000000000/);
  assert.match(out, /NoNewPrivs:\s+1/);
  assert.match(out, /docker-init|tini/);
  assert.equal(sh(`docker inspect -f '{{.HostConfig.PidsLimit}}' dosh-${A}`).trim(), '1024');
});

test('concurrent logins of one user share her one persistent container', async () => {
  const before = sh(`docker inspect -f '{{.Id}}' dosh-${A}`).trim();
  const rs = await Promise.all(Array.from({ length: 5 }, (_, i) => su(A, `echo ${i}`)));
  assert.deepEqual(rs.map((r) => r.stdout.toString()), ['0\n', '1\n', '2\n', '3\n', '4\n']);
  assert.equal(sh(`docker inspect -f '{{.Id}}' dosh-${A}`).trim(), before);
});
