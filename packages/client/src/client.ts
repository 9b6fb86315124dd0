import { EventEmitter } from 'node:events';
import type { ACL, ClientInfo, Stat } from '@corral/protocol';
import { pino, type Logger } from 'pino';
import { RequestAdmission } from './admission.js';
import { parseConnectString, shuffled } from './connectString.js';
import { ClientClosedError, SessionExpiredError } from './errors.js';
import { SessionExecutor } from './executor.js';
import { isConnectedState, type ClientState } from './machine.js';
import * as multiOp from './multi.js';
import * as op from './operations.js';
import { Chroot, validatePath } from './paths.js';
import type { CallSpec } from './pipeline.js';
import { protectedCreate } from './protectedCreate.js';
import { DEFAULT_RETRY_POLICY, runWithRetry, type RetryOptions, type RetryPolicy } from './retry.js';
import { Transaction } from './transaction.js';
import type {
  ClientEvents,
  ClientOptions,
  CreateOptions,
  Data,
  ExistsWatchResult,
  GetChildrenOptions,
  GetChildrenResult,
  GetDataResult,
  MultiReadOp,
  MultiReadResult,
  OperationOptions,
  PersistentWatchOptions,
  VersionOptions,
  WatchOptions,
} from './types.js';
import { removeLocalWatches, removeWatchesSpec } from './removeWatches.js';
import { PersistentWatch, WatchRegistry, type PersistentKind, type RemoveWatchesType, type WatchRemovedEventType, type WatchedEvent } from './watches.js';

// The public surface only: SessionExecutor runs the connection, RequestAdmission bounds the
// requests, operations.ts and multi.ts encode them.

/**
 * A ZooKeeper client: one session over one connection at a time, with typed operations, watches,
 * pipelining and reconnection. The connection lifecycle lives in ConnectionMachine (pure).
 */
export class ZooKeeperClient extends EventEmitter<ClientEvents> {
  readonly #log: Logger;
  readonly #ctx: op.OpContext;
  readonly #session: SessionExecutor;
  readonly #admission: RequestAdmission;
  readonly #retryPolicy: RetryPolicy;
  readonly #autoReconnectAfterLoss: boolean;
  readonly #closeTimeoutMs: number;
  readonly #maxBufferedWatchEvents: number;
  #closePromise: Promise<void> | undefined;

