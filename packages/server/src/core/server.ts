import {
  AuthPacket,
  Create2Response,
  CreateRequest,
  CreateResponse,
  CreateTTLRequest,
  DecodeError,
  DeleteContainerRequest,
  DeleteRequest,
  ErrorCode,
  EventType,
  JuteReader,
  JuteWriter,
  KeeperState,
  OpCode,
  Perms,
  ReplyHeader,
  SetACLRequest,
  SetACLResponse,
  SetDataRequest,
  SetDataResponse,
  WatcherEvent,
  Xid,
  errorName,
  int32At,
  opName,
  readConnectRequest,
  readMultiRequest,
  writeConnectResponse,
  writeFrame,
  writeMultiResponse,
  pooledCopy,
  type MultiResult,
} from '@corral/protocol';
import { addIdentity, digestId, hasPermission, type Identity } from './acl.js';
import {
  PendingChanges,
  PrepError,
  prepareCloseSession,
  prepareCreate,
  prepareDelete,
  prepareDeleteContainer,
  prepareMulti,
  prepareSetAcl,
  prepareSetData,
  type PrepContext,
} from './prep.js';
import { ReadHandler, type ReadOutcome } from './reads.js';
import { SessionTracker, initialSessionId, passwordMatches, sessionPassword } from './sessions.js';
import { DataTree, type ApplyResult, type TreeEvent } from './tree.js';
import { TTL_MASK, makeZxid, type Txn, type TxnBody } from './txn.js';
import { WatchRegistry, type WatchDelivery } from './watches.js';

export type ConnId = number;

/** What the shell must do, in order. */
export type CoreAction =
  | { type: 'send'; conn: ConnId; bytes: Uint8Array }
  | { type: 'close'; conn: ConnId; reason: string; level: 'info' | 'warn' }
  /** Make the txn durable, then call commit(txn.zxid). */
  | { type: 'propose'; txn: Txn };

export interface CoreOptions {
  serverId: number;
  tickTimeMs: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  extendedTypesEnabled: boolean;
  /** user:base64(sha1) of the super user, if configured. */
  superDigest?: string;
  containerCheckIntervalMs: number;
  /** Epoch of new zxids when starting empty; a recovered tree continues its own epoch and counter. */
  epoch: number;
  startTimeMs: number;
  /** State recovered from disk: the tree and the sessions that were alive (they get fresh deadlines). */
  recovered?: { tree: DataTree; sessions: { id: bigint; timeoutMs: number }[] };
}

/** A request waiting for its turn: replies on a connection leave in request order. */
type QueueEntry =
  | { kind: 'write'; xid: number; op: number; zxid: bigint; reply?: Uint8Array; closeAfter?: boolean; receivedAtMs: number }
  | { kind: 'read'; xid: number; op: number; body: Uint8Array; receivedAtMs: number }
  | { kind: 'handshake'; zxid: bigint; reply?: Uint8Array };

interface Connection {
  readonly id: ConnId;
  readonly remoteAddress: string;
  readonly identities: Identity[];
  state: 'handshake' | 'open' | 'closed';
  sessionId: bigint;
  readOnlyByte: boolean | undefined;
  readonly queue: QueueEntry[];
  readonly stats: ConnectionStats;
}

export interface ConnectionStats {
  received: number;
  sent: number;
  lastOp: string;
  lastCxid: number;
  lastZxid: bigint;
  lastLatencyMs: number;
  minLatencyMs: number;
  maxLatencyMs: number;
  totalLatencyMs: number;
  replies: number;
  establishedMs: number;
  timeoutMs: number;
}

const WRITE_OPS = new Set<number>([
  OpCode.create,
  OpCode.create2,
  OpCode.createContainer,
  OpCode.createTTL,
  OpCode.delete,
  OpCode.deleteContainer,
  OpCode.setData,
  OpCode.setACL,
  OpCode.multi,
  OpCode.reconfig,
  OpCode.closeSession,
]);

