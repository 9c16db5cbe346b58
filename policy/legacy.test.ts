// dosh.conf reading: lines, sections, keys, INHERIT, CONF includes, and the load-time checks.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { memoryIO } from './io.ts';
import { loadLegacyPolicy } from './legacy.ts';
import { resolvePolicy } from './resolve.ts';
import { loadYamlPolicy } from './yaml.ts';
import { loadText, MAIN, resolveText, throwsAt, user } from './testkit.ts';

test('comments, blanks, CRLF and a value containing = are read like the original', () => {
  const p = resolveText('  # a comment\r\n\r\n\tCONTAINERIMAGE=debian:12   # trailing comment\r\nDOCKERPARAMETERS=-e A=b=c\r\n');
  assert.equal(p.image, 'debian:12');
  assert.deepEqual(p.create.Env, ['A=b=c']);
});

test('everything after # is a comment, even inside quotes (as sed s/#.*// does)', () => {
  throwsAt(() => loadText('DOCKERPARAMETERS=-e "A=#1"\n'), MAIN, 1, /unbalanced double quote/);
});

test('a trailing backslash continues the value on the next line', () => {
  const p = resolveText('DOCKERPARAMETERS=-m 1g \\\n  # comment in between\n\n   --cpus 2\n');
  assert.equal(p.create.HostConfig.Memory, 1024 ** 3);
  assert.equal(p.create.HostConfig.NanoCpus, 2e9);
});

test('NUL byte, unknown key, unknown section kind, bad header: errors with file and line', () => {
  const e = throwsAt(() => loadText('CONTAINERIMAGE=a\nDEBUG=tr\0ue\n'), MAIN, 2, /NUL byte/);
  assert.equal(e.column, 9);
  throwsAt(() => loadText('CONTAINERIMAGE=a\nCONTAINERIMAG=b\n'), MAIN, 2, /unknown key "CONTAINERIMAG"/);
  throwsAt(() => loadText('[host:x]\n'), MAIN, 1, /unknown section kind "host"/);
  throwsAt(() => loadText('[user:bob\n'), MAIN, 1, /malformed section header/);
  throwsAt(() => loadText('[user:]\n'), MAIN, 1, /no user name/);
  throwsAt(() => loadText('JUSTAWORD\n'), MAIN, 1, /expected KEY=VALUE/);
  throwsAt(() => loadText('DEBUG = true\n'), MAIN, 1, /blank before '='/);
  throwsAt(() => loadText('DEBUG=yes\n'), MAIN, 1, /DEBUG must be true or false/);
  throwsAt(() => loadText('IDLETIMEOUT=soon\n'), MAIN, 1, /IDLETIMEOUT must be a number of seconds/);
});

test('UNSAFEEXPAND is refused with the reason; UNSAFEEXPAND=false is harmless', () => {
  throwsAt(() => loadText('\nUNSAFEEXPAND=true\n'), MAIN, 2, /run shell commands .* as root/);
  assert.doesNotThrow(() => loadText('UNSAFEEXPAND=false\n'));
});

test('CONTAINERIMAGE and PREFIXNAME are validated', () => {
  throwsAt(() => loadText('CONTAINERIMAGE=Ubuntu:latest\n'), MAIN, 1, /lowercase/);
  throwsAt(() => loadText('CONTAINERIMAGE=ubuntu latest\n'), MAIN, 1, /invalid image reference/);
  throwsAt(() => loadText('CONTAINERIMAGE=\n'), MAIN, 1, /image is empty/);
  assert.equal(resolveText('CONTAINERIMAGE=registry.local:5000/team/img:1.2@sha256:' + 'a'.repeat(64) + '\n').image.startsWith('registry.local:5000/'), true);
  throwsAt(() => loadText('PREFIXNAME=-bad\n'), MAIN, 1, /PREFIXNAME/);
  assert.equal(resolveText('PREFIXNAME=c-\n').prefixName, 'c-');
  // A user name that docker cannot take in a container name is refused at resolve time.
  throwsAt(() => resolveText('PREFIXNAME=c-\n', user('john@example.com')), MAIN, 1, /container name "c-john@example.com"/);
});

