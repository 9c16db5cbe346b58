// What a login runs in the container: the policy's shell, invoked the way bash would be for the same arguments.
import type { ExecPlan, SessionSpec } from '../api/session.ts';
import type { EffectivePolicy, UserInfo } from '../api/policy.ts';

export function planExec(spec: SessionSpec, policy: EffectivePolicy, user: UserInfo): ExecPlan {
  const shell = policy.command;
  const login = spec.login ? ['-l'] : [];
  let argv: string[];
  switch (spec.mode) {
    case 'interactive':
      argv = [...shell, ...login];
      break;
    case 'command':
      argv = [...shell, ...login, '-c', spec.command ?? '', ...spec.args];
      break;
    case 'stdin':
      argv = [...shell, ...login, '-s', ...spec.args];
      break;
    case 'script':
      argv = [...shell, spec.command ?? '', ...spec.args];
      break;
  }
  const env = [`HOME=${user.home}`, `USER=${user.name}`, `LOGNAME=${user.name}`, `SHELL=${shell[0]}`];
  if (spec.term) env.push(`TERM=${spec.term}`);
  if (spec.lang) env.push(`LANG=${spec.lang}`);
  return { argv, env, user: `${user.uid}:${user.gid}` };
}
