// The wire contract between the login relay (shell/dosh.c, compiled, setuid root until the exec stream is open) and
// doshd's session API (controller/session-api/). Defined once here; shell/protocol.h is generated from this file
// (scripts/gen-protocol.ts) and a unit test fails when it is stale.
//
// A frame is a 4-byte big-endian length (of what follows), a 1-byte message type, then fields. A field is a 1-byte
// tag, a 4-byte big-endian length and that many bytes; numbers are big-endian, 4 or 8 bytes. Unknown fields are
// skipped, so either side may add fields without breaking the other; a field a message requires is refused when
// missing. Text is bytes, never parsed by the relay: every decision is doshd's.

export const RELAY_PROTOCOL_VERSION = 1;

/** Largest frame either side accepts: a login carries her arguments (the kernel's ARG_MAX is 2 MiB in all). */
export const FRAME_MAX = 4 << 20;
/** Largest frame the relay accepts from doshd (answers and control messages are small). */
export const RELAY_FRAME_MAX = 64 << 10;

/** Message types. Below 64: relay to doshd; 64 and up: doshd to relay. */
export const Msg = {
  /** The login request: who (uid, pid), what (argv0, args), the terminal and the ssh client. */
  Login: 1,
  /** The exec stream is open and the relay has dropped root: doshd sizes the terminal and records Running. */
  Started: 2,
  /** The terminal changed size. */
  Resize: 3,
  /** A signal for her processes (SIGINT, SIGQUIT sent to the relay). */
  Signal: 4,
  /** The first byte of output reached her. */
  FirstByte: 5,
  /** The engine closed the stream: doshd answers Exit with the command's status. */
  StreamEnd: 6,
  /** The client went away (SIGHUP, SIGTERM, a hung-up terminal, a closed output): doshd ends her processes. */
  Hangup: 7,
  /** Sent by a relay when a new doshd connects to its socket: which session it carries and where it stands. */
  Reattach: 8,
  /** Sent by another doshd on start-up: who holds this store? Answered by Ident. */
  Who: 9,
  /** The engine refused to start the exec (the message is the engine's). */
  StartFailed: 10,
  /** The relay stopped recording the session (a full disk, the size its user may have): why, and what it recorded. */
  RecordingStopped: 11,

  /** The login is admitted: start this exec on this engine socket. */
  Admit: 64,
  /** The login is refused: print the message, exit with the code. */
  Refuse: 65,
  /** A message for her terminal (drain warnings). */
  Notice: 66,
  /** The command ended: print the message if any, exit with the code. */
  Exit: 67,
  /** Answer to Who. */
  Ident: 68,
} as const;
export type MsgType = (typeof Msg)[keyof typeof Msg];

/** Field tags and their shapes: u32 and u64 are fixed-size numbers, bytes any length. */
export const Field = {
  Version: { tag: 1, kind: 'u32' },
  Uid: { tag: 2, kind: 'u32' },
  Gid: { tag: 3, kind: 'u32' },
  Pid: { tag: 4, kind: 'u32' },
  Argv0: { tag: 5, kind: 'bytes' },
  /** Repeated, in order. */
  Arg: { tag: 6, kind: 'bytes' },
  Term: { tag: 7, kind: 'bytes' },
  Lang: { tag: 8, kind: 'bytes' },
  /** SSH_CONNECTION as sshd set it: client address, client port, server address, server port. */
  SshConnection: { tag: 9, kind: 'bytes' },
  /** 1 when the relay's stdin is a terminal. */
  Tty: { tag: 10, kind: 'u32' },
  Rows: { tag: 11, kind: 'u32' },
  Cols: { tag: 12, kind: 'u32' },
  Session: { tag: 13, kind: 'bytes' },
  ExecId: { tag: 14, kind: 'bytes' },
  EngineSocket: { tag: 15, kind: 'bytes' },
  Message: { tag: 16, kind: 'bytes' },
  ExitCode: { tag: 17, kind: 'u32' },
  Signal: { tag: 18, kind: 'u32' },
  BytesIn: { tag: 19, kind: 'u64' },
  BytesOut: { tag: 20, kind: 'u64' },
  /** Reattach: 0 the stream is open, 1 it has ended (the relay waits for Exit). */
  StreamEnded: { tag: 21, kind: 'u32' },
  Node: { tag: 22, kind: 'bytes' },
  /** The path of the socket the relay listens on for a restarted doshd (under the store's relays/ directory). */
  RelaySocket: { tag: 23, kind: 'bytes' },
  /** Login: 1, or more when the relay asks again because doshd went away before answering (the session may exist). */
  Attempt: { tag: 24, kind: 'u32' },
  /** Login: 1 when her ssh client forwards an agent (SSH_AUTH_SOCK is set). The path stays with the relay. */
  Agent: { tag: 25, kind: 'u32' },
  /** Admit: where the relay binds, while root, the socket her container reaches her agent through (doshd's agents
   * directory), then hands it to her uid; after the drop it carries each connection to her own SSH_AUTH_SOCK. */
  AgentSocket: { tag: 26, kind: 'bytes' },
  /** Admit: the recording doshd made (root-only, its asciicast header written): the relay opens it while root and
   * appends her terminal's output to it after the drop. */
  Recording: { tag: 27, kind: 'bytes' },
  /** Admit: the most bytes the relay may append to the recording (what is left of her cap). */
  RecordLimit: { tag: 28, kind: 'u64' },
  /** RecordingStopped: the bytes appended before it stopped. */
  Recorded: { tag: 29, kind: 'u64' },
} as const;
export type FieldName = keyof typeof Field;

/** Exit statuses the relay uses on its own (the command's status otherwise). */
export const RelayExit = {
  /** Refused, or doshd unreachable. */
  Failed: 1,
  /** The relay was started wrongly (not setuid root, bad settings). */
  Misconfigured: 126,
  /** The exit status could not be learned (doshd did not come back after the stream ended). */
  Unknown: 255,
} as const;
