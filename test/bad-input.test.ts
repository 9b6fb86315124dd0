import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateRequest,
  CreateResponse,
  ErrorCode,
  GetChildrenRequest,
  GetChildrenResponse,
  GetDataRequest,
  GetDataResponse,
  JuteWriter,
  OpCode,
  Perms,
  RequestHeader,
  SetDataRequest,
  encodeFrame,
  writeMultiRequest,
  type ACL,
} from '@corral/protocol';
import {
  RawClient,
  fourLetterWord,
  rawRequestFrame,
  startCorral,
  startZooKeeper,
  zookeeperAvailable,
  type ServerProcess,
} from '../packages/testing/src/index.js';

const OPEN_ACL: ACL[] = [{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }];
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

function createFrame(xid: number, path: string, data: Uint8Array | null): Uint8Array {
  return encodeFrame((w) => {
    RequestHeader.write(w, { xid, type: OpCode.create });
    CreateRequest.write(w, { path, data, acl: OPEN_ACL, flags: 0 });
  });
}

function lengthHeader(length: number): Uint8Array {
  const w = new JuteWriter();
  w.int(length);
  return w.toBytes();
}

/** True if the connection closes within `ms`. */
async function closesWithin(client: RawClient, ms: number): Promise<boolean> {
  return Promise.race([client.closed.then(() => true), sleep(ms).then(() => false)]);
}

async function nodeCount(server: ServerProcess): Promise<number> {
  const srvr = await fourLetterWord(server.host, server.port, 'srvr');
  const m = /^Node count: (\d+)$/m.exec(srvr);
  if (!m) throw new Error(`no Node count in srvr output:\n${srvr}`);
  return Number(m[1]);
}

async function children(client: RawClient, path: string): Promise<string[]> {
  const reply = await client.request(OpCode.getChildren, GetChildrenRequest, { path, watch: false });
  expect(reply.header.err).toBe(0);
  return GetChildrenResponse.decode(reply.body).children.sort();
}

/** getData; null when the node does not exist. */
async function getData(client: RawClient, path: string): Promise<Uint8Array | null | undefined> {
  const reply = await client.request(OpCode.getData, GetDataRequest, { path, watch: false });
  if (reply.header.err === ErrorCode.NONODE) return undefined;
  expect(reply.header.err).toBe(0);
  return GetDataResponse.decode(reply.body).data;
}

/** Warn-level (40) pino lines about a client connection (others, e.g. a slow fsync, are not ours to count). */
function warnLines(server: ServerProcess): { conn?: number; msg: string }[] {
  const out: { conn?: number; msg: string }[] = [];
  for (const line of server.logText().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { level: number; conn?: number; msg: string };
      if (entry.level === 40 && entry.conn !== undefined) out.push(entry);
    } catch {
      // not a log line
    }
  }
  return out;
}

/**
 * A well-behaved client: creates, overwrites and reads back nodes under /good until stopped.
 * Every reply must be OK and every read must return what was written.
 */
