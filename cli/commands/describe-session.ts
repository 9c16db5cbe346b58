import type { Command } from '../context.ts';
import { CliError } from '../context.ts';
import { commandLine } from '../../policy/remote-command.ts';
import { age } from '../format.ts';
import { describeEvents } from './events.ts';

export const describeSession: Command = {
  path: ['describe', 'session'],
  aliases: [['describe', 'sessions']],
  usage: 'doshctl describe session NAME',
  summary: 'show one session in detail',
  needs: ['root'],
  args: 'sessions',
  async run(ctx) {
    const name = ctx.args[0];
    if (!name) throw new CliError('describe session: a session NAME is required', 2);
    const s = ctx.sessions().get(name);
    if (!s) throw new CliError(`session "${name}" not found`);
    const st = s.status;
    const lines = [
      `Name:         ${s.metadata.name}`,
      `UID:          ${s.metadata.uid}`,
      `Created:      ${s.metadata.creationTimestamp} (${age(s.metadata.creationTimestamp, ctx.now())} ago)`,
      `User:         ${s.spec.user} (uid ${s.spec.uid}, gid ${s.spec.gid})`,
      `Node:         ${s.spec.node}`,
      `Mode:         ${s.spec.mode}${s.spec.login ? ', login shell' : ''}${s.spec.tty ? ', tty' : ''}`,
      ...(s.spec.command !== undefined ? [`Command:      ${JSON.stringify(s.spec.command.length > 200 ? s.spec.command.slice(0, 200) + '…' : s.spec.command)}`] : []),
      `Relay:        pid ${s.spec.relay.pid}`,
      `Phase:        ${st.phase}${st.reason ? ` (${st.reason})` : ''}`,
      ...(st.message ? [`Message:      ${st.message}`] : []),
      `Container:    ${st.container ? `${st.container.name} (${st.container.id.slice(0, 12)}, image ${st.container.image})` : '<none>'}`,
      ...(st.exec ? [`Exec:         ${JSON.stringify(commandLine(s.spec, st.exec).map((a) => (a.length > 80 ? a.slice(0, 80) + '…' : a)))} as ${st.exec.user}${st.exec.tool ? ` (${st.exec.tool.name} from ${st.exec.tool.source === 'image' ? 'the image' : "DoSH's toolbox"})` : ''}`] : []),
      ...(st.execPid ? [`Exec PID:     ${st.execPid}`] : []),
      ...(st.agentSocket ? [`Agent:        forwarded (ssh -A), through ${st.agentSocket}`] : []),
      ...(st.recording ? [`Recording:    ${st.recording.file}${st.recording.stopped ? ` (stopped early: ${st.recording.stopped})` : ''}`] : []),
      ...(st.exitCode !== undefined ? [`Exit Code:    ${st.exitCode}`] : []),
      'Conditions:',
      '  Type    Status  Reason              Message',
      ...st.conditions.map((c) => `  ${c.type.padEnd(7)} ${c.status.padEnd(7)} ${c.reason.padEnd(19)} ${c.message}`),
      ...describeEvents(ctx, 'Session', s.metadata.name),
    ];
    ctx.out(lines.join('\n') + '\n');
  },
};
