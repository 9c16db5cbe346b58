// Every doshctl command, in the order `doshctl --help` lists them.
import type { Command } from '../context.ts';
import { getSessions } from './get-sessions.ts';
import { getContainers } from './get-containers.ts';
import { describeSession } from './describe-session.ts';
import { deleteSession } from './delete-session.ts';
import { cordon, uncordon } from './cordon.ts';
import { policyCheck, policyConvert, policyExplain, policyStatus } from './policy.ts';
import { version } from './version.ts';

export const COMMANDS: Command[] = [getSessions, getContainers, describeSession, deleteSession, cordon, uncordon, policyCheck, policyExplain, policyConvert, policyStatus, version];
