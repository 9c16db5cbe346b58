import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CachedDirectory, NssDirectory, parseGroupNames, parseInitgroups, parsePasswd, passwdByUid } from './users.ts';
import { RefusedError } from './errors.ts';

test('passwd lines parse', () => {
  assert.deepEqual(parsePasswd('ann:x:1001:1002:Ann,,,:/home/ann:/usr/local/bin/dosh'), { name: 'ann', uid: 1001, gid: 1002, home: '/home/ann', shell: '/usr/local/bin/dosh' });
  assert.equal(parsePasswd('broken:x:abc:1'), undefined);
});

test('passwdByUid reads /etc/passwd when NSS asks files first, and asks getent otherwise or when not found', async () => {
  const files: Record<string, string> = {
    '/etc/nsswitch.conf': 'passwd: files sss\n',
    '/etc/passwd': 'root:x:0:0::/root:/bin/bash\n+nis:x:1001:1::/:/bin/sh\nann:x:1001:1001::/home/ann:/bin/sh\n',
  };
  const calls: string[] = [];
  const run = async (cmd: string, args: string[]) => (calls.push(`${cmd} ${args.join(' ')}`), 'ldapuser:*:5000:5000::/home/ldapuser:/bin/sh\n');
  assert.equal((await passwdByUid(1001, (f) => files[f], run))?.name, 'ann', 'the +NIS line is not a user');
  assert.deepEqual(calls, []);
  assert.equal((await passwdByUid(5000, (f) => files[f], run))?.name, 'ldapuser');
  files['/etc/nsswitch.conf'] = 'passwd: sss files\n';
  calls.length = 0;
  await passwdByUid(1001, (f) => files[f], run);
  assert.deepEqual(calls, ['getent passwd 1001'], 'sss first: NSS decides');
});

/** A fake NSS answering getent (and id, as the real one prints it) from tables; records the commands run. */
function fakeNss(t: { passwd: string; initgroups?: string | { error: string } | { status: number }; groups: string[]; id?: string }) {
  const calls: string[] = [];
  const run = async (cmd: string, args: string[]) => {
    calls.push(`${cmd} ${args.join(' ')}`);
    if (cmd === 'id') return { status: 0, stdout: t.id ?? '' };
    if (args[0] === 'passwd') return { status: 0, stdout: t.passwd + '\n' };
    if (args[0] === 'initgroups') {
      const ig = t.initgroups ?? '';
      return typeof ig === 'string' ? { status: 0, stdout: ig + '\n' } : 'error' in ig ? ig : { status: ig.status, stdout: '' };
    }
    const found = args.slice(1).flatMap((gid) => t.groups.filter((l) => l.split(':')[2] === gid));
    return { status: found.length === args.length - 1 ? 0 : 2, stdout: found.map((l) => l + '\n').join('') };
  };
  return { dir: new NssDirectory(run), calls };
}

test('groups are resolved by number, so a name with a space ("domain users") hides no other group', async () => {
  const { dir, calls } = fakeNss({
    passwd: 'ann:x:1001:1001::/home/ann:/usr/local/bin/dosh',
    id: 'uid=1001(ann) gid=1001(ann) groups=1001(ann),513(domain users),2000(restricted)',
    initgroups: 'ann                  513 2000 3000',
    groups: ['ann:x:1001:', 'domain users:*:513:ann,bob', 'restricted:x:2000:ann', 'AD\\Domain Admins:*:3000:ann'],
  });
  const u = await dir.lookup('ann');
  assert.deepEqual(u?.groups, [
    { gid: 1001, name: 'ann' },
    { gid: 513, name: 'domain users' },
    { gid: 2000, name: 'restricted' },
    { gid: 3000, name: 'AD\\Domain Admins' },
  ]);
  assert.deepEqual(calls, ['getent passwd ann', 'getent initgroups ann', 'getent group 1001 513 2000 3000']);
});

test('SSSD fully qualified names (name@domain, with blanks) and a primary group listed again', async () => {
  const { dir } = fakeNss({
    passwd: 'ann@ad.example.com:*:1500001:1500513::/home/ann:/usr/local/bin/dosh',
    initgroups: 'ann@ad.example.com   1500513 1500600',
    groups: ['domain users@ad.example.com:*:1500513:', 'lab admins@ad.example.com:*:1500600:'],
  });
  assert.deepEqual((await dir.lookup('ann@ad.example.com'))?.groups.map((g) => g.name), ['domain users@ad.example.com', 'lab admins@ad.example.com']);
});

test('a group without a name, or groups NSS cannot list, refuse the login (GroupsUnresolved) instead of dropping them', async () => {
  const cases: Parameters<typeof fakeNss>[0][] = [
    { passwd: 'ann:x:1001:1001::/home/ann:/bin/sh', initgroups: 'ann 2000 2001', groups: ['ann:x:1001:', 'restricted:x:2000:ann'] },
    { passwd: 'ann:x:1001:4242::/home/ann:/bin/sh', initgroups: 'ann', groups: [] },
    { passwd: 'ann:x:1001:1001::/home/ann:/bin/sh', initgroups: { error: 'spawn getent ETIMEDOUT' }, groups: ['ann:x:1001:'] },
    { passwd: 'ann:x:1001:1001::/home/ann:/bin/sh', initgroups: { status: 1 }, groups: ['ann:x:1001:'] },
    { passwd: 'ann:x:1001:1001::/home/ann:/bin/sh', initgroups: 'bob 2000', groups: ['ann:x:1001:'] },
    { passwd: 'ann:x:1001:1001::/home/ann:/bin/sh', initgroups: 'ann 20x0', groups: ['ann:x:1001:'] },
  ];
  for (const c of cases) {
    const { dir } = fakeNss(c);
    await assert.rejects(dir.lookup('ann'), (e: unknown) => e instanceof RefusedError && e.reason === 'GroupsUnresolved', JSON.stringify(c));
  }
  const { dir } = fakeNss(cases[0]);
  await assert.rejects(dir.lookup('ann'), /no group name for gid 2001/);
});

test('an unknown user is undefined, not a refusal; a failed lookup is not cached', async () => {
  const { dir } = fakeNss({ passwd: '', groups: [] });
  assert.equal(await dir.lookup('nobody-here'), undefined);
  let calls = 0;
  const flaky = new CachedDirectory({ lookup: async () => (calls++ === 0 ? Promise.reject(new RefusedError('GroupsUnresolved', 'down')) : undefined) }, 5000, () => 0);
  await assert.rejects(flaky.lookup('ann'));
  assert.equal(await flaky.lookup('ann'), undefined);
  assert.equal(calls, 2);
});

test('parseInitgroups and parseGroupNames read only numbers and whole names', () => {
  assert.deepEqual(parseInitgroups('ann                  513 2000\n', 'ann'), [513, 2000]);
  assert.deepEqual(parseInitgroups('ann                  \n', 'ann'), []);
  assert.equal(parseInitgroups('', 'ann'), undefined);
  assert.deepEqual([...parseGroupNames('domain users:*:513:a,b\nbroken\n:x:7:\nx:x:abc:\n')], [[513, 'domain users']]);
});
