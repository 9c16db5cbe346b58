// Every reason DoSH gives, defined once: why a login was refused or a session ended (a Session's status.reason and its
// Ready condition, RefusedError.reason, the `reason` label of dosh_logins_refused_total), and what an event reports.
// Plain constants (no zod), so that the lightest part of the login path can import them. status.reason stays a
// string in the Session schema, so that a store written by a newer version, with a reason added, still reads.

/** Why a login was refused before anything ran: the user reads the message, the administrator the reason. */
export const REFUSAL_REASONS = [
  /** The account is not known to NSS on this host, or its uid does not match the login's. */
  'UnknownUser',
  /** Her account's login shell is not DoSH's (a bash user, a service account running dosh), and the policy does not allow her. */
  'NotDoshShell',
  /** NSS could not name every one of her groups (a directory down, a gid without a name): going on would skip sections. */
  'GroupsUnresolved',
  /** The node is cordoned (doshctl cordon/drain): the message is the administrator's. */
  'Cordoned',
  /** She starts logins faster than --login-burst/--login-rate allow. */
  'RateLimited',
  /** She has the most live sessions the policy allows (MAXSESSIONS). */
  'TooManySessions',
  /** The policy cannot be applied to her (a bad value for her, say an unknown variable). */
  'PolicyError',
  /** No valid policy has been loaded since doshd started. */
  'NoPolicy',
  /** The policy's image is not on this host. */
  'ImageNotFound',
  /** A network the policy attaches her container to does not exist. */
  'NetworkNotFound',
  /** The engine refused a network the policy declares (an overlapping subnet, an unknown driver). */
  'NetworkInvalid',
  /** Her container's (or network's) name is taken by something DoSH did not make for her account. */
  'NameTaken',
  /** A pre* hook script failed. */
  'HookFailed',
  /** The engine refused a request outright (a value it will never accept): retrying cannot help. */
  'EngineRefused',
  /** The engine did not answer within a few backoff steps. */
  'EngineUnavailable',
  /** Her container is paused (docker pause): an administrator must unpause it. */
  'ContainerPaused',
  /** Her container kept restarting for longer than a login waits. */
  'ContainerRestarting',
  /** Her container was still being removed after a login's wait. */
  'ContainerRemoving',
  /** Her container is dead (it cannot start) and the engine would not remove it. */
  'ContainerDead',
  /** Her policy puts her container on a backend this doshd cannot serve (BACKEND=kubernetes without a Kubernetes connection). */
  'BackendUnavailable',
  /** Her pod (BACKEND=kubernetes) cannot serve a login: evicted, OOM-killed, an image the node cannot pull; the cluster's reason follows. */
  'PodFailed',
  /** The scheduler found no node for her pod within a login's wait; its message says why. */
  'PodUnschedulable',
  /** Her pod did not start within a login's wait (an image pull, a slow node). */
  'PodNotReady',
  /** A file transfer (sftp, scp, rsync) needs a program neither her image nor DoSH's toolbox can run for it. */
  'TransferUnavailable',
  /** The login request itself is unusable: bad shell options, root, a relay of another release (nothing is written). */
  'BadRequest',
  /** Her command and arguments take more room as stored than one login may (nothing is written). */
  'ArgumentsTooLong',
  /** Her open sessions, or all sessions, already hold as many arguments as the store allows (nothing is written). */
  'StoreFull',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Why a session that had started ended. */
export const END_REASONS = [
  /** The command (or shell) exited; status.exitCode has its status. */
  'Exited',
  /** The client went away (the connection dropped, SIGHUP). */
  'ClientGone',
  /** The login relay (the dosh process) went away without ending its session: killed, or its connection cut. */
  'RelayGone',
  /** An administrator ended it (doshctl delete session, drain, kubectl delete). */
  'Deleted',
  /** It reached the policy's maximum session lifetime. */
  'MaxLifetime',
  /** It was never admitted: doshd restarted before answering its relay, which asked again as a new session. */
  'NotAdmitted',
] as const;
export type EndReason = (typeof END_REASONS)[number];

/** A Session's status.reason: why it was refused or why it ended. */
export type SessionReason = RefusalReason | EndReason;

/** What an event (api/event.ts) reports, on a Session or on a User. */
export const EVENT_REASONS = [
  'Admitted',
  'Ready',
  'Refused',
  'RateLimited',
  'Ended',
  'RelayGone',
  'HookRan',
  'HookFailed',
  'ContainerCreated',
  'ContainerStarted',
  'ContainerRecreated',
  'NetworkCreated',
  'GarbageCollected',
  /** A session's recording stopped early or never started: a full disk, the per-user cap. */
  'RecordingStopped',
] as const;
export type EventReason = (typeof EVENT_REASONS)[number];

/** The reasons of conditions other than Ready (whose reason, once False, is the session's). */
export const CONDITION_REASONS = [
  /** Ready: True once her container runs and the exec is made. */
  'ContainerRunning',
  /** ContainerOutdated: the policy changed since her container was made. */
  'PolicyChanged',
] as const;
export type ConditionReason = (typeof CONDITION_REASONS)[number];

/** Every reason DoSH writes anywhere. */
export type Reason = SessionReason | EventReason | ConditionReason;
