// The file transfers an ssh client asks a login shell to run, recognised from the command line sshd hands it: the
// SFTP subsystem (`SHELL -c /usr/lib/openssh/sftp-server`: sftp, and scp since OpenSSH 9), legacy scp (`scp -t` to
// receive, `scp -f` to send: `scp -O`) and rsync's server (`rsync --server ...`). Pure: whether her image or DoSH's
// toolbox runs it is controller/transfer-plan.ts's business. The words are split as a POSIX shell would
// (shell-words.ts), because the program may run without a shell.
import { execArgv, TRANSFER_TOOLS, type ExecPlan, type SessionSpec, type TransferTool } from '../api/session.ts';
import { commandWords } from './shell-words.ts';

export { TRANSFER_TOOLS, type TransferTool };

export interface RemoteCommand {
  tool: TransferTool;
  /** The program as the command names it: an absolute path (sshd's Subsystem line) or a name looked up in PATH. */
  program: string;
  /** The words after the program, as a shell would pass them; absent when `unsupported` is set. */
  args?: string[];
  /** The shell syntax that keeps the command from running without a shell (a wildcard, a redirection...). */
  unsupported?: string;
}

/** Where sftp-server lives on the distributions DoSH knows (an image's own is looked for in each, in this order). */
export const SFTP_SERVER_PATHS = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/lib/ssh/sftp-server', '/usr/libexec/sftp-server'];

/** scp's options (OpenSSH 9): those that take a value, and the flags. `-t` and `-f` are its server modes. */
const SCP_VALUE = new Set('DFJMPSXcilo');
const SCP_FLAGS = new Set('12346ABCTdfOpqRrstv');

/** The file transfer a command line asks for, or undefined when it is something else. */
export function remoteCommand(command: string, home: string): RemoteCommand | undefined {
  const { words, unsupported } = commandWords(command, home);
  const program = words[0];
  if (program === undefined) return undefined;
  const tool = toolOf(program, words.slice(1));
  if (!tool) return undefined;
  return unsupported !== undefined ? { tool, program, unsupported } : { tool, program, args: words.slice(1) };
}

/** The tool a command's words name; when the command goes on with shell syntax, by the words before it. */
function toolOf(program: string, args: string[]): TransferTool | undefined {
  const base = program.slice(program.lastIndexOf('/') + 1);
  if (base === 'sftp-server') return 'sftp-server';
  if (base === 'rsync') return args[0] === '--server' ? 'rsync' : undefined;
  if (base === 'scp') return scpServer(args) ? 'scp' : undefined;
  return undefined;
}

/** Whether scp's options name a server mode (-t or -f) before its operands, reading them as its getopt would. */
export function scpServer(args: string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--' || !a.startsWith('-') || a === '-') return false;
    for (let k = 1; k < a.length; k++) {
      const o = a[k];
      if (o === 't' || o === 'f') return true;
      if (SCP_VALUE.has(o)) {
        if (k === a.length - 1) i++;
        break;
      }
      if (!SCP_FLAGS.has(o)) return false;
    }
  }
  return false;
}

/**
 * The exec's command line for any plan: the shell invoked as bash would be (api/session.ts's execArgv), or, for a
 * transfer run without a shell, its program and the command's words after the first. The words are split again
 * from the spec each time (a leading ~ is her home, the plan's HOME): the store holds her command once.
 */
export function commandLine(spec: Pick<SessionSpec, 'mode' | 'login' | 'command' | 'args'>, plan: Pick<ExecPlan, 'shell' | 'tool'> & { env?: string[] }, home = homeOf(plan.env)): string[] {
  if (!plan.tool) return execArgv(spec, plan.shell);
  const rc = remoteCommand(spec.command ?? '', home);
  return [...plan.shell, ...(rc?.args ?? [])];
}

const homeOf = (env: string[] | undefined) => env?.find((e) => e.startsWith('HOME='))?.slice(5) ?? '/';