const READ_OPS = new Set<number>([
  OpCode.exists,
  OpCode.getData,
  OpCode.getACL,
  OpCode.getChildren,
  OpCode.getChildren2,
  OpCode.sync,
  OpCode.ping,
  OpCode.checkWatches,
  OpCode.removeWatches,
  OpCode.getEphemerals,
  OpCode.getAllChildrenNumber,
  OpCode.whoAmI,
  OpCode.setWatches,
  OpCode.setWatches2,
  OpCode.addWatch,
  OpCode.multiRead,
]);

const SHORT_OP_NAMES: Record<string, string> = {
  create: 'CREA', create2: 'CREA', delete: 'DELE', exists: 'EXIS', getData: 'GETD', setData: 'SETD', getACL: 'GETA',
  setACL: 'SETA', getChildren: 'GETC', getChildren2: 'GETC', sync: 'SYNC', ping: 'PING', multi: 'MULT', closeSession: 'CLOS',
  setWatches: 'SETW', setWatches2: 'STW2', addWatch: 'ADDW', getAllChildrenNumber: 'GETACN', getEphemerals: 'GETE', whoAmI: 'HOMI',
};

/**
 * The standalone server's logic with no I/O: frames in, actions out. A client request becomes a
 * read answered from the tree, or a txn that is proposed, made durable by the shell, committed
 * and only then applied, in zxid order. Replies leave each connection in request order.
 */
export class ServerCore {
  readonly tree: DataTree;
  readonly watches = new WatchRegistry();
  readonly sessions: SessionTracker;
  readonly #options: CoreOptions;
  readonly #pending: PendingChanges;
  readonly #reads: ReadHandler;
  readonly #connections = new Map<ConnId, Connection>();
  readonly #sessionConnection = new Map<bigint, ConnId>();
  /** Proposed txns by zxid, with the connection that asked (undefined for the server's own). */
  readonly #proposed = new Map<bigint, { txn: Txn; conn?: ConnId }>();
  readonly #writer = new JuteWriter(4096);
  #nextSessionId: bigint;
  #zxidCounter = 0;
  #lastContainerCheckMs: number;
  #out: CoreAction[] = [];

  constructor(options: CoreOptions) {
    this.tree = options.recovered?.tree ?? new DataTree();
    const lastZxid = this.tree.lastZxid;
    this.#options = { ...options, epoch: lastZxid === 0n ? options.epoch : Number(lastZxid >> 32n) };
    this.#zxidCounter = Number(lastZxid & 0xffffffffn);
    this.sessions = new SessionTracker(options.tickTimeMs);
    for (const s of options.recovered?.sessions ?? []) this.sessions.add(s.id, s.timeoutMs, options.startTimeMs);
    this.#pending = new PendingChanges(this.tree);
    this.#reads = new ReadHandler(this.tree, this.watches);
    this.#nextSessionId = initialSessionId(options.serverId, options.startTimeMs);
    this.#lastContainerCheckMs = options.startTimeMs;
  }

  get lastZxid(): bigint {
    return this.tree.lastZxid;
  }

  get outstandingRequests(): number {
    return this.#proposed.size;
  }

  /** Requests of this connection not yet answered (bounds the shell's reading from its socket). */
  queuedRequests(conn: ConnId): number {
    return this.#connections.get(conn)?.queue.length ?? 0;
  }

