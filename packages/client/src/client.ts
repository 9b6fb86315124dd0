import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  AddWatchMode,
  AddWatchRequest,
  AuthPacket,
  Create2Response,
  CreateRequest,
  CreateResponse,
  CreateTTLRequest,
  DecodeError,
  DeleteRequest,
  ErrorCode,
  ExistsRequest,
  ExistsResponse,
  GetACLRequest,
  GetACLResponse,
  GetAllChildrenNumberRequest,
  GetAllChildrenNumberResponse,
  GetChildren2Request,
  GetChildren2Response,
  GetChildrenRequest,
  GetChildrenResponse,
  GetDataRequest,
  GetDataResponse,
  GetEphemeralsRequest,
  GetEphemeralsResponse,
  JuteReader,
  MAX_TTL_MS,
  OpCode,
  RemoveWatchesRequest,
  ReplyHeader,
  RequestHeader,
  SetACLRequest,
  SetACLResponse,
  SetDataRequest,
  SetDataResponse,
  SetWatches,
  SetWatches2,
  SyncRequest,
  SyncResponse,
  WatcherEvent,
  WatcherType,
  WhoAmIResponse,
  Xid,
  errorName,
  readConnectResponse,
  readMultiResponse,
  writeConnectRequest,
  writeMultiRequest,
  type ACL,
  type ClientInfo,
  type MultiOp,
  type Stat,
} from '@corral/protocol';
import { pino, type Logger } from 'pino';
import PQueue from 'p-queue';
import { OPEN_ACL_UNSAFE } from './acl.js';
import { parseConnectString, shuffled, type ServerAddress } from './connectString.js';
import {
  AuthFailedError,
  BadArgumentsError,
  ClientClosedError,
  ConnectionLossError,
  MarshallingError,
  NoNodeError,
  OperationTimeoutError,
  SessionExpiredError,
  ZooKeeperError,
  errorFromCode,
} from './errors.js';
import { ConnectionMachine, type ClientState, type LossReason, type MachineAction, type MachineInput, type Session } from './machine.js';
import { Call, CallQueue, type CallSpec } from './pipeline.js';
import { Chroot, basename, joinPath, parentOf, pathError } from './paths.js';
import { DEFAULT_RETRY_POLICY, runWithRetry, type RetryOptions, type RetryPolicy } from './retry.js';
import { Transaction, type FailedOpResult, type TransactionOp, type TransactionResult } from './transaction.js';
import { Transport } from './transport.js';
import type {
  AuthInfo,
  ClientEvents,
  ClientOptions,
  CreateModeName,
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
import { PersistentWatch, WatchRegistry, callbackWatch, eventTypeName, promiseWatch, type OneShotWatch, type PersistentKind, type WatchedEvent } from './watches.js';

const CREATE_FLAGS: Record<CreateModeName, number> = {
  persistent: 0,
  ephemeral: 1,
  persistentSequential: 2,
  ephemeralSequential: 3,
  container: 4,
  ttl: 5,
  ttlSequential: 6,
};

/** Java's client splits setWatches into batches of about this many bytes of paths. */
const SET_WATCHES_BATCH_BYTES = 128 * 1024;
const utf8 = new TextEncoder();

function toBytes(data: Data): Uint8Array | null {
  if (data === null) return null;
  return typeof data === 'string' ? utf8.encode(data) : data;
}

interface AuthEntry {
  readonly scheme: string;
  readonly auth: Uint8Array;
  readonly fromOptions: boolean;
  waiters: { resolve(): void; reject(error: Error): void }[];
}

/**
 * A ZooKeeper client: one session over one connection at a time, with typed operations, watches,
 * pipelining and reconnection. The connection lifecycle lives in ConnectionMachine (pure); this
 * class executes its actions on a Transport and keeps the request pipeline and watch table.
 */
export class ZooKeeperClient extends EventEmitter<ClientEvents> {
  readonly #options: Required<Pick<ClientOptions, 'maxOutstandingRequests' | 'maxFrameLength' | 'maxBufferedWatchEvents'>> & ClientOptions;
  readonly #log: Logger;
  readonly #chroot: Chroot;
  readonly #machine: ConnectionMachine;
  readonly #retryPolicy: RetryPolicy;
  readonly #gate: PQueue;
  readonly #watches = new WatchRegistry();
  readonly #outstanding = new CallQueue();
  #waiting: Call[] = [];
  readonly #auth: AuthEntry[] = [];
  #authInFlight: AuthEntry[] = [];
  #transport: Transport | undefined;
  #transportAttempt = 0;
  /** The transport's first frame (the ConnectResponse) has not arrived yet. */
  #awaitingHandshake = false;
  /** Requests may be written: session established and replay (auth, watches) queued. */
  #ready = false;
  #nextXid = 1;
  /** close() was called: no new requests are accepted. */
  #closing = false;
  /** closeSession is being sent: requests still queued for a slot can no longer go out. */
  #sessionClosing = false;
  #closedError: Error | undefined;
  #closePromise: Promise<void> | undefined;
  #resolveClosed!: () => void;
  readonly #closed: Promise<void>;
  #everConnected = false;
  #lossReason: LossReason = 'expired';
  #stepping = false;
  readonly #inputs: MachineInput[] = [];
  #timer: NodeJS.Timeout | undefined;
  #timerAtMs = 0;

  constructor(connectString: string, options: ClientOptions = {}) {
    super();
    const parsed = parseConnectString(connectString);
    const random = options.random ?? Math.random;
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
    this.#options = {
      ...options,
      maxOutstandingRequests: options.maxOutstandingRequests ?? 1024,
      maxFrameLength: options.maxFrameLength ?? 4 * 1024 * 1024,
      maxBufferedWatchEvents: options.maxBufferedWatchEvents ?? 10_000,
    };
    if (!(this.#options.maxOutstandingRequests >= 1)) throw new TypeError('maxOutstandingRequests must be at least 1');
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'zk-client' });
    this.#chroot = new Chroot(parsed.chroot);
    this.#retryPolicy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    this.#machine = new ConnectionMachine({
      servers: shuffled(parsed.servers, random),
      sessionTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? Math.max(1000, Math.floor(sessionTimeoutMs / parsed.servers.length)),
      canBeReadOnly: options.canBeReadOnly ?? false,
      autoReconnectAfterLoss: options.autoReconnectAfterLoss ?? false,
      reconnectBaseDelayMs: options.reconnectBaseDelayMs ?? 50,
      reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? 1000,
      closeTimeoutMs: options.closeTimeoutMs ?? 3000,
      random,
      initialSession: options.session
        ? { sessionId: options.session.sessionId, passwd: options.session.passwd, negotiatedTimeoutMs: sessionTimeoutMs }
        : undefined,
    });
    this.#gate = new PQueue({ concurrency: this.#options.maxOutstandingRequests });
    for (const info of options.authInfo ?? []) {
      this.#auth.push({ scheme: info.scheme, auth: toAuthBytes(info.auth), fromOptions: true, waiters: [] });
    }
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    // 'state' listeners are optional; nothing here may throw for lack of a listener.
  }

  // ---------------------------------------------------------------- state and lifecycle

  get state(): ClientState {
    return this.#machine.state;
  }

  /** True in 'connected', 'reconnected' and 'readOnly'. */
  get connected(): boolean {
    const state = this.#machine.state;
    return state === 'connected' || state === 'reconnected' || state === 'readOnly';
  }

  get sessionId(): bigint | undefined {
    return this.#machine.session?.sessionId;
  }

  get sessionPassword(): Uint8Array | undefined {
    return this.#machine.session?.passwd;
  }

  /** The session timeout the server granted (undefined before the first connection). */
  get negotiatedTimeoutMs(): number | undefined {
    return this.#machine.session?.negotiatedTimeoutMs;
  }

  /** Highest zxid seen in a reply: sent as lastZxidSeen and as setWatches' relativeZxid. */
  get lastZxidSeen(): bigint {
    return this.#machine.lastZxidSeen;
  }

  /** Requests waiting for a slot (beyond maxOutstandingRequests). */
  get queuedRequests(): number {
    return this.#gate.size;
  }

  /** Requests holding a slot: in flight, or waiting for a connection. */
  get outstandingRequests(): number {
    return this.#gate.pending;
  }

  /**
   * Connects (or waits for the connection in progress). Resolves once a session is established;
   * aborting the signal before the first connection closes the client.
   */
  connect(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    if (this.connected) return Promise.resolve();
    if (this.state === 'lost') return Promise.reject(new SessionExpiredError({ message: 'the session was lost; call reconnect() to start a new one' }));
    const promise = this.#waitConnected(options.signal);
    if (this.state === 'idle') this.#step({ type: 'connect' });
    return promise;
  }

  /**
   * After 'lost': starts a new session (new id, no watches; credentials are re-sent) and resolves
   * when it is established. In any other state it behaves like connect().
   */
  reconnect(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.state !== 'lost') return this.connect(options);
    const promise = this.#waitConnected(options.signal);
    this.#step({ type: 'newSession' });
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
        if (state === 'connected' || state === 'reconnected' || state === 'readOnly') {
          cleanup();
          resolve();
        } else if (state === 'closed' || (state === 'lost' && !this.#options.autoReconnectAfterLoss)) {
          cleanup();
          reject(state === 'closed' ? (this.#closedError ?? new ClientClosedError()) : new SessionExpiredError());
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal!.reason);
        if (!this.#everConnected) this.destroy();
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
    if (this.#closePromise) return this.#closePromise;
    this.#closing = true;
    this.#closePromise = (async () => {
      if (this.connected && this.#gate.size > 0) {
        // Requests issued before close() still go out ahead of closeSession (bounded wait).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          this.#gate.onEmpty(),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, this.#options.closeTimeoutMs ?? 3000);
          }),
        ]);
        clearTimeout(timer);
      }
      this.#sessionClosing = true;
      this.#step({ type: 'close' });
      await this.#closed;
    })();
    return this.#closePromise;
  }

  /** Abortive: drops the connection and rejects everything pending with `error` (or ClientClosedError). Idempotent. */
  destroy(error?: Error): void {
    if (this.#closedError) return;
    this.#closing = true;
    this.#closedError = error ?? new ClientClosedError();
    this.#closePromise ??= this.#closed;
    this.#step({ type: 'destroy' });
  }

  /** Resolves when the client has closed (after close(), destroy() or a fatal auth failure). */
  get closed(): Promise<void> {
    return this.#closed;
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

  create(path: string, data: Data | undefined, options: CreateOptions & { stat: true }): Promise<{ path: string; stat: Stat }>;
  create(path: string, data?: Data, options?: CreateOptions): Promise<string>;
  async create(path: string, data: Data = new Uint8Array(0), options: CreateOptions = {}): Promise<string | { path: string; stat: Stat }> {
    const mode = options.mode ?? 'persistent';
    const sequential = mode === 'persistentSequential' || mode === 'ephemeralSequential' || mode === 'ttlSequential';
    const invalid = pathError(path, 'path', { sequential });
    if (invalid) throw invalid;
    if (!options.protected) return this.#create(path, data, options);
    // Protected create: a unique prefix in the node name lets us find our node if the reply was lost.
    const parent = parentOf(path);
    const prefix = `_c_${randomUUID()}-`;
    const protectedPath = joinPath(parent, prefix + basename(path));
    let attempted = false;
    return this.retry(
      async () => {
        if (attempted) {
          const found = await this.#findProtected(parent, prefix, options);
          if (found !== undefined) {
            if (!options.stat) return found;
            const stat = await this.exists(found, { signal: options.signal });
            if (stat) return { path: found, stat };
            throw new NoNodeError({ path: found, message: `protected node ${found} vanished before its Stat was read` });
          }
        }
        attempted = true;
        return this.#create(protectedPath, data, options);
      },
      this.#retryPolicy,
      { signal: options.signal },
    );
  }

  async #findProtected(parent: string, prefix: string, options: OperationOptions): Promise<string | undefined> {
    try {
      const { children } = await this.getChildren(parent, { signal: options.signal, timeoutMs: options.timeoutMs });
      const name = children.find((child) => child.startsWith(prefix));
      return name === undefined ? undefined : joinPath(parent, name);
    } catch (error) {
      if (error instanceof NoNodeError) return undefined;
      throw error;
    }
  }

  #create(path: string, data: Data, options: CreateOptions): Promise<string | { path: string; stat: Stat }> {
    const mode = options.mode ?? 'persistent';
    const flags = CREATE_FLAGS[mode];
    if (flags === undefined) return Promise.reject(new BadArgumentsError({ path, message: `unknown create mode ${String(mode)}` }));
    const request = { path: this.#chroot.toServer(path), data: toBytes(data), acl: [...(options.acl ?? OPEN_ACL_UNSAFE)], flags };
    const isTtl = mode === 'ttl' || mode === 'ttlSequential';
    if (isTtl !== (options.ttlMs !== undefined)) {
      return Promise.reject(new BadArgumentsError({ path, message: isTtl ? `mode ${mode} needs ttlMs` : `ttlMs is only valid with mode ttl or ttlSequential` }));
    }
    if (isTtl) {
      const ttl = BigInt(Math.trunc(options.ttlMs!));
      if (ttl <= 0n || ttl > MAX_TTL_MS) return Promise.reject(new BadArgumentsError({ path, message: `ttlMs ${options.ttlMs} outside 1..${MAX_TTL_MS}` }));
      return this.#enqueue(
        {
          op: OpCode.createTTL,
          path,
          write: (w) => CreateTTLRequest.write(w, { ...request, ttl }),
          read: (r) => this.#created(Create2Response.read(r), options.stat),
        },
        options,
      );
    }
    if (mode === 'container' || options.stat) {
      return this.#enqueue(
        {
          op: mode === 'container' ? OpCode.createContainer : OpCode.create2,
          path,
          write: (w) => CreateRequest.write(w, request),
          read: (r) => this.#created(Create2Response.read(r), options.stat),
        },
        options,
      );
    }
    return this.#enqueue(
      { op: OpCode.create, path, write: (w) => CreateRequest.write(w, request), read: (r) => this.#chroot.fromServer(CreateResponse.read(r).path) },
      options,
    );
  }

  #created(response: { path: string; stat: Stat }, withStat: boolean | undefined): string | { path: string; stat: Stat } {
    const path = this.#chroot.fromServer(response.path);
    return withStat ? { path, stat: response.stat } : path;
  }

  delete(path: string, options: VersionOptions = {}): Promise<void> {
    const invalid = pathError(path);
    if (invalid) return Promise.reject(invalid);
    return this.#enqueue(
      {
        op: OpCode.delete,
        path,
        write: (w) => DeleteRequest.write(w, { path: this.#chroot.toServer(path), version: options.version ?? -1 }),
        read: () => undefined,
      },
      options,
    );
  }

  /**
   * The node's Stat, or null if it does not exist. With `watch: true` returns `{ stat, changed }`;
   * the watch is left whether or not the node exists (NodeCreated fires it for a missing node).
   */
  exists(path: string, options: WatchOptions & { watch: true }): Promise<ExistsWatchResult>;
  exists(path: string, options?: WatchOptions): Promise<Stat | null>;
  exists(path: string, options: WatchOptions = {}): Promise<Stat | null | ExistsWatchResult> {
    const invalid = pathError(path);
    if (invalid) return Promise.reject(invalid);
    const { watch, changed } = this.#oneShot(options);
    const wrap = (stat: Stat | null): Stat | null | ExistsWatchResult => (changed ? { stat, changed } : stat);
    return this.#enqueue<Stat | null | ExistsWatchResult>(
      {
        op: OpCode.exists,
        path,
        write: (w) => ExistsRequest.write(w, { path: this.#chroot.toServer(path), watch: watch !== undefined }),
        read: (r) => {
          const { stat } = ExistsResponse.read(r);
          if (watch) this.#watches.addOneShot('data', path, watch);
          return wrap(stat);
        },
        onError: (errno) => {
          if (errno !== ErrorCode.NONODE) return undefined;
          if (watch) this.#watches.addOneShot('exist', path, watch);
          return { value: wrap(null) };
        },
      },
      options,
    );
  }

  getData(path: string, options: WatchOptions & { watch: true }): Promise<GetDataResult & { changed: Promise<WatchedEvent> }>;
  getData(path: string, options?: WatchOptions): Promise<GetDataResult>;
  getData(path: string, options: WatchOptions = {}): Promise<GetDataResult> {
    const invalid = pathError(path);
    if (invalid) return Promise.reject(invalid);
    const { watch, changed } = this.#oneShot(options);
    return this.#enqueue(
      {
        op: OpCode.getData,
        path,
        write: (w) => GetDataRequest.write(w, { path: this.#chroot.toServer(path), watch: watch !== undefined }),
        read: (r) => {
          const { data, stat } = GetDataResponse.read(r);
          if (watch) this.#watches.addOneShot('data', path, watch);
          return changed ? { data, stat, changed } : { data, stat };
        },
      },
      options,
    );
  }

  setData(path: string, data: Data, options: VersionOptions = {}): Promise<Stat> {
    const invalid = pathError(path);
    if (invalid) return Promise.reject(invalid);
    return this.#enqueue(
      {
        op: OpCode.setData,
        path,
        write: (w) => SetDataRequest.write(w, { path: this.#chroot.toServer(path), data: toBytes(data), version: options.version ?? -1 }),
        read: (r) => SetDataResponse.read(r).stat,
      },
      options,
    );
  }

  getACL(path: string, options: OperationOptions = {}): Promise<{ acl: ACL[]; stat: Stat }> {
    const invalid = pathError(path);
    if (invalid) return Promise.reject(invalid);
    return this.#enqueue(
      { op: OpCode.getACL, path, write: (w) => GetACLRequest.write(w, { path: this.#chroot.toServer(path) }), read: (r) => GetACLResponse.read(r) },
      options,
    );
  }

  setACL(path: string, acl: readonly ACL[], options: VersionOptions = {}): Promise<Stat> {
    const invalid = pathError(path);
    if (invalid) return Promise.reject(invalid);
    return this.#enqueue(
      {
        op: OpCode.setACL,
        path,
        write: (w) => SetACLRequest.write(w, { path: this.#chroot.toServer(path), acl: [...acl], version: options.version ?? -1 }),
        read: (r) => SetACLResponse.read(r).stat,
      },
      options,
    );
  }

  getChildren(path: string, options: GetChildrenOptions & { watch: true }): Promise<GetChildrenResult & { changed: Promise<WatchedEvent> }>;
  getChildren(path: string, options: GetChildrenOptions & { stat: true }): Promise<GetChildrenResult & { stat: Stat }>;
  getChildren(path: string, options?: GetChildrenOptions): Promise<GetChildrenResult>;
  getChildren(path: string, options: GetChildrenOptions = {}): Promise<GetChildrenResult> {
    const invalid = pathError(path);
    if (invalid) return Promise.reject(invalid);
    const { watch, changed } = this.#oneShot(options);
    const request = { path: this.#chroot.toServer(path), watch: watch !== undefined };
    const done = (result: GetChildrenResult): GetChildrenResult => {
      if (watch) this.#watches.addOneShot('child', path, watch);
      if (changed) result.changed = changed;
      return result;
    };
    if (options.stat) {
      return this.#enqueue(
        { op: OpCode.getChildren2, path, write: (w) => GetChildren2Request.write(w, request), read: (r) => done(GetChildren2Response.read(r)) },
        options,
      );
    }
    return this.#enqueue(
      { op: OpCode.getChildren, path, write: (w) => GetChildrenRequest.write(w, request), read: (r) => done(GetChildrenResponse.read(r)) },
      options,
    );
  }

  /** Makes the connected server catch up with the leader; reads issued after it see everything committed before. */
  sync(path: string, options: OperationOptions = {}): Promise<string> {
    const invalid = pathError(path);
    if (invalid) return Promise.reject(invalid);
    return this.#enqueue(
      {
        op: OpCode.sync,
        path,
        write: (w) => SyncRequest.write(w, { path: this.#chroot.toServer(path) }),
        read: (r) => this.#chroot.fromServer(SyncResponse.read(r).path),
      },
      options,
    );
  }

  /** An atomic multi: `client.transaction().create(...).setData(...).check(...).delete(...).commit()`. */
  transaction(): Transaction {
    return new Transaction((ops, options) => this.#multi(ops, options));
  }

  #multi(ops: readonly TransactionOp[], options: OperationOptions): Promise<TransactionResult[]> {
    if (ops.length === 0) return Promise.resolve([]);
    const wire: MultiOp[] = [];
    for (const op of ops) {
      const path = this.#chroot.toServer(op.path);
      switch (op.type) {
        case 'create': {
          const sequential = op.mode === 'persistentSequential' || op.mode === 'ephemeralSequential' || op.mode === 'ttlSequential';
          const invalid = pathError(op.path, 'path', { sequential });
          if (invalid) return Promise.reject(invalid);
          const flags = CREATE_FLAGS[op.mode];
          const request = { path, data: toBytes(op.data), acl: [...(op.acl ?? OPEN_ACL_UNSAFE)], flags };
          if (op.mode === 'ttl' || op.mode === 'ttlSequential') {
            if (op.ttlMs === undefined) return Promise.reject(new BadArgumentsError({ path: op.path, message: `mode ${op.mode} needs ttlMs` }));
            wire.push({ type: OpCode.createTTL, request: { ...request, ttl: BigInt(Math.trunc(op.ttlMs)) } });
          } else {
            wire.push({ type: op.mode === 'container' ? OpCode.createContainer : OpCode.create, request });
          }
          break;
        }
        case 'delete':
          if (pathError(op.path)) return Promise.reject(pathError(op.path));
          wire.push({ type: OpCode.delete, request: { path, version: op.version } });
          break;
        case 'setData':
          if (pathError(op.path)) return Promise.reject(pathError(op.path));
          wire.push({ type: OpCode.setData, request: { path, data: toBytes(op.data), version: op.version } });
          break;
        case 'check':
          if (pathError(op.path)) return Promise.reject(pathError(op.path));
          wire.push({ type: OpCode.check, request: { path, version: op.version } });
          break;
      }
    }
    return this.#enqueue(
      {
        op: OpCode.multi,
        path: ops[0]!.path,
        write: (w) => writeMultiRequest(w, wire),
        read: (r) => {
          const results = readMultiResponse(r);
          const failedIndex = results.findIndex((result) => result.type === OpCode.error && result.err !== 0);
          if (failedIndex !== -1) {
            const failed: FailedOpResult[] = results.map((result) => {
              const errno = result.type === OpCode.error ? result.err : 0;
              return { type: 'error', errno, code: errno === 0 ? 'OK' : (errorName(errno) ?? 'UNKNOWN') };
            });
            const first = failed[failedIndex]!;
            const error = errorFromCode(first.errno, { path: ops[failedIndex]?.path });
            error.results = failed;
            error.opIndex = failedIndex;
            throw error;
          }
          return results.map((result): TransactionResult => {
            switch (result.type) {
              case OpCode.create:
                return { type: 'create', path: this.#chroot.fromServer(result.path) };
              case OpCode.create2:
                return { type: 'create', path: this.#chroot.fromServer(result.path), stat: result.stat };
              case OpCode.delete:
                return { type: 'delete' };
              case OpCode.setData:
                return { type: 'setData', stat: result.stat };
              case OpCode.check:
                return { type: 'check' };
              default:
                throw new MarshallingError({ message: `unexpected result type ${result.type} in a multi reply` });
            }
          });
        },
      },
      options,
    );
  }

  /** Several reads in one round trip; each op succeeds or fails on its own (not atomic). */
  multiRead(ops: readonly MultiReadOp[], options: OperationOptions = {}): Promise<MultiReadResult[]> {
    if (ops.length === 0) return Promise.resolve([]);
    const invalid = ops.map((op) => pathError(op.path)).find((e) => e !== undefined);
    if (invalid) return Promise.reject(invalid);
    const wire: MultiOp[] = ops.map((op) => {
      const request = { path: this.#chroot.toServer(op.path), watch: false };
      return op.type === 'getData' ? { type: OpCode.getData, request } : { type: OpCode.getChildren, request };
    });
    return this.#enqueue(
      {
        op: OpCode.multiRead,
        path: ops[0]!.path,
        write: (w) => writeMultiRequest(w, wire),
        read: (r) =>
          readMultiResponse(r).map((result, index): MultiReadResult => {
            switch (result.type) {
              case OpCode.getData:
                return { type: 'getData', data: result.data, stat: result.stat };
              case OpCode.getChildren:
                return { type: 'getChildren', children: result.children };
              case OpCode.error:
                return { type: 'error', error: errorFromCode(result.err, { path: ops[index]?.path }) };
              default:
                throw new MarshallingError({ message: `unexpected result type ${result.type} in a multiRead reply` });
            }
          }),
      },
      options,
    );
  }

  /** This session's ephemeral nodes whose path starts with `prefix` (a plain string prefix). */
  getEphemerals(prefix = '/', options: OperationOptions = {}): Promise<string[]> {
    return this.#enqueue(
      {
        op: OpCode.getEphemerals,
        path: prefix,
        write: (w) => GetEphemeralsRequest.write(w, { prefixPath: this.#chroot.toServer(prefix) }),
        read: (r) => GetEphemeralsResponse.read(r).ephemerals.map((p) => this.#chroot.fromServer(p)),
      },
      options,
    );
  }

  /** Number of descendants of `path` (all levels). */
  getAllChildrenNumber(path: string, options: OperationOptions = {}): Promise<number> {
    const invalid = pathError(path);
    if (invalid) return Promise.reject(invalid);
    return this.#enqueue(
      {
        op: OpCode.getAllChildrenNumber,
        path,
        write: (w) => GetAllChildrenNumberRequest.write(w, { path: this.#chroot.toServer(path) }),
        read: (r) => GetAllChildrenNumberResponse.read(r).totalNumber,
      },
      options,
    );
  }

  /** The identities this connection has, e.g. `[{authScheme: 'ip', user: '127.0.0.1'}]`. */
  whoAmI(options: OperationOptions = {}): Promise<ClientInfo[]> {
    return this.#enqueue({ op: OpCode.whoAmI, read: (r) => WhoAmIResponse.read(r).clientInfo }, options);
  }

  /**
   * Adds a credential to this connection and remembers it for every later one. Resolves when
   * the server accepted it; a rejected credential fails with AuthFailedError (and is forgotten).
   */
  addAuth(scheme: string, auth: string | Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closedError || this.#closing) return Promise.reject(this.#closedError ?? new ClientClosedError());
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const entry: AuthEntry = { scheme, auth: toAuthBytes(auth), fromOptions: false, waiters: [] };
    const promise = new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.waiters.push({
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
    });
    this.#auth.push(entry);
    if (this.#ready) this.#sendAuth(entry);
    return promise;
  }

  /**
   * A persistent watch (recursive: on the whole subtree) as an async iterable of events. Resolves
   * once the server registered it. Ends on `return()` (breaking out of `for await`), on signal
   * abort, or on close(), and then removes the server's watch; throws SessionExpiredError if the
   * session is lost. Persistent watches are re-registered after every reconnect.
   */
  async watch(path: string, options: PersistentWatchOptions = {}): Promise<PersistentWatch> {
    const invalid = pathError(path);
    if (invalid) return Promise.reject(invalid);
    const kind: PersistentKind = options.recursive ? 'recursive' : 'persistent';
    const watch = new PersistentWatch({
      path,
      recursive: kind === 'recursive',
      maxBufferedEvents: this.#options.maxBufferedWatchEvents,
      onRemove: (w) => this.#removePersistent(kind, w),
    });
    await this.#enqueue(
      {
        op: OpCode.addWatch,
        path,
        write: (w) => AddWatchRequest.write(w, { path: this.#chroot.toServer(path), mode: kind === 'recursive' ? AddWatchMode.PERSISTENT_RECURSIVE : AddWatchMode.PERSISTENT }),
        read: () => {
          this.#watches.addPersistent(kind, path, watch);
        },
      },
      { signal: options.signal, timeoutMs: options.timeoutMs },
    );
    const { signal } = options;
    if (signal) {
      if (signal.aborted) void watch.return();
      else signal.addEventListener('abort', () => void watch.return(), { once: true });
    }
    return watch;
  }

  #removePersistent(kind: PersistentKind, watch: PersistentWatch): void {
    const remaining = this.#watches.removePersistent(kind, watch.path, watch);
    if (remaining > 0 || !this.#ready || this.#closing) return;
    const path = watch.path;
    const type = kind === 'recursive' ? WatcherType.PersistentRecursive : WatcherType.Persistent;
    const removeAny = (): void => {
      // 3.8 servers know only types 1..3; Any (3) would also drop one-shot watches we still need.
      if (this.#watches.hasOneShot(path) || this.#watches.hasPersistent(kind === 'recursive' ? 'persistent' : 'recursive', path)) return;
      this.#internal({ op: OpCode.removeWatches, path, write: (w) => RemoveWatchesRequest.write(w, { path: this.#chroot.toServer(path), type: WatcherType.Any }), read: () => undefined }).catch(
        (error: unknown) => this.#log.debug({ path, err: String(error) }, 'removeWatches(Any) failed'),
      );
    };
    this.#internal({ op: OpCode.removeWatches, path, write: (w) => RemoveWatchesRequest.write(w, { path: this.#chroot.toServer(path), type }), read: () => undefined }).then(
      () => this.#log.debug({ path, type }, 'server watch removed'),
      (error: unknown) => {
        this.#log.debug({ path, type, err: String(error) }, 'removeWatches failed');
        if (error instanceof ZooKeeperError && error.errno === ErrorCode.NOWATCHER) return;
        if (error instanceof ZooKeeperError && !(error instanceof ConnectionLossError) && !(error instanceof ClientClosedError)) removeAny();
        else this.#log.debug({ path, err: String(error) }, 'removeWatches failed');
      },
    );
  }

  // ---------------------------------------------------------------- request pipeline

  #oneShot(options: WatchOptions): { watch?: OneShotWatch; changed?: Promise<WatchedEvent> } {
    if (options.watcher) return { watch: callbackWatch(options.watcher) };
    if (options.watch) return promiseWatch();
    return {};
  }

  /** Submits a user request through the bounded gate; resolves with its decoded reply. */
  #enqueue<T>(spec: CallSpec<T>, options: OperationOptions): Promise<T> {
    if (this.#closing || this.#closedError) return Promise.reject(this.#closedError ?? new ClientClosedError({ path: spec.path }));
    if (this.state === 'lost') return Promise.reject(new SessionExpiredError({ path: spec.path }));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const call = new Call<T>(spec, resolve, reject);
      const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs;
      if (signal || timeoutMs !== undefined) {
        let timer: NodeJS.Timeout | undefined;
        const abort = (reason: unknown): void => {
          call.reject(reason instanceof Error ? reason : new Error(String(reason)));
          if (call.where === 'waiting') {
            this.#waiting = this.#waiting.filter((c) => c !== call);
            call.leave();
          }
          // 'sent' calls stay in the pipeline until their reply arrives; 'new' ones skip their turn.
        };
        const onAbort = (): void => abort(signal!.reason);
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => abort(new OperationTimeoutError({ path: spec.path, message: `no reply within ${timeoutMs} ms${spec.path ? ` (path ${spec.path})` : ''}` })), timeoutMs);
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        call.onSettle(() => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        });
      }
      this.#gate
        .add(() => {
          this.#submit(call);
          return call.finished;
        })
        .catch((error: unknown) => call.fail(error instanceof Error ? error : new Error(String(error))));
    });
  }

  /** A request of the client's own (setWatches, removeWatches, closeSession): not gated, no abort. */
  #internal<T>(spec: CallSpec<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call = new Call<T>(spec, resolve, reject);
      if (this.#ready) this.#write(call);
      else call.fail(new ConnectionLossError({ path: spec.path }));
    });
  }

  #submit(call: Call): void {
    if (call.settled) return call.leave();
    if (this.#sessionClosing || this.#closedError) return call.fail(this.#closedError ?? new ClientClosedError({ path: call.spec.path }));
    if (this.state === 'lost') return call.fail(new SessionExpiredError({ path: call.spec.path }));
    if (this.#ready) return this.#write(call);
    call.where = 'waiting';
    this.#waiting.push(call);
  }

  #write(call: Call): void {
    const transport = this.#transport!;
    const xid = this.#nextXid;
    this.#nextXid = xid >= 0x7fffffff ? 1 : xid + 1;
    call.xid = xid;
    call.where = 'sent';
    this.#outstanding.push(call);
    const spec = call.spec;
    transport.send((w) => {
      RequestHeader.write(w, { xid, type: spec.op });
      spec.write?.(w);
    });
  }

  #sendAuth(entry: AuthEntry): void {
    this.#authInFlight.push(entry);
    this.#transport!.send((w) => {
      RequestHeader.write(w, { xid: Xid.AUTH, type: OpCode.auth });
      AuthPacket.write(w, { type: 0, scheme: entry.scheme, auth: entry.auth });
    });
  }

  // ---------------------------------------------------------------- machine and transport

  #step(input: MachineInput): void {
    this.#inputs.push(input);
    if (this.#stepping) return;
    this.#stepping = true;
    try {
      for (let next = this.#inputs.shift(); next; next = this.#inputs.shift()) {
        const actions = this.#machine.step(next, Date.now());
        for (const action of actions) this.#perform(action);
      }
    } finally {
      this.#stepping = false;
    }
    this.#armTimer();
  }

  #perform(action: MachineAction): void {
    switch (action.type) {
      case 'openSocket':
        this.#openSocket(action.attempt, action.server);
        return;
      case 'sendConnectRequest':
        if (action.attempt !== this.#transportAttempt) return;
        this.#log.debug({ attempt: action.attempt, sessionId: action.request.sessionId.toString(16), lastZxidSeen: action.request.lastZxidSeen.toString(16) }, 'sending ConnectRequest');
        this.#transport?.send((w) => writeConnectRequest(w, action.request));
        return;
      case 'closeSocket':
        if (action.attempt !== this.#transportAttempt || !this.#transport) return;
        this.#log.debug({ attempt: action.attempt, reason: action.reason }, 'closing connection');
        if (action.reason === 'session closed') this.#transport.end();
        else this.#transport.destroy(action.reason);
        this.#ready = false;
        return;
      case 'connectionLost':
        this.#connectionLost(action.reason);
        return;
      case 'sessionEstablished':
        this.#sessionEstablished(action.newSession, action.session);
        return;
      case 'sendPing':
        if (action.attempt !== this.#transportAttempt) return;
        this.#transport?.send((w) => RequestHeader.write(w, { xid: Xid.PING, type: OpCode.ping }));
        return;
      case 'sendCloseSession':
        this.#internal({ op: OpCode.closeSession, read: () => undefined }).then(
          () => this.#step({ type: 'closeSessionDone' }),
          () => this.#step({ type: 'closeSessionDone' }),
        );
        return;
      case 'sessionLost': {
        this.#lossReason = action.reason;
        this.#log.warn({ reason: action.reason }, 'session lost');
        const error = new SessionExpiredError({ message: action.reason === 'expired' ? 'the session expired' : 'no server reachable for the session timeout; session presumed expired' });
        for (const call of this.#waiting.splice(0)) call.fail(error);
        this.#watches.failAll(error);
        return;
      }
      case 'state':
        this.#onState(action.state, action.previous);
        return;
      case 'closed':
        this.#onClosed();
        return;
    }
  }

  #onState(state: ClientState, previous: ClientState): void {
    this.#log.info({ state, previous, sessionId: this.sessionId?.toString(16) }, 'connection state');
    if (state === 'connected' || state === 'reconnected' || state === 'readOnly') this.#everConnected = true;
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
        this.emit('lost', this.#lossReason);
        return;
      case 'idle':
        return;
    }
  }

  #openSocket(attempt: number, server: ServerAddress): void {
    this.#transport?.destroy('superseded');
    this.#transportAttempt = attempt;
    this.#awaitingHandshake = true;
    this.#ready = false;
    this.#log.debug({ attempt, host: server.host, port: server.port }, 'connecting');
    this.#transport = new Transport(
      server.host,
      server.port,
      {
        onOpen: () => this.#step({ type: 'socketOpened', attempt }),
        onFrames: (frames) => this.#onFrames(attempt, frames),
        onProtocolError: (reason) => this.#step({ type: 'protocolError', attempt, reason }),
        onClose: (reason) => {
          if (attempt === this.#transportAttempt) this.#ready = false;
          this.#step({ type: 'socketClosed', attempt, reason });
        },
        onFlush: () => {
          if (attempt === this.#transportAttempt) this.#machine.noteSent(Date.now());
        },
      },
      { maxFrameLength: this.#options.maxFrameLength },
    );
  }

  #sessionEstablished(newSession: boolean, session: Session): void {
    this.#log.info({ sessionId: session.sessionId.toString(16), timeoutMs: session.negotiatedTimeoutMs, newSession }, 'session established');
    this.#ready = true;
    this.#authInFlight = [];
    // Java's order: auth packets, then watches, then whatever requests waited for the connection.
    for (const entry of this.#auth) this.#sendAuth(entry);
    if (!newSession) this.#restoreWatches();
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const call of waiting) {
      if (call.settled) call.leave();
      else this.#write(call);
    }
  }

  #restoreWatches(): void {
    const snapshot = this.#watches.snapshot();
    const lists = {
      dataWatches: snapshot.data,
      existWatches: snapshot.exist,
      childWatches: snapshot.child,
      persistentWatches: snapshot.persistent,
      persistentRecursiveWatches: snapshot.recursive,
    };
    const total = Object.values(lists).reduce((n, list) => n + list.length, 0);
    if (total === 0) return;
    // setWatches2 only when needed, so 3.5-era servers (no op 105) keep working.
    const v2 = snapshot.persistent.length + snapshot.recursive.length > 0;
    const relativeZxid = this.#machine.lastZxidSeen;
    type Batch = { [K in keyof typeof lists]: string[] };
    const empty = (): Batch => ({ dataWatches: [], existWatches: [], childWatches: [], persistentWatches: [], persistentRecursiveWatches: [] });
    const batches: Batch[] = [];
    let batch = empty();
    let bytes = 0;
    for (const key of Object.keys(lists) as (keyof typeof lists)[]) {
      for (const path of lists[key]) {
        const serverPath = this.#chroot.toServer(path);
        if (bytes > 0 && bytes + serverPath.length > SET_WATCHES_BATCH_BYTES) {
          batches.push(batch);
          batch = empty();
          bytes = 0;
        }
        batch[key].push(serverPath);
        bytes += serverPath.length;
      }
    }
    batches.push(batch);
    this.#log.debug({ watches: total, batches: batches.length, relativeZxid: relativeZxid.toString(16), v2 }, 'restoring watches');
    for (const b of batches) {
      const spec: CallSpec<void> = v2
        ? { op: OpCode.setWatches2, write: (w) => SetWatches2.write(w, { relativeZxid, ...b }), read: () => undefined }
        : { op: OpCode.setWatches, write: (w) => SetWatches.write(w, { relativeZxid, dataWatches: b.dataWatches, existWatches: b.existWatches, childWatches: b.childWatches }), read: () => undefined };
      this.#internal(spec).catch((error: unknown) => this.#log.warn({ err: String(error) }, 'setWatches failed'));
    }
  }

  #connectionLost(reason: string): void {
    this.#ready = false;
    this.#authInFlight = [];
    const calls = this.#outstanding.drain();
    if (calls.length > 0) this.#log.info({ inFlight: calls.length, reason }, 'connection lost with requests in flight');
    for (const call of calls) call.fail(new ConnectionLossError({ path: call.spec.path, message: `connection lost (${reason})${call.spec.path ? ` (path ${call.spec.path})` : ''}` }));
  }

  #onClosed(): void {
    this.#closing = true;
    this.#sessionClosing = true;
    this.#ready = false;
    const error = this.#closedError ?? new ClientClosedError();
    this.#closedError = error;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const call of this.#outstanding.drain()) call.fail(error);
    for (const call of this.#waiting.splice(0)) call.fail(error);
    for (const entry of this.#auth) for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
    this.#watches.closeAll(error);
    this.#resolveClosed();
  }

  #armTimer(): void {
    const wake = this.#machine.nextWakeMs();
    if (wake === undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (this.#timer && this.#timerAtMs <= wake) return;
    clearTimeout(this.#timer);
    this.#timerAtMs = wake;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#step({ type: 'tick' });
    }, Math.max(0, wake - Date.now()));
  }

  #onFrames(attempt: number, frames: Uint8Array[]): void {
    if (attempt !== this.#transportAttempt) return;
    this.#machine.noteReceived(Date.now());
    for (const frame of frames) {
      if (attempt !== this.#transportAttempt || this.#transport?.closed) return;
      if (this.#awaitingHandshake) {
        this.#awaitingHandshake = false;
        let response;
        try {
          response = readConnectResponse(new JuteReader(frame));
        } catch (error) {
          this.#step({ type: 'protocolError', attempt, reason: `bad ConnectResponse: ${String(error)}` });
          return;
        }
        this.#step({ type: 'connectResponse', attempt, response });
        continue;
      }
      if (!this.#onReply(attempt, frame)) return;
    }
  }

  /** Handles one reply frame; false if the connection had to be dropped. */
  #onReply(attempt: number, frame: Uint8Array): boolean {
    const r = new JuteReader(frame);
    let header: ReplyHeader;
    try {
      header = ReplyHeader.read(r);
    } catch (error) {
      this.#step({ type: 'protocolError', attempt, reason: `bad reply header: ${String(error)}` });
      return false;
    }
    switch (header.xid) {
      case Xid.NOTIFICATION:
        this.#onNotification(header, r);
        return true;
      case Xid.PING:
        return true;
      case Xid.AUTH:
        this.#onAuthReply(header.err);
        return true;
    }
    const call = this.#outstanding.peek();
    if (!call || call.xid !== header.xid) {
      this.#step({ type: 'protocolError', attempt, reason: `reply xid ${header.xid} but expected ${call ? call.xid : 'none'}` });
      return false;
    }
    this.#outstanding.shift();
    if (header.zxid > 0n) this.#machine.observeZxid(header.zxid);
    call.leave();
    if (call.settled) return true;
    const spec = call.spec;
    if (header.err !== 0) {
      const handled = spec.onError?.(header.err);
      if (handled) call.resolve(handled.value);
      else call.reject(errorFromCode(header.err, { path: spec.path }));
      return true;
    }
    let value: unknown;
    try {
      value = spec.read(r, header);
    } catch (error) {
      if (error instanceof ZooKeeperError) call.reject(error);
      else if (error instanceof DecodeError) call.reject(new MarshallingError({ path: spec.path, cause: error, message: `undecodable reply to op ${spec.op}: ${error.message}` }));
      else call.reject(error instanceof Error ? error : new Error(String(error)));
      return true;
    }
    call.resolve(value);
    return true;
  }

  #onNotification(header: ReplyHeader, r: JuteReader): void {
    let event;
    try {
      event = WatcherEvent.read(r);
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'undecodable watch notification');
      return;
    }
    const type = eventTypeName(event.type);
    if (!type || event.path === null) {
      this.#log.warn({ type: event.type, path: event.path }, 'ignoring a notification of unknown type');
      return;
    }
    this.#watches.dispatch({ type, path: this.#chroot.fromServer(event.path), zxid: header.zxid });
  }

  #onAuthReply(err: number): void {
    const entry = this.#authInFlight.shift();
    if (!entry) {
      this.#log.warn({ err }, 'auth reply without an auth request');
      return;
    }
    if (err === 0) {
      for (const waiter of entry.waiters.splice(0)) waiter.resolve();
      return;
    }
    const error = new AuthFailedError({ message: `the server rejected credentials of scheme ${entry.scheme} (${errorName(err) ?? err})` });
    const index = this.#auth.indexOf(entry);
    if (index !== -1) this.#auth.splice(index, 1);
    for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
    this.#log.warn({ scheme: entry.scheme }, 'authentication failed');
    this.emit('authFailed', error, entry.scheme);
    // Credentials given at construction are part of the client's identity: without them it must not go on.
    if (entry.fromOptions) return this.destroy(error);
    // The server closes the connection after AUTHFAILED: stop writing to it now, so requests issued
    // from here on wait for the reconnect instead of being lost with it.
    this.#step({ type: 'protocolError', attempt: this.#transportAttempt, reason: 'credentials rejected; the server closes the connection' });
  }
}

function toAuthBytes(auth: string | Uint8Array): Uint8Array {
  return typeof auth === 'string' ? utf8.encode(auth) : auth;
}

/** Creates a client; call `await client.connect()` before (or while) issuing requests. */
export function createClient(connectString: string, options: ClientOptions = {}): ZooKeeperClient {
  return new ZooKeeperClient(connectString, options);
}

export type { AuthInfo };
