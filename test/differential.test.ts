/**
 * Raw-bytes differential test: scripted request sequences run against a Corral standalone server and
 * against Apache ZooKeeper (Debian 3.8.0), both freshly started. Each connection's decoded frames
 * (replies and notifications, in arrival order) are normalized for what legitimately differs and
 * compared exactly. Every normalization cites the fact sheet (/work/shared/docs/zookeeper-protocol.md).
 *
 * Uses the BUILT server: `npm run build -w @corral/protocol -w @corral/server -w @corral/cli` first.
 * Set DIFF_DUMP=1 to print each scenario's normalized ZooKeeper transcript.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
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
  FrameReader,
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
  encodeFrame,
  opName,
  readConnectResponse,
  readMultiResponse,
  writeConnectRequest,
  writeMultiRequest,
  type ACL,
  type Codec,
  type MultiOp,
} from '@corral/protocol';
import { fourLetterWord, startCorral, startZooKeeper, runsHere, zookeeperAvailable, type ServerProcess } from '../packages/testing/src/index.js';

// In CI a missing ZooKeeper is a broken environment, not a reason to skip.
const zookeeperRuns = runsHere(zookeeperAvailable(), 'the Corral-vs-ZooKeeper differential test');

// ---- ACL helpers ----------------------------------------------------------------------------

const OPEN: ACL[] = [{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }];
const world = (perms: number): ACL => ({ perms, id: { scheme: 'world', id: 'anyone' } });
const digestAcl = (perms: number, id: string): ACL => ({ perms, id: { scheme: 'digest', id } });
const ipAcl = (perms: number, id: string): ACL => ({ perms, id: { scheme: 'ip', id } });
const authAcl = (perms: number): ACL => ({ perms, id: { scheme: 'auth', id: '' } });
/** user alice, password secret (fact sheet §5.5 example). */
const ALICE = 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=';
/** super:super-secret — configured as the super digest on both servers of the main pair. */
const SUPER_DIGEST = 'super:2KCAOlea08rlrYvOZvQwvrr82Jc=';

const utf8 = (s: string) => new TextEncoder().encode(s);

// ---- a minimal wire client that records every frame -----------------------------------------

type Json = unknown;

interface Reply {
  xid: number;
  zxid: bigint;
  err: number;
  body?: Json;
}

const REPLY_TIMEOUT_MS = 5000;

function decodeBody(op: number, r: JuteReader): Json {
  const read = <T>(codec: Codec<T>) => codec.read(r);
  switch (op) {
    case OpCode.create:
      return read(CreateResponse);
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL:
      return read(Create2Response);
    case OpCode.exists:
      return read(ExistsResponse);
    case OpCode.getData:
      return read(GetDataResponse);
    case OpCode.setData:
      return read(SetDataResponse);
    case OpCode.getACL:
      return read(GetACLResponse);
    case OpCode.setACL:
      return read(SetACLResponse);
    case OpCode.getChildren:
      return read(GetChildrenResponse);
    case OpCode.getChildren2:
      return read(GetChildren2Response);
    case OpCode.sync:
      return read(SyncResponse);
    case OpCode.multi:
    case OpCode.multiRead:
      return readMultiResponse(r);
    case OpCode.getEphemerals:
      return read(GetEphemeralsResponse);
    case OpCode.getAllChildrenNumber:
      return read(GetAllChildrenNumberResponse);
    case OpCode.addWatch:
      return read(ErrorResponse);
    case OpCode.whoAmI:
      return read(WhoAmIResponse);
    default:
      return undefined; // ops answered with a bare header
  }
}

/** One connection; `log` is what gets compared. */
class Conn {
  readonly name: string;
  readonly log: Json[] = [];
  sessionId = 0n;
  passwd: Uint8Array = new Uint8Array(16);
  isClosed = false;
  #socket!: Socket;
  #reader = new FrameReader({ maxFrameLength: 1 << 26 });
  #handshaking = false;
  #pending: { xid: number; op: number; resolve: (r: Reply | undefined) => void }[] = [];
  #closeWaiters: (() => void)[] = [];
  #handshakeResolve: ((ok: boolean) => void) | undefined;
  #nextXid = 1;
  readonly #run: Run;

  constructor(run: Run, name: string) {
    this.#run = run;
    this.name = name;
  }

  /** Logs one observation, unless the scenario is over (cleanup traffic is not compared). */
  record(entry: Json): void {
    if (!this.#run.frozen) this.log.push(entry);
  }

