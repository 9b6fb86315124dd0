/**
 * A tiny in-process driver for ServerCore: no sockets, no timers. Frames go in through receive(),
 * actions come out and are executed here (every 'propose' is committed at once unless autoCommit is
 * off), and the 'send' frames are decoded per connection with @corral/protocol.
 */
import {
  ACL,
  AddWatchRequest,
  AuthPacket,
  CheckWatchesRequest,
  Create2Response,
  CreateRequest,
  CreateResponse,
  CreateTTLRequest,
  DeleteRequest,
  ErrorResponse,
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
  JuteWriter,
  OpCode,
  Perms,
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
  WhoAmIResponse,
  Xid,
  readConnectResponse,
  readMultiResponse,
  writeConnectRequest,
  writeMultiRequest,
  type ConnectResponse,
  type MultiOp,
  type MultiResult,
  type Stat,
} from '@corral/protocol';
import { ServerCore, type ConnId, type CoreAction, type CoreOptions } from '../src/core/server.js';
import type { Txn } from '../src/core/txn.js';

export type ACLEntry = { perms: number; id: { scheme: string; id: string } };
export const OPEN: ACLEntry[] = [{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }];
export const CREATOR_ALL: ACLEntry[] = [{ perms: Perms.ALL, id: { scheme: 'auth', id: '' } }];
export const world = (perms: number): ACLEntry => ({ perms, id: { scheme: 'world', id: 'anyone' } });
export const digest = (perms: number, id: string): ACLEntry => ({ perms, id: { scheme: 'digest', id } });
export const ip = (perms: number, id: string): ACLEntry => ({ perms, id: { scheme: 'ip', id } });

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
/** UTF-8 text of a reply's bytes, or of a node's byte string. */
export const text = (b: Uint8Array | string | null | undefined): string | null | undefined =>
  b == null ? b : new TextDecoder().decode(typeof b === 'string' ? Buffer.from(b, 'latin1') : b);

export const DEFAULT_START_MS = 1_000_000_000_500;

export function coreOptions(overrides: Partial<CoreOptions> = {}): CoreOptions {
  return {
    serverId: 1,
    tickTimeMs: 2000,
    minSessionTimeoutMs: 4000,
    maxSessionTimeoutMs: 40000,
    extendedTypesEnabled: false,
    containerCheckIntervalMs: 60000,
    epoch: 1,
    startTimeMs: DEFAULT_START_MS,
    ...overrides,
  };
}

/** One frame sent by the server, after its length prefix, with the ReplyHeader decoded. */
export interface Reply {
  xid: number;
  zxid: bigint;
  err: number;
  /** Bytes after the ReplyHeader. */
  body: Uint8Array;
}

export interface Event {
  type: number;
  state: number;
  path: string | null;
  zxid: bigint;
}

export class Harness {
  readonly core: ServerCore;
  readonly options: CoreOptions;
  now: number;
  /** Every txn proposed, in order. */
  readonly txns: Txn[] = [];
  /** Proposed but not yet committed (autoCommit off). */
  readonly uncommitted: Txn[] = [];
  autoCommit = true;
  readonly outbox = new Map<ConnId, Uint8Array[]>();
  readonly closed = new Map<ConnId, string>();
  #nextConn = 1;

  constructor(overrides: Partial<CoreOptions> = {}) {
    this.options = coreOptions(overrides);
    this.now = this.options.startTimeMs;
    this.core = new ServerCore(this.options);
  }

  run(actions: CoreAction[]): void {
    const queue = [...actions];
    while (queue.length > 0) {
      const action = queue.shift()!;
      switch (action.type) {
        case 'propose':
          this.txns.push(action.txn);
          if (this.autoCommit) queue.push(...this.core.commit(action.txn.zxid, this.now));
          else this.uncommitted.push(action.txn);
          break;
        case 'send': {
          let list = this.outbox.get(action.conn);
          if (!list) this.outbox.set(action.conn, (list = []));
          // Strip the 4-byte length prefix, checking it.
          const view = new DataView(action.bytes.buffer, action.bytes.byteOffset, action.bytes.byteLength);
          if (view.getInt32(0) !== action.bytes.length - 4) throw new Error('bad frame length prefix');
          list.push(action.bytes.subarray(4));
          break;
        }
        case 'close':
          this.closed.set(action.conn, action.reason);
          break;
      }
    }
  }

