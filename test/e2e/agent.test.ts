// ssh agent forwarding (FORWARDAGENT) through the test sshd with a real ssh-agent holding the test key: `ssh -A` gives
// her container SSH_AUTH_SOCK for that login, ssh-add -l lists the key and git clones over ssh from inside (back
// through the test sshd and DoSH, authenticated by the forwarded agent); without -A, or without FORWARDAGENT, there is
// no agent; no other user, from her container or her host account, reaches the socket; it goes with the login.
// needs: docker debian dosh sshd
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { addUser, asUserScript, DEBIAN, Doshd, endSuite, removeContainersOf, run, sessionsOf, sh, SSH_PORT, SSHD_DIR, sshOpts, until, type Result } from './harness.ts';

const A = 'dtg-ada';
const B = 'dtg-ben';
const dir = mkdtempSync(path.join(tmpdir(), 'dtg-'));
const AGENT = path.join(dir, 'agent.sock');
// Her container on the host's network: from inside, 127.0.0.1:2222 is the test sshd (git clone goes back through it).
const POLICY = `CONTAINERIMAGE=${DEBIAN}
CONTAINERCOMMAND=/bin/bash
DOCKERPARAMETERS=-v /etc/passwd:/etc/passwd:ro -v /etc/group:/etc/group:ro -v /home/$USER:/home/$USER -w /home/$USER
IDLETIMEOUT=0
[user:${A}]
FORWARDAGENT=true
ALLOW_UNSAFE_DOCKERPARAMETERS_I_UNDERSTAND_THE_RISK=true
DOCKERPARAMETERS=--network host
`;
let doshd: Doshd;
let agent: ChildProcess;

const env = { PATH: process.env.PATH, HOME: '/root', SSH_AUTH_SOCK: AGENT };
/** ssh as the test's client, with its agent: -A forwards it. */
const ssh = (user: string, cmd: string, extra: string[] = []) => run('ssh', [...sshOpts(), ...extra, `${user}@127.0.0.1`, cmd], { env });
const ok = (r: Result, what: string) => assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
const fingerprint = () => sh(`ssh-keygen -lf ${SSHD_DIR}/client_key.pub`).split(' ')[1];

before(async () => {
  for (const u of [A, B]) {
    addUser(u);
    removeContainersOf(u);
  }
  agent = spawn('ssh-agent', ['-D', '-a', AGENT], { stdio: 'ignore' });
  await until('the ssh agent', () => existsSync(AGENT));
  ok(await run('ssh-add', [`${SSHD_DIR}/client_key`], { env }), 'ssh-add');
  // A repository of hers to clone from inside her container.
  sh(`git init -q --bare -b main /home/${A}/repo.git && git -C ${dir} -c init.defaultBranch=main clone -q /home/${A}/repo.git seed 2>/dev/null &&
      cd ${dir}/seed && echo agent > proof && git add proof && git -c user.name=x -c user.email=x@x commit -qm proof && git push -q origin main 2>/dev/null &&
      chown -R ${A}: /home/${A}/repo.git`);
  doshd = await new Doshd(POLICY).start();
});

after(async () => {
  await endSuite(doshd, [A, B]);
  agent?.kill();
  rmSync(dir, { recursive: true, force: true });
});

test('ssh -A: SSH_AUTH_SOCK in her container reaches her agent: ssh-add -l lists the key, git clone over ssh works from inside', async () => {
  const r = await ssh(A, 'echo "sock=$SSH_AUTH_SOCK"; ssh-add -l', ['-A']);
  ok(r, 'ssh-add -l inside');
  const out = r.stdout.toString();
  assert.match(out, /^sock=\/\.dosh\/agent\/dtg-ada-[0-9a-f]+\.sock$/m);
  assert.ok(out.includes(fingerprint()), `the test key is listed: ${out}`);
  const git = `GIT_SSH_COMMAND='ssh -p ${SSH_PORT} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR' git clone -q ${A}@127.0.0.1:repo.git /tmp/clone-$$ && cat /tmp/clone-$$/proof && rm -rf /tmp/clone-$$`;
  const c = await ssh(A, git, ['-A']);
  ok(c, 'git clone over ssh from inside');
  assert.equal(c.stdout.toString(), 'agent\n');
});

test('no agent without -A, and none for a user whose policy does not forward it', async () => {
  const plain = await ssh(A, 'echo "sock=${SSH_AUTH_SOCK:-none}"; ssh-add -l');
  assert.notEqual(plain.code, 0);
  assert.match(plain.stdout.toString(), /^sock=none$/m);
  const other = await ssh(B, 'echo "sock=${SSH_AUTH_SOCK:-none}"; ls -d /.dosh/agent 2>&1', ['-A']);
  assert.match(other.stdout.toString(), /^sock=none$/m);
  assert.match(other.stdout.toString(), /No such file or directory/);
});

test('only hers, only while the login lasts: not from another user\'s container or host account; gone when it ends', async () => {
  const live = ssh(A, 'sleep 4', ['-A']);
  const s = await until('her forwarding session', async () => (await sessionsOf(A)).find((x) => x.status.phase === 'Running' && (x.status as { agentSocket?: string }).agentSocket));
  const sock = (s.status as { agentSocket?: string }).agentSocket!;
  assert.match(sock, new RegExp(`^/run/dosh/agents/${sh(`id -u ${A}`).trim()}/`));
  assert.equal(sh(`stat -c '%U %a %F' ${sock}`).trim(), `${A} 600 socket`);
  const fromHost = await asUserScript(B, `test -e ${sock} && echo reachable || echo unreachable; ls /run/dosh 2>&1`);
  assert.match(fromHost.stdout.toString(), /^unreachable$/m);
  assert.match(fromHost.stdout.toString(), /Permission denied/);
  const fromB = await ssh(B, `ls /.dosh/agent 2>&1; find / -name '${path.basename(sock)}' 2>/dev/null | wc -l`);
  assert.match(fromB.stdout.toString(), /No such file or directory\n0\n$/);
  ok(await live, 'the forwarding login');
  await until('the socket to go with the login', () => !existsSync(sock), 10_000);
});
