// The Session object: one login, written by doshd's session API when a login relay asks for it, reconciled by doshd.
import { z } from 'zod';
import { Condition, ObjectMeta } from './meta.ts';
import { API_VERSION, SESSION_KIND } from './constants.ts';

export { SESSION_KIND };

/** How the login shell was asked to run, decided from its arguments like bash would. */
export const SessionMode = z.enum(['interactive', 'command', 'stdin', 'script']);

export const SessionSpec = z.object({
  user: z.string().min(1).max(256),
  uid: z.number().int().positive(),
  gid: z.number().int().nonnegative(),
  node: z.string(),
  mode: SessionMode,
  login: z.boolean(),
  /** The `-c` string, or the script path in `script` mode. */
  command: z.string().optional(),
  args: z.array(z.string()).default([]),
  tty: z.boolean(),
  term: z.string().optional(),
  lang: z.string().optional(),
  /** The login relay (the dosh process) that holds the exec stream; pid + start time so a reused pid cannot pass for it. */
  relay: z.object({ pid: z.number().int().positive(), startTime: z.string() }),
  /** Whether her account's login shell (NSS) is the program she logged in with, DoSH's relay; false for another
   * account running it (doshd refuses those unless the policy allows them). */
  loginShell: z.boolean().optional(),
  /** 'ssh' for a login through sshd. */
  client: z.string().optional(),
  /** Her ssh client's address and port (from SSH_CONNECTION). */
  sshClient: z.string().max(64).optional(),
  /** Her ssh client forwards an agent (`ssh -A`: SSH_AUTH_SOCK was set); the policy decides whether it reaches her container. */
  agent: z.boolean().optional(),
  /** Her terminal's size when she logged in (the recording's header). */
  size: z.object({ rows: z.number().int().positive(), cols: z.number().int().positive() }).optional(),
});
export type SessionSpec = z.infer<typeof SessionSpec>;

export const SessionPhase = z.enum(['Pending', 'Ready', 'Running', 'Succeeded', 'Failed']);
export type SessionPhase = z.infer<typeof SessionPhase>;

export const LIVE_PHASES: readonly SessionPhase[] = ['Pending', 'Ready', 'Running'];

/** The file transfers DoSH serves in any image (policy/remote-command.ts recognises them). */
export const TRANSFER_TOOLS = ['sftp-server', 'scp', 'rsync'] as const;
export type TransferTool = (typeof TRANSFER_TOOLS)[number];

/**
 * What the exec runs, without her arguments (the spec holds those once): the container's shell, the environment and
 * the identity. execArgv() puts the two together. A file transfer may run without a shell: `tool` says which program
 * and whose (her image's, or DoSH's toolbox from the host), and `shell` is then that program's command line before
 * the command's own words (policy/remote-command.ts's commandLine() splits them from the spec).
 */
export const ExecPlan = z.object({
  shell: z.array(z.string()).min(1),
  tool: z.object({ name: z.enum(TRANSFER_TOOLS), source: z.enum(['image', 'toolbox']) }).optional(),
  env: z.array(z.string()),
  user: z.string(),
  workingDir: z.string().optional(),
});
export type ExecPlan = z.infer<typeof ExecPlan>;

/** The exec's command line: the shell invoked the way bash would be for the same arguments (a plan without a `tool`). */
export function execArgv(spec: Pick<SessionSpec, 'mode' | 'login' | 'command' | 'args'>, shell: readonly string[]): string[] {
  const login = spec.login ? ['-l'] : [];
  switch (spec.mode) {
    case 'interactive':
      return [...shell, ...login];
    case 'command':
      return [...shell, ...login, '-c', spec.command ?? '', ...spec.args];
    case 'stdin':
      return [...shell, ...login, '-s', ...spec.args];
    case 'script':
      return [...shell, spec.command ?? '', ...spec.args];
  }
}