test('sections apply in file order; group sections match any group, primary or supplementary', () => {
  const conf = 'CONTAINERIMAGE=a\n[group:staff]\nCONTAINERIMAGE=b\n[user:bob]\nCONTAINERIMAGE=c\n[group:bob]\nCONTAINERIMAGE=d\n';
  assert.equal(resolveText(conf, user('alice')).image, 'a');
  assert.equal(resolveText(conf, user('alice', ['staff'])).image, 'b');
  // bob's primary group is "bob": the later group section wins over the user section.
  assert.equal(resolveText(conf, user('bob', ['staff'])).image, 'd');
});

test('a group section can name a group with blanks, as SSSD and Active Directory name them', () => {
  const conf = 'CONTAINERIMAGE=a\n[group:domain users]\nDOCKERPARAMETERS=-m 1g\n[group:AD\\Domain Admins]\nCONTAINERIMAGE=b\n[group:lab users@ad.example.com]\nCONTAINERIMAGE=c\n';
  const ann = resolveText(conf, user('ann', ['domain users', 'restricted']));
  assert.equal(ann.create.HostConfig.Memory, 1024 ** 3);
  assert.equal(ann.image, 'a');
  assert.equal(resolveText(conf, user('ann', ['domain users', 'AD\\Domain Admins'])).image, 'b');
  assert.equal(resolveText(conf, user('ann', ['lab users@ad.example.com'])).image, 'c');
  // Only the whole name matches: "domain" or "users" alone are other groups.
  assert.equal(resolveText(conf, user('ann', ['domain', 'users'])).create.HostConfig.Memory, undefined);
  throwsAt(() => loadText('[group: staff]\n'), MAIN, 1, /cannot start or end with a blank/);
  throwsAt(() => loadText('[group:staff ]\n'), MAIN, 1, /cannot start or end with a blank/);
  throwsAt(() => loadText('[group:a\tb]\n'), MAIN, 1, /control character/);
  throwsAt(() => loadText('[user:bob smith]\n'), MAIN, 1, /a user name cannot contain blanks/);
});

test('a section for a user or group that does not exist is allowed and never matches', () => {
  const p = resolveText('CONTAINERIMAGE=a\n[user:ghost]\nCONTAINERIMAGE=b\n[group:nobody-has-this]\nCONTAINERIMAGE=c\n');
  assert.equal(p.image, 'a');
});

test('INHERIT: true appends DOCKERPARAMETERS, false replaces, and it can change between sections', () => {
  const conf = [
    'DOCKERPARAMETERS=-v /a:/a',
    '[group:g1]',
    'DOCKERPARAMETERS=-v /b:/b', // INHERIT defaults to true: appended
    '[group:g2]',
    'INHERIT=false',
    'DOCKERPARAMETERS=-v /c:/c', // replaces
    '[group:g3]',
    'DOCKERPARAMETERS=-v /d:/d', // INHERIT is still false for members of g2
    '',
  ].join('\n');
  assert.deepEqual(resolveText(conf, user('u', ['g1', 'g3'])).create.HostConfig.Binds, ['/a:/a', '/b:/b', '/d:/d']);
  assert.deepEqual(resolveText(conf, user('u', ['g1', 'g2'])).create.HostConfig.Binds, ['/c:/c']);
  assert.deepEqual(resolveText(conf, user('u', ['g1', 'g2', 'g3'])).create.HostConfig.Binds, ['/d:/d']);
});

test('variables: only the login variables are expanded, never $(...) or backticks', () => {
  const u = { name: 'bob', uid: 1234, gid: 100, home: '/srv/home/bob', shell: '/bin/zsh', groups: [{ name: 'users', gid: 100 }] };
  const p = resolveText('DOCKERPARAMETERS=-e A=$USER:${UID}:$GID:$GROUP:$HOME:$SHELL:$LOGNAME -e B=$PATH:${FOO} -e "C=$(id -u)" -e D=`id` -e E=$USERX\n', u);
  assert.deepEqual(p.create.Env, ['A=bob:1234:100:users:/srv/home/bob:/bin/zsh:bob', 'B=$PATH:${FOO}', 'C=$(id -u)', 'D=`id`', 'E=$USERX']);
});

test('an expanded value never splits into more words or flags', () => {
  const evil = { ...user('x'), home: '/tmp/a -v /:/host' };
  const p = resolveText('DOCKERPARAMETERS=-w $HOME\n', evil);
  assert.equal(p.create.WorkingDir, '/tmp/a -v /:/host');
  assert.equal(p.create.HostConfig.Binds, undefined);
});