  async open(host: string, port: number): Promise<void> {
    this.#socket = connect({ host, port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      this.#socket.once('connect', resolve);
      this.#socket.once('error', reject);
    });
    this.#socket.on('error', () => {});
    this.#socket.on('data', (chunk) => this.#onData(chunk));
    this.#socket.on('close', () => {
      this.isClosed = true;
      this.record({ closed: true });
      for (const p of this.#pending.splice(0)) p.resolve(undefined);
      this.#handshakeResolve?.(false);
      for (const w of this.#closeWaiters.splice(0)) w();
    });
  }

  /** Sends a ConnectRequest; resolves true when a ConnectResponse arrived, false if the server closed. */
  handshake(options: { timeoutMs?: number; sessionId?: bigint; passwd?: Uint8Array; lastZxidSeen?: bigint; readOnly?: boolean | undefined } = {}): Promise<boolean> {
    this.#handshaking = true;
    const frame = encodeFrame((w) =>
      writeConnectRequest(w, {
        protocolVersion: 0,
        lastZxidSeen: options.lastZxidSeen ?? 0n,
        timeOut: options.timeoutMs ?? 30000,
        sessionId: options.sessionId ?? 0n,
        passwd: options.passwd ?? new Uint8Array(16),
        readOnly: 'readOnly' in options ? options.readOnly : false,
      }),
    );
    const done = new Promise<boolean>((resolve) => {
      this.#handshakeResolve = resolve;
      setTimeout(() => resolve(false), REPLY_TIMEOUT_MS).unref();
    });
    this.#socket.write(frame);
    return done;
  }

  #onData(chunk: Buffer): void {
    for (const frame of this.#reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))) this.#onFrame(frame);
  }

  #onFrame(frame: Uint8Array): void {
    if (this.#handshaking) {
      this.#handshaking = false;
      const response = readConnectResponse(new JuteReader(frame));
      if (response.timeOut > 0) {
        this.sessionId = response.sessionId;
        this.passwd = response.passwd ?? new Uint8Array(16);
        // A session keeps the name of the connection that created it.
        if (!this.#run.sessions.has(response.sessionId)) {
          this.#run.sessions.set(response.sessionId, { name: this.name, passwd: this.passwd, closed: false });
        }
      }
      this.record({
        connect: {
          length: frame.length,
          protocolVersion: response.protocolVersion,
          timeOut: response.timeOut,
          sessionId: response.sessionId,
          passwd: response.timeOut > 0 ? `${response.passwd?.length} bytes` : Buffer.from(response.passwd ?? []).toString('hex'),
          readOnly: response.readOnly,
        },
      });
      this.#handshakeResolve?.(true);
      return;
    }
    const r = new JuteReader(frame);
    const header = ReplyHeader.read(r);
    if (header.xid === Xid.NOTIFICATION) {
      this.record({ event: WatcherEvent.read(r), zxid: header.zxid });
      return;
    }
    const index = this.#pending.findIndex((p) => p.xid === header.xid);
    const pending = index >= 0 ? this.#pending.splice(index, 1)[0]! : undefined;
    const op = pending?.op ?? -999;
    const entry: Record<string, Json> = { op: opName(op) ?? op, xid: header.xid, zxid: header.zxid, err: header.err };
    if (header.err === 0) {
      try {
        const body = decodeBody(op, r);
        if (body !== undefined) entry.body = body;
        if (r.remaining > 0) entry.trailingBytes = r.remaining;
      } catch (error) {
        entry.decodeError = (error as Error).message;
      }
    } else if (r.remaining > 0) {
      entry.errorBodyBytes = r.remaining;
    }
    if (index > 0) entry.outOfOrder = true; // only auth replies may overtake (§3.4)
    if (!pending) entry.unexpected = true;
    this.record(entry);
    pending?.resolve({ xid: header.xid, zxid: header.zxid, err: header.err, body: entry.body });
  }

  /** Sends one request and waits for its reply (undefined if the connection closed or nothing came). */
  async request(op: number, write?: (w: JuteWriter) => void, xid?: number): Promise<Reply | undefined> {
    const x = xid ?? (op === OpCode.ping ? Xid.PING : op === OpCode.auth ? Xid.AUTH : this.#nextXid++);
    if (this.isClosed) {
      this.record({ sentOnClosed: opName(op) ?? op });
      return undefined;
    }
    const frame = encodeFrame((w) => {
      RequestHeader.write(w, { xid: x, type: op });
      write?.(w);
    });
    const reply = new Promise<Reply | undefined>((resolve) => {
      this.#pending.push({ xid: x, op, resolve });
      setTimeout(() => {
        const i = this.#pending.findIndex((p) => p.resolve === resolve);
        if (i < 0) return;
        this.#pending.splice(i, 1);
        this.record({ noReply: { op: opName(op) ?? op, xid: x } });
        resolve(undefined);
      }, REPLY_TIMEOUT_MS).unref();
    });
    this.#socket.write(frame);
    return reply;
  }

  /** Waits until the server closes this connection; logs nothing if it stays open. */
  async waitClosed(ms = 3000): Promise<boolean> {
    if (this.isClosed) return true;
    const closed = new Promise<boolean>((resolve) => this.#closeWaiters.push(() => resolve(true)));
    return Promise.race([closed, sleep(ms).then(() => false)]);
  }

  destroy(): void {
    this.#socket.destroy();
  }

  // ---- typed requests --------------------------------------------------------------------

  create(path: string, data: string | null = null, acl: ACL[] = OPEN, flags = 0, op: number = OpCode.create) {
    return this.request(op, (w) => CreateRequest.write(w, { path, data: data === null ? null : utf8(data), acl, flags }));
  }
  create2(path: string, data: string | null = null, acl: ACL[] = OPEN, flags = 0) {
    return this.create(path, data, acl, flags, OpCode.create2);
  }
  createTTL(path: string, ttl: bigint, flags = 5, data: string | null = null) {
    return this.request(OpCode.createTTL, (w) => CreateTTLRequest.write(w, { path, data: data === null ? null : utf8(data), acl: OPEN, flags, ttl }));
  }
  delete(path: string, version = -1) {
    return this.request(OpCode.delete, (w) => DeleteRequest.write(w, { path, version }));
  }
  setData(path: string, data: string | null, version = -1) {
    return this.request(OpCode.setData, (w) => SetDataRequest.write(w, { path, data: data === null ? null : utf8(data), version }));
  }
  getData(path: string, watch = false) {
    return this.request(OpCode.getData, (w) => GetDataRequest.write(w, { path, watch }));
  }
  exists(path: string, watch = false) {
    return this.request(OpCode.exists, (w) => ExistsRequest.write(w, { path, watch }));
  }
  getChildren(path: string, watch = false) {
    return this.request(OpCode.getChildren, (w) => GetChildrenRequest.write(w, { path, watch }));
  }
  getChildren2(path: string, watch = false) {
    return this.request(OpCode.getChildren2, (w) => GetChildren2Request.write(w, { path, watch }));
  }
  getACL(path: string) {
    return this.request(OpCode.getACL, (w) => GetACLRequest.write(w, { path }));
  }
  setACL(path: string, acl: ACL[], version = -1) {
    return this.request(OpCode.setACL, (w) => SetACLRequest.write(w, { path, acl, version }));
  }
  multi(ops: MultiOp[]) {
    return this.request(OpCode.multi, (w) => writeMultiRequest(w, ops));
  }
  multiRead(ops: MultiOp[]) {
    return this.request(OpCode.multiRead, (w) => writeMultiRequest(w, ops));
  }
  addWatch(path: string, mode: number) {
    return this.request(OpCode.addWatch, (w) => AddWatchRequest.write(w, { path, mode }));
  }
  checkWatches(path: string, type: number) {
    return this.request(OpCode.checkWatches, (w) => CheckWatchesRequest.write(w, { path, type }));
  }
  removeWatches(path: string, type: number) {
    return this.request(OpCode.removeWatches, (w) => RemoveWatchesRequest.write(w, { path, type }));
  }
  setWatches(relativeZxid: bigint, lists: { data?: string[]; exist?: string[]; child?: string[] }, xid?: number) {
    return this.request(
      OpCode.setWatches,
      (w) => SetWatches.write(w, { relativeZxid, dataWatches: lists.data ?? [], existWatches: lists.exist ?? [], childWatches: lists.child ?? [] }),
      xid,
    );
  }
  setWatches2(relativeZxid: bigint, lists: { data?: string[]; exist?: string[]; child?: string[]; persistent?: string[]; recursive?: string[] }) {
    return this.request(OpCode.setWatches2, (w) =>
      SetWatches2.write(w, {
        relativeZxid,
        dataWatches: lists.data ?? [],
        existWatches: lists.exist ?? [],
        childWatches: lists.child ?? [],
        persistentWatches: lists.persistent ?? [],
        persistentRecursiveWatches: lists.recursive ?? [],
      }),
    );
  }
  auth(scheme: string, credentials: string) {
    return this.request(OpCode.auth, (w) => AuthPacket.write(w, { type: 0, scheme, auth: utf8(credentials) }));
  }
  whoAmI() {
    return this.request(OpCode.whoAmI);
  }
  getEphemerals(prefixPath: string) {
    return this.request(OpCode.getEphemerals, (w) => GetEphemeralsRequest.write(w, { prefixPath }));
  }
  getAllChildrenNumber(path: string) {
    return this.request(OpCode.getAllChildrenNumber, (w) => GetAllChildrenNumberRequest.write(w, { path }));
  }
  sync(path: string) {
    return this.request(OpCode.sync, (w) => SyncRequest.write(w, { path }));
  }
  ping() {
    return this.request(OpCode.ping);
  }
  closeSession() {
    return this.request(OpCode.closeSession);
  }
}

// ---- multi op builders -------------------------------------------------------------------------

const mCreate = (path: string, data: string | null = null, flags = 0, acl: ACL[] = OPEN): MultiOp => ({
  type: OpCode.create,
  request: { path, data: data === null ? null : utf8(data), acl, flags },
});
const mCreate2 = (path: string, data: string | null = null, flags = 0): MultiOp => ({
  type: OpCode.create2,
  request: { path, data: data === null ? null : utf8(data), acl: OPEN, flags },
});
const mDelete = (path: string, version = -1): MultiOp => ({ type: OpCode.delete, request: { path, version } });
const mSet = (path: string, data: string, version = -1): MultiOp => ({ type: OpCode.setData, request: { path, data: utf8(data), version } });
const mCheck = (path: string, version: number): MultiOp => ({ type: OpCode.check, request: { path, version } });
const mGetData = (path: string): MultiOp => ({ type: OpCode.getData, request: { path, watch: false } });
const mGetChildren = (path: string): MultiOp => ({ type: OpCode.getChildren, request: { path, watch: false } });

// ---- a scenario run against one server -----------------------------------------------------------

class Run {
  readonly server: ServerProcess;
  readonly p: string;
  readonly conns: Conn[] = [];
  readonly sessions = new Map<bigint, { name: string; passwd: Uint8Array; closed: boolean }>();
  /** A zxid taken at the start: all zxids are reported relative to it. */
  base = 0n;
  /** Set when the scenario is over: from then on nothing is logged. */
  frozen = false;

  constructor(server: ServerProcess, prefix: string) {
    this.server = server;
    this.p = prefix;
  }

  /** Opens a named connection with a new session (or the given one). */
  async open(name: string, options: Parameters<Conn['handshake']>[0] = {}): Promise<Conn> {
    const conn = new Conn(this, name);
    await conn.open(this.server.host, this.server.port);
    this.conns.push(conn);
    await conn.handshake(options);
    return conn;
  }

  /** Pings every open connection: notifications caused by earlier replies are then in their logs (§3.4). */
  async barrier(): Promise<void> {
    for (const c of this.conns) if (!c.isClosed) await c.ping();
  }

  /** Closes every session this run created (so none expires later and takes a zxid), then every socket. */
  async cleanup(): Promise<void> {
    this.frozen = true;
    for (const c of this.conns) {
      if (c.isClosed || c.sessionId === 0n || this.sessions.get(c.sessionId)?.closed) continue;
      this.sessions.get(c.sessionId)!.closed = true;
      await c.closeSession();
    }
    for (const [sessionId, s] of this.sessions) {
      if (s.closed) continue;
      s.closed = true;
      const conn = new Conn(this, 'cleanup');
      await conn.open(this.server.host, this.server.port);
      if (await conn.handshake({ sessionId, passwd: s.passwd })) await conn.closeSession();
      conn.destroy();
    }
    for (const c of this.conns) c.destroy();
  }
}

type Scenario = (run: Run) => Promise<void>;

// ---- normalization --------------------------------------------------------------------------------

interface Versions {
  /** e.g. [3, 8, 0] */
  zk: number[];
}

const atLeast = (v: number[], ...want: number[]) => {
  for (let i = 0; i < want.length; i++) {
    if ((v[i] ?? 0) !== want[i]) return (v[i] ?? 0) > want[i]!;
  }
  return true;
};

function normalize(run: Run, versions: Versions): Record<string, Json> {
  const sessionNames = new Map<bigint, string>();
  for (const [id, s] of run.sessions) sessionNames.set(id, `session:${s.name}`);
  const zxid = (z: bigint): Json => (z <= 0n ? Number(z) : z >= run.base ? `zxid+${z - run.base}` : 'zxid:before');
  const walk = (value: Json, key = ''): Json => {
    if (typeof value === 'bigint') {
      if (key === 'czxid' || key === 'mzxid' || key === 'pzxid' || key === 'zxid') return zxid(value);
      // Wall-clock times differ between the two servers; 0 (the built-in nodes) must stay 0.
      if (key === 'ctime' || key === 'mtime') return value === 0n ? 0 : 'time';
      if (key === 'ephemeralOwner' || key === 'sessionId') return value === 0n ? 0 : (sessionNames.get(value) ?? 'session:unknown');
      return value.toString();
    }
    if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('utf8')}`;
    if (Array.isArray(value)) {
      const items = value.map((v) => walk(v, key));
      // Children and ephemerals lists are unordered (§4.2, §11.10).
      if (key === 'children' || key === 'ephemerals') return [...items].sort();
      return items;
    }
    if (value && typeof value === 'object') {
      const out: Record<string, Json> = {};
      for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = walk(v, k);
      return out;
    }
    return value;
  };
  const result: Record<string, Json> = {};
  for (const c of run.conns) {
    result[c.name] = c.log.map((entry) => {
      const e = entry as Record<string, Json>;
      if ('event' in e) {
        // Version table row 1: the notification zxid is -1 on 3.8.x and the txn's zxid on 3.9.x (Corral
        // behaves like 3.9; setWatches catch-up events are -1 on both). Compared only against a 3.9 server.
        if (!atLeast(versions.zk, 3, 9)) return { event: walk(e.event) };
        return { event: walk(e.event), zxid: walk(e.zxid, 'zxid') };
      }
      if ('errorBodyBytes' in e) {
        // §3.3: "In a few internal failure paths a body may follow anyway; clients must ignore any bytes after
        // the header when err != 0". ZooKeeper does so e.g. for a multiRead holding a write op (the empty
        // MultiResponse it had started). Corral never does: that is checked by corralSendsNoErrorBodies().
        delete e.errorBodyBytes;
      }
      if (e.op === 'multi' && Array.isArray(e.body) && !atLeast(versions.zk, 3, 8, 2)) {
        // Version table row "create2 inside multi": before 3.8.2 ZooKeeper answers a create2 sub-op as a plain
        // create (type 1, path only); 3.8.2+/3.9 (and Corral) answer type 15 with path and Stat.
        e.body = (e.body as { type: number; path?: string }[]).map((r) => (r.type === OpCode.create2 ? { type: OpCode.create, path: r.path } : r));
      }
      return walk(e);
    });
  }
  return result;
}

// ---- scenarios ----------------------------------------------------------------------------------------

const scenarios: Record<string, Scenario> = {
  async 'basic CRUD and Stat maintenance'(s) {
    const a = await s.open('a');
    const P = s.p;
    await a.create(P, 'root of scenario');
    await a.create2(`${P}/n`, 'hello');
    await a.getData(`${P}/n`);
    await a.exists(`${P}/n`);
    await a.exists(`${P}/missing`);
    await a.setData(`${P}/n`, 'hello');
    await a.setData(`${P}/n`, 'world', 1);
    await a.setData(`${P}/n`, 'x', 7);
    await a.getData(`${P}/n`);
    await a.create(`${P}/null`, null);
    await a.create(`${P}/empty`, '');
    await a.getData(`${P}/null`);
    await a.getData(`${P}/empty`);
    await a.setData(`${P}/empty`, null);
    await a.getData(`${P}/empty`);
    for (const name of ['c1', 'c2', 'c3']) await a.create(`${P}/n/${name}`);
    await a.delete(`${P}/n/c2`);
    await a.getChildren2(`${P}/n`);
    await a.getChildren(`${P}/n`);
    await a.delete(`${P}/n`);
    await a.delete(`${P}/n/c1`, 3);
    await a.delete(`${P}/n/c1`, 0);
    await a.getData(P);
    await a.getAllChildrenNumber(P);
    await a.getAllChildrenNumber(`${P}/missing`);
    await a.sync(P);
    await a.ping();
  },

  async 'built-in nodes: root, /zookeeper, quota and config'(s) {
    const a = await s.open('a');
    await a.getData('/zookeeper');
    await a.getData('/zookeeper/quota');
    await a.getACL('/zookeeper/config');
    await a.getChildren('/zookeeper');
    await a.getACL('/');
    await a.delete('/zookeeper');
    await a.delete('/zookeeper/quota');
    await a.delete('/zookeeper/config');
    await a.delete('/');
    await a.create('/');
    await a.create('/zookeeper');
    await a.setData('/zookeeper/config', 'x');
  },

  async 'create errors and check order'(s) {
    const a = await s.open('a');
    const P = s.p;
    await a.create(P);
    await a.create(`${P}/ro`, 'x', [world(Perms.READ | Perms.ADMIN)]);
    await a.create(`${P}/x`);
    await a.create(`${P}/x`);
    await a.create(`${P}/missing/child`);
    await a.create('noslash');
    await a.create('');
    await a.create(`${P}/a\u0000b`);
    await a.create(`${P}/x/`);
    await a.create(`${P}/x/.`);
    await a.create(`${P}/x/..`);
    await a.create(`${P}/x//y`);
    await a.create(`${P}/x/a\u0001`);
    await a.create(`${P}/x/a\u007f`);
    await a.create(`${P}/x/ok.name`);
    await a.create(`${P}/x/...`);
    await a.create(`${P}/ro/child`);
    await a.create(`${P}/ro/.`);
    await a.create(`${P}/missing/.`);
    await a.create(`${P}/missing/x`, null, []);
    await a.create(`${P}/x/y`, null, []);
    await a.create(`${P}/ro/y`, null, []);
    await a.create(`${P}/x/e`, null, OPEN, 1);
    await a.create(`${P}/x/e/child`);
    await a.create(`${P}/x/e/`, null, OPEN, 2);
  },

  async 'invalid create flags and TTL/container ops with extended types disabled'(s) {
    const a = await s.open('a');
    const P = s.p;
    await a.create(P);
    for (const flags of [-1, 7, 42]) await a.create(`${P}/f`, null, OPEN, flags);
    await a.create(`${P}/ttl`, null, OPEN, 5);
    await a.create(`${P}/ttl`, null, OPEN, 6);
    await a.createTTL(`${P}/ttl`, 1000n);
    await a.createTTL(`${P}/ttl`, 1000n, 6);
    await a.createTTL(`${P}/ttl`, 0n);
    await a.createTTL(`${P}/ttl`, 1000n, 0);
    await a.createTTL('bad', 1000n);
    await a.create(`${P}/c`, null, OPEN, 4, OpCode.createContainer);
    await a.exists(`${P}/c`);
    await a.create(`${P}/c2`, null, OPEN, 4, OpCode.create2);
    await a.exists(`${P}/c2`);
    await a.create(`${P}/c`, null, OPEN, 4, OpCode.createContainer);
    await a.create(`${P}/c/kid`);
    await a.getChildren2(`${P}/c`);
    await a.create(`${P}/c0`, 'x', OPEN, 0, OpCode.createContainer);
    await a.create(`${P}/c1`, 'x', OPEN, 1, OpCode.createContainer);
    await a.create(`${P}/c2-`, 'x', OPEN, 2, OpCode.createContainer);
    await a.create(`${P}/c5`, 'x', OPEN, 5, OpCode.createContainer);
    await a.create(`${P}/p4`, 'x', OPEN, 4, OpCode.create);
    await a.getChildren(P);
  },

  async 'delete errors and check order'(s) {
    const a = await s.open('a');
    const P = s.p;
    await a.create(P);
    await a.create(`${P}/ro`, 'x', [world(Perms.READ | Perms.ADMIN | Perms.CREATE)]);
    await a.create(`${P}/ro/kid`);
    await a.create(`${P}/open`);
    await a.create(`${P}/open/kid`);
    await a.delete(`${P}/ro/missing`);
    await a.delete(`${P}/ro/kid`);
    await a.delete(`${P}/missing/x`);
    await a.delete(`${P}/open/missing`);
    await a.delete(`${P}/open`, 9);
    await a.delete(`${P}/open`);
    await a.delete('noslash');
    await a.delete(`${P}/open/a\u0000`);
    await a.delete(`${P}/open/`);
    await a.delete(`${P}/open/.`);
    await a.delete(`${P}/open//kid`);
    await a.delete(`${P}/ro/.`);
    await a.delete(`${P}/open/kid`, 1);
    await a.delete(`${P}/open/kid`, 0);
  },

  async 'setData, setACL and reads on protected and invalid paths'(s) {
    const a = await s.open('a');
    const P = s.p;
    await a.create(P);
    await a.create(`${P}/ro`, 'x', [world(Perms.READ | Perms.ADMIN)]);
    await a.create(`${P}/noread`, 'x', [world(Perms.WRITE | Perms.ADMIN | Perms.DELETE | Perms.CREATE)]);
    await a.setData(`${P}/ro`, 'y', 5);
    await a.setData(`${P}/ro/`, 'y');
    await a.setData(`${P}/missing`, 'y');
    await a.setData(`${P}/noread`, 'y', 3);
    await a.setData(`${P}/noread`, 'y', 0);
    await a.getData(`${P}/noread`);
    await a.getChildren(`${P}/noread`);
    await a.getChildren2(`${P}/noread`);
    await a.getAllChildrenNumber(`${P}/noread`);
    await a.getACL(`${P}/noread`);
    await a.getData(`${P}/ro/`);
    await a.getData(`${P}//ro`);
    await a.exists(`${P}/ro/`);
    await a.exists(`${P}/a\u0000`);
    await a.exists(`${P}/a\u0000`, true);
    await a.setACL(`${P}/missing`, []);
    await a.setACL(`${P}/missing`, OPEN);
    await a.setACL(`${P}/ro/`, OPEN);
    await a.setACL(`${P}/ro`, OPEN, 3);
    await a.setACL(`${P}/ro`, [world(Perms.READ)], 0);
    await a.setACL(`${P}/ro`, OPEN, 1);
    await a.setACL(`${P}/ro`, [world(Perms.ALL), world(Perms.ALL)]);
    await a.getACL(`${P}/ro`);
    await a.getData(`${P}/ro`);
  },

  async 'invalid ACLs'(s) {
    const a = await s.open('a');
    const P = s.p;
    await a.create(P);
    const bad: ACL[][] = [
      [],
      [{ perms: Perms.ALL, id: { scheme: 'world', id: 'bob' } }],
      [{ perms: Perms.ALL, id: { scheme: 'nope', id: 'x' } }],
      [{ perms: Perms.ALL, id: { scheme: 'super', id: '' } }],
      [digestAcl(Perms.ALL, 'alice')],
      [digestAcl(Perms.ALL, 'alice:')],
      [digestAcl(Perms.ALL, 'a:b:c')],
      [ipAcl(Perms.ALL, '1.2.3')],
      [ipAcl(Perms.ALL, '1.2.3.4/33')],
      [ipAcl(Perms.ALL, '1.2.3.4/')],
      [ipAcl(Perms.ALL, '300.1.1.1')],
      [ipAcl(Perms.ALL, '1.2.3.4/8/9')],
      [ipAcl(Perms.ALL, '1.2.3.4/x')],
      [ipAcl(Perms.ALL, '1.2.3.-1')],
      [ipAcl(Perms.ALL, '')],
      [authAcl(Perms.ALL)],
      [world(Perms.ALL), authAcl(Perms.READ)],
    ];
    for (const [i, acl] of bad.entries()) await a.create(`${P}/bad${i}`, null, acl);
    const good: ACL[][] = [
      [ipAcl(Perms.ALL, '1.2.3.4/0')],
      // No IPv6 here: 3.8.0 rejects IPv6 ACL ids (its IPAuthenticationProvider only parses IPv4, "TODO
      // Write the v6addr2Bytes"); the fact sheet (§5.5) lists IPv6 as valid, as Corral does.
      [ipAcl(Perms.ALL, '10.0.0.0/8'), ipAcl(Perms.READ, '127.0.0.1')],
      [ipAcl(Perms.READ, '010.000.0.1/+8')],
      [ipAcl(Perms.READ, '127.0.0.1/32'), ipAcl(Perms.READ, '127.0.0.1/32'), world(Perms.READ)],
      [digestAcl(Perms.ALL, ':x')],
      [{ perms: 0, id: { scheme: 'world', id: 'anyone' } }],
      [{ perms: 0x7fffffff, id: { scheme: 'world', id: 'anyone' } }],
    ];
    for (const [i, acl] of good.entries()) {
      await a.create(`${P}/good${i}`, null, acl);
      await a.getACL(`${P}/good${i}`);
    }
  },

  async 'sequential creates'(s) {
    const a = await s.open('a');
    const P = s.p;
    await a.create(P);
    await a.create(`${P}/q`);
    for (const name of ['a', 'b', 'c']) await a.create(`${P}/q/${name}`);
    await a.delete(`${P}/q/b`);
    await a.exists(`${P}/q`);
    await a.create(`${P}/q/lock-`, 'x', OPEN, 2);
    await a.create2(`${P}/q/lock-`, 'y', OPEN, 3);
    await a.create(`${P}/q/`, null, OPEN, 2);
    await a.create(`${P}/q/lock-0000000005`);
    await a.create(`${P}/q/lock-`, null, OPEN, 2);
    await a.create(`${P}/q/lock-`, null, OPEN, 2);
    await a.create(`${P}/q/missing/x-`, null, OPEN, 2);
    await a.getChildren2(`${P}/q`);
    await a.getEphemerals(`${P}/q/`);
    await a.multi([mCreate(`${P}/q/m-`, null, 2), mCreate(`${P}/q/m-`, null, 2)]);
    await a.multi([mCreate(`${P}/q/m-`, null, 2), mDelete(`${P}/q/nope`)]);
    await a.create(`${P}/q/after-`, null, OPEN, 2);
  },

  async 'multi: success, failures, empty, create2, marshalling errors'(s) {
    const a = await s.open('a');
    const b = await s.open('b');
    const P = s.p;
    await a.create(P);
    await b.getChildren(P, true);
    await b.exists(`${P}/a`, true);
    await a.multi([mCreate(`${P}/a`, 'A'), mCreate(`${P}/a/b`), mCreate2(`${P}/c`, 'C'), mSet(`${P}/a`, 'A2', 0), mCheck(`${P}/a`, 1), mDelete(`${P}/c`)]);
    await s.barrier();
    await a.getData(`${P}/a`);
    await b.getData(`${P}/a`, true);
    await a.multi([mCreate(`${P}/x`), mSet(`${P}/a`, 'no'), mDelete(`${P}/missing`), mCreate(`${P}/y`), mCheck(`${P}/a`, 0)]);
    await a.multi([mCreate(`${P}/x/y`), mCreate(`${P}/x`)]);
    await a.multi([mCreate(`${P}/x`), mCreate(`${P}/x`)]);
    await a.multi([mCreate(`${P}/x`), mDelete(`${P}/x`), mDelete(`${P}/x`)]);
    await a.multi([mCheck(`${P}/a`, 5)]);
    await a.multi([mCheck(`${P}/missing`, 0)]);
    await a.multi([mCheck(`${P}/a/`, 0)]);
    await a.multi([mCreate(`${P}/ok`), mCreate(`${P}/bad`, null, 9)]);
    await a.multi([mCreate(`${P}/ok`), mCreate(`${P}/bad`, null, 5)]);
    await a.multi([mCreate(`${P}/ok`), { type: OpCode.createTTL, request: { path: `${P}/t`, data: null, acl: OPEN, flags: 5, ttl: 100n } }]);
    await a.multi([{ type: OpCode.createContainer, request: { path: `${P}/mc`, data: null, acl: OPEN, flags: 4 } }]);
    await a.exists(`${P}/ok`);
    await a.multi([mCreate(`${P}/ok`), mDelete(P)]);
    await a.multi([]);
    await a.multi([mCreate(`${P}/x`), mGetData(P)]);
    await a.multi([mGetData(P)]);
    await a.multi([mCreate2(`${P}/two`, 'data')]);
    await a.multi([mCreate(`${P}/e`, null, 1), mCreate(`${P}/e/child`)]);
    await s.barrier();
    await a.getChildren(P);
  },

  async 'multiRead: per-op errors'(s) {
    const a = await s.open('a');
    const P = s.p;
    await a.create(P, 'data');
    await a.create(`${P}/c1`);
    await a.create(`${P}/secret`, 's', [digestAcl(Perms.ALL, ALICE)]);
    await a.multiRead([mGetData(P), mGetData(`${P}/missing`), mGetChildren(`${P}/secret`), mGetChildren(P), mGetData(`${P}/secret`), mGetChildren(`${P}/c1`)]);
    await a.multiRead([]);
    await a.multiRead([mGetData(P), mCreate(`${P}/x`)]);
    await a.multiRead([mCreate(`${P}/x`)]);
    await a.multiRead([{ type: OpCode.getData, request: { path: P, watch: true } }]);
    await a.setData(P, 'changed');
    await a.ping();
  },

  async 'standard watches across two connections'(s) {
    const a = await s.open('a');
    const b = await s.open('b');
    const P = s.p;
    await a.create(P);
    await b.exists(`${P}/w`, true);
    await b.exists(`${P}/w`, true);
    await a.create(`${P}/w`, 'v0');
    await s.barrier();
    await a.create(`${P}/w2`);
    await a.delete(`${P}/w2`);
    await s.barrier();
    await b.getData(`${P}/w`, true);
    await a.getData(`${P}/w`, true);
    await a.setData(`${P}/w`, 'v0');
    await s.barrier();
    await a.setData(`${P}/w`, 'v1');
    await s.barrier();
    await b.getChildren(`${P}/w`, true);
    await a.create(`${P}/w/c`);
    await s.barrier();
    await a.create(`${P}/w/d`);
    await s.barrier();
    await b.getChildren(P, true);
    await b.getData(`${P}/w/c`, true);
    await b.getChildren(`${P}/w/c`, true);
    await b.exists(`${P}/w/c`, true);
    await a.delete(`${P}/w/c`);
    await s.barrier();
    await b.getData(`${P}/w/d`, true);
    await a.setACL(`${P}/w/d`, OPEN);
    await s.barrier();
    await b.getData(`${P}/missing`, true);
    await a.create(`${P}/missing`);
    await s.barrier();
    await a.getChildren2(`${P}/w`, true);
    await a.getChildren2(P, true);
    await a.delete(`${P}/w/d`);
    await s.barrier();
  },

  async 'ephemerals, closeSession and watches on them'(s) {
    const a = await s.open('a');
    const b = await s.open('b');
    const P = s.p;
    await a.create(P);
    await a.create(`${P}/e1`, null, OPEN, 1);
    await a.create(`${P}/e10`, null, OPEN, 1);
    await a.create(`${P}/s-`, null, OPEN, 3);
    await b.create(`${P}/e2`, null, OPEN, 1);
    await a.create2(`${P}/e3`, 'x', OPEN, 1);
    await a.getEphemerals(`${P}/e1`);
    await a.getEphemerals(`${P}/`);
    await a.getEphemerals(`${P}/zz`);
    await a.getEphemerals('');
    await a.getEphemerals(' ');
    await a.getEphemerals(' / ');
    await a.getEphemerals(`${P}/e1 `);
    await b.getEphemerals(P);
    await b.exists(`${P}/e1`, true);
    await b.getChildren(P, true);
    await a.closeSession();
    await a.waitClosed();
    await s.barrier();
    await b.getChildren(P);
  },

  async 'persistent and recursive watches (addWatch)'(s) {
    const a = await s.open('a');
    const b = await s.open('b');
    const P = s.p;
    await a.create(P);
    await b.addWatch(P, 0);
    await b.addWatch(`${P}/r`, 1);
    await b.addWatch(`${P}/bad`, 2);
    await a.create(`${P}/r`);
    await s.barrier();
    await a.create(`${P}/r/x`, 'x');
    await s.barrier();
    await a.setData(`${P}/r/x`, 'y');
    await s.barrier();
    await a.create(`${P}/r/x/deep`);
    await s.barrier();
    await a.setData(P, 'p1');
    await a.setData(P, 'p2');
    await s.barrier();
    await b.getData(`${P}/r/x`, true);
    await a.setData(`${P}/r/x`, 'z');
    await s.barrier();
    await a.delete(`${P}/r/x/deep`);
    await s.barrier();
    await a.addWatch(`${P}/r`, 1);
    await a.setData(`${P}/r`, 'self');
    await a.ping();
    await b.checkWatches(P, 3);
    await b.removeWatches(P, 3);
    await b.checkWatches(P, 3);
    await a.create(`${P}/after`);
    await s.barrier();
  },

  async 'checkWatches and removeWatches with standard watches'(s) {
    const a = await s.open('a');
    const b = await s.open('b');
    const P = s.p;
    await a.create(P);
    await a.create(`${P}/n`);
    await b.checkWatches(`${P}/n`, 1);
    await b.checkWatches(`${P}/n`, 2);
    await b.checkWatches(`${P}/n`, 3);
    await b.getData(`${P}/n`, true);
    await b.checkWatches(`${P}/n`, 1);
    await b.checkWatches(`${P}/n`, 2);
    await b.checkWatches(`${P}/n`, 3);
    await b.getChildren(`${P}/n`, true);
    await b.checkWatches(`${P}/n`, 1);
    await b.removeWatches(`${P}/n`, 2);
    await b.checkWatches(`${P}/n`, 2);
    await b.checkWatches(`${P}/n`, 1);
    await a.setData(`${P}/n`, 'x');
    await a.create(`${P}/n/c`);
    await s.barrier();
    await b.exists(`${P}/missing`, true);
    await b.checkWatches(`${P}/missing`, 2);
    await b.removeWatches(`${P}/missing`, 3);
    await b.removeWatches(`${P}/missing`, 3);
    await a.checkWatches(`${P}/n`, 3);
    await b.checkWatches(`${P}/n`, 9);
  },

  async 'getACL masking, auth ACLs, digest identities'(s) {
    const a = await s.open('a');
    const b = await s.open('b');
    const P = s.p;
    await a.create(P);
    await a.create(`${P}/mixed`, 'm', [world(Perms.READ), digestAcl(Perms.ALL, ALICE)]);
    await a.create(`${P}/adminonly`, 'a', [world(Perms.ADMIN), digestAcl(Perms.READ, 'bob:xyz=')]);
    await a.create(`${P}/none`, 'n', [digestAcl(Perms.ALL, ALICE)]);
    await b.getACL(`${P}/mixed`);
    await b.getACL(`${P}/adminonly`);
    await b.getACL(`${P}/none`);
    await b.getData(`${P}/none`);
    await b.auth('digest', 'alice:secret');
    await b.getACL(`${P}/mixed`);
    await b.getACL(`${P}/none`);
    await b.getData(`${P}/none`);
    await b.whoAmI();
    await b.create(`${P}/mine`, 'x', [authAcl(Perms.ALL)]);
    await b.getACL(`${P}/mine`);
    await a.getData(`${P}/mine`);
    await a.getACL(`${P}/mine`);
    await b.auth('digest', 'bob:pw');
    await b.whoAmI();
    await b.create(`${P}/both`, 'x', [authAcl(Perms.READ | Perms.ADMIN), world(Perms.READ)]);
    await b.getACL(`${P}/both`);
    await b.create(`${P}/dup`, 'x', [authAcl(Perms.ALL), digestAcl(Perms.ALL, ALICE)]);
    await b.getACL(`${P}/dup`);
    await a.create(`${P}/noauth`, 'x', [authAcl(Perms.ALL)]);
    await a.setACL(`${P}/mixed`, [authAcl(Perms.ALL)]);
    await a.auth('digest', 'alice:wrong');
    await a.getData(`${P}/none`);
    await a.auth('digest', 'alice:secret');
    await a.getData(`${P}/none`);
    await a.auth('digest', 'alice:secret');
    await a.whoAmI();
    await a.auth('digest', 'nocolon');
    await a.whoAmI();
  },

  async 'ip ACLs'(s) {
    const a = await s.open('a');
    const P = s.p;
    await a.create(P);
    await a.create(`${P}/lo`, 'x', [ipAcl(Perms.ALL, '127.0.0.1')]);
    await a.create(`${P}/cidr`, 'x', [ipAcl(Perms.READ, '127.0.0.0/8')]);
    await a.create(`${P}/other`, 'x', [ipAcl(Perms.ALL, '10.0.0.0/8')]);
    await a.create(`${P}/zero`, 'x', [ipAcl(Perms.READ, '10.9.9.9/0')]);
    for (const n of ['lo', 'cidr', 'other', 'zero']) {
      await a.getData(`${P}/${n}`);
      await a.setData(`${P}/${n}`, 'w');
      await a.getACL(`${P}/${n}`);
    }
    await a.create(`${P}/mine`, 'x', [authAcl(Perms.ALL)]);
    await a.auth('ip', '127.0.0.1');
    await a.whoAmI();
  },

  async 'super digest bypasses ACLs'(s) {
    const a = await s.open('a');
    const root = await s.open('root');
    const P = s.p;
    await a.create(P);
    await a.create(`${P}/locked`, 'x', [digestAcl(Perms.READ, ALICE)]);
    await root.getData(`${P}/locked`);
    await root.auth('digest', 'super:super-secret');
    await root.whoAmI();
    await root.getData(`${P}/locked`);
    await root.setData(`${P}/locked`, 'y');
    await root.getACL(`${P}/locked`);
    await root.create(`${P}/locked/kid`);
    await root.create(`${P}/byroot`, 'x', [authAcl(Perms.ALL)]);
    await root.getACL(`${P}/byroot`);
    await root.delete(`${P}/locked/kid`);
  },

  async 'setWatches catch-up events precede the reply'(s) {
    const a = await s.open('a');
    const b = await s.open('b');
    const P = s.p;
    await a.create(P);
    await a.create(`${P}/same`, 'x');
    await a.create(`${P}/changed`, 'x');
    await a.create(`${P}/gone`, 'x');
    await a.create(`${P}/kids`);
    await a.create(`${P}/quiet`);
    const mark = (await a.ping())!.zxid;
    await a.setData(`${P}/changed`, 'y');
    await a.delete(`${P}/gone`);
    await a.create(`${P}/kids/k`);
    await a.create(`${P}/born`);
    await b.setWatches(
      mark,
      {
        data: [`${P}/same`, `${P}/changed`, `${P}/gone`],
        exist: [`${P}/born`, `${P}/unborn`],
        child: [`${P}/kids`, `${P}/quiet`, `${P}/gone`],
      },
      -8,
    );
    await b.setWatches(mark, { data: [`${P}/changed`] }, 77);
    await a.setData(`${P}/same`, 'z');
    await a.create(`${P}/unborn`);
    await a.create(`${P}/quiet/q`);
    await s.barrier();
    await b.setWatches2(mark, { data: [`${P}/changed`], persistent: [`${P}/same`], recursive: [`${P}/kids`] });
    await a.setData(`${P}/same`, 'again');
    await a.create(`${P}/kids/k2`);
    await s.barrier();
  },

  async 'notifications precede the write reply on the same connection'(s) {
    const a = await s.open('a');
    const P = s.p;
    await a.create(P);
    await a.exists(`${P}/n`, true);
    await a.getChildren(P, true);
    await a.create(`${P}/n`, 'x');
    await a.getData(`${P}/n`, true);
    await a.setData(`${P}/n`, 'y');
    await a.exists(`${P}/n`, true);
    await a.getChildren(P, true);
    await a.delete(`${P}/n`);
  },

  async 'whoAmI, sync, ping and getEphemerals basics'(s) {
    const a = await s.open('a');
    await a.request(OpCode.exists, (w) => ExistsRequest.write(w, { path: '/', watch: false }), 0);
    await a.request(OpCode.exists, (w) => ExistsRequest.write(w, { path: '/', watch: false }), -77);
    await a.request(OpCode.getData, (w) => GetDataRequest.write(w, { path: '/zookeeper', watch: false }), 0x7fffffff);
    await a.whoAmI();
    await a.sync('/');
    await a.sync(`${s.p}/does-not-exist`);
    await a.ping();
    await a.getEphemerals('/');
    await a.getAllChildrenNumber('/zookeeper');
  },

  async 'trailing bytes and truncated request bodies'(s) {
    const a = await s.open('a');
    const P = s.p;
    const junk = (w: JuteWriter) => w.raw(Uint8Array.of(1, 2, 3));
    await a.request(OpCode.create, (w) => {
      CreateRequest.write(w, { path: P, data: null, acl: OPEN, flags: 0 });
      junk(w);
    });
    await a.request(OpCode.getData, (w) => {
      GetDataRequest.write(w, { path: P, watch: false });
      junk(w);
    });
    await a.request(OpCode.setData, (w) => {
      SetDataRequest.write(w, { path: P, data: utf8('x'), version: -1 });
      junk(w);
    });
    await a.request(OpCode.multi, (w) => {
      writeMultiRequest(w, [mCheck(P, 1)]);
      junk(w);
    });
    // Truncated: the record ends inside a field.
    await a.request(OpCode.exists, (w) => w.ustring(P));
    await a.request(OpCode.getChildren, (w) => w.int(100));
    await a.request(OpCode.setData, (w) => w.ustring(`${P}/x`));
    await a.request(OpCode.delete, (w) => w.ustring(P));
    await a.request(OpCode.multi, (w) => w.int(OpCode.create));
    await a.getData(P);
    await a.waitClosed(500);
  },

  async 'unknown op is UNIMPLEMENTED and closes'(s) {
    const a = await s.open('a');
    await a.request(50, undefined, 5);
    await a.waitClosed();
  },

  async 'auth with an unknown scheme fails and closes'(s) {
    const a = await s.open('a');
    await a.auth('nope', 'x');
    await a.waitClosed();
  },

  async 'handshake variants: no readOnly byte, reconnect, wrong password, zxid ahead'(s) {
    const old = await s.open('old', { readOnly: undefined });
    await old.ping();
    const a = await s.open('a', { timeoutMs: 1000 });
    const big = await s.open('big', { timeoutMs: 1_000_000 });
    await big.ping();
    await a.create(s.p, 'x', OPEN, 1);
    const a2 = await s.open('a2', { sessionId: a.sessionId, passwd: a.passwd, timeoutMs: 6000 });
    await a.waitClosed();
    await a2.getEphemerals(s.p);
    const wrong = await s.open('wrong', { sessionId: a.sessionId, passwd: new Uint8Array(16) });
    await wrong.waitClosed();
    await a2.waitClosed();
    const unknown = await s.open('unknown', { sessionId: 0x0123456789abcdefn, passwd: new Uint8Array(16) });
    await unknown.waitClosed();
    const ahead = await s.open('ahead', { lastZxidSeen: 1n << 60n });
    await ahead.waitClosed();
    const a3 = await s.open('a3', { sessionId: a.sessionId, passwd: a.passwd });
    await a3.exists(s.p);
  },

  async 'requests pipelined behind the ConnectRequest'(s) {
    const a = await s.open('a');
    await a.create(s.p);
    const conn = new Conn(s, 'pipelined');
    await conn.open(s.server.host, s.server.port);
    s.conns.push(conn);
    const hs = conn.handshake();
    const replies = Promise.all([conn.exists(s.p), conn.create(`${s.p}/x`), conn.getData(`${s.p}/x`), conn.ping()]);
    await hs;
    await replies;
  },
};

