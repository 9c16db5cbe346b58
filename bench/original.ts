// The original bash DoSH (grycap/dosh), installed for a benchmark run only, from the reference copy beside the
// repository (../shared/reference/grycap-dosh): never copied into the project. Its own paths, as its install puts
// them: /bin/shell2docker, run through sudo by its launcher, its sudoers rule, and /etc/dosh.conf (which DoSH's doshd
// does not read when given --config). Everything is put back as it was by uninstall().
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, sh } from '../test/e2e/harness.ts';

export const ORIGINAL_SRC = path.resolve(REPO, '../shared/reference/grycap-dosh');
export const ORIGINAL_SHELL = '/usr/local/bin/grycap-dosh';
const SHELL2DOCKER = '/bin/shell2docker';
const SUDOERS = '/etc/sudoers.d/zz-grycap-dosh-bench';
const CONF = '/etc/dosh.conf';

export function originalAvailable(): boolean {
  return ['dosh', 'shell2docker', 'dosh.sudoers'].every((f) => existsSync(path.join(ORIGINAL_SRC, f)));
}

let confBackup: string | undefined;

/** Installs it with a policy of the same image and shell as DoSH's benchmark policy, and an init, as DoSH's has. */
export function installOriginal(image: string): void {
  sh('command -v envsubst >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext-base >/dev/null');
  copyFileSync(path.join(ORIGINAL_SRC, 'shell2docker'), SHELL2DOCKER);
  chmodSync(SHELL2DOCKER, 0o755);
  copyFileSync(path.join(ORIGINAL_SRC, 'dosh'), ORIGINAL_SHELL);
  chmodSync(ORIGINAL_SHELL, 0o755);
  const dir = mkdtempSync(path.join(tmpdir(), 'grycap-'));
  writeFileSync(path.join(dir, 'sudoers'), readFileSync(path.join(ORIGINAL_SRC, 'dosh.sudoers')), { mode: 0o440 });
  sh(`visudo -cqf ${dir}/sudoers && install -m 0440 ${dir}/sudoers ${SUDOERS}`);
  rmSync(dir, { recursive: true, force: true });
  if (existsSync(CONF)) {
    confBackup = `${CONF}.bench-${process.pid}`;
    renameSync(CONF, confBackup);
  }
  writeFileSync(CONF, `CONTAINERIMAGE=${image}\nCONTAINERCOMMAND=/bin/sh\nPREFIXNAME=grycap-\nDOCKERPARAMETERS=--init\n`, { mode: 0o644 });
  if (!readFileSync('/etc/shells', 'utf8').split('\n').includes(ORIGINAL_SHELL)) sh(`echo ${ORIGINAL_SHELL} >>/etc/shells`);
}

export function uninstallOriginal(): void {
  rmSync(SUDOERS, { force: true });
  rmSync(SHELL2DOCKER, { force: true });
  rmSync(ORIGINAL_SHELL, { force: true });
  rmSync(CONF, { force: true });
  if (confBackup && existsSync(confBackup)) renameSync(confBackup, CONF);
  sh(`sed -i '\\#^${ORIGINAL_SHELL}$#d' /etc/shells`);
}