export const SessionStatus = z.object({
  phase: SessionPhase.default('Pending'),
  conditions: z.array(Condition).default([]),
  reason: z.string().optional(),
  message: z.string().optional(),
  /** Her container; with the kubernetes backend her pod (id `pod:UID`, name `NAMESPACE/NAME`) and the node it runs on. */
  container: z.object({ id: z.string(), name: z.string(), image: z.string(), pod: z.object({ namespace: z.string(), name: z.string(), node: z.string() }).optional() }).optional(),
  /** What the exec runs: decided by doshd from policy, never by the user. */
  exec: ExecPlan.optional(),
  /** The socket (on the host, in doshd's agents directory) the relay binds for her container to reach her ssh agent. */
  agentSocket: z.string().optional(),
  /** The recording of this terminal session (RECORDSESSIONS): its file, the bytes it may take, and why it stopped early. */
  recording: z.object({ file: z.string(), limit: z.number().int().nonnegative(), stopped: z.string().optional() }).optional(),
  /** A note for her terminal, shown as the login starts (a transfer program that will refuse to run, and why). */
  notice: z.string().max(1024).optional(),
  /** The exec doshd created from that plan; the relay only starts it. */
  execId: z.string().optional(),
  execPid: z.number().int().positive().optional(),
  execPidStartTime: z.string().optional(),
  /** The login's own cgroup (cgroup v2): what it started, escaped from its process tree or not, ends with it there. */
  cgroup: z.string().optional(),
  readyAt: z.string().optional(),
  /** Hook scripts for this session's exec moments (preexec ran before Ready; exec runs once it ends). */
  hooks: z.object({ folder: z.string(), execDone: z.boolean().default(false) }).optional(),
  /** When doshd ends the session (the policy's maximum session lifetime), if it has one. */
  deadline: z.string().optional(),
  startedAt: z.string().optional(),
  /** When the first byte of output reached the user (the relay reports it). */
  firstByteAt: z.string().optional(),
  endedAt: z.string().optional(),
  exitCode: z.number().int().optional(),
  /** Bytes of her input sent to the command, and of its output delivered to her (the relay counts them). */
  bytesIn: z.number().int().nonnegative().optional(),
  bytesOut: z.number().int().nonnegative().optional(),
});
export type SessionStatus = z.infer<typeof SessionStatus>;

export const Session = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(SESSION_KIND),
  metadata: ObjectMeta,
  spec: SessionSpec,
  status: SessionStatus.default({ phase: 'Pending', conditions: [] }),
});
export type Session = z.infer<typeof Session>;

export function isLive(s: Session): boolean {
  return LIVE_PHASES.includes(s.status.phase);
}

/** What an ended session, and a Session resource, keep of a command, in characters. */
export const COMMAND_KEPT = 256;
/** What a Session resource keeps of a live login's arguments, in bytes as JSON. */
export const ARGS_MIRRORED = 4096;

/** C cut to at most MAX characters, an ellipsis marking the cut. */
export function clipCommand(c: string, max = COMMAND_KEPT): string {
  return c.length > max ? `${c.slice(0, max - 1)}…` : c;
}

/**
 * A session's spec as a Session resource holds it: the command clipped and the arguments cut to a few KiB. A login's
 * arguments may take a MiB as stored; every watcher of the API server would get each copy, and each update of it.
 * Returns how many arguments were left out (0: none).
 */
export function mirroredSpec(spec: SessionSpec): { spec: SessionSpec; argsLeftOut: number } {
  let bytes = 2;
  let kept = 0;
  for (const a of spec.args) {
    const b = Buffer.byteLength(JSON.stringify(a)) + 1;
    if (bytes + b > ARGS_MIRRORED) break;
    bytes += b;
    kept++;
  }
  const command = spec.command === undefined ? undefined : clipCommand(spec.command);
  return { spec: { ...spec, command, args: spec.args.slice(0, kept) }, argsLeftOut: spec.args.length - kept };
}
