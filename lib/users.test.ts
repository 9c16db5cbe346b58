import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIdGroups, parsePasswd, passwdByUid } from './users.ts';

test('passwd and id output parse, including odd group names', () => {
  assert.deepEqual(parsePasswd('ann:x:1001:1002:Ann,,,:/home/ann:/usr/local/bin/dosh'), { name: 'ann', uid: 1001, gid: 1002, home: '/home/ann', shell: '/usr/local/bin/dosh' });
  assert.equal(parsePasswd('broken:x:abc:1'), undefined);
  assert.deepEqual(parseIdGroups('uid=1001(ann) gid=1002(ann) groups=1002(ann),27(sudo),3000(domain users)'.replace(' users)', '_users)')), [
    { gid: 1002, name: 'ann' },
    { gid: 27, name: 'sudo' },
    { gid: 3000, name: 'domain_users' },
  ]);
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