  connections(): { id: ConnId; remoteAddress: string; sessionId: bigint; queued: number; stats: ConnectionStats }[] {
    return [...this.#connections.values()].map((c) => ({ id: c.id, remoteAddress: c.remoteAddress, sessionId: c.sessionId, queued: c.queue.length, stats: c.stats }));
  }

  openConnection(conn: ConnId, remoteAddress: string, nowMs: number): void {
    this.#connections.set(conn, {
      id: conn,
      remoteAddress,
      identities: [{ scheme: 'ip', id: remoteAddress }],
      state: 'handshake',
      sessionId: 0n,
      readOnlyByte: undefined,
      queue: [],
      stats: {
        received: 0, sent: 0, lastOp: 'NA', lastCxid: 0, lastZxid: 0n, lastLatencyMs: 0, minLatencyMs: 0, maxLatencyMs: 0,
        totalLatencyMs: 0, replies: 0, establishedMs: nowMs, timeoutMs: 0,
      },
    });
  }

  /** The socket is gone (or the shell closed it): forget the connection and its watches; the session lives on. */
  connectionClosed(conn: ConnId): void {
    const c = this.#connections.get(conn);
    if (!c) return;
    c.state = 'closed';
    this.#connections.delete(conn);
    this.watches.removeWatcher(conn);
    if (this.#sessionConnection.get(c.sessionId) === conn) this.#sessionConnection.delete(c.sessionId);
  }

  /** One complete frame from a connection. */
  receive(conn: ConnId, frame: Uint8Array, nowMs: number): CoreAction[] {
    const c = this.#connections.get(conn);
    if (!c || c.state === 'closed') return [];
    c.stats.received++;
    try {
      if (c.state === 'handshake' && c.sessionId === 0n && c.queue.length === 0) this.#handshake(c, frame, nowMs);
      else this.#request(c, frame, nowMs);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.#close(c, `malformed frame: ${error.message}`, 'warn');
    }
    return this.#drain();
  }

  /** The txn with this zxid is durable: apply it, fire watches, release replies. */
  commit(zxid: bigint, nowMs: number): CoreAction[] {
    const proposed = this.#proposed.get(zxid);
    if (!proposed) throw new Error(`commit of unknown zxid 0x${zxid.toString(16)}`);
    this.#proposed.delete(zxid);
    const { txn, conn } = proposed;
    const { result, events } = this.tree.apply(txn);
    this.#pending.applied(zxid);
    this.#deliver(this.#fire(events), txn.zxid);
    this.#afterSessionTxn(txn);
    const c = conn === undefined ? undefined : this.#connections.get(conn);
    if (c) {
      const entry = c.queue.find((e) => e.kind !== 'read' && e.zxid === zxid);
      if (entry?.kind === 'handshake') entry.reply = this.#connectResponse(c, txn.sessionId, (txn.body as { timeoutMs: number }).timeoutMs);
      else if (entry?.kind === 'write') entry.reply = this.#writeReply(entry, result);
      this.#flush(c, nowMs);
    }
    return this.#drain();
  }

  /** Time passes: expire sessions, reap empty containers and expired TTL nodes. */
  tick(nowMs: number): CoreAction[] {
    for (const sessionId of this.sessions.expire(nowMs)) {
      const body = prepareCloseSession(this.#pending, this.tree, this.#prepContext(sessionId, [], nowMs));
      this.#propose({ sessionId, cxid: 0, nowMs, body });
    }
    if (nowMs - this.#lastContainerCheckMs >= this.#options.containerCheckIntervalMs) {
      this.#lastContainerCheckMs = nowMs;
      this.#reapContainers(nowMs);
    }
    return this.#drain();
  }

  #drain(): CoreAction[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  #close(c: Connection, reason: string, level: 'info' | 'warn'): void {
    if (c.state === 'closed') return;
    this.#out.push({ type: 'close', conn: c.id, reason, level });
    this.connectionClosed(c.id);
  }

  #send(c: Connection, bytes: Uint8Array): void {
    c.stats.sent++;
    this.#out.push({ type: 'send', conn: c.id, bytes });
  }

  #frame(xid: number, zxid: bigint, err: number, body?: (w: JuteWriter) => void): Uint8Array {
    const w = this.#writer;
    w.reset();
    writeFrame(w, (w) => {
      ReplyHeader.write(w, { xid, zxid, err });
      if (err === 0 && body) body(w);
    });
    // A view into a shared slab: replies are small and short-lived, not worth an ArrayBuffer each.
    return pooledCopy(w.toBytesView());
  }

  /** Checks see the zxid the txn will get: the one after the last proposed. */
  #prepContext(sessionId: bigint, identities: readonly Identity[], nowMs: number): PrepContext {
    return {
      sessionId,
      identities,
      zxid: makeZxid(this.#options.epoch, this.#zxidCounter + 1),
      nowMs,
      extendedTypesEnabled: this.#options.extendedTypesEnabled,
    };
  }

  #nextZxid(): bigint {
    this.#zxidCounter++;
    return makeZxid(this.#options.epoch, this.#zxidCounter);
  }

  #propose(args: { sessionId: bigint; cxid: number; nowMs: number; body: TxnBody }, conn?: ConnId): Txn {
    const txn: Txn = { zxid: this.#nextZxid(), sessionId: args.sessionId, cxid: args.cxid, timeMs: args.nowMs, body: args.body };
    this.#proposed.set(txn.zxid, { txn, conn });
    this.#out.push({ type: 'propose', txn });
    return txn;
  }

  // ---- handshake -------------------------------------------------------

  #handshake(c: Connection, frame: Uint8Array, nowMs: number): void {
    const request = readConnectRequest(new JuteReader(frame));
    c.readOnlyByte = request.readOnly;
    if (request.lastZxidSeen > this.tree.lastZxid) {
      // The client has seen a newer state than ours: it must try another server.
      return this.#close(c, `client zxid 0x${request.lastZxidSeen.toString(16)} is ahead of ours 0x${this.tree.lastZxid.toString(16)}`, 'info');
    }
    const { minSessionTimeoutMs: min, maxSessionTimeoutMs: max } = this.#options;
    const timeoutMs = Math.min(Math.max(request.timeOut, min), max);
    c.stats.timeoutMs = timeoutMs;
    if (request.sessionId === 0n) {
      const sessionId = this.#nextSessionId;
      this.#nextSessionId = BigInt.asUintN(64, this.#nextSessionId + 1n);
      this.sessions.add(sessionId, timeoutMs, nowMs);
      c.sessionId = sessionId;
      this.#sessionConnection.set(sessionId, c.id);
      const txn = this.#propose({ sessionId, cxid: 0, nowMs, body: { type: 'createSession', timeoutMs } }, c.id);
      c.queue.push({ kind: 'handshake', zxid: txn.zxid });
      return;
    }
    // A reconnect first evicts any other connection of the session, even before the password is checked.
    const previous = this.#sessionConnection.get(request.sessionId);
    if (previous !== undefined && previous !== c.id) {
      const old = this.#connections.get(previous);
      if (old) this.#close(old, `session 0x${request.sessionId.toString(16)} moved to another connection`, 'info');
    }
    if (!passwordMatches(request.sessionId, request.passwd) || !this.sessions.isAlive(request.sessionId)) {
      this.#send(c, this.#encodeConnectResponse(c, 0, 0n, new Uint8Array(16)));
      return this.#close(c, `session 0x${request.sessionId.toString(16)} is expired or the password is wrong`, 'info');
    }
    this.sessions.touch(request.sessionId, nowMs, timeoutMs);
    c.sessionId = request.sessionId;
    c.state = 'open';
    this.#sessionConnection.set(request.sessionId, c.id);
    this.#send(c, this.#connectResponse(c, request.sessionId, timeoutMs));
  }

  #connectResponse(c: Connection, sessionId: bigint, timeoutMs: number): Uint8Array {
    c.state = 'open';
    return this.#encodeConnectResponse(c, timeoutMs, sessionId, sessionPassword(sessionId));
  }

  #encodeConnectResponse(c: Connection, timeOut: number, sessionId: bigint, passwd: Uint8Array): Uint8Array {
    const w = this.#writer;
    w.reset();
    // Mirror the client: the readOnly byte goes back only to clients that sent one.
    const readOnly = c.readOnlyByte === undefined ? undefined : false;
    writeFrame(w, (w) => writeConnectResponse(w, { protocolVersion: 0, timeOut, sessionId, passwd, readOnly }));
    return w.toBytes();
  }

  // ---- requests --------------------------------------------------------

  #request(c: Connection, frame: Uint8Array, nowMs: number): void {
    if (frame.length < 8) throw new DecodeError(`request of ${frame.length} bytes has no header`);
    // RequestHeader (int xid, int type) read in place: this runs for every request.
    const xid = int32At(frame, 0);
    const op = int32At(frame, 4);
    const body = frame.subarray(8);
    c.stats.lastOp = SHORT_OP_NAMES[opName(op) ?? ''] ?? (opName(op) ?? 'UNKN').toUpperCase().slice(0, 4);
    if (xid > 0) c.stats.lastCxid = xid;
    if (c.sessionId !== 0n) this.sessions.touch(c.sessionId, nowMs);

    if (op === OpCode.auth) return this.#auth(c, body);
    if (op === OpCode.sasl) {
      this.#send(c, this.#frame(xid, 0n, ErrorCode.AUTHFAILED));
      return this.#close(c, 'SASL is not supported', 'info');
    }
    if (WRITE_OPS.has(op)) {
      const txn = this.#propose({ sessionId: c.sessionId, cxid: xid, nowMs, body: this.#prepare(c, op, body, nowMs) }, c.id);
      c.queue.push({ kind: 'write', xid, op, zxid: txn.zxid, receivedAtMs: nowMs, closeAfter: op === OpCode.closeSession });
      return;
    }
    // Reads, and the ops answered with UNIMPLEMENTED, wait behind earlier requests of this connection.
    c.queue.push({ kind: 'read', xid, op, body, receivedAtMs: nowMs });
    this.#flush(c, nowMs);
  }

  #auth(c: Connection, body: Uint8Array): void {
    const packet = AuthPacket.decode(body);
    const credentials = packet.auth === null ? '' : Buffer.from(packet.auth).toString('utf8');
    // ZooKeeper's digest provider accepts any credentials (without a ':' the whole string is the user name).
    if (packet.scheme === 'digest' && packet.auth !== null) {
      const id = digestId(credentials);
      if (this.#options.superDigest !== undefined && id === this.#options.superDigest) addIdentity(c.identities, { scheme: 'super', id: '' });
      addIdentity(c.identities, { scheme: 'digest', id });
      // Auth replies leave at once, out of band, as in ZooKeeper.
      this.#send(c, this.#frame(Xid.AUTH, 0n, ErrorCode.OK));
      return;
    }
    if (packet.scheme === 'ip') {
      this.#send(c, this.#frame(Xid.AUTH, 0n, ErrorCode.OK));
      return;
    }
    this.#send(c, this.#frame(Xid.AUTH, 0n, ErrorCode.AUTHFAILED));
    this.#close(c, `authentication with scheme ${JSON.stringify(packet.scheme)} failed`, 'info');
  }

  /** Turns a write request into a txn body; every failure becomes an error txn, which still takes a zxid. */
  #prepare(c: Connection, op: number, body: Uint8Array, nowMs: number): TxnBody {
    const ctx = this.#prepContext(c.sessionId, c.identities, nowMs);
    try {
      if (!this.sessions.isAlive(c.sessionId)) throw new PrepError(ErrorCode.SESSIONEXPIRED);
      const r = new JuteReader(body, POOLED_BYTES);
      switch (op) {
        case OpCode.create:
          return prepareCreate(this.#pending, ctx, 'create', CreateRequest.read(r));
        case OpCode.create2:
          return prepareCreate(this.#pending, ctx, 'create2', CreateRequest.read(r));
        case OpCode.createContainer:
          return prepareCreate(this.#pending, ctx, 'createContainer', CreateRequest.read(r));
        case OpCode.createTTL:
          return prepareCreate(this.#pending, ctx, 'createTTL', CreateTTLRequest.read(r));
        case OpCode.delete:
          return prepareDelete(this.#pending, ctx, DeleteRequest.read(r));
        case OpCode.deleteContainer: {
          const { path } = DeleteContainerRequest.read(r);
          return prepareDeleteContainer(this.#pending, ctx, Buffer.from(path ?? new Uint8Array()).toString('utf8'));
        }
        case OpCode.setData:
          return prepareSetData(this.#pending, ctx, SetDataRequest.read(r));
        case OpCode.setACL:
          return prepareSetAcl(this.#pending, ctx, SetACLRequest.read(r));
        case OpCode.multi: {
          const { kind, ops } = readMultiRequest(r);
          if (kind === 'read') throw new PrepError(ErrorCode.MARSHALLINGERROR, 'read ops in multi');
          return prepareMulti(this.#pending, ctx, ops);
        }
        case OpCode.closeSession:
          this.sessions.setClosing(c.sessionId);
          return prepareCloseSession(this.#pending, this.tree, ctx);
        case OpCode.reconfig:
          throw new PrepError(ErrorCode.UNIMPLEMENTED, 'reconfig on a standalone server');
        default:
          throw new PrepError(ErrorCode.UNIMPLEMENTED);
      }
    } catch (error) {
      if (error instanceof PrepError) return { type: 'error', err: error.err };
      if (error instanceof DecodeError) return { type: 'error', err: ErrorCode.MARSHALLINGERROR };
      throw error;
    }
  }

  #writeReply(entry: Extract<QueueEntry, { kind: 'write' }>, result: ApplyResult): Uint8Array {
    const zxid = this.tree.lastZxid;
    const { xid } = entry;
    switch (result.type) {
      case 'error':
        return this.#frame(xid, zxid, result.err);
      case 'create':
        return result.op === 'create'
          ? this.#frame(xid, zxid, 0, (w) => CreateResponse.write(w, result))
          : this.#frame(xid, zxid, 0, (w) => Create2Response.write(w, result));
      case 'setData':
        return this.#frame(xid, zxid, 0, (w) => SetDataResponse.write(w, result));
      case 'setACL':
        return this.#frame(xid, zxid, 0, (w) => SetACLResponse.write(w, result));
      case 'multi':
        return this.#frame(xid, zxid, 0, (w) => writeMultiResponse(w, result.results.map(multiResult)));
      case 'delete':
      case 'check':
      case 'session':
        return this.#frame(xid, zxid, 0);
    }
  }

  /** Sends every reply at the head of the queue that is ready; reads are answered when they reach the head. */
  #flush(c: Connection, nowMs: number): void {
    while (c.queue.length > 0 && c.state !== 'closed') {
      const head = c.queue[0]!;
      if (head.kind === 'read') {
        c.queue.shift();
        this.#answerRead(c, head, nowMs);
        continue;
      }
      if (!head.reply) return;
      c.queue.shift();
      this.#send(c, head.reply);
      if (head.kind === 'write') {
        this.#recordLatency(c, head.receivedAtMs, nowMs);
        if (head.closeAfter) this.#close(c, 'session closed by the client', 'info');
      }
    }
  }

  #recordLatency(c: Connection, receivedAtMs: number, nowMs: number): void {
    const latency = Math.max(0, nowMs - receivedAtMs);
    const s = c.stats;
    s.lastLatencyMs = latency;
    s.minLatencyMs = s.replies === 0 ? latency : Math.min(s.minLatencyMs, latency);
    s.maxLatencyMs = Math.max(s.maxLatencyMs, latency);
    s.totalLatencyMs += latency;
    s.replies++;
    s.lastZxid = this.tree.lastZxid;
  }

  #answerRead(c: Connection, entry: Extract<QueueEntry, { kind: 'read' }>, nowMs: number): void {
    const { xid, op } = entry;
    if (op === OpCode.ping) {
      this.#send(c, this.#frame(Xid.PING, this.tree.lastZxid, 0));
      return;
    }
    if (!READ_OPS.has(op)) {
      // Unknown op, notification (0) or a stand-alone check (13): ZooKeeper 3.9.3+ answers UNIMPLEMENTED
      // (zxid -1, as its UnimplementedRequestProcessor sends) and hangs up.
      this.#send(c, this.#frame(xid, -1n, ErrorCode.UNIMPLEMENTED));
      return this.#close(c, `unimplemented op ${op}`, 'info');
    }
    let outcome: ReadOutcome;
    try {
      outcome = this.#reads.handle(op, entry.body, { watcher: c.id, sessionId: c.sessionId, identities: c.identities });
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      outcome = { err: ErrorCode.MARSHALLINGERROR };
    }
    if (outcome.events) this.#deliver(outcome.events, -1n);
    this.#send(c, this.#frame(xid, this.tree.lastZxid, outcome.err, outcome.body));
    this.#recordLatency(c, entry.receivedAtMs, nowMs);
  }

  // ---- watches and sessions after a commit ------------------------------

  /**
   * Turns tree events into deliveries, dropping those the watcher may not READ (ZooKeeper 3.8.4+/3.9.2+).
   * A deleted node fires its data and child watches, but one event per connection.
   */
  #fire(events: TreeEvent[]): WatchDelivery[] {
    const deliveries: WatchDelivery[] = [];
    for (const event of events) {
      let fired: WatchDelivery[];
      switch (event.type) {
        case EventType.NodeDeleted: {
          const seen = new Set<number>();
          fired = [...this.watches.trigger('data', event.path, event.type, seen), ...this.watches.trigger('child', event.path, event.type, seen)];
          break;
        }
        case EventType.NodeChildrenChanged:
          fired = this.watches.trigger('child', event.path, event.type);
          break;
        default:
          fired = this.watches.trigger('data', event.path, event.type);
      }
      for (const d of fired) {
        const c = this.#connections.get(d.watcher);
        if (c && hasPermission(event.acl, c.identities, Perms.READ)) deliveries.push(d);
      }
    }
    return deliveries;
  }

  /** Notifications go out at once: before any later reply on that connection can show the change. */
  #deliver(deliveries: WatchDelivery[], zxid: bigint): void {
    for (const d of deliveries) {
      const c = this.#connections.get(d.watcher);
      if (!c || c.state === 'closed') continue;
      this.#send(
        c,
        this.#frame(Xid.NOTIFICATION, zxid, 0, (w) => WatcherEvent.write(w, { type: d.type, state: KeeperState.SyncConnected, path: d.path })),
      );
    }
  }

  #afterSessionTxn(txn: Txn): void {
    if (txn.body.type !== 'closeSession') return;
    this.sessions.remove(txn.sessionId);
    const conn = this.#sessionConnection.get(txn.sessionId);
    const c = conn === undefined ? undefined : this.#connections.get(conn);
    // A client-requested close gets its reply first (closeAfter); an expired session is just cut off.
    if (c && !c.queue.some((e) => e.kind === 'write' && e.closeAfter)) this.#close(c, `session 0x${txn.sessionId.toString(16)} expired`, 'info');
    this.#sessionConnection.delete(txn.sessionId);
  }

  #reapContainers(nowMs: number): void {
    const candidates: string[] = [];
    for (const path of this.tree.containerPaths()) {
      const node = this.tree.get(path)!;
      if (node.children.size === 0 && node.cversion > 0) candidates.push(path);
    }
    for (const path of this.tree.ttlPaths()) {
      const node = this.tree.get(path)!;
      const ttl = Number(node.ephemeralOwner & TTL_MASK);
      if (node.children.size === 0 && nowMs - Number(node.mtime) > ttl) candidates.push(path);
    }
    for (const path of candidates) {
      try {
        const body = prepareDeleteContainer(this.#pending, this.#prepContext(0n, [], nowMs), path);
        this.#propose({ sessionId: 0n, cxid: 0, nowMs, body });
      } catch (error) {
        if (!(error instanceof PrepError)) throw error; // raced with a pending create or delete: try next round
      }
    }
  }

  describeError(code: number): string {
    return errorName(code) ?? String(code);
  }
}

function multiResult(result: ApplyResult): MultiResult {
  switch (result.type) {
    case 'create':
      return result.op === 'create' ? { type: OpCode.create, path: result.path } : { type: OpCode.create2, path: result.path, stat: result.stat };
    case 'delete':
      return { type: OpCode.delete };
    case 'check':
      return { type: OpCode.check };
    case 'setData':
      return { type: OpCode.setData, stat: result.stat };
    case 'error':
      return { type: OpCode.error, err: result.err };
    default:
      throw new Error(`unexpected ${result.type} inside multi`);
  }
}

/** Reader options of every write request: decoded data lives in pooled slabs. */
const POOLED_BYTES = { copyBytes: pooledCopy } as const;