/** Scenarios for a server pair with extended types (TTL) enabled and a container/TTL check every 500 ms. */
const extendedScenarios: Record<string, Scenario> = {
  async 'containers and TTL nodes are reaped; the op, not the flag, makes a container'(s) {
    const a = await s.open('a');
    const b = await s.open('b');
    const P = s.p;
    await a.create(P);
    await a.create(`${P}/c0`, null, OPEN, 0, OpCode.createContainer);
    await a.create(`${P}/c4`, null, OPEN, 4, OpCode.createContainer);
    await a.create(`${P}/p4`, null, OPEN, 4, OpCode.create2);
    await a.create(`${P}/unused`, null, OPEN, 4, OpCode.createContainer);
    await a.multi([
      mCreate(`${P}/mc4`, null, 4),
      { type: OpCode.createContainer, request: { path: `${P}/mp0`, data: null, acl: OPEN, flags: 0 } },
      { type: OpCode.createTTL, request: { path: `${P}/mp-ttl`, data: null, acl: OPEN, flags: 0, ttl: 100n } },
    ]);
    const kids = ['c0', 'c4', 'p4', 'mc4', 'mp0'];
    await a.multi(kids.map((k) => mCreate(`${P}/${k}/kid`)));
    await a.createTTL(`${P}/ttl`, 1500n);
    await a.createTTL(`${P}/ttl-busy`, 1500n);
    await a.create(`${P}/ttl-busy/kid`);
    // (No child watch on P: the reaper's order among the nodes is not defined, so neither is the event order.)
    await b.exists(`${P}/c0`, true);
    // One txn empties them all, so no reaping can interleave with the steps above.
    await a.multi(kids.map((k) => mDelete(`${P}/${k}/kid`)));
    await sleep(3500);
    await s.barrier();
    await a.getChildren(P);
    await a.exists(`${P}/ttl-busy`);
  },

  async 'TTL and container creates with extended types enabled'(s) {
    const a = await s.open('a');
    const P = s.p;
    await a.create(P);
    await a.createTTL(`${P}/t`, 60000n);
    await a.exists(`${P}/t`);
    await a.createTTL(`${P}/t-`, 60000n, 6);
    await a.createTTL(`${P}/t0`, 0n);
    await a.createTTL(`${P}/tneg`, -1n);
    await a.createTTL(`${P}/tmax`, 0xffffffffffn);
    await a.createTTL(`${P}/tbig`, 0x10000000000n);
    await a.createTTL(`${P}/plain`, 1000n, 0);
    await a.createTTL(`${P}/eph`, 1000n, 1);
    await a.create(`${P}/viaCreate`, null, OPEN, 5);
    await a.create(`${P}/viaCreate`, null, OPEN, 6);
    await a.create(`${P}/c`, null, OPEN, 4, OpCode.createContainer);
    await a.exists(`${P}/c`);
    await a.create(`${P}/t/kid`);
    await a.getChildren2(`${P}/t`);
    await a.multi([{ type: OpCode.createTTL, request: { path: `${P}/mt`, data: null, acl: OPEN, flags: 5, ttl: 5000n } }]);
    await a.multi([{ type: OpCode.createTTL, request: { path: `${P}/mt0`, data: null, acl: OPEN, flags: 5, ttl: 0n } }]);
    await a.multi([{ type: OpCode.createContainer, request: { path: `${P}/mc`, data: null, acl: OPEN, flags: 4 } }]);
    await a.multi([mCreate(`${P}/m1`, null, 5)]);
    await a.multi([mCreate(`${P}/m2`), mCreate2(`${P}/m3`, null, 6)]);
    await a.multi([{ type: OpCode.createTTL, request: { path: `${P}/m4`, data: null, acl: OPEN, flags: 0, ttl: 100n } }]);
    await a.multi([{ type: OpCode.createContainer, request: { path: `${P}/m5`, data: null, acl: OPEN, flags: 0 } }]);
    await a.multi([mCreate(`${P}/m6`, null, 4)]);
    await a.multi([mCreate2(`${P}/m7`, null, 4)]);
    await a.getChildren(P);
  },
};