  /** Commits the oldest `count` uncommitted txns (all by default), in zxid order. */
  commitPending(count = this.uncommitted.length): void {
    for (const txn of this.uncommitted.splice(0, count)) this.run(this.core.commit(txn.zxid, this.now));
  }

  tick(advanceMs = 0): void {
    this.now += advanceMs;
    this.run(this.core.tick(this.now));
  }

  /** Opens a connection and performs the handshake (unless handshake: false). */
  connect(options: { timeoutMs?: number; remoteAddress?: string; readOnly?: boolean | null; sessionId?: bigint; passwd?: Uint8Array; lastZxidSeen?: bigint; handshake?: boolean } = {}): Client {
    const conn = this.#nextConn++;
    this.core.openConnection(conn, options.remoteAddress ?? '127.0.0.1', this.now);
    const client = new Client(this, conn);
    if (options.handshake !== false) client.handshake(options);
    return client;
  }

  /** Takes the frames sent to a connection so far. */
  take(conn: ConnId): Uint8Array[] {
    const list = this.outbox.get(conn) ?? [];
    this.outbox.set(conn, []);
    return list;
  }
}

export function decodeReply(frame: Uint8Array): Reply {
  const header = ReplyHeader.read(new JuteReader(frame, { end: 16 }));
  return { ...header, body: frame.subarray(16) };
}

/** What a typed call returns: the reply header fields and, when err is 0, the decoded body. */
export type Result<T> = { err: number; zxid: bigint; xid: number } & Partial<T>;

type Writer = (w: JuteWriter) => void;
type Decoder<T> = (r: JuteReader) => T;

export class Client {
  readonly harness: Harness;
  readonly conn: ConnId;
  sessionId = 0n;
  passwd: Uint8Array = new Uint8Array(16);
  connectResponse: ConnectResponse | undefined;
  connectResponseLength = 0;
  #xid = 1;
  /** Every frame received, decoded, in arrival order. */
  readonly log: Reply[] = [];
  /** Notifications not yet consumed by takeEvents(). */
  readonly events: Event[] = [];

  constructor(harness: Harness, conn: ConnId) {
    this.harness = harness;
    this.conn = conn;
  }

  get closed(): boolean {
    return this.harness.closed.has(this.conn);
  }

  handshake(options: { timeoutMs?: number; readOnly?: boolean | null; sessionId?: bigint; passwd?: Uint8Array; lastZxidSeen?: bigint } = {}): ConnectResponse | undefined {
    const w = new JuteWriter();
    writeConnectRequest(w, {
      protocolVersion: 0,
      lastZxidSeen: options.lastZxidSeen ?? 0n,
      timeOut: options.timeoutMs ?? 10000,
      sessionId: options.sessionId ?? 0n,
      passwd: options.passwd ?? new Uint8Array(16),
      readOnly: options.readOnly === null ? undefined : (options.readOnly ?? false),
    });
    this.raw(w.toBytes());
    const [first, ...rest] = this.harness.take(this.conn);
    if (!first) return undefined;
    this.connectResponseLength = first.length;
    this.connectResponse = readConnectResponse(new JuteReader(first));
    if (this.connectResponse.timeOut > 0) {
      this.sessionId = this.connectResponse.sessionId;
      this.passwd = this.connectResponse.passwd!;
    }
    this.#absorb(rest);
    return this.connectResponse;
  }

  /** Sends one frame payload (no length prefix) and executes the resulting actions. */
  raw(payload: Uint8Array): void {
    this.harness.run(this.harness.core.receive(this.conn, payload, this.harness.now));
  }

  nextXid(): number {
    return this.#xid++;
  }

  /** Sends a request; returns its xid. Replies stay in the outbox until receive(). */
  send(op: number, body?: Writer, xid = this.nextXid()): number {
    const w = new JuteWriter();
    RequestHeader.write(w, { xid, type: op });
    body?.(w);
    this.raw(w.toBytes());
    return xid;
  }

  /** Decodes every frame that arrived since the last call; notifications also go to `events`. */
  receive(): Reply[] {
    return this.#absorb(this.harness.take(this.conn));
  }