function goodWorkload(client: RawClient) {
  const written = new Map<string, string>();
  let stopped = false;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const path = `/good/n${i}`;
      const first = `first-${i}-${'x'.repeat(i % 40)}`;
      const created = await client.request(OpCode.create, CreateRequest, { path, data: utf8(first), acl: OPEN_ACL, flags: 0 });
      expect(created.header.err, `create ${path}`).toBe(0);
      expect(CreateResponse.decode(created.body).path).toBe(path);
      const second = `second-${i}`;
      const set = await client.request(OpCode.setData, SetDataRequest, { path, data: utf8(second), version: 0 });
      expect(set.header.err, `setData ${path}`).toBe(0);
      written.set(path, second);
      expect(text((await getData(client, path)) ?? null)).toBe(second);
      if (i % 5 === 0) expect((await client.request(OpCode.ping)).header.err).toBe(0);
    }
  })();
  done.catch(() => {}); // observed through stop()
  return {
    written,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

interface Target {
  name: string;
  start: () => Promise<ServerProcess>;
  /** Corral only: the pino log can be checked line by line. */
  checkLogs: boolean;
}

const zk = zookeeperAvailable();
const targets: Target[] = [{ name: 'corral', start: () => startCorral(), checkLogs: true }];
if (zk.ok) targets.push({ name: 'zookeeper', start: () => startZooKeeper(), checkLogs: false });
else console.warn(`bad-input: skipping the Apache ZooKeeper comparison: ${zk.reason}`);

describe.each(targets)('bad input against $name', ({ start, checkLogs }) => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('closes only the offending connection and loses nothing', async () => {
    const { host, port } = server;
    const good = await RawClient.connect(host, port, { timeoutMs: 30_000 });
    const goodSession = good.sessionId;
    const setup = await good.request(OpCode.create, CreateRequest, { path: '/good', data: null, acl: OPEN_ACL, flags: 0 });
    expect(setup.header.err).toBe(0);

    const rootBefore = await children(good, '/');
    const countBefore = await nodeCount(server);
    const warnsBefore = warnLines(server).length;
    const workload = goodWorkload(good);
    await sleep(100);

    /** Connections whose frames are malformed: each must be closed and logged once at warn level. */
    const malformed: Promise<void>[] = [];
    const handshaken = () => RawClient.connect(host, port, { timeoutMs: 30_000 });
    const ROUNDS = 3;
    for (let round = 0; round < ROUNDS; round++) {
      // 1. Random garbage as the first bytes (never a four-letter word; its "length" is out of range).
      malformed.push(
        (async () => {
          const c = await RawClient.open(host, port);
          const garbage = randomBytes(4096);
          garbage[0]! |= 0x10;
          c.sendRaw(garbage);
          expect(await closesWithin(c, 5000), 'garbage').toBe(true);
          expect(c.frames).toHaveLength(0);
        })(),
      );
      // 2. A negative frame length before the handshake, and one after it.
      malformed.push(
        (async () => {
          const c = await RawClient.open(host, port);
          c.sendRaw(lengthHeader(-5));
          expect(await closesWithin(c, 5000), 'negative length').toBe(true);
          expect(c.frames).toHaveLength(0);
        })(),
        (async () => {
          const c = await handshaken();
          c.sendRaw(lengthHeader(-1));
          expect(await closesWithin(c, 5000), 'negative length after handshake').toBe(true);
          expect(c.frames).toHaveLength(1);
        })(),
      );
      // 3. A frame one byte over jute.maxbuffer: only the header and a little data are sent, so the
      //    server must decide from the length alone, without waiting for (or allocating) the payload.
      malformed.push(
        (async () => {
          const c = await handshaken();
          c.sendRaw(lengthHeader(0x100000));
          c.sendRaw(randomBytes(100));
          expect(await closesWithin(c, 5000), 'oversized frame').toBe(true);
          expect(c.frames).toHaveLength(1);
        })(),
      );
      // 4. A ConnectRequest that is too short to decode.
      malformed.push(
        (async () => {
          const c = await RawClient.open(host, port);
          c.sendRaw(new Uint8Array([...lengthHeader(10), ...randomBytes(10)]));
          expect(await closesWithin(c, 5000), 'short ConnectRequest').toBe(true);
          expect(c.frames).toHaveLength(0);
        })(),
      );
      // 5. After the handshake, a frame too short to hold a RequestHeader.
      malformed.push(
        (async () => {
          const c = await handshaken();
          c.sendRaw(new Uint8Array([...lengthHeader(3), 1, 2, 3]));
          expect(await closesWithin(c, 5000), 'headerless request').toBe(true);
          expect(c.frames).toHaveLength(1);
        })(),
      );

      await sleep(150);
    }

    /** Connections that are not malformed but misbehave or vanish: closed (or not) without a warning. */
    const others: Promise<unknown>[] = [];
    // 6. A truncated ConnectRequest frame, then disconnect.
    others.push(
      (async () => {
        const c = await RawClient.open(host, port);
        c.sendRaw(new Uint8Array([...lengthHeader(45), ...randomBytes(20)]));
        await sleep(50);
        c.destroy();
        await c.closed;
      })(),
      // 7. Half of a create frame, then disconnect: the create must not happen.
      (async () => {
        const c = await handshaken();
        const frame = createFrame(1, '/half', utf8('half'));
        c.sendRaw(frame.subarray(0, frame.length >> 1));
        await sleep(50);
        c.destroy();
        await c.closed;
      })(),
      // 8. A whole write and a whole multi, then an immediate disconnect: each applies fully or not at all.
      (async () => {
        const c = await handshaken();
        c.sendRaw(createFrame(1, '/partial', new Uint8Array(4000).fill(7)));
        c.sendRaw(
          encodeFrame((w) => {
            RequestHeader.write(w, { xid: 2, type: OpCode.multi });
            writeMultiRequest(w, [
              { type: OpCode.create, request: { path: '/multi', data: utf8('m'), acl: OPEN_ACL, flags: 0 } },
              { type: OpCode.create, request: { path: '/multi/a', data: utf8('a'), acl: OPEN_ACL, flags: 0 } },
              { type: OpCode.create, request: { path: '/multi/b', data: utf8('b'), acl: OPEN_ACL, flags: 0 } },
            ]);
          }),
        );
        c.destroy();
        await c.closed;
      })(),
      // 9. An unknown op code: UNIMPLEMENTED, then the server hangs up.
      (async () => {
        const c = await handshaken();
        const reply = await c.request(50);
        expect(reply.header).toMatchObject({ xid: 1, zxid: -1n, err: ErrorCode.UNIMPLEMENTED });
        expect(reply.body).toHaveLength(0);
        expect(await closesWithin(c, 5000), 'unknown op').toBe(true);
      })(),
      // 10. A create whose path length (1000) runs past its 20-byte frame: like ZooKeeper, a
      //     MARSHALLINGERROR reply (the failed write still takes a zxid), and the connection stays usable.
      (async () => {
        const c = await handshaken();
        const body = new JuteWriter();
        body.int(1000);
        body.raw(utf8('/lie'));
        body.int(0);
        const frame = rawRequestFrame(1, OpCode.create, body.toBytes());
        expect(frame.length).toBe(4 + 20);
        const reply = await c.requestRaw(1, OpCode.create, frame);
        expect(reply.header).toMatchObject({ xid: 1, err: ErrorCode.MARSHALLINGERROR });
        expect(reply.header.zxid).toBeGreaterThan(0n);
        expect(reply.body).toHaveLength(0);
        // The same for a read (getData): MARSHALLINGERROR, no zxid of its own.
        const read = new JuteWriter();
        read.int(1000);
        read.raw(utf8('/lie'));
        const readReply = await c.requestRaw(2, OpCode.getData, rawRequestFrame(2, OpCode.getData, read.toBytes()));
        expect(readReply.header).toMatchObject({ xid: 2, err: ErrorCode.MARSHALLINGERROR });
        expect((await c.request(OpCode.ping)).header.err).toBe(0);
        expect(await closesWithin(c, 200)).toBe(false);
        c.destroy();
      })(),
    );

    await Promise.all([...malformed, ...others]);
    await sleep(200);
    await workload.stop();

    // The good client: same connection, same session, all its data.
    expect(good.socket.destroyed).toBe(false);
    expect(good.sessionId).toBe(goodSession);
    expect(workload.written.size).toBeGreaterThan(5);
    expect(await children(good, '/good')).toEqual([...workload.written.keys()].map((p) => p.slice('/good/'.length)).sort());
    for (const [path, value] of workload.written) expect(text((await getData(good, path)) ?? null), path).toBe(value);
    expect(good.queuedEvents).toHaveLength(0);

    // Nothing but the good client's writes and the complete writes of case 8 changed the tree.
    expect(await getData(good, '/half')).toBeUndefined();
    expect(await getData(good, '/lie')).toBeUndefined();
    const partial = await getData(good, '/partial');
    if (partial !== undefined) expect(partial).toEqual(new Uint8Array(4000).fill(7));
    const multiRoot = await getData(good, '/multi');
    const multiNodes = multiRoot === undefined ? 0 : 3;
    if (multiRoot !== undefined) expect(await children(good, '/multi')).toEqual(['a', 'b']);
    const extraRoot = [...(partial === undefined ? [] : ['partial']), ...(multiRoot === undefined ? [] : ['multi'])];
    expect(await children(good, '/')).toEqual([...rootBefore, ...extraRoot].sort());
    expect(await nodeCount(server)).toBe(countBefore + workload.written.size + (partial === undefined ? 0 : 1) + multiNodes);

    if (checkLogs) {
      // Exactly one warning per malformed connection, each for a different connection.
      const deadline = Date.now() + 3000;
      while (warnLines(server).length - warnsBefore < malformed.length && Date.now() < deadline) await sleep(50);
      await sleep(300);
      const warns = warnLines(server).slice(warnsBefore);
      expect(warns, JSON.stringify(warns)).toHaveLength(malformed.length);
      expect(new Set(warns.map((w) => w.conn)).size).toBe(malformed.length);
    }

    // The server still serves new clients.
    const fresh = await RawClient.connect(host, port, { timeoutMs: 30_000 });
    expect(fresh.connectResponse!.timeOut).toBeGreaterThan(0);
    expect((await fresh.request(OpCode.create, CreateRequest, { path: '/after', data: utf8('ok'), acl: OPEN_ACL, flags: 0 })).header.err).toBe(0);
    expect(text((await getData(fresh, '/after')) ?? null)).toBe('ok');
    expect((await fresh.request(OpCode.closeSession)).header.err).toBe(0);
    await fresh.closed;
    expect((await good.request(OpCode.closeSession)).header.err).toBe(0);
    await good.closed;
  });
});

