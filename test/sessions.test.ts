import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateMode,
  CreateRequest,
  ErrorCode,
  EventType,
  ExistsRequest,
  ExistsResponse,
  GetChildrenRequest,
  GetDataRequest,
  JuteReader,
  KeeperState,
  OpCode,
  Perms,
  ReplyHeader,
  SetDataRequest,
  encodeFrame,
  writeConnectRequest,
  type ACL,
} from '@corral/protocol';
import {
  RawClient,
  startCorral,
  startZooKeeper,
  zookeeperAvailable,
  type ServerProcess,
  type StartOptions,
} from '../packages/testing/src/index.js';
import { sessionPassword } from '../packages/server/src/core/sessions.js';

const OPEN_ACL: ACL[] = [{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }];
const utf8 = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array | null) => Buffer.from(b ?? []).toString('hex');

async function closesWithin(client: RawClient, ms: number): Promise<boolean> {
  return Promise.race([client.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

async function create(client: RawClient, path: string, flags: number = CreateMode.PERSISTENT): Promise<void> {
  const reply = await client.request(OpCode.create, CreateRequest, { path, data: utf8(path), acl: OPEN_ACL, flags });
  expect(reply.header.err, `create ${path}`).toBe(0);
}

/** The node's Stat, or undefined if it does not exist. */
async function exists(client: RawClient, path: string, watch = false) {
  const reply = await client.request(OpCode.exists, ExistsRequest, { path, watch });
  if (reply.header.err === ErrorCode.NONODE) return undefined;
  expect(reply.header.err).toBe(0);
  return ExistsResponse.decode(reply.body).stat;
}

describe('session password derivation', () => {
  it('matches the fact sheet test vectors (java.util.Random seeded with id ^ 0xB3415C00)', () => {
    expect(hex(sessionPassword(0x01000001a2b3c4d5n))).toBe('75f7b92fa39dd98d12e9a0f471d573ff');
    expect(hex(sessionPassword(0x0100000e33760002n))).toBe('62ed77de3507fbeabcdb73529fee7fa9');
    expect(hex(sessionPassword(0n))).toBe('f22acd4a97e69d6d20a49bb638eadb38');
  });
});

interface Target {
  name: string;
  start: (options?: StartOptions) => Promise<ServerProcess>;
}
const zk = zookeeperAvailable();
const targets: Target[] = [{ name: 'corral', start: startCorral }];
if (zk.ok) targets.push({ name: 'zookeeper', start: startZooKeeper });
else console.warn(`sessions: skipping the Apache ZooKeeper comparison: ${zk.reason}`);

describe.each(targets)('sessions on $name (tickTime 2000)', ({ start }) => {
  let server: ServerProcess;
  const connect = (options: Parameters<typeof RawClient.connect>[2] = {}) =>
    RawClient.connect(server.host, server.port, { timeoutMs: 30_000, ...options });

  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('clamps the negotiated timeout to [2, 20] x tickTime', async () => {
    for (const [asked, negotiated] of [
      [1000, 4000],
      [1_000_000, 40000],
      [10_000, 10_000],
      [0, 4000],
    ] as const) {
      const c = await connect({ timeoutMs: asked });
      expect(c.connectResponse!.timeOut, `asked ${asked}`).toBe(negotiated);
      c.destroy();
    }
  });

  it('derives the password from the session id, and the id carries server id 1', async () => {
    const c = await connect();
    const { sessionId, passwd, protocolVersion } = c.connectResponse!;
    expect(protocolVersion).toBe(0);
    expect(sessionId >> 56n).toBe(1n);
    expect(hex(passwd)).toBe(hex(sessionPassword(sessionId)));
    c.destroy();
  });

  it('a reconnect with id and password keeps the session and its ephemerals', async () => {
    const first = await connect({ timeoutMs: 10_000 });
    const { sessionId, passwd } = first.connectResponse!;
    await create(first, '/keep-eph', CreateMode.EPHEMERAL);
    first.destroy();
    await first.closed;

    const again = await connect({ timeoutMs: 10_000, sessionId, passwd, lastZxidSeen: 1n });
    expect(again.connectResponse).toMatchObject({ timeOut: 10_000, sessionId });
    expect(hex(again.connectResponse!.passwd)).toBe(hex(passwd));
    const stat = await exists(again, '/keep-eph');
    expect(stat?.ephemeralOwner).toBe(sessionId);
    // The session is fully usable: it can write, and its reads see its own ephemeral.
    await create(again, '/keep-eph2', CreateMode.EPHEMERAL);
    expect((await exists(again, '/keep-eph2'))?.ephemeralOwner).toBe(sessionId);

    // Resuming the session on a new connection while the old one is still open moves it: the old one is closed.
    const third = await connect({ timeoutMs: 10_000, sessionId, passwd });
    expect(third.connectResponse).toMatchObject({ timeOut: 10_000, sessionId });
    expect(await closesWithin(again, 5000)).toBe(true);
    expect((await exists(third, '/keep-eph'))?.ephemeralOwner).toBe(sessionId);
    expect((await third.request(OpCode.closeSession)).header.err).toBe(0);
    await third.closed;
  });

  it('a wrong password gets timeOut 0 and a close, and kicks the session’s live connection off', async () => {
    const legit = await connect({ timeoutMs: 10_000 });
    const { sessionId, passwd } = legit.connectResponse!;
    await create(legit, '/wrongpw-eph', CreateMode.EPHEMERAL);

    const bad = new Uint8Array(passwd!);
    bad[0]! ^= 0xff;
    const attacker = await RawClient.open(server.host, server.port);
    const response = await attacker.handshake({ timeoutMs: 10_000, sessionId, passwd: bad });
    expect(response).toMatchObject({ protocolVersion: 0, timeOut: 0, sessionId: 0n });
    expect(hex(response.passwd)).toBe('00'.repeat(16));
    expect(await closesWithin(attacker, 5000)).toBe(true);
    expect(attacker.frames).toHaveLength(1);
    expect(await closesWithin(legit, 5000)).toBe(true);

    // The session itself survives: the right password still resumes it, ephemeral included.
    const back = await connect({ timeoutMs: 10_000, sessionId, passwd });
    expect(back.connectResponse).toMatchObject({ timeOut: 10_000, sessionId });
    expect((await exists(back, '/wrongpw-eph'))?.ephemeralOwner).toBe(sessionId);
    expect((await back.request(OpCode.closeSession)).header.err).toBe(0);
    await back.closed;
  });

  it('closeSession is answered, then the connection closes and the session is gone', async () => {
    const c = await connect();
    const { sessionId, passwd } = c.connectResponse!;
    await create(c, '/closing-eph', CreateMode.EPHEMERAL);
    const reply = await c.request(OpCode.closeSession);
    expect(reply.header).toMatchObject({ xid: 2, err: 0 });
    expect(reply.header.zxid).toBeGreaterThan(0n);
    expect(reply.body).toHaveLength(0);
    expect(await closesWithin(c, 5000)).toBe(true);

    const other = await connect();
    expect(await exists(other, '/closing-eph')).toBeUndefined();
    other.destroy();
    const late = await RawClient.open(server.host, server.port);
    expect(await late.handshake({ sessionId, passwd })).toMatchObject({ timeOut: 0, sessionId: 0n });
    expect(await closesWithin(late, 5000)).toBe(true);
  });

  it('closes without a response when the client has seen a newer zxid', async () => {
    const c = await RawClient.open(server.host, server.port);
    await expect(c.handshake({ lastZxidSeen: 0x7fff_0000_0000_0000n })).rejects.toThrow(/closed/);
    expect(c.frames).toHaveLength(0);
    expect(c.socket.destroyed).toBe(true);
  });

  it('mirrors the optional readOnly byte', async () => {
    for (const [readOnly, length] of [
      [undefined, 36],
      [false, 37],
      [true, 37],
    ] as const) {
      const c = await RawClient.open(server.host, server.port);
      const response = await c.handshake({ readOnly });
      expect(c.frames[0], `readOnly ${readOnly}`).toHaveLength(length);
      // A read-write server answers readOnly=false whatever the client accepts.
      expect(response.readOnly).toBe(readOnly === undefined ? undefined : false);
      expect(response.timeOut).toBeGreaterThan(0);
      c.destroy();
    }
  });

  it('ignores bytes after the readOnly byte of a ConnectRequest, as ZooKeeper does', async () => {
    const c = await RawClient.open(server.host, server.port);
    const frame = encodeFrame((w) => {
      writeConnectRequest(w, { protocolVersion: 0, lastZxidSeen: 0n, timeOut: 10_000, sessionId: 0n, passwd: new Uint8Array(16), readOnly: false });
      w.raw(new Uint8Array([7, 9]));
    });
    expect(frame.length).toBe(4 + 47);
    const response = await c.handshakeRaw(frame);
    expect(response).toMatchObject({ timeOut: 10_000, readOnly: false });
    expect(c.frames[0]).toHaveLength(37);
    expect((await c.request(OpCode.ping)).header.err).toBe(0);
    c.destroy();
  });

  it('answers frames pipelined behind the ConnectRequest after the ConnectResponse, in order', async () => {
    const c = await RawClient.open(server.host, server.port);
    c.socket.cork(); // one TCP write: ConnectRequest and every request right behind it
    const handshake = c.handshake({ timeoutMs: 10_000, readOnly: false });
    const replies = [
      c.request(OpCode.create, CreateRequest, { path: '/pipe', data: utf8('v0'), acl: OPEN_ACL, flags: 0 }),
      c.request(OpCode.getData, GetDataRequest, { path: '/pipe', watch: false }),
      c.request(OpCode.ping),
      c.request(OpCode.setData, SetDataRequest, { path: '/pipe', data: utf8('v1'), version: 0 }),
      c.request(OpCode.exists, ExistsRequest, { path: '/pipe', watch: false }),
      c.request(OpCode.getChildren, GetChildrenRequest, { path: '/pipe', watch: false }),
      c.request(OpCode.delete, undefined, undefined), // no body: MARSHALLINGERROR, still in order
    ];
    c.socket.uncork();
    const response = await handshake;
    expect(response.timeOut).toBe(10_000);
    const results = await Promise.all(replies);
    expect(results.map((r) => r.header.err)).toEqual([0, 0, 0, 0, 0, 0, ErrorCode.MARSHALLINGERROR]);
    expect((await exists(c, '/pipe'))?.version).toBe(1);
    // On the wire: the ConnectResponse first, then the replies in request order.
    expect(c.frames[0]).toHaveLength(37);
    const xids = c.frames.slice(1, 1 + replies.length).map((f) => ReplyHeader.read(new JuteReader(f)).xid);
    expect(xids).toEqual([1, 2, -2, 3, 4, 5, 6]);
    c.destroy();
  });
});

describe.each(targets)('session expiry on $name (tickTime 200)', ({ start }) => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await start({ settings: { tickTime: 200 } });
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('an expired session loses its ephemerals, watchers hear NodeDeleted, and its id is dead', async () => {
    const { host, port } = server;
    const owner = await RawClient.connect(host, port, { timeoutMs: 100 });
    const { sessionId, passwd, timeOut } = owner.connectResponse!;
    expect(timeOut).toBe(400); // 2 x tickTime
    await create(owner, '/expiring', CreateMode.EPHEMERAL);

    const watcher = await RawClient.connect(host, port, { timeoutMs: 4000 });
    expect(watcher.connectResponse!.timeOut).toBe(4000); // 20 x tickTime
    expect((await exists(watcher, '/expiring', true))?.ephemeralOwner).toBe(sessionId);

    // A second session that stays connected but sends nothing: the server expires it and hangs up.
    const silent = await RawClient.connect(host, port, { timeoutMs: 400 });
    await create(silent, '/silent', CreateMode.EPHEMERAL);
    const silentClosed = closesWithin(silent, 3000);

    const droppedAt = Date.now();
    owner.destroy(); // no closeSession: the session must time out
    const event = await watcher.nextEvent(5000);
    const elapsed = Date.now() - droppedAt;
    expect(event).toMatchObject({ type: EventType.NodeDeleted, state: KeeperState.SyncConnected, path: '/expiring' });
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(2500);
    expect(await exists(watcher, '/expiring')).toBeUndefined();
    expect(await silentClosed).toBe(true);
    expect(silent.queuedEvents).toHaveLength(0);
    expect(silent.frames).toHaveLength(2); // ConnectResponse and the create reply: no goodbye
    expect(await exists(watcher, '/silent')).toBeUndefined();

    const late = await RawClient.open(host, port);
    const response = await late.handshake({ timeoutMs: 400, sessionId, passwd });
    expect(response).toMatchObject({ timeOut: 0, sessionId: 0n });
    expect(hex(response.passwd)).toBe('00'.repeat(16));
    expect(await closesWithin(late, 5000)).toBe(true);

    // The watcher's own session is unaffected.
    expect((await watcher.request(OpCode.ping)).header.err).toBe(0);
    watcher.destroy();
  });
});
