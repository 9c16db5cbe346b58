// Every label, annotation and finalizer DoSH writes or reads, defined once. Plain constants (no zod), so that any
// part, however light its start-up must be, can import them.

/** On every container and network doshd made ("true"): what it may manage, and never anything without it. */
export const LABEL_MANAGED = 'dosh.io/managed';
/** The user a container, a user's network, a session or a Session resource belongs to. */
export const LABEL_USER = 'dosh.io/user';
/** The uid of the account a container was made for: a recycled user name does not inherit the container. */
export const LABEL_UID = 'dosh.io/uid';
/** The login node that made a container or network, or owns a session. */
export const LABEL_NODE = 'dosh.io/node';
/** A digest of the container's create body: a container whose policy changed is told by it. */
export const LABEL_HASH = 'dosh.io/policy-hash';
/** The container's idle timeout in seconds, as its policy set it when it was made (0: kept). */
export const LABEL_IDLE = 'dosh.io/idle-timeout';
/** On a Session resource (Kubernetes mode): the name of the local session it mirrors. */
export const LABEL_SESSION = 'dosh.io/session';

/** On a session: a message for the logged-in user (doshctl drain writes it; the login path shows it on her terminal). */
export const ANNOTATION_MESSAGE = 'dosh.io/message';
/** On a Session resource: how many of the login's arguments it leaves out (they stay in the node's store). */
export const ANNOTATION_ARGS_LEFT_OUT = 'dosh.io/args-left-out';
/** On a user's pod (the kubernetes backend): when a login last started in it or was last seen live in it (ISO time). */
export const ANNOTATION_IN_USE = 'dosh.io/in-use';
/** On a generated CRD: what generated it. */
export const ANNOTATION_GENERATED_BY = 'dosh.io/generated-by';

/** Held on every mirrored Session resource until its node has ended the login. */
export const SESSION_FINALIZER = 'dosh.io/session-ended';
