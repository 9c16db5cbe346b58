// What a login runs in the container: the policy's shell (execArgv in api/session.ts adds her arguments the way bash
// would take them), her environment and her identity.
import type { ExecPlan, SessionSpec } from '../api/session.ts';
import type { EffectivePolicy, UserInfo } from '../api/policy.ts';

export function planExec(spec: SessionSpec, policy: EffectivePolicy, user: UserInfo): ExecPlan {
  const shell = policy.command;
  const env = [`HOME=${user.home}`, `USER=${user.name}`, `LOGNAME=${user.name}`, `SHELL=${shell[0]}`];
  if (spec.term) env.push(`TERM=${spec.term}`);
  if (spec.lang) env.push(`LANG=${spec.lang}`);
  return { shell: [...shell], env, user: `${user.uid}:${user.gid}` };
}
