// Every doshctl command, in the order `doshctl --help` lists them.
import type { Command } from '../context.ts';
import { getSessions } from './get-sessions.ts';
import { getContainers } from './get-containers.ts';
import { getNetworks } from './get-networks.ts';
import { describeSession } from './describe-session.ts';
import { describeUser } from './describe-user.ts';
import { topUsers } from './top-users.ts';
import { deleteSession } from './delete-session.ts';
import { events } from './events.ts';
import { cordon, uncordon } from './cordon.ts';
import { drain } from './drain.ts';
import { policyCheck, policyConvert, policyExplain, policyStatus } from './policy.ts';
import { version } from './version.ts';
import { completion } from './completion.ts';
import { logsSession } from './logs.ts';

export const COMMANDS: Command[] = [getSessions, getContainers, getNetworks, describeSession, describeUser, deleteSession, logsSession, topUsers, events, cordon, uncordon, drain, policyCheck, policyExplain, policyConvert, policyStatus, version, completion];