test('defaults: the original values, and the secure container defaults', () => {
  const p = resolveText('');
  assert.equal(p.image, 'alpine');
  assert.deepEqual(p.command, ['/bin/sh']);
  assert.equal(p.prefixName, 'dosh-');
  assert.equal(p.idleTimeoutSeconds, 1800);
  assert.equal(p.runCommands, true);
  assert.equal(p.logFile, '/var/log/dosh.log');
  assert.deepEqual(p.create.HostConfig, { CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'], Init: true, PidsLimit: 1024 });
  assert.equal(resolveText('LOGFILE=\nSCRIPTSFOLDER=\n').logFile, null);
  assert.equal(resolveText('IDLETIMEOUT=0\nMAXSESSIONS=3\nMAXSESSIONSECONDS=8h\n').maxSessionSeconds, 8 * 3600);
});

test('CONF includes are read after the main file, relative to the including file, in name order', () => {
  const io = memoryIO({
    [MAIN]: 'CONF=dosh/conf.d/*\nCONTAINERIMAGE=main\n[user:bob]\nCONTAINERIMAGE=main-bob\n',
    '/etc/dosh/conf.d/20-b.conf': '[user:bob]\nCONTAINERIMAGE=b20\n',
    '/etc/dosh/conf.d/10-a.conf': 'CONTAINERIMAGE=a10\n',
    '/etc/dosh/conf.d/.hidden': 'CONTAINERIMAGE=hidden\n',
  });
  const pol = loadLegacyPolicy(MAIN, io);
  assert.deepEqual(pol.files, [MAIN, '/etc/dosh/conf.d/10-a.conf', '/etc/dosh/conf.d/20-b.conf']);
  assert.equal(resolvePolicy(pol, user('bob')).image, 'b20');
  assert.equal(resolvePolicy(pol, user('alice')).image, 'a10');
  assert.deepEqual(resolvePolicy(pol, user('bob')).provenance.image, { file: '/etc/dosh/conf.d/20-b.conf', line: 2, section: 'user:bob' });
});

test('an include may name further files; a CONF set in a user section replaces the global one for her', () => {
  const io = memoryIO({
    [MAIN]: 'CONF=/etc/dosh/one.conf\n[user:bob]\nCONF=/etc/dosh/bob.conf\n',
    '/etc/dosh/one.conf': 'CONTAINERIMAGE=one\nCONF=/etc/dosh/two.conf\n',
    '/etc/dosh/two.conf': 'CONTAINERCOMMAND=zsh -l\n',
    '/etc/dosh/bob.conf': 'CONTAINERIMAGE=bob\n',
  });
  const pol = loadLegacyPolicy(MAIN, io);
  const alice = resolvePolicy(pol, user('alice'));
  assert.equal(alice.image, 'one');
  assert.deepEqual(alice.command, ['zsh', '-l']);
  const bob = resolvePolicy(pol, user('bob'));
  assert.equal(bob.image, 'bob');
  assert.deepEqual(bob.command, ['/bin/sh']);
});

test('include loops are rejected at load: CONF naming its own file, and a longer cycle', () => {
  throwsAt(() => loadText('CONTAINERIMAGE=a\nCONF=/etc/dosh.conf\n'), MAIN, 2, /include loop: dosh.conf → dosh.conf/);
  const io = memoryIO({ [MAIN]: 'CONF=/etc/a.conf\n', '/etc/a.conf': '\nCONF=/etc/b.conf\n', '/etc/b.conf': '\n\nCONF=/etc/*.conf\n' });
  throwsAt(() => loadLegacyPolicy(MAIN, io), '/etc/b.conf', 3, /include loop/);
});

test('unreadable, missing and empty includes', () => {
  throwsAt(() => loadText('\nCONF=/etc/dosh/secret.conf\n', { '/etc/dosh/secret.conf': null }), MAIN, 2, /cannot read included file \/etc\/dosh\/secret.conf: permission denied/);
  throwsAt(() => loadText('CONF=/etc/dosh/missing.conf\n'), MAIN, 1, /included file \/etc\/dosh\/missing.conf does not exist/);
  const pol = loadText('CONF=/etc/dosh/conf.d/*\n');
  assert.match(pol.warnings[0], /matches no file/);
  throwsAt(() => loadLegacyPolicy('/nowhere.conf', memoryIO({})), '/nowhere.conf', 1, /cannot read the policy file/);
});

test('an error in an included file names that file and line', () => {
  throwsAt(() => loadText('CONF=/etc/dosh/x.conf\n', { '/etc/dosh/x.conf': '\n\n[user:a]\nDOCKERPARAMETERS=--frobnicate\n' }), '/etc/dosh/x.conf', 4, /unsupported docker run flag --frobnicate/);
});

test('a 10 MB file loads in reasonable time', () => {
  const line = '# ' + 'x'.repeat(96) + '\n';
  let text = 'CONTAINERIMAGE=debian:12\n';
  while (text.length < 10 * 1024 * 1024) text += line.repeat(1000) + '[user:u' + text.length + ']\nDOCKERPARAMETERS=-m 1g -e A=b\n';
  const t0 = performance.now();
  const pol = loadText(text);
  const ms = performance.now() - t0;
  assert.ok(ms < 5000, `took ${ms} ms`);
  assert.equal(resolvePolicy(pol, user('alice')).image, 'debian:12');
});

test('NETWORKPERUSER: false by default, per section, with provenance; refused together with --network at its file:line', () => {
  assert.equal(resolveText('CONTAINERIMAGE=a\n').networkPerUser, false);
  const text = 'NETWORKPERUSER=true\n[user:bob]\nNETWORKPERUSER=false\n';
  const alice = resolveText(text);
  assert.equal(alice.networkPerUser, true);
  assert.deepEqual(alice.provenance.networkPerUser, { file: MAIN, line: 1, section: '(top)' });
  assert.equal(resolveText(text, user('bob')).networkPerUser, false);
  throwsAt(() => loadText('NETWORKPERUSER=yes\n'), MAIN, 1, /NETWORKPERUSER must be true or false/);
  throwsAt(() => resolveText('DOCKERPARAMETERS=--network a --network b\n[user:alice]\nNETWORKPERUSER=true\n'), MAIN, 3, /cannot be combined with --network a/);
  // Only where both apply: bob keeps his --network.
  assert.equal(resolveText('DOCKERPARAMETERS=--network a\n[user:alice]\nNETWORKPERUSER=true\n', user('bob')).create.HostConfig.NetworkMode, 'a');
});

test('ALLOWOTHERSHELL: false by default, set per section (a group of admins whose shell is bash), with provenance', () => {
  const text = '[group:admins]\nALLOWOTHERSHELL=true\n';
  const p = loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: text }));
  const alice = resolvePolicy(p, user('alice'));
  assert.equal(alice.allowOtherShell, false);
  const bob = resolvePolicy(p, user('bob', ['admins']));
  assert.equal(bob.allowOtherShell, true);
  assert.deepEqual(bob.provenance.allowOtherShell, { file: MAIN, line: 2, section: 'group:admins' });
  assert.throws(() => loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: 'ALLOWOTHERSHELL=yes\n' })), /ALLOWOTHERSHELL must be true or false/);
});