  constructor(connectString: string, options: ClientOptions = {}) {
    super();
    const parsed = parseConnectString(connectString);
    const random = options.random ?? Math.random;
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
    const maxOutstandingRequests = options.maxOutstandingRequests ?? 1024;
    if (!(maxOutstandingRequests >= 1)) throw new TypeError('maxOutstandingRequests must be at least 1');
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'zk-client' });
    this.#retryPolicy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    this.#autoReconnectAfterLoss = options.autoReconnectAfterLoss ?? false;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 3000;
    this.#maxBufferedWatchEvents = options.maxBufferedWatchEvents ?? 10_000;
    this.#ctx = { chroot: new Chroot(parsed.chroot), watches: new WatchRegistry() };
    this.#session = new SessionExecutor({
      machine: {
        servers: shuffled(parsed.servers, random),
        sessionTimeoutMs,
        connectTimeoutMs: options.connectTimeoutMs ?? Math.max(1000, Math.floor(sessionTimeoutMs / parsed.servers.length)),
        canBeReadOnly: options.canBeReadOnly ?? false,
        autoReconnectAfterLoss: this.#autoReconnectAfterLoss,
        reconnectBaseDelayMs: options.reconnectBaseDelayMs ?? 50,
        reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? 1000,
        closeTimeoutMs: this.#closeTimeoutMs,
        random,
        initialSession: options.session
          ? { sessionId: options.session.sessionId, passwd: options.session.passwd, negotiatedTimeoutMs: sessionTimeoutMs }
          : undefined,
      },
      maxFrameLength: options.maxFrameLength ?? 4 * 1024 * 1024,
      authInfo: options.authInfo ?? [],
      chroot: this.#ctx.chroot,
      watches: this.#ctx.watches,
      log: this.#log,
      hooks: {
        state: (state, previous) => this.#emitState(state, previous),
        authFailed: (error, scheme) => this.emit('authFailed', error, scheme),
      },
    });
    this.#admission = new RequestAdmission(this.#session, { maxOutstandingRequests, requestTimeoutMs: options.requestTimeoutMs });
  }

  // ---------------------------------------------------------------- state and lifecycle

  #emitState(state: ClientState, previous: ClientState): void {
    this.emit('state', state, previous);
    switch (state) {
      case 'connecting':
      case 'connected':
      case 'suspended':
      case 'reconnected':
      case 'readOnly':
      case 'closed':
        this.emit(state);
        return;
      case 'lost':
        this.emit('lost', this.#session.lossReason);
        return;
      case 'idle':
        return;
    }
  }

  get state(): ClientState {
    return this.#session.state;
  }

  /** True in 'connected', 'reconnected' and 'readOnly'. */
  get connected(): boolean {
    return isConnectedState(this.#session.state);
  }

  get sessionId(): bigint | undefined {
    return this.#session.session?.sessionId;
  }

  get sessionPassword(): Uint8Array | undefined {
    return this.#session.session?.passwd;
  }

  /** The session timeout the server granted (undefined before the first connection). */
  get negotiatedTimeoutMs(): number | undefined {
    return this.#session.session?.negotiatedTimeoutMs;
  }

  /** Highest zxid seen in a reply: sent as lastZxidSeen and as setWatches' relativeZxid. */
  get lastZxidSeen(): bigint {
    return this.#session.lastZxidSeen;
  }

  /** Requests waiting for a slot (beyond maxOutstandingRequests). */
  get queuedRequests(): number {
    return this.#admission.queued;
  }

  /** Requests holding a slot: in flight, or waiting for a connection. */
  get outstandingRequests(): number {
    return this.#admission.holding;
  }

  /**
   * Connects (or waits for the connection in progress). Resolves once a session is established;
   * aborting the signal before the first connection closes the client.
   */
  connect(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#session.closedError) return Promise.reject(this.#session.closedError);
    if (this.connected) return Promise.resolve();
    if (this.state === 'lost') return Promise.reject(new SessionExpiredError({ message: 'the session was lost; call reconnect() to start a new one' }));
    const promise = this.#waitConnected(options.signal);
    if (this.state === 'idle') this.#session.connect();
    return promise;
  }

  /**
   * After 'lost': starts a new session (new id, no watches; credentials are re-sent) and resolves
   * when it is established. In any other state it behaves like connect().
   */
  reconnect(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.state !== 'lost') return this.connect(options);
    const promise = this.#waitConnected(options.signal);
    this.#session.newSession();
    return promise;
  }

  #waitConnected(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        this.off('state', onState);
        signal?.removeEventListener('abort', onAbort);
      };
      const onState = (state: ClientState): void => {
        if (isConnectedState(state)) {
          cleanup();
          resolve();
        } else if (state === 'closed' || (state === 'lost' && !this.#autoReconnectAfterLoss)) {
          cleanup();
          reject(state === 'closed' ? (this.#session.closedError ?? new ClientClosedError()) : new SessionExpiredError());
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal!.reason);
        if (!this.#session.everConnected) this.destroy();
      };
      this.on('state', onState);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Graceful: requests already issued are sent, then closeSession (ephemerals go at once), then
   * the socket is closed. Idempotent; resolves when closed.
   */
  close(): Promise<void> {
    // After destroy() (or a fatal auth failure) there is nothing left to close gracefully.
    this.#closePromise ??= this.#session.closedError ? this.#session.closed : this.#closeGracefully();
    return this.#closePromise;
  }

  async #closeGracefully(): Promise<void> {
    this.#session.stopAdmitting();
    // Requests issued before close() still go out ahead of closeSession (bounded wait).
    if (this.connected && this.#admission.queued > 0) await this.#admission.drain(this.#closeTimeoutMs);
    this.#session.closeSession();
    await this.#session.closed;
  }

  /** Abortive: drops the connection and rejects everything pending with `error` (or ClientClosedError). Idempotent. */
  destroy(error?: Error): void {
    this.#session.destroy(error);
  }

  /** Resolves when the client has closed (after close(), destroy() or a fatal auth failure). */
  get closed(): Promise<void> {
    return this.#session.closed;
  }

  /**
   * Runs `fn` again after ConnectionLossError or OperationTimeoutError (never after
   * SessionExpiredError or any other error), as the policy allows.
   */
  retry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy = this.#retryPolicy, options: RetryOptions = {}): Promise<T> {
    return runWithRetry(fn, policy, {
      ...options,
      onRetry: (error, attempt) => {
        this.#log.debug({ err: error.message, attempt }, 'retrying after a retryable error');
        options.onRetry?.(error, attempt);
      },
    });
  }

  // ---------------------------------------------------------------- operations

  /** Encodes and admits one request; invalid arguments become a rejection, never a throw. */
  #request<T>(build: () => CallSpec<T>, options: OperationOptions): Promise<T> {
    let spec: CallSpec<T>;
    try {
      spec = build();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#admission.enqueue(spec, options);
  }

  create(path: string, data: Data | undefined, options: CreateOptions & { stat: true }): Promise<{ path: string; stat: Stat }>;
  create(path: string, data?: Data, options?: CreateOptions): Promise<string>;
  async create(path: string, data: Data = new Uint8Array(0), options: CreateOptions = {}): Promise<string | { path: string; stat: Stat }> {
    validatePath(path, 'path', { sequential: op.isSequential(options.mode ?? 'persistent') });
    const send = (nodePath: string): Promise<op.Created> => this.#request(() => op.create(this.#ctx, nodePath, data, options), options);
    return options.protected ? protectedCreate(this, path, options, this.#retryPolicy, send) : send(path);
  }

  delete(path: string, options: VersionOptions = {}): Promise<void> {
    return this.#request(() => op.remove(this.#ctx, path, options), options);
  }

  /**
   * The node's Stat, or null if it does not exist. With `watch: true` returns `{ stat, changed }`;
   * the watch is left whether or not the node exists (NodeCreated fires it for a missing node).
   */
  exists(path: string, options: WatchOptions & { watch: true }): Promise<ExistsWatchResult>;
  exists(path: string, options?: WatchOptions): Promise<Stat | null>;
  exists(path: string, options: WatchOptions = {}): Promise<Stat | null | ExistsWatchResult> {
    return this.#request(() => op.exists(this.#ctx, path, options), options);
  }

  getData(path: string, options: WatchOptions & { watch: true }): Promise<GetDataResult & { changed: Promise<WatchedEvent> }>;
  getData(path: string, options?: WatchOptions): Promise<GetDataResult>;
  getData(path: string, options: WatchOptions = {}): Promise<GetDataResult> {
    return this.#request(() => op.getData(this.#ctx, path, options), options);
  }

  setData(path: string, data: Data, options: VersionOptions = {}): Promise<Stat> {
    return this.#request(() => op.setData(this.#ctx, path, data, options), options);
  }

  getACL(path: string, options: OperationOptions = {}): Promise<{ acl: ACL[]; stat: Stat }> {
    return this.#request(() => op.getACL(this.#ctx, path), options);
  }

  setACL(path: string, acl: readonly ACL[], options: VersionOptions = {}): Promise<Stat> {
    return this.#request(() => op.setACL(this.#ctx, path, acl, options), options);
  }

  getChildren(path: string, options: GetChildrenOptions & { watch: true }): Promise<GetChildrenResult & { changed: Promise<WatchedEvent> }>;
  getChildren(path: string, options: GetChildrenOptions & { stat: true }): Promise<GetChildrenResult & { stat: Stat }>;
  getChildren(path: string, options?: GetChildrenOptions): Promise<GetChildrenResult>;
  getChildren(path: string, options: GetChildrenOptions = {}): Promise<GetChildrenResult> {
    return this.#request(() => op.getChildren(this.#ctx, path, options), options);
  }

  /** Makes the connected server catch up with the leader; reads issued after it see everything committed before. */
  sync(path: string, options: OperationOptions = {}): Promise<string> {
    return this.#request(() => op.sync(this.#ctx, path), options);
  }

  /** An atomic multi: `client.transaction().create(...).setData(...).check(...).delete(...).commit()`. */
  transaction(): Transaction {
    return new Transaction((ops, options) => (ops.length === 0 ? Promise.resolve([]) : this.#request(() => multiOp.multi(this.#ctx, ops), options)));
  }

  /** Several reads in one round trip; each op succeeds or fails on its own (not atomic). */
  multiRead(ops: readonly MultiReadOp[], options: OperationOptions = {}): Promise<MultiReadResult[]> {
    if (ops.length === 0) return Promise.resolve([]);
    return this.#request(() => multiOp.multiRead(this.#ctx, ops), options);
  }

  /** This session's ephemeral nodes whose path starts with `prefix` (a plain string prefix). */
  getEphemerals(prefix = '/', options: OperationOptions = {}): Promise<string[]> {
    return this.#request(() => op.getEphemerals(this.#ctx, prefix), options);
  }

  /** Number of descendants of `path` (all levels). */
  getAllChildrenNumber(path: string, options: OperationOptions = {}): Promise<number> {
    return this.#request(() => op.getAllChildrenNumber(this.#ctx, path), options);
  }

  /** The identities this connection has, e.g. `[{authScheme: 'ip', user: '127.0.0.1'}]`. */
  whoAmI(options: OperationOptions = {}): Promise<ClientInfo[]> {
    return this.#request(() => op.whoAmI(), options);
  }

  /**
   * Adds a credential to this connection and remembers it for every later one. Resolves when
   * the server accepted it; a rejected credential fails with AuthFailedError (and is forgotten).
   */
  addAuth(scheme: string, auth: string | Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#session.addAuth(scheme, auth, options.signal);
  }

  /**
   * A persistent watch (recursive: on the whole subtree) as an async iterable of events. Resolves
   * once the server registered it. Ends on `return()` (breaking out of `for await`), on signal
   * abort, or on close(), and then removes the server's watch; throws SessionExpiredError if the
   * session is lost. Persistent watches are re-registered after every reconnect.
   */
  async watch(path: string, options: PersistentWatchOptions = {}): Promise<PersistentWatch> {
    const kind: PersistentKind = options.recursive ? 'recursive' : 'persistent';
    const watch = new PersistentWatch({
      path,
      recursive: kind === 'recursive',
      maxBufferedEvents: this.#maxBufferedWatchEvents,
      onRemove: (w) => this.#session.removePersistentWatch(kind, w),
    });
    const { signal } = options;
    await this.#request(() => op.addWatch(this.#ctx, path, kind, watch), { signal, timeoutMs: options.timeoutMs });
    if (signal) {
      if (signal.aborted) void watch.return();
      else signal.addEventListener('abort', () => void watch.return(), { once: true });
    }
    return watch;
  }

  /**
   * Removes every watch of `type` ('any' by default) this client left on `path`, as ZooKeeper's
   * removeAllWatches: on the server, then locally. Removed one-shot watches reject their `changed`
   * promise with WatchRemovedError; removed persistent watches end. Resolves with the removal events
   * ZooKeeper would deliver (one per kind of watch removed). Fails with NoWatcherError if no local
   * watch matched; with `local: true` the local watches are removed even when the server could not
   * be told (not connected, or it answered with an error).
   */
  async removeWatches(path: string, options: OperationOptions & { type?: RemoveWatchesType; local?: boolean } = {}): Promise<WatchRemovedEventType[]> {
    validatePath(path);
    const type = options.type ?? 'any';
    if (!options.local || this.connected) {
      try {
        await this.#request(() => removeWatchesSpec(this.#ctx.chroot, path, type), options);
      } catch (error) {
        if (!options.local) throw error;
      }
    }
    return removeLocalWatches(this.#ctx.watches, path, type);
  }
}

/** Creates a client; call `await client.connect()` before (or while) issuing requests. */
export function createClient(connectString: string, options: ClientOptions = {}): ZooKeeperClient {
  return new ZooKeeperClient(connectString, options);
}
