// How a file transfer runs in her container. sshd runs the server side of sftp, scp and rsync through her login
// shell (`SHELL -c COMMAND`); an image without the program (busybox, a distroless image, ubuntu without
// openssh-sftp-server) would end the transfer with "Connection closed" and nothing else. So doshd recognises the
// transfer (policy/remote-command.ts) and asks the engine what her container holds:
//
//   - her image's own program wins when it has one: it runs directly, with the command's words (no shell needed);
//     a command that needs a shell (`scp -f *.txt`, from scp -O) runs through her shell as any command does;
//   - else the copy in DoSH's toolbox (controller/toolbox.ts) runs, through its own loader, as her, in her container;
//   - else, or when the command needs a shell the toolbox cannot be, the login is refused (TransferUnavailable) with
//     what is missing and what would work instead: she reads why, not "Connection closed".
import { TOOLBOX_MOUNT } from '../api/constants.ts';
import type { UserInfo } from '../api/policy.ts';
import { clipCommand, type ExecPlan, type SessionSpec, type TransferTool } from '../api/session.ts';
import type { Engine } from '../engine/docker.ts';
import { RefusedError } from '../lib/errors.ts';
import { remoteCommand, SFTP_SERVER_PATHS } from '../policy/remote-command.ts';
import { toolboxArgv, type ToolboxManifest } from './toolbox.ts';

export type TransferEnginePort = Pick<Engine, 'inspectContainer' | 'statPath' | 'readFile'>;

export interface TransferDeps {
  engine: TransferEnginePort;
  /** The toolbox in force; undefined when doshd runs without one (--toolbox ''). */
  toolbox?: () => ToolboxManifest | undefined;
}

export interface TransferPlan {
  shell: string[];
  tool: NonNullable<ExecPlan['tool']>;
  /** Something she should read before the transfer starts (a program that will refuse to run, and why). */
  notice?: string;
}

/** The docker image's default PATH, for a container whose environment has none. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const WHAT: Record<TransferTool, string> = {
  'sftp-server': 'no SFTP server (sftp-server, which sftp and scp use)',
  scp: 'no scp (which scp -O, the legacy protocol, runs on this side)',
  rsync: 'no rsync',
};

/**
 * The plan of a file transfer; undefined when the login is not one, or when her shell runs it as any other command
 * (her image has the program and the command needs a shell). Throws RefusedError (TransferUnavailable) when nothing
 * can serve it.
 */
export async function planTransfer(spec: SessionSpec, user: UserInfo, container: { id: string; image: string }, d: TransferDeps): Promise<TransferPlan | undefined> {
  if (spec.mode !== 'command' || spec.args.length > 0 || spec.command === undefined) return undefined;
  const rc = remoteCommand(spec.command, user.home);
  if (!rc) return undefined;
  const found = await findInImage(d.engine, container.id, rc.tool, rc.program);
  const notice = rc.tool === 'rsync' ? undefined : await passwdNotice(d.engine, container.id, user);
  if (found) return rc.args ? { shell: [found], tool: { name: rc.tool, source: 'image' }, notice } : undefined;
  const box = d.toolbox?.();
  const argv = box && toolboxArgv(box, rc.tool, TOOLBOX_MOUNT);
  const lacks = `the image ${container.image} has ${WHAT[rc.tool]}`;
  if (!argv) {
    const why = !d.toolbox ? 'doshd runs without its toolbox of the host\'s programs (--toolbox)' : !box ? 'doshd could not build its toolbox of the host\'s programs (see its log)' : `this host has none to lend: ${box.missing[rc.tool] ?? 'not in the toolbox'}`;
    throw new RefusedError('TransferUnavailable', `${lacks}, and ${why}; ask your administrator`);
  }
  if (!rc.args) {
    const instead = rc.tool === 'scp' ? '; scp without -O (the SFTP protocol) works, wildcards included' : '';
    throw new RefusedError('TransferUnavailable', `${lacks}: DoSH runs its own copy from the host, without a shell, and this command needs one (${rc.unsupported}: ${JSON.stringify(clipCommand(spec.command, 120))})${instead}`);
  }
  return { shell: argv, tool: { name: rc.tool, source: 'toolbox' }, notice };
}

/**
 * Her image's own program: an absolute path as asked (and, for sftp-server, where each distribution puts it), a bare
 * name in her container's PATH. An executable regular file, as the engine sees it inside her container.
 */
async function findInImage(engine: TransferEnginePort, id: string, tool: TransferTool, program: string): Promise<string | undefined> {
  let candidates: string[];
  if (program.includes('/')) candidates = tool === 'sftp-server' ? [program, ...SFTP_SERVER_PATHS.filter((p) => p !== program)] : [program];
  else {
    const env = (await engine.inspectContainer(id)).env;
    const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
    candidates = pathVar.split(':').filter((dir) => dir.startsWith('/')).map((dir) => `${dir.replace(/\/+$/, '')}/${program}`);
  }
  const stats = await Promise.all(candidates.map((c) => engine.statPath(id, c)));
  return candidates.find((_, i) => stats[i]?.kind === 'file' && (stats[i]!.mode & 0o111) !== 0);
}

/** scp and sftp-server refuse to run for a uid their container's /etc/passwd does not name: she is told why first. */
async function passwdNotice(engine: TransferEnginePort, id: string, user: UserInfo): Promise<string | undefined> {
  const passwd = await engine.readFile(id, '/etc/passwd');
  const known = passwd?.toString('utf8').split('\n').some((l) => l.split(':')[2] === String(user.uid));
  if (known) return undefined;
  return `the container's /etc/passwd has no entry for ${user.name} (uid ${user.uid}), and scp and sftp-server stop without one ("No user found"); ask your administrator to mount the host's (-v /etc/passwd:/etc/passwd:ro)`;
}