// ---- the test -------------------------------------------------------------------------------------------

interface Pair {
  corral: ServerProcess;
  zk: ServerProcess;
}

let main: Pair | undefined;
let extended: Pair | undefined;
let versions: Versions = { zk: [0] };

async function startPair(settings: Record<string, string | number>, zkJvmOptions?: string): Promise<Pair> {
  const env = zkJvmOptions ? { JAVA_TOOL_OPTIONS: zkJvmOptions } : undefined;
  const [corral, zk] = await Promise.all([startCorral({ settings }), startZooKeeper({ settings, env })]);
  return { corral, zk };
}

async function runOn(server: ServerProcess, prefix: string, scenario: Scenario): Promise<Run> {
  const run = new Run(server, prefix);
  // The base zxid is the first session's createSession txn (§2.3 step 7).
  const first = await run.open('__base');
  run.base = (await first.ping())!.zxid;
  run.conns.splice(0, 1);
  run.sessions.delete(first.sessionId);
  try {
    await scenario(run);
  } finally {
    // Sessions of the scenario must not expire later and take zxids in the middle of another one.
    run.sessions.set(first.sessionId, { name: '__base', passwd: first.passwd, closed: false });
    run.conns.push(first);
    await run.cleanup();
  }
  return run;
}

/** Corral answers an error with the bare header (§3.3), never with trailing bytes. */
function corralSendsNoErrorBodies(run: Run): void {
  for (const c of run.conns) {
    for (const entry of c.log) expect(entry as object, `Corral connection ${c.name}`).not.toHaveProperty('errorBodyBytes');
  }
}