describe('jute.maxbuffer from zoo.cfg (corral)', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startCorral({ settings: { 'jute.maxbuffer': 1024 } });
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('rejects a 2000-byte frame and accepts a 500-byte one', async () => {
    const { host, port } = server;
    /** A create frame whose payload (after the 4-byte length) is exactly `size` bytes. */
    const createOfSize = (xid: number, path: string, size: number) => {
      const overhead = createFrame(xid, path, new Uint8Array()).length - 4;
      const frame = createFrame(xid, path, new Uint8Array(size - overhead).fill(xid));
      expect(frame.length - 4).toBe(size);
      return frame;
    };
    const c = await RawClient.connect(host, port, { timeoutMs: 30_000 });
    const small = createOfSize(1, '/small', 500);
    expect((await c.requestRaw(1, OpCode.create, small)).header.err).toBe(0);

    const warnsBefore = warnLines(server).length;
    c.sendRaw(createOfSize(2, '/big', 2000));
    expect(await closesWithin(c, 5000)).toBe(true);
    expect(c.frames).toHaveLength(2); // the ConnectResponse and the reply for /small

    const other = await RawClient.connect(host, port, { timeoutMs: 30_000 });
    expect(await getData(other, '/big')).toBeUndefined();
    expect((await getData(other, '/small'))?.every((b) => b === 1)).toBe(true);
    await sleep(200);
    expect(warnLines(server).slice(warnsBefore)).toHaveLength(1);
    // A 1024-byte frame is still within the limit.
    expect((await other.requestRaw(1, OpCode.create, createOfSize(1, '/edge', 1024))).header.err).toBe(0);
    other.destroy();
  });
});
