import type { ACL, ClientInfo, Stat } from '@corral/protocol';
import type { Logger } from 'pino';
import type { ClientState, LossReason } from './machine.js';
import type { RetryPolicy } from './retry.js';
import type { WatchedEvent, Watcher } from './watches.js';
import type { AuthFailedError } from './errors.js';

export type { ACL, ClientInfo, Stat };

export interface AuthInfo {
  scheme: string;
  /** `user:password` for the digest scheme; strings are sent as UTF-8. */
  auth: string | Uint8Array;
}

export interface ClientOptions {
  /** Requested session timeout (the server clamps it to [2, 20] × tickTime). Default 30000. */
  sessionTimeoutMs?: number;
  /** Budget for one connection attempt (TCP + handshake). Default: sessionTimeoutMs / number of servers, at least 1000. */
  connectTimeoutMs?: number;
  /** Default policy for client.retry() and protected creates. Default: exponential backoff, 10 retries. */
  retryPolicy?: RetryPolicy;
  /** Credentials sent on every connection, before anything else. A rejected one closes the client. */
  authInfo?: AuthInfo[];
  /** Accept read-only servers (state 'readOnly'; writes fail with NotReadOnlyError). Default false. */
  canBeReadOnly?: boolean;
  logger?: Logger;
  /** Requests in flight on the connection at most; further requests wait their turn. Default 1024. */
  maxOutstandingRequests?: number;
  /** After 'lost', start a new session at once (still reported as 'lost' then 'connecting'). Default false. */
  autoReconnectAfterLoss?: boolean;
  /** Default timeout of every request (including time spent waiting for a connection). Default: none. */
  requestTimeoutMs?: number;
  /** Largest frame accepted from a server. Default 4 MiB. */
  maxFrameLength?: number;
  /** Pause after every server failed once: grows from base to max. Defaults 50 ms and 1000 ms. */
  reconnectBaseDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** How long close() waits for the server to confirm closeSession. Default 3000 ms. */
  closeTimeoutMs?: number;
  /** Events a persistent watch buffers before it is ended with WatchBufferOverflowError. Default 10000. */
  maxBufferedWatchEvents?: number;
  /**
   * Resume an existing session (from another client's sessionId and sessionPassword) instead of
   * creating one. If it no longer exists the client goes to 'lost'.
   */
  session?: { sessionId: bigint; passwd: Uint8Array };
  /** Randomness for server shuffling and jitter (tests pass a seeded generator). Default Math.random. */
  random?: () => number;
}

export interface ClientEvents {
  /** Every state change, with the previous state. */
  state: [state: ClientState, previous: ClientState];
  connecting: [];
  connected: [];
  suspended: [];
  reconnected: [];
  readOnly: [];
  lost: [reason: LossReason];
  closed: [];
  /** A credential was rejected by the server (the server then closes the connection). */
  authFailed: [error: AuthFailedError, scheme: string];
}

export interface OperationOptions {
  signal?: AbortSignal;
  /** Reject with OperationTimeoutError after this long (queueing and reconnect waits included). */
  timeoutMs?: number;
}

export type Data = Uint8Array | string | null;

export type CreateModeName =
  | 'persistent'
  | 'ephemeral'
  | 'persistentSequential'
  | 'ephemeralSequential'
  | 'container'
  | 'ttl'
  | 'ttlSequential';

export interface CreateOptions extends OperationOptions {
  mode?: CreateModeName;
  /** Default OPEN_ACL_UNSAFE. */
  acl?: readonly ACL[];
  /** Required for 'ttl' and 'ttlSequential'. */
  ttlMs?: number;
  /** Use create2 and return `{ path, stat }`. */
  stat?: boolean;
  /**
   * Prefix the node name with `_c_<uuid>-` and, after a connection loss, look for the node in the
   * parent before creating again (retried with the client's retry policy).
   */
  protected?: boolean;
}

export interface VersionOptions extends OperationOptions {
  /** Expected version; -1 (default) matches any. */
  version?: number;
}

export interface WatchOptions extends OperationOptions {
  /** Leave a one-shot watch and return its event as the `changed` promise. */
  watch?: boolean;
  /** Leave a one-shot watch that calls this function. */
  watcher?: Watcher;
}

export interface GetChildrenOptions extends WatchOptions {
  /** Also return the parent's Stat (getChildren2). */
  stat?: boolean;
}

export interface GetDataResult {
  /**
   * The znode's data (a copy: yours to keep or change). Like Node's small Buffers, up to 1 KiB of it
   * may share an 8 KiB ArrayBuffer with other values: wrap it with its byteOffset and byteLength.
   */
  data: Uint8Array | null;
  stat: Stat;
  changed?: Promise<WatchedEvent>;
}

export interface GetChildrenResult {
  children: string[];
  stat?: Stat;
  changed?: Promise<WatchedEvent>;
}

export interface ExistsWatchResult {
  stat: Stat | null;
  changed: Promise<WatchedEvent>;
}

export interface PersistentWatchOptions {
  /** Watch every descendant too (PERSISTENT_RECURSIVE): no NodeChildrenChanged events then. */
  recursive?: boolean;
  /** Ends the watch (and removes it from the server) when aborted. */
  signal?: AbortSignal;
  timeoutMs?: number;
}

export type MultiReadOp = { type: 'getData'; path: string } | { type: 'getChildren'; path: string };

export type MultiReadResult =
  | { type: 'getData'; data: Uint8Array | null; stat: Stat }
  | { type: 'getChildren'; children: string[] }
  | { type: 'error'; error: import('./errors.js').ZooKeeperError };