let counter = 0;
async function compare(pair: Pair, name: string, scenario: Scenario): Promise<void> {
  const prefix = `/diff${++counter}`;
  const [corralRun, zkRun] = await Promise.all([runOn(pair.corral, prefix, scenario), runOn(pair.zk, prefix, scenario)]);
  corralSendsNoErrorBodies(corralRun);
  const corral = normalize(corralRun, versions);
  const zk = normalize(zkRun, versions);
  if (process.env.DIFF_DUMP) console.log(name, JSON.stringify(zk, null, 1));
  expect(corral, `scenario "${name}": Corral (left) vs ZooKeeper ${versions.zk.join('.')} (right)`).toEqual(zk);
}

describe.skipIf(!zookeeperRuns)('differential: Corral vs Apache ZooKeeper', () => {
  beforeAll(async () => {
    [main, extended] = await Promise.all([
      startPair({ 'DigestAuthenticationProvider.superDigest': SUPER_DIGEST }),
      // ZooKeeper reads znode.container.checkIntervalMs as a JVM system property; Corral from zoo.cfg.
      startPair({ extendedTypesEnabled: 'true', 'znode.container.checkIntervalMs': 500 }, '-Dznode.container.checkIntervalMs=500'),
    ]);
    const srvr = await fourLetterWord(main.zk.host, main.zk.port, 'srvr');
    const match = /Zookeeper version: (\d+)\.(\d+)\.(\d+)/.exec(srvr);
    if (!match) throw new Error(`cannot read the ZooKeeper version from srvr: ${srvr}`);
    versions = { zk: match.slice(1).map(Number) };
  });

  afterAll(async () => {
    await Promise.all([main, extended].flatMap((p) => (p ? [p.corral.cleanup(), p.zk.cleanup()] : [])));
  });

  for (const [name, scenario] of Object.entries(scenarios)) {
    it(name, async () => compare(main!, name, scenario));
  }
  for (const [name, scenario] of Object.entries(extendedScenarios)) {
    it(name, async () => compare(extended!, name, scenario));
  }
});