test('FORWARDAGENT and RECORDSESSIONS: false by default, set per section, in dosh.yaml too, with provenance', () => {
  const text = 'RECORDSESSIONS=true\n[group:devs]\nFORWARDAGENT=true\n[user:carol]\nRECORDSESSIONS=false\n';
  const p = loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: text }));
  const alice = resolvePolicy(p, user('alice'));
  assert.deepEqual([alice.forwardAgent, alice.recordSessions], [false, true]);
  const bob = resolvePolicy(p, user('bob', ['devs']));
  assert.equal(bob.forwardAgent, true);
  assert.deepEqual(bob.provenance.forwardAgent, { file: MAIN, line: 3, section: 'group:devs' });
  assert.equal(resolvePolicy(p, user('carol')).recordSessions, false);
  for (const k of ['FORWARDAGENT', 'RECORDSESSIONS']) assert.throws(() => loadLegacyPolicy(MAIN, memoryIO({ [MAIN]: `${k}=1\n` })), new RegExp(`${k} must be true or false`));
  const y = loadYamlPolicy('/etc/dosh.yaml', memoryIO({ '/etc/dosh.yaml': 'version: 1\ndefaults: { recordSessions: true }\nrules:\n  - match: { groups: [devs] }\n    forwardAgent: true\n' }));
  assert.deepEqual([resolvePolicy(y, user('bob', ['devs'])).forwardAgent, resolvePolicy(y, user('bob', ['devs'])).recordSessions, resolvePolicy(y, user('alice')).forwardAgent], [true, true, false]);
});
