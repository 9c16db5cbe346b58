// The toolbox: the host's own file-transfer programs (OpenSSH's sftp-server and scp, rsync), each with exactly the
// libraries it loads and the dynamic loader it runs with, copied by doshd at start into a root-owned directory that
// every user's container mounts read-only (TOOLBOX_MOUNT). An image that lacks one of them still serves scp, sftp and
// rsync: doshd runs the copy, through its own loader and libraries, as her, inside her container, so every path it
// opens is her container's (controller/transfer-plan.ts decides when).
//
// Each build goes into a directory named after a digest of what it holds (TOOLBOX/VERSION/{bin,lib}): a login's exec
// names the version it was planned with, so replacing the programs (an upgrade of the host's openssh) never changes
// files under a running transfer, and the mount itself (the parent directory) never changes, so containers are not
// made again. Versions other than the current one are removed at the next start.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TOOLBOX_MOUNT } from '../api/constants.ts';
import type { TransferTool } from '../api/session.ts';
import { toolboxManifestFile, type ToolboxManifest } from '../api/toolbox.ts';
import { elfInterpreter } from '../lib/elf.ts';
import { SFTP_SERVER_PATHS } from '../policy/remote-command.ts';

/** Where each program is looked for on the host, in order. */
export const HOST_PROGRAMS: Record<TransferTool, string[]> = {
  'sftp-server': SFTP_SERVER_PATHS,
  scp: ['/usr/bin/scp', '/bin/scp'],
  rsync: ['/usr/bin/rsync', '/bin/rsync'],
};

export class ToolboxError extends Error {
  override name = 'ToolboxError';
}

export type { ToolboxManifest };
const manifestFile = toolboxManifestFile;

/** The manifest of the toolbox in force (written by doshd), or undefined. */
export function readToolboxManifest(dir: string): ToolboxManifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(manifestFile(dir), 'utf8')) as ToolboxManifest;
  } catch {
    return undefined;
  }
}

/** The command line that runs a toolbox program in a container, before its arguments; undefined when it lacks it. */
export function toolboxArgv(m: ToolboxManifest, tool: TransferTool, mount = TOOLBOX_MOUNT): string[] | undefined {
  if (!m.programs[tool]) return undefined;
  const root = `${mount}/${m.version}`;
  const program = `${root}/bin/${tool}`;
  if (!m.loader) return [program];
  // --inhibit-cache: her image's /etc/ld.so.cache must not choose a library of the image for a program of the host.
  return [`${root}/lib/${m.loader}`, '--inhibit-cache', '--library-path', `${root}/lib`, ...(m.argv0 ? ['--argv0', tool] : []), program];
}

export interface BuildOptions {
  sources?: Record<TransferTool, string[]>;
  now?: () => number;
  /** Runs the loader (`--list PROGRAM`, `--help`); its standard output. */
  run?: (file: string, args: string[]) => string;
  /** The owner the toolbox directory and every copied file must have (root; the tests' own uid). */
  owner?: number;
}

const runClean = (file: string, args: string[]) => execFileSync(file, args, { env: {}, encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });

/** Builds the toolbox in `dir` from the host's programs, makes it current and removes older versions. */
export function buildToolbox(dir: string, opts: BuildOptions = {}): ToolboxManifest {
  const owner = opts.owner ?? 0;
  const run = opts.run ?? runClean;
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  trusted(dir, owner, 'directory');
  const work = path.join(dir, `.build-${process.pid}`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, 'bin'), { recursive: true, mode: 0o755 });
  fs.mkdirSync(path.join(work, 'lib'), { mode: 0o755 });
  const m: ToolboxManifest = { version: '', builtAt: new Date((opts.now ?? Date.now)()).toISOString(), argv0: false, programs: {}, missing: {} };
  let loader: string | undefined;
  try {
    for (const [tool, candidates] of Object.entries(opts.sources ?? HOST_PROGRAMS) as [TransferTool, string[]][]) {
      const from = candidates.find((c) => fs.existsSync(c));
      if (!from) {
        m.missing[tool] = `not installed on this host (looked for ${candidates.join(', ')})`;
        continue;
      }
      try {
        const real = trusted(from, owner, 'program');
        const interp = elfInterpreter(fs.readFileSync(real));
        if (interp) {
          if (loader && interp !== loader) throw new ToolboxError(`${from} runs with ${interp}, the other programs with ${loader}`);
          for (const lib of libraries(run(interp, ['--list', real]), from)) copy(trusted(lib.path, owner, 'library'), path.join(work, 'lib', lib.name), 0o644);
          loader = interp;
        }
        copy(real, path.join(work, 'bin', tool), 0o755);
        m.programs[tool] = { from };
      } catch (e) {
        m.missing[tool] = (e as Error).message;
      }
    }
    if (loader) {
      m.loader = path.basename(loader);
      copy(trusted(loader, owner, 'loader'), path.join(work, 'lib', m.loader), 0o755);
      m.argv0 = /--argv0/.test(safe(() => run(loader!, ['--help'])));
    }
    m.version = digest(work);
    const final = path.join(dir, m.version);
    if (fs.existsSync(final)) fs.rmSync(work, { recursive: true, force: true });
    else fs.renameSync(work, final);
    const tmp = `${manifestFile(dir)}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(m, null, 2) + '\n', { mode: 0o644 });
    fs.renameSync(tmp, manifestFile(dir));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  // Older builds: no exec names them any more (a login planned by the doshd before this one has started by now).
  for (const name of fs.readdirSync(dir)) {
    if (name !== m.version && name !== 'current.json') fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
  return m;
}

/** The libraries the loader lists for a program (`NAME => PATH (ADDRESS)`); a library it cannot find is an error. */
export function libraries(listing: string, program: string): { name: string; path: string }[] {
  const out: { name: string; path: string }[] = [];
  for (const line of listing.split('\n')) {
    const m = /^\s*(\S+) => (.*?)(?: \(0x[0-9a-f]+\))?$/.exec(line);
    if (!m) continue;
    if (m[2] === 'not found' || !m[2].startsWith('/')) throw new ToolboxError(`${program} needs ${m[1]}, which the host's loader cannot find`);
    if (m[1].includes('/')) throw new ToolboxError(`${program} names a library by path (${m[1]})`);
    out.push({ name: m[1], path: m[2] });
  }
  return out;
}

/**
 * A file or directory DoSH copies or builds in, checked: owned by `owner` (root) and writable by nobody else, as is
 * what a symlink to it leads to. Returns its real path. A program of the host that another account could change
 * would run in every user's container.
 */
function trusted(p: string, owner: number, what: string): string {
  const real = fs.realpathSync(p);
  const st = fs.statSync(real);
  const kindOk = what === 'directory' ? st.isDirectory() : st.isFile();
  if (!kindOk || st.uid !== owner || (st.mode & 0o022) !== 0) {
    throw new ToolboxError(`${what} ${p}${real !== p ? ` (${real})` : ''} must be a ${what === 'directory' ? 'directory' : 'regular file'} owned by ${owner === 0 ? 'root' : `uid ${owner}`} and writable by nobody else`);
  }
  return real;
}

function copy(from: string, to: string, mode: number): void {
  fs.copyFileSync(from, to);
  fs.chmodSync(to, mode);
}

function safe(fn: () => string): string {
  try {
    return fn();
  } catch {
    return '';
  }
}

/** A digest of a build's files (names, modes and contents), as the name of its directory. */
function digest(root: string): string {
  const h = createHash('sha256');
  for (const sub of ['bin', 'lib']) {
    for (const name of fs.readdirSync(path.join(root, sub)).sort()) {
      const f = path.join(root, sub, name);
      h.update(`${sub}/${name} ${fs.statSync(f).mode & 0o777}\n`);
      h.update(fs.readFileSync(f));
    }
  }
  return h.digest('hex').slice(0, 16);
}
