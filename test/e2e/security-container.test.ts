// Security, end to end, inside her container: what she sees there (only her own processes; not the store,
// other homes or the docker socket), and privilege escalation with an image built for it (a setuid-root binary, a
// file-capability binary, and sudo with a rule giving everyone root): the control shows the image does escalate
// outside DoSH, and in her DoSH container every route gives nothing. The users, doshd, the escalation image and the
// checks are security-kit.ts's.
// needs: docker busybox debian dosh sshd
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { run, sshOpts, STORE, su } from './harness.ts';
import { describe, ESCALATE_IMAGE, out, probeFields, securitySuite, SESSIONS, V_COMMAND } from './security-kit.ts';

const sec = securitySuite('dsc', { escalation: true });
const { A, V, E, uid, gid, assertPolicyContainer, assertNoForeignEffects } = sec;

// ---------------------------------------------------------------------------------------------------------------
// What she sees

test('inside her container she sees only her own processes, and neither the store, other homes nor the docker socket', { timeout: 60_000 }, async () => {
  const r = await su(A, `for p in /proc/[0-9]*; do echo "$(awk '/^Uid:/{print $2}' $p/status 2>/dev/null)|$(tr '\\0' ' ' <$p/cmdline 2>/dev/null)"; done; echo ---; for f in ${STORE} ${SESSIONS}/${sec.vSession.metadata.name}.json /home/${V} /var/run/docker.sock /run/docker.sock /proc/${sec.vSession.status.execPid}; do ls -d $f 2>&1; done; true`);
  assert.equal(r.code, 0, describe(r));
  const [procs, files] = out(r).split('---\n');
  const rows = procs.split('\n').filter((l) => l.includes('|') && !l.startsWith('|'));
  assert.ok(rows.length >= 2, `her container's processes: ${procs}`);
  for (const row of rows) assert.equal(row.split('|')[0], uid(A), `every process she sees is hers: ${row}`);
  assert.ok(!procs.includes(V_COMMAND.replace('exec ', '')), 'V\'s command is not visible');
  assert.ok(rows.some((l) => /docker-init|tini/.test(l)), `the init process: ${procs}`);
  const fileLines = files.split('\n').filter(Boolean);
  assert.equal(fileLines.length, 6, files);
  for (const l of fileLines) assert.match(l, /No such file or directory/, l);
  const shadow = readFileSync('/etc/shadow', 'utf8').split('\n')[0];
  const s = await su(A, 'cat /etc/shadow');
  assert.ok(!out(s).includes(shadow), 'the host\'s /etc/shadow is not readable');
});

// ---------------------------------------------------------------------------------------------------------------
// Escalation inside the container

test('the escalation image does escalate outside DoSH (the control): its setuid probe gets euid 0, its capability probe gets capabilities, its sudo gives root', { timeout: 60_000 }, async () => {
  const r = await run('docker', ['run', '--rm', '-u', `${uid(E)}:${gid(E)}`, '-v', '/etc/passwd:/etc/passwd:ro', '-v', '/etc/group:/etc/group:ro', ESCALATE_IMAGE, 'bash', '-c', 'suid-probe; echo ---; cap-probe; echo ---; sudo -n id -u']);
  const [suid, cap, sudo] = out(r).split('---\n');
  assert.equal(probeFields(suid).euid, '0', `setuid probe: ${describe(r)}`);
  assert.equal(probeFields(suid).open, 'ok');
  assert.equal(probeFields(cap).CapEff, '0000000000000082', `capability probe: ${describe(r)}`);
  assert.equal(probeFields(cap).open, 'ok');
  assert.equal(sudo, '0\n', `sudo: ${describe(r)}`);
});

test('inside her container: CapEff=CapBnd=0, NoNewPrivs=1, seccomp on; the setuid-root binary, the file-capability binary, sudo and user namespaces give nothing', { timeout: 120_000 }, async () => {
  const st = await su(E, 'grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status');
  assert.equal(st.code, 0, describe(st));
  const f = probeFields(out(st));
  for (const k of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(f[k], '0000000000000000', `${k}: ${out(st)}`);
  assert.equal(f.NoNewPrivs, '1');
  assert.equal(f.Seccomp, '2', 'Docker\'s default seccomp filter is on');

  const suid = await su(E, 'ls -l /usr/local/bin/suid-probe; suid-probe');
  assert.match(out(suid), /^-rwsr-xr-x .* root root .*suid-probe$/m, 'the probe is setuid root in her container too');
  const p = probeFields(out(suid));
  assert.deepEqual([p.ruid, p.euid, p.suid], [uid(E), uid(E), uid(E)], describe(suid));
  assert.equal(p.CapEff, '0000000000000000');
  assert.equal(p.setuid0, 'Operation not permitted');
  assert.equal(p.open, 'Permission denied');

  // With every capability out of the bounding set, the kernel refuses to exec a binary whose file capabilities would
  // be lost (EPERM); had it run, it would have to show no capability.
  const cap = await su(E, 'cap-probe');
  if (cap.code === 0) {
    const c = probeFields(out(cap));
    assert.equal(c.CapEff, '0000000000000000', describe(cap));
    assert.notEqual(c.open, 'ok', describe(cap));
  } else assert.match(cap.stderr, /Operation not permitted/, describe(cap));

  for (const cmd of ['sudo -n id -u', 'sudo -n cat /root-only', 'sudo -n -s id -u']) {
    const s = await su(E, cmd);
    assert.notEqual(s.code, 0, `${cmd}: ${describe(s)}`);
    assert.match(s.stderr, /no new privileges/, describe(s));
    assert.doesNotMatch(out(s), /^0$|dosh-test secret/m, describe(s));
  }
  const direct = await su(E, 'cat /root-only');
  assert.notEqual(direct.code, 0);
  assert.match(direct.stderr, /Permission denied/, describe(direct));
  const userns = await su(E, 'unshare -Ur id -u');
  assert.notEqual(userns.code, 0, describe(userns));
  assert.match(userns.stderr, /Operation not permitted/, describe(userns));
  // The same through ssh with a terminal (sudo behaves differently with one).
  const tty = await run('ssh', ['-tt', ...sshOpts(), `${E}@127.0.0.1`, 'sudo -n id -u; echo "rc=$?"']);
  assert.match(out(tty), /no new privileges/, describe(tty));
  assert.match(out(tty), /rc=1/, describe(tty));
  assert.doesNotMatch(out(tty).replace(/\r/g, ''), /^0$/m, describe(tty));

  assertPolicyContainer(E, ESCALATE_IMAGE);
  assertNoForeignEffects();
});