  #absorb(frames: Uint8Array[]): Reply[] {
    const replies = frames.map(decodeReply);
    for (const reply of replies) {
      this.log.push(reply);
      if (reply.xid === Xid.NOTIFICATION) {
        const event = WatcherEvent.decode(reply.body);
        this.events.push({ ...event, zxid: reply.zxid });
      }
    }
    return replies;
  }

  takeEvents(): Event[] {
    this.receive();
    return this.events.splice(0);
  }

  /** Sends a request and returns its reply (exactly one must have arrived). */
  call(op: number, body?: Writer, xid?: number): Reply {
    const sent = this.send(op, body, xid);
    const expectXid = op === OpCode.ping ? Xid.PING : op === OpCode.auth ? Xid.AUTH : sent;
    const replies = this.receive().filter((r) => r.xid === expectXid);
    if (replies.length !== 1) throw new Error(`expected one reply to xid ${expectXid} (op ${op}), got ${replies.length}`);
    return replies[0]!;
  }

  typed<T>(op: number, body: Writer | undefined, decode: Decoder<T> | undefined, xid?: number): Result<T> {
    const reply = this.call(op, body, xid);
    const out = { err: reply.err, zxid: reply.zxid, xid: reply.xid } as Result<T>;
    if (reply.err === 0 && decode) {
      const r = new JuteReader(reply.body);
      Object.assign(out, decode(r));
      if (r.remaining !== 0) throw new Error(`${r.remaining} trailing bytes in reply to op ${op}`);
    } else if (reply.err !== 0 && reply.body.length !== 0) {
      throw new Error(`error reply to op ${op} carries a ${reply.body.length}-byte body`);
    } else if (!decode && reply.body.length !== 0) {
      throw new Error(`reply to op ${op} should have no body, has ${reply.body.length} bytes`);
    }
    return out;
  }

  // ---- typed operations ---------------------------------------------------

  create(path: string, data: Uint8Array | null | string = null, options: { acl?: ACLEntry[]; flags?: number } = {}) {
    const d = typeof data === 'string' ? bytes(data) : data;
    return this.typed(OpCode.create, (w) => CreateRequest.write(w, { path, data: d, acl: options.acl ?? OPEN, flags: options.flags ?? 0 }), (r) => CreateResponse.read(r));
  }

  create2(path: string, data: Uint8Array | null | string = null, options: { acl?: ACLEntry[]; flags?: number; op?: number } = {}) {
    const d = typeof data === 'string' ? bytes(data) : data;
    return this.typed(options.op ?? OpCode.create2, (w) => CreateRequest.write(w, { path, data: d, acl: options.acl ?? OPEN, flags: options.flags ?? 0 }), (r) => Create2Response.read(r));
  }

  createContainer(path: string, data: Uint8Array | null | string = null, options: { acl?: ACLEntry[]; flags?: number } = {}) {
    return this.create2(path, data, { ...options, flags: options.flags ?? 4, op: OpCode.createContainer });
  }

  createTTL(path: string, ttl: bigint, options: { acl?: ACLEntry[]; flags?: number; data?: Uint8Array | null } = {}) {
    return this.typed(
      OpCode.createTTL,
      (w) => CreateTTLRequest.write(w, { path, data: options.data ?? null, acl: options.acl ?? OPEN, flags: options.flags ?? 5, ttl }),
      (r) => Create2Response.read(r),
    );
  }

  delete(path: string, version = -1) {
    return this.typed(OpCode.delete, (w) => DeleteRequest.write(w, { path, version }), undefined);
  }

  setData(path: string, data: Uint8Array | null | string, version = -1) {
    const d = typeof data === 'string' ? bytes(data) : data;
    return this.typed(OpCode.setData, (w) => SetDataRequest.write(w, { path, data: d, version }), (r) => SetDataResponse.read(r));
  }

  getData(path: string, watch = false) {
    return this.typed(OpCode.getData, (w) => GetDataRequest.write(w, { path, watch }), (r) => GetDataResponse.read(r));
  }

  exists(path: string, watch = false) {
    return this.typed(OpCode.exists, (w) => ExistsRequest.write(w, { path, watch }), (r) => ExistsResponse.read(r));
  }

  stat(path: string): Stat {
    const r = this.exists(path);
    if (r.err !== 0) throw new Error(`exists ${path}: ${r.err}`);
    return r.stat!;
  }

  getChildren(path: string, watch = false) {
    return this.typed(OpCode.getChildren, (w) => GetChildrenRequest.write(w, { path, watch }), (r) => GetChildrenResponse.read(r));
  }

  getChildren2(path: string, watch = false) {
    return this.typed(OpCode.getChildren2, (w) => GetChildren2Request.write(w, { path, watch }), (r) => GetChildren2Response.read(r));
  }

  getACL(path: string) {
    return this.typed(OpCode.getACL, (w) => GetACLRequest.write(w, { path }), (r) => GetACLResponse.read(r));
  }

  setACL(path: string, acl: ACLEntry[], version = -1) {
    return this.typed(OpCode.setACL, (w) => SetACLRequest.write(w, { path, acl, version }), (r) => SetACLResponse.read(r));
  }

  multi(ops: MultiOp[]) {
    return this.typed<{ results: MultiResult[] }>(OpCode.multi, (w) => writeMultiRequest(w, ops), (r) => ({ results: readMultiResponse(r) }));
  }

  multiRead(ops: MultiOp[]) {
    return this.typed<{ results: MultiResult[] }>(OpCode.multiRead, (w) => writeMultiRequest(w, ops), (r) => ({ results: readMultiResponse(r) }));
  }

  addWatch(path: string, mode: number) {
    return this.typed(OpCode.addWatch, (w) => AddWatchRequest.write(w, { path, mode }), (r) => ErrorResponse.read(r));
  }

  checkWatches(path: string, type: number) {
    return this.typed(OpCode.checkWatches, (w) => CheckWatchesRequest.write(w, { path, type }), undefined);
  }

  removeWatches(path: string, type: number) {
    return this.typed(OpCode.removeWatches, (w) => RemoveWatchesRequest.write(w, { path, type }), undefined);
  }

  setWatches(relativeZxid: bigint, lists: { data?: string[]; exist?: string[]; child?: string[] }, xid?: number) {
    return this.typed(
      OpCode.setWatches,
      (w) => SetWatches.write(w, { relativeZxid, dataWatches: lists.data ?? [], existWatches: lists.exist ?? [], childWatches: lists.child ?? [] }),
      undefined,
      xid,
    );
  }

  setWatches2(relativeZxid: bigint, lists: { data?: string[]; exist?: string[]; child?: string[]; persistent?: string[]; recursive?: string[] }) {
    return this.typed(
      OpCode.setWatches2,
      (w) =>
        SetWatches2.write(w, {
          relativeZxid,
          dataWatches: lists.data ?? [],
          existWatches: lists.exist ?? [],
          childWatches: lists.child ?? [],
          persistentWatches: lists.persistent ?? [],
          persistentRecursiveWatches: lists.recursive ?? [],
        }),
      undefined,
    );
  }

  auth(scheme: string, credentials: string) {
    return this.typed(OpCode.auth, (w) => AuthPacket.write(w, { type: 0, scheme, auth: bytes(credentials) }), undefined, Xid.AUTH);
  }

  whoAmI() {
    return this.typed(OpCode.whoAmI, undefined, (r) => WhoAmIResponse.read(r));
  }

  getEphemerals(prefixPath: string) {
    return this.typed(OpCode.getEphemerals, (w) => GetEphemeralsRequest.write(w, { prefixPath }), (r) => GetEphemeralsResponse.read(r));
  }

  getAllChildrenNumber(path: string) {
    return this.typed(OpCode.getAllChildrenNumber, (w) => GetAllChildrenNumberRequest.write(w, { path }), (r) => GetAllChildrenNumberResponse.read(r));
  }

  sync(path: string) {
    return this.typed(OpCode.sync, (w) => SyncRequest.write(w, { path }), (r) => SyncResponse.read(r));
  }

  ping() {
    return this.typed(OpCode.ping, undefined, undefined, Xid.PING);
  }

  closeSession() {
    return this.typed(OpCode.closeSession, undefined, undefined);
  }
}

export { ACL };
