/**
 * Unit tests of the pure ServerCore against ZooKeeper's semantics as written down in
 * /work/shared/docs/zookeeper-protocol.md (section numbers below refer to it).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CreateMode,
  CreateRequest,
  ErrorCode,
  EventType,
  JuteWriter,
  KeeperState,
  OpCode,
  ExistsRequest,
  Perms,
  SetDataRequest,
  Xid,
  zeroStat,
  type MultiOp,
} from '@corral/protocol';
import { digestId } from '../src/core/acl.js';
import { sessionPassword } from '../src/core/sessions.js';
import { sequenceSuffix } from '../src/core/path.js';
import { makeZxid } from '../src/core/txn.js';
import { CREATOR_ALL, Harness, OPEN, bytes, decodeReply, digest, text, world, type Client } from './coreDriver.js';

const { OK, NONODE, NODEEXISTS, NOAUTH, BADARGUMENTS, BADVERSION, NOTEMPTY, INVALIDACL, UNIMPLEMENTED, RUNTIMEINCONSISTENCY, NOCHILDRENFOREPHEMERALS, NOWATCHER, MARSHALLINGERROR, SESSIONEXPIRED } =
  ErrorCode;
const z = (n: number) => makeZxid(1, n);

function setup(overrides: ConstructorParameters<typeof Harness>[0] = {}, timeoutMs = 10000): { h: Harness; a: Client; b: Client } {
  const h = new Harness({ maxSessionTimeoutMs: Math.max(40000, timeoutMs), ...overrides });
  const a = h.connect({ timeoutMs });
  const b = h.connect({ timeoutMs });
  return { h, a, b };
}

describe('handshake and sessions (§2)', () => {
  it('creates a session through a createSession txn and answers after it commits', () => {
    const h = new Harness();
    h.autoCommit = false;
    const a = h.connect({ timeoutMs: 1000 });
    expect(a.connectResponse).toBeUndefined();
    expect(h.txns).toHaveLength(1);
    expect(h.txns[0]!.body).toEqual({ type: 'createSession', timeoutMs: 4000 });
    expect(h.txns[0]!.zxid).toBe(z(1));
    h.commitPending();
    const [frame] = h.take(a.conn);
    expect(frame).toBeDefined();
    // 37 bytes: the client sent the readOnly byte, so the answer carries one.
    expect(frame!.length).toBe(37);
    expect(h.core.lastZxid).toBe(z(1));
  });

  it('negotiates the timeout between 2 and 20 ticks and derives the password from the session id', () => {
    const h = new Harness();
    const low = h.connect({ timeoutMs: 1000 });
    const high = h.connect({ timeoutMs: 1_000_000 });
    const mid = h.connect({ timeoutMs: 12345 });
    expect(low.connectResponse!.timeOut).toBe(4000);
    expect(high.connectResponse!.timeOut).toBe(40000);
    expect(mid.connectResponse!.timeOut).toBe(12345);
    for (const c of [low, high, mid]) {
      expect(c.connectResponse!.protocolVersion).toBe(0);
      expect(c.sessionId >> 56n).toBe(1n); // standalone server id in the top byte
      expect([...c.passwd]).toEqual([...sessionPassword(c.sessionId)]);
    }
    expect(new Set([low.sessionId, high.sessionId, mid.sessionId]).size).toBe(3);
    expect(sessionPassword(0x01000001a2b3c4d5n)).toEqual(Uint8Array.from(Buffer.from('75f7b92fa39dd98d12e9a0f471d573ff', 'hex')));
  });

  it('mirrors the optional readOnly byte (36 or 37 byte response)', () => {
    const h = new Harness();
    const old = h.connect({ readOnly: null });
    const modern = h.connect({ readOnly: false });
    expect(old.connectResponseLength).toBe(36);
    expect(old.connectResponse!.readOnly).toBeUndefined();
    expect(modern.connectResponseLength).toBe(37);
    expect(modern.connectResponse!.readOnly).toBe(false);
  });

  it('closes without a response when the client has seen a newer zxid', () => {
    const h = new Harness();
    h.connect();
    const c = h.connect({ lastZxidSeen: z(5) });
    expect(c.connectResponse).toBeUndefined();
    expect(c.closed).toBe(true);
    expect(h.take(c.conn)).toEqual([]);
  });

  it('resumes a session with its password, and evicts the old connection even on a wrong password', () => {
    const h = new Harness();
    const a = h.connect();
    expect(a.create('/e', 'x', { flags: CreateMode.EPHEMERAL }).err).toBe(OK);
    const again = h.connect({ sessionId: a.sessionId, passwd: a.passwd, lastZxidSeen: h.core.lastZxid });
    expect(again.connectResponse!.timeOut).toBe(10000);
    expect(again.connectResponse!.sessionId).toBe(a.sessionId);
    expect(a.closed).toBe(true);
    expect(again.getEphemerals('/').ephemerals).toEqual(['/e']);

    const wrong = h.connect({ sessionId: a.sessionId, passwd: new Uint8Array(16) });
    expect(again.closed).toBe(true); // kicked before the password check
    expect(wrong.connectResponse).toMatchObject({ timeOut: 0, sessionId: 0n });
    expect([...wrong.connectResponse!.passwd!]).toEqual(new Array(16).fill(0));
    expect(wrong.closed).toBe(true);
    // The session itself is still alive.
    const third = h.connect({ sessionId: a.sessionId, passwd: a.passwd });
    expect(third.connectResponse!.timeOut).toBe(10000);
  });

  it('answers requests pipelined behind the ConnectRequest after the ConnectResponse, in order', () => {
    const h = new Harness();
    h.autoCommit = false;
    const a = h.connect();
    expect(a.connectResponse).toBeUndefined();
    a.send(OpCode.ping, undefined, Xid.PING);
    a.send(OpCode.exists, (w) => ExistsRequest.write(w, { path: '/', watch: false }), 7);
    expect(h.take(a.conn)).toEqual([]);
    h.commitPending();
    const frames = h.take(a.conn);
    expect(frames).toHaveLength(3);
    expect(frames[0]!.length).toBe(37); // the ConnectResponse first
    expect(frames.slice(1).map((f) => decodeReply(f).xid)).toEqual([Xid.PING, 7]);
  });

  it('expires a session between timeout and timeout + tickTime after its last request', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 4000, max: 12000 }), (offset, timeout) => {
        const h = new Harness({ startTimeMs: 1_000_000 + offset });
        const a = h.connect({ timeoutMs: timeout });
        h.now += offset % 1999;
        a.ping();
        const last = h.now;
        h.now = last + timeout - 1;
        h.tick();
        expect(a.closed).toBe(false);
        // Then tick every millisecond: the first tick that expires it shows the deadline.
        let expiredAt: number | undefined;
        for (let t = last + timeout; t <= last + timeout + 2000 && expiredAt === undefined; t++) {
          h.now = t;
          h.tick();
          if (a.closed) expiredAt = t;
        }
        expect(expiredAt).toBeDefined();
        expect(expiredAt! - last).toBeGreaterThanOrEqual(timeout);
        expect(expiredAt! - last).toBeLessThanOrEqual(timeout + 2000);
        // Deadlines are whole ticks.
        expect(expiredAt! % 2000).toBe(0);
      }),
      { numRuns: 40 },
    );
  });

  it('keeps a session alive while it sends requests, and deletes its ephemerals when it expires', () => {
    const h = new Harness();
    const a = h.connect({ timeoutMs: 4000 });
    const b = h.connect({ timeoutMs: 40000 });
    expect(a.create('/p').err).toBe(OK);
    expect(a.create('/p/e', null, { flags: CreateMode.EPHEMERAL }).err).toBe(OK);
    expect(b.exists('/p/e', true).err).toBe(OK);
    expect(b.getChildren('/p', true).err).toBe(OK);
    for (let i = 0; i < 10; i++) {
      h.now += 1500;
      a.ping();
      h.tick();
    }
    expect(a.closed).toBe(false);
    const before = h.core.lastZxid;
    h.tick(6001);
    expect(a.closed).toBe(true);
    expect(h.closed.get(a.conn)).toMatch(/expired/);
    const closeTxn = h.txns.at(-1)!;
    expect(closeTxn.body.type).toBe('closeSession');
    expect(closeTxn.zxid).toBe(before + 1n);
    expect(b.takeEvents()).toEqual([
      { type: EventType.NodeDeleted, state: KeeperState.SyncConnected, path: '/p/e', zxid: closeTxn.zxid },
      { type: EventType.NodeChildrenChanged, state: KeeperState.SyncConnected, path: '/p', zxid: closeTxn.zxid },
    ]);
    expect(b.exists('/p/e').err).toBe(NONODE);
    expect(b.stat('/p').pzxid).toBe(closeTxn.zxid);
    // The session is dead for good.
    const again = h.connect({ sessionId: a.sessionId, passwd: a.passwd });
    expect(again.connectResponse!.timeOut).toBe(0);
    expect(again.closed).toBe(true);
  });

  it('closeSession replies with a bare header, then closes; a write queued behind it is a SESSIONEXPIRED error txn', () => {
    const h = new Harness();
    const a = h.connect();
    a.create('/e', null, { flags: CreateMode.EPHEMERAL });
    h.autoCommit = false;
    const closeXid = a.send(OpCode.closeSession);
    a.send(OpCode.setData, (w) => SetDataRequest.write(w, { path: '/', data: null, version: -1 }));
    expect(h.uncommitted.map((t) => t.body)).toEqual([{ type: 'closeSession' }, { type: 'error', err: SESSIONEXPIRED }]);
    h.commitPending();
    const replies = a.receive();
    expect(replies.map((r) => [r.xid, r.err, r.body.length])).toEqual([[closeXid, OK, 0]]);
    expect(a.closed).toBe(true);
    expect(h.core.tree.get('/e')).toBeUndefined();
    expect(h.core.sessions.has(a.sessionId)).toBe(false);
  });

  it('answers ping with xid -2 and the last zxid, in order with other replies', () => {
    const { a } = setup();
    a.create('/x');
    const r = a.ping();
    expect(r).toMatchObject({ xid: Xid.PING, err: 0, zxid: z(3) });
  });

  it('answers an unknown op, op 0 and a stand-alone check with UNIMPLEMENTED and closes (3.9.3+)', () => {
    for (const op of [50, OpCode.notification, OpCode.check]) {
      const h = new Harness();
      const a = h.connect();
      const reply = a.call(op, undefined, 5);
      // zxid -1, as ZooKeeper's UnimplementedRequestProcessor sends (§4.1).
      expect(reply).toMatchObject({ xid: 5, err: UNIMPLEMENTED, zxid: -1n });
      expect(a.closed).toBe(true);
    }
  });

  it('closes the connection on a malformed frame', () => {
    const { a } = setup();
    a.raw(Uint8Array.of(0, 0, 0));
    expect(a.closed).toBe(true);
  });
});

describe('Stat maintenance (§5.1)', () => {
  it('root, /zookeeper and /zookeeper/quota have zero stats and empty data; /zookeeper/config has aversion -1', () => {
    const { a } = setup();
    for (const path of ['/', '/zookeeper', '/zookeeper/quota']) {
      const r = a.getData(path);
      expect(r.err).toBe(OK);
      expect(r.data).toEqual(new Uint8Array(0));
      expect({ ...r.stat, numChildren: 0, cversion: 0 }).toEqual(zeroStat());
    }
    // Their children were never "created": visible cversion = 2 * 0 - numChildren (DataNode.copyStat).
    expect(a.stat('/')).toMatchObject({ numChildren: 1, cversion: -1 });
    expect(a.stat('/zookeeper')).toMatchObject({ numChildren: 2, cversion: -2 });
    expect(a.stat('/zookeeper/quota')).toMatchObject({ numChildren: 0, cversion: 0 });
    const config = a.getACL('/zookeeper/config');
    expect(config.acl).toEqual([world(Perms.READ)]);
    expect(config.stat).toEqual({ ...zeroStat(), aversion: -1 });
    expect(a.getChildren('/zookeeper').children!.sort()).toEqual(['config', 'quota']);
  });

  it('a create sets czxid = mzxid = pzxid, ctime = mtime, versions 0; the parent gets cversion/pzxid/numChildren only', () => {
    const { h, a } = setup();
    const r = a.create2('/n', 'hello');
    expect(r.err).toBe(OK);
    const zxid = r.zxid;
    expect(zxid).toBe(z(3));
    expect(r.stat).toEqual({
      czxid: zxid,
      mzxid: zxid,
      ctime: BigInt(h.now),
      mtime: BigInt(h.now),
      version: 0,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: 0n,
      dataLength: 5,
      numChildren: 0,
      pzxid: zxid,
    });
    expect(a.stat('/n')).toEqual(r.stat);
    const root = a.stat('/');
    expect(root).toMatchObject({ cversion: 0, numChildren: 2, pzxid: zxid, mzxid: 0n, mtime: 0n, version: 0 });

    h.now += 1000;
    const child = a.create2('/n/c');
    const parent = a.stat('/n');
    expect(parent).toMatchObject({ cversion: 1, numChildren: 1, pzxid: child.zxid, mzxid: zxid, mtime: BigInt(h.now - 1000), version: 0 });
  });

  it('client-visible cversion counts creations and deletions; the sequential suffix counts creations only (§5.3)', () => {
    const { a } = setup();
    a.create('/q');
    for (const name of ['a', 'b', 'c']) a.create(`/q/${name}`);
    const del = a.delete('/q/b');
    expect(del.err).toBe(OK);
    const q = a.stat('/q');
    expect(q.cversion).toBe(4);
    expect(q.numChildren).toBe(2);
    expect(q.pzxid).toBe(del.zxid);
    expect(a.create('/q/lock-', null, { flags: CreateMode.PERSISTENT_SEQUENTIAL }).path).toBe('/q/lock-0000000003');
    expect(a.create('/q/', null, { flags: CreateMode.PERSISTENT_SEQUENTIAL }).path).toBe('/q/0000000004');
    expect(a.stat('/q').cversion).toBe(6);
  });

  it('formats sequence suffixes like Java %010d, negative after overflow', () => {
    expect(sequenceSuffix(0)).toBe('0000000000');
    expect(sequenceSuffix(7)).toBe('0000000007');
    expect(sequenceSuffix(2147483647)).toBe('2147483647');
    expect(sequenceSuffix(-1)).toBe('-000000001');
    expect(sequenceSuffix(-2147483648)).toBe('-2147483648');
    expect(sequenceSuffix(-123456)).toBe('-000123456');
    fc.assert(
      fc.property(fc.integer({ min: -2147483648, max: 2147483647 }), (n) => {
        const s = sequenceSuffix(n);
        expect(s.length).toBe(Math.max(10, String(n).length));
        expect(Number(s)).toBe(n);
      }),
    );
  });

  it('setData bumps version (even for identical bytes), mzxid and mtime; ctime and czxid stay', () => {
    const { h, a } = setup();
    const c = a.create2('/d', 'same');
    h.now += 5000;
    const s1 = a.setData('/d', 'same');
    expect(s1.err).toBe(OK);
    expect(s1.stat).toMatchObject({ version: 1, mzxid: s1.zxid, czxid: c.zxid, ctime: c.stat!.ctime, mtime: BigInt(h.now), dataLength: 4, pzxid: c.zxid });
    expect(a.setData('/d', 'longer data', 1).stat).toMatchObject({ version: 2, dataLength: 11 });
    expect(a.setData('/d', 'x', 1).err).toBe(BADVERSION);
  });

  it('setACL changes only aversion: not mzxid, not version (§5.1)', () => {
    const { a } = setup();
    const c = a.create2('/acl', 'x');
    const r = a.setACL('/acl', [world(Perms.ALL)], 0);
    expect(r.err).toBe(OK);
    expect(r.stat).toEqual({ ...c.stat, aversion: 1 });
    expect(a.setACL('/acl', OPEN, 0).err).toBe(BADVERSION);
    expect(a.setACL('/acl', OPEN, 1).stat!.aversion).toBe(2);
    expect(a.stat('/acl').mzxid).toBe(c.zxid);
  });

  it('null data is kept as null with dataLength 0; empty data stays empty', () => {
    const { a } = setup();
    a.create('/null', null);
    a.create('/empty', new Uint8Array(0));
    const n = a.getData('/null');
    expect(n.data).toBeNull();
    expect(n.stat!.dataLength).toBe(0);
    const e = a.getData('/empty');
    expect(e.data).toEqual(new Uint8Array(0));
    expect(e.stat!.dataLength).toBe(0);
    a.setData('/empty', null);
    expect(a.getData('/empty').data).toBeNull();
  });

  it('a delete updates the parent pzxid and numChildren but not its mzxid', () => {
    const { a } = setup();
    const p = a.create2('/p');
    a.create('/p/c');
    const d = a.delete('/p/c', 0);
    expect(d.err).toBe(OK);
    expect(a.stat('/p')).toMatchObject({ numChildren: 0, pzxid: d.zxid, mzxid: p.zxid, cversion: 2 });
  });

  it('getAllChildrenNumber counts all descendants (including /zookeeper for /)', () => {
    const { a } = setup();
    a.create('/t');
    a.create('/t/a');
    a.create('/t/a/b');
    a.create('/t/c');
    expect(a.getAllChildrenNumber('/t').totalNumber).toBe(3);
    expect(a.getAllChildrenNumber('/t/c').totalNumber).toBe(0);
    expect(a.getAllChildrenNumber('/').totalNumber).toBe(7);
    expect(a.getAllChildrenNumber('/missing').err).toBe(NONODE);
  });
});

describe('zxids of replies and failed writes (§3.1, §9.5)', () => {
  it('a failed write consumes a zxid and the error reply carries it', () => {
    const { h, a, b } = setup();
    const ok1 = a.create('/x');
    expect(ok1.zxid).toBe(z(3));
    const fail = a.create('/x');
    expect(fail).toMatchObject({ err: NODEEXISTS, zxid: z(4) });
    expect(h.txns.at(-1)!.body).toEqual({ type: 'error', err: NODEEXISTS });
    expect(a.delete('/nope').zxid).toBe(z(5));
    expect(a.setData('/nope', 'x').zxid).toBe(z(6));
    const ok2 = a.create2('/y');
    expect(ok2.zxid).toBe(z(7));
    expect(ok2.stat!.czxid).toBe(z(7));
    // Reads carry the last processed zxid, on every connection.
    expect(b.getData('/x').zxid).toBe(z(7));
    expect(b.exists('/missing').zxid).toBe(z(7));
  });

  it('a write reply carries its own zxid even when later txns are pending', () => {
    const { h, a, b } = setup();
    h.autoCommit = false;
    const x1 = a.send(OpCode.create, (w) => writeCreate(w, '/one'));
    b.send(OpCode.create, (w) => writeCreate(w, '/two'));
    h.commitPending(1);
    const [r1] = a.receive();
    expect(r1).toMatchObject({ xid: x1, err: OK, zxid: z(3) });
    h.commitPending();
    expect(b.receive()[0]).toMatchObject({ err: OK, zxid: z(4) });
  });
});

function writeCreate(w: JuteWriter, path: string, flags = 0): void {
  w.ustring(path);
  w.buffer(null);
  w.int(1);
  w.int(Perms.ALL);
  w.ustring('world');
  w.ustring('anyone');
  w.int(flags);
}

describe('node types (§5.2, §5.4)', () => {
  it('ephemeral nodes carry the owner session, cannot have children, and are listed by getEphemerals', () => {
    const { a, b } = setup();
    const e = a.create2('/e1', null, { flags: CreateMode.EPHEMERAL });
    expect(e.stat!.ephemeralOwner).toBe(a.sessionId);
    expect(a.create('/e1/child').err).toBe(NOCHILDRENFOREPHEMERALS);
    a.create('/e10', null, { flags: CreateMode.EPHEMERAL });
    a.create('/p');
    a.create('/p/s-', null, { flags: CreateMode.EPHEMERAL_SEQUENTIAL });
    b.create('/e2', null, { flags: CreateMode.EPHEMERAL });
    expect(a.getEphemerals('/').ephemerals!.sort()).toEqual(['/e1', '/e10', '/p/s-0000000000']);
    // A plain string prefix: /e1 matches /e10 (§11.11).
    expect(a.getEphemerals('/e1').ephemerals!.sort()).toEqual(['/e1', '/e10']);
    expect(a.getEphemerals('/p/').ephemerals).toEqual(['/p/s-0000000000']);
    expect(b.getEphemerals('/').ephemerals).toEqual(['/e2']);
    expect(a.getEphemerals('/zz').ephemerals).toEqual([]);
    // Blank or "/" after Java's trim() means all (ZooKeeper's FinalRequestProcessor); other prefixes are not trimmed.
    for (const prefix of ['', ' ', ' / ', '\t/\n']) expect(a.getEphemerals(prefix).ephemerals!.length, JSON.stringify(prefix)).toBe(3);
    expect(a.getEphemerals('/e1 ').ephemerals).toEqual([]);
  });

  it('containers show ephemeralOwner 0 and are reaped by tick() only after they had a child and are empty', () => {
    const { h, a, b } = setup({}, 1_000_000);
    const c = a.createContainer('/c');
    expect(c.err).toBe(OK);
    expect(c.path).toBe('/c');
    expect(c.stat!.ephemeralOwner).toBe(0n);
    a.createContainer('/never-used');
    h.tick(60_001);
    expect(a.exists('/c').err).toBe(OK);
    a.create('/c/child');
    h.tick(60_001);
    expect(a.exists('/c').err).toBe(OK); // has a child
    expect(b.exists('/c', true).err).toBe(OK);
    a.delete('/c/child');
    h.tick(1000); // not yet a check interval since the last check
    expect(a.exists('/c').err).toBe(OK);
    const before = h.core.lastZxid;
    h.tick(60_000);
    expect(a.exists('/c').err).toBe(NONODE);
    expect(a.exists('/never-used').err).toBe(OK);
    expect(h.txns.at(-1)!).toMatchObject({ zxid: before + 1n, sessionId: 0n, body: { type: 'delete', path: '/c' } });
    expect(b.takeEvents()).toEqual([{ type: EventType.NodeDeleted, state: 3, path: '/c', zxid: before + 1n }]);
  });

  it('TTL nodes show ephemeralOwner 0 and are reaped once empty and older than their ttl', () => {
    const { h, a } = setup({ extendedTypesEnabled: true, containerCheckIntervalMs: 1000 }, 1_000_000);
    const t = a.createTTL('/ttl', 5000n);
    expect(t.err).toBe(OK);
    expect(t.stat!.ephemeralOwner).toBe(0n);
    const seq = a.createTTL('/ttl-', 1n, { flags: CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL });
    expect(seq.path).toBe('/ttl-0000000001');
    a.create('/ttl/child');
    h.tick(3000);
    expect(a.exists('/ttl-0000000001').err).toBe(NONODE);
    h.now += 3000;
    a.setData('/ttl', 'touch'); // mtime moves: the ttl counts from it
    h.tick(3000);
    expect(a.exists('/ttl').err).toBe(OK);
    a.delete('/ttl/child');
    h.tick(1500);
    expect(a.exists('/ttl').err).toBe(OK); // 4500 ms since the last setData
    h.tick(1000);
    expect(a.exists('/ttl').err).toBe(NONODE);
  });

  it('TTL ops are UNIMPLEMENTED when extended types are disabled', () => {
    const { h, a } = setup();
    expect(a.createTTL('/t', 1000n).err).toBe(UNIMPLEMENTED);
    expect(a.createTTL('/t', 1000n, { flags: CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL }).err).toBe(UNIMPLEMENTED);
    expect(a.create('/t', null, { flags: CreateMode.PERSISTENT_WITH_TTL }).err).toBe(UNIMPLEMENTED);
    // Disabled wins over a bad ttl and a bad path.
    expect(a.createTTL('bad', 0n).err).toBe(UNIMPLEMENTED);
    expect(h.txns.at(-1)!.body).toEqual({ type: 'error', err: UNIMPLEMENTED });
    // A non-TTL mode through createTTL is still a bad argument.
    expect(a.createTTL('/t', 1000n, { flags: CreateMode.PERSISTENT }).err).toBe(BADARGUMENTS);
  });

  it('bad TTLs and bad create modes are BADARGUMENTS', () => {
    const { a } = setup({ extendedTypesEnabled: true });
    expect(a.createTTL('/t', 0n).err).toBe(BADARGUMENTS);
    expect(a.createTTL('/t', -5n).err).toBe(BADARGUMENTS);
    expect(a.createTTL('/t', 0x10000000000n).err).toBe(BADARGUMENTS);
    expect(a.createTTL('/t', 0xffffffffffn).err).toBe(OK);
    expect(a.createTTL('/u', 1000n, { flags: CreateMode.PERSISTENT }).err).toBe(BADARGUMENTS);
    expect(a.createTTL('/u', 1000n, { flags: CreateMode.EPHEMERAL }).err).toBe(BADARGUMENTS);
    expect(a.create('/u', null, { flags: CreateMode.PERSISTENT_WITH_TTL }).err).toBe(BADARGUMENTS);
    for (const flags of [-1, 7, 100]) expect(a.create('/u', null, { flags }).err).toBe(BADARGUMENTS);
    expect(a.exists('/u').err).toBe(NONODE);
  });
});

describe('per-op check order (§4.4)', () => {
  function protectedTree() {
    const s = setup();
    const { a } = s;
    // /ro: everyone may read and admin, nobody may create/delete/write.
    expect(a.create('/ro', 'x', { acl: [world(Perms.READ | Perms.ADMIN)] }).err).toBe(OK);
    expect(a.create('/open').err).toBe(OK);
    expect(a.create('/open/child').err).toBe(OK);
    expect(a.create('/secret', 's', { acl: [digest(Perms.ALL, digestId('alice:pw'))] }).err).toBe(OK);
    return s;
  }

  it('create: path without / or with NUL, then ACL, then parent, then CREATE permission, then full path, then existence', () => {
    const { a } = protectedTree();
    expect(a.create('noslash', null, { acl: [] }).err).toBe(BADARGUMENTS);
    expect(a.create('/open/a\0b', null, { acl: [] }).err).toBe(BADARGUMENTS);
    expect(a.create('/missing/x', null, { acl: [] }).err).toBe(INVALIDACL);
    expect(a.create('/missing/x', null, { acl: CREATOR_ALL }).err).toBe(INVALIDACL);
    expect(a.create('/missing/x').err).toBe(NONODE);
    expect(a.create('/missing/.').err).toBe(NONODE);
    expect(a.create('/ro/x').err).toBe(NOAUTH);
    expect(a.create('/ro/.').err).toBe(NOAUTH);
    expect(a.create('/open/.').err).toBe(BADARGUMENTS);
    expect(a.create('/open/').err).toBe(BADARGUMENTS);
    expect(a.create('/open//x').err).toBe(NONODE); // parent "/open/" does not exist
    expect(a.create('/open/child').err).toBe(NODEEXISTS);
    expect(a.create('/').err).toBe(NODEEXISTS); // parent "" is the root; "/" is a valid path that exists
    expect(a.create('/zookeeper').err).toBe(NODEEXISTS);
    expect(a.create('/open/', null, { flags: CreateMode.PERSISTENT_SEQUENTIAL }).path).toBe('/open/0000000001');
  });

  it('delete: special paths, parent, DELETE permission (before existence), version, children', () => {
    const { a } = protectedTree();
    for (const path of ['/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config', 'noslash', '/open/a\0']) {
      expect(a.delete(path).err, path).toBe(BADARGUMENTS);
    }
    expect(a.delete('/missing/x').err).toBe(NONODE);
    expect(a.delete('/ro/missing').err).toBe(NOAUTH); // observed on 3.8.0
    expect(a.delete('/open/missing').err).toBe(NONODE);
    expect(a.delete('/open', 5).err).toBe(BADVERSION); // version before children
    expect(a.delete('/open').err).toBe(NOTEMPTY);
    expect(a.delete('/open/child', 1).err).toBe(BADVERSION);
    expect(a.delete('/open/child', 0).err).toBe(OK);
  });

  it('delete does not validate the full path: an invalid path just does not exist', () => {
    const { a } = protectedTree();
    // Only "no slash / NUL / special path" are BADARGUMENTS; ZooKeeper's delete does not run validatePath.
    expect(a.delete('/open/').err).toBe(NONODE);
    expect(a.delete('/open/.').err).toBe(NONODE);
    expect(a.delete('/open//x').err).toBe(NONODE);
    expect(a.delete('/ro/.').err).toBe(NOAUTH);
  });

  it('setData: path, existence, WRITE permission, then version', () => {
    const { a } = protectedTree();
    expect(a.setData('/open/', 'x').err).toBe(BADARGUMENTS);
    expect(a.setData('/missing', 'x').err).toBe(NONODE);
    expect(a.setData('/ro', 'x', 99).err).toBe(NOAUTH);
    expect(a.setData('/open', 'x', 99).err).toBe(BADVERSION);
  });

  it('setACL: path, ACL validity, existence, ADMIN permission, then aversion', () => {
    const { a } = protectedTree();
    expect(a.setACL('/open/', []).err).toBe(BADARGUMENTS);
    expect(a.setACL('/missing', []).err).toBe(INVALIDACL);
    expect(a.setACL('/missing', OPEN).err).toBe(NONODE);
    expect(a.setACL('/secret', OPEN, 99).err).toBe(NOAUTH);
    expect(a.setACL('/ro', OPEN, 99).err).toBe(BADVERSION);
    expect(a.setACL('/ro', OPEN, 0).err).toBe(OK);
  });

  it('reads: NONODE, then NOAUTH; no watch is set when the read fails', () => {
    const { a, b } = protectedTree();
    expect(b.getData('/missing', true).err).toBe(NONODE);
    expect(b.getData('/secret', true).err).toBe(NOAUTH);
    expect(b.getChildren('/secret', true).err).toBe(NOAUTH);
    expect(b.getChildren2('/missing', true).err).toBe(NONODE);
    expect(b.getAllChildrenNumber('/secret').err).toBe(NOAUTH);
    expect(b.exists('/secret', true).err).toBe(NOAUTH); // 3.9.2+: exists checks READ on an existing node
    expect(b.exists('/a\0', true).err).toBe(BADARGUMENTS);
    expect(b.getACL('/missing').err).toBe(NONODE);
    expect(b.getACL('/secret').err).toBe(NOAUTH);
    a.auth('digest', 'alice:pw');
    a.create('/missing', 'now');
    a.setData('/secret', 'changed');
    a.create('/secret/x');
    a.delete('/secret/x');
    expect(b.takeEvents()).toEqual([]);
    expect(b.checkWatches('/secret', 3).err).toBe(NOWATCHER);
    expect(b.checkWatches('/missing', 3).err).toBe(NOWATCHER);
  });

  it('check inside multi: path, existence, READ permission, version', () => {
    const { a } = protectedTree();
    const check = (path: string, version: number): MultiOp => ({ type: OpCode.check, request: { path, version } });
    const one = (op: MultiOp) => a.multi([op]).results![0];
    expect(one(check('/open/', 0))).toEqual({ type: -1, err: BADARGUMENTS });
    expect(one(check('/missing', 0))).toEqual({ type: -1, err: NONODE });
    expect(one(check('/secret', 7))).toEqual({ type: -1, err: NOAUTH });
    expect(one(check('/open', 7))).toEqual({ type: -1, err: BADVERSION });
    expect(one(check('/open', 0))).toEqual({ type: OpCode.check });
  });
});

describe('multi and multiRead (§4.3)', () => {
  const create = (path: string, data: string | null = null, flags = 0): MultiOp => ({
    type: OpCode.create,
    request: { path, data: data === null ? null : bytes(data), acl: OPEN, flags },
  });
  const create2 = (path: string): MultiOp => ({ type: OpCode.create2, request: { path, data: null, acl: OPEN, flags: 0 } });
  const del = (path: string, version = -1): MultiOp => ({ type: OpCode.delete, request: { path, version } });
  const set = (path: string, data: string, version = -1): MultiOp => ({ type: OpCode.setData, request: { path, data: bytes(data), version } });
  const check = (path: string, version: number): MultiOp => ({ type: OpCode.check, request: { path, version } });

  it('applies all sub-ops with one zxid; sub-ops see the earlier ones; create2 answers type 15 with a stat', () => {
    const { h, a } = setup();
    a.create('/m');
    const r = a.multi([create('/m/a', 'A'), create('/m/a/b'), create2('/m/c'), set('/m/a', 'A2', 0), check('/m/a', 1), create('/m/s-', null, 2), del('/m/c')]);
    expect(r.err).toBe(OK);
    const zxid = r.zxid;
    expect(zxid).toBe(z(4));
    expect(h.txns.filter((t) => t.zxid === zxid)).toHaveLength(1);
    expect(r.results).toHaveLength(7);
    expect(r.results![0]).toEqual({ type: OpCode.create, path: '/m/a' });
    expect(r.results![1]).toEqual({ type: OpCode.create, path: '/m/a/b' });
    expect(r.results![2]).toMatchObject({ type: OpCode.create2, path: '/m/c', stat: { czxid: zxid, mzxid: zxid, pzxid: zxid, version: 0 } });
    expect(r.results![3]).toMatchObject({ type: OpCode.setData, stat: { czxid: zxid, mzxid: zxid, version: 1, numChildren: 1 } });
    expect(r.results![4]).toEqual({ type: OpCode.check });
    expect(r.results![5]).toEqual({ type: OpCode.create, path: '/m/s-0000000002' });
    expect(r.results![6]).toEqual({ type: OpCode.delete });
    expect(a.stat('/m')).toMatchObject({ numChildren: 2, pzxid: zxid, cversion: 4 });
    expect(a.stat('/m/a/b').czxid).toBe(zxid);
    expect(text(a.getData('/m/a').data)).toBe('A2');
  });

  it('a failing multi applies nothing: before -> 0, failing -> its code, after -> RUNTIMEINCONSISTENCY; header err 0', () => {
    const { h, a, b } = setup();
    a.create('/f');
    expect(b.getChildren('/f', true).err).toBe(OK);
    expect(b.exists('/f/a', true).err).toBe(NONODE);
    const digestBefore = h.core.tree.digest();
    const r = a.multi([create('/f/a'), set('/f', 'x'), del('/f/missing'), create('/f/b'), check('/f', 0)]);
    expect(r.err).toBe(OK);
    expect(r.zxid).toBe(z(4)); // the failed multi still took a zxid
    expect(r.results).toEqual([
      { type: -1, err: 0 },
      { type: -1, err: 0 },
      { type: -1, err: NONODE },
      { type: -1, err: RUNTIMEINCONSISTENCY },
      { type: -1, err: RUNTIMEINCONSISTENCY },
    ]);
    expect(h.core.tree.digest()).toBe(digestBefore);
    expect(a.exists('/f/a').err).toBe(NONODE);
    expect(a.stat('/f').version).toBe(0);
    expect(b.takeEvents()).toEqual([]);
    // The rollback left no pending trace: the sequence counter and creates behave normally.
    expect(a.create('/f/s-', null, { flags: 2 }).path).toBe('/f/s-0000000000');
    expect(a.create('/f/a').err).toBe(OK);
  });

  it('a multi failing on its first op, and one failing on a sub-op that depends on an earlier one', () => {
    const { a } = setup();
    expect(a.multi([create('/x/y'), create('/x')]).results).toEqual([
      { type: -1, err: NONODE },
      { type: -1, err: RUNTIMEINCONSISTENCY },
    ]);
    expect(a.multi([create('/x'), create('/x')]).results).toEqual([
      { type: -1, err: 0 },
      { type: -1, err: NODEEXISTS },
    ]);
    expect(a.multi([create('/x'), del('/x'), del('/x')]).results).toEqual([
      { type: -1, err: 0 },
      { type: -1, err: 0 },
      { type: -1, err: NONODE },
    ]);
    expect(a.exists('/x').err).toBe(NONODE);
  });

  it('fires the watches of a multi with its zxid, before the reply on the same connection', () => {
    const { a, b } = setup();
    a.create('/w');
    a.exists('/w/n', true);
    b.getChildren('/w', true);
    a.receive();
    const r = a.multi([create('/w/n'), set('/w/n', 'v')]);
    const log = a.log.slice(-2);
    expect(log.map((f) => f.xid)).toEqual([Xid.NOTIFICATION, r.xid]);
    expect(a.events).toEqual([{ type: EventType.NodeCreated, state: 3, path: '/w/n', zxid: r.zxid }]);
    expect(b.takeEvents()).toEqual([{ type: EventType.NodeChildrenChanged, state: 3, path: '/w', zxid: r.zxid }]);
  });

  it('an empty multi answers just the terminator and takes a zxid', () => {
    const { h, a } = setup();
    const before = h.core.lastZxid;
    const xid = a.send(OpCode.multi, (w) => {
      w.int(-1);
      w.bool(true);
      w.int(-1);
    });
    const [reply] = a.receive();
    expect(reply).toMatchObject({ xid, err: OK, zxid: before + 1n });
    expect(Buffer.from(reply!.body).toString('hex')).toBe('ffffffff01ffffffff');
  });

  it('a multi mixing reads and writes, or with a read op, is a MARSHALLINGERROR that takes a zxid', () => {
    const { h, a } = setup();
    const before = h.core.lastZxid;
    const mixed = a.multi([create('/x'), { type: OpCode.getData, request: { path: '/', watch: false } }]);
    expect(mixed).toMatchObject({ err: MARSHALLINGERROR, zxid: before + 1n });
    const reads = a.multi([{ type: OpCode.getData, request: { path: '/', watch: false } }]);
    expect(reads.err).toBe(MARSHALLINGERROR);
    expect(a.exists('/x').err).toBe(NONODE);
  });

  it('a multi with an invalid create flag fails as a whole', () => {
    const { a } = setup();
    const r = a.multi([create('/ok'), create('/bad', null, 9)]);
    expect(r.err).toBe(OK);
    expect(r.results).toEqual([
      { type: -1, err: 0 },
      { type: -1, err: BADARGUMENTS },
    ]);
  });

  it('multiRead: per-op results, header err 0, watch flags ignored', () => {
    const { a, b } = setup();
    a.create('/r', 'data');
    a.create('/r/c1');
    a.create('/secret', 's', { acl: [digest(Perms.ALL, digestId('alice:pw'))] });
    const before = a.stat('/r');
    const r = b.multiRead([
      { type: OpCode.getData, request: { path: '/r', watch: true } },
      { type: OpCode.getData, request: { path: '/missing', watch: true } },
      { type: OpCode.getChildren, request: { path: '/secret', watch: true } },
      { type: OpCode.getChildren, request: { path: '/r', watch: true } },
      { type: OpCode.getData, request: { path: '/secret', watch: false } },
    ]);
    expect(r.err).toBe(OK);
    expect(r.zxid).toBe(a.stat('/r').mzxid + 2n);
    expect(r.results).toEqual([
      { type: OpCode.getData, data: bytes('data'), stat: before },
      { type: -1, err: NONODE },
      { type: -1, err: NOAUTH },
      { type: OpCode.getChildren, children: ['c1'] },
      { type: -1, err: NOAUTH },
    ]);
    a.setData('/r', 'x');
    a.create('/r/c2');
    a.create('/missing');
    expect(b.takeEvents()).toEqual([]);
    expect(b.checkWatches('/r', 3).err).toBe(NOWATCHER);
    expect(b.multiRead([create('/zz')]).err).toBe(MARSHALLINGERROR);
  });
});

describe('which op makes a container or a TTL node (as ZooKeeper: the op outside multi, the flags inside)', () => {
  const sub = (type: number, path: string, flags: number, ttl?: bigint): MultiOp =>
    (type === OpCode.createTTL
      ? { type, request: { path, data: null, acl: OPEN, flags, ttl: ttl ?? 1000n } }
      : { type, request: { path, data: null, acl: OPEN, flags } }) as MultiOp;
  const kindOf = (h: Harness, path: string) => {
    const owner = h.core.tree.get(path)?.ephemeralOwner;
    if (owner === undefined) return 'missing';
    if (owner === 0x8000000000000000n) return 'container';
    if (owner >> 56n === 0xffn) return 'ttl';
    return owner === 0n ? 'persistent' : 'ephemeral';
  };

  it('outside multi: createContainer makes a container whatever its flags; create with the container flag does not', () => {
    const { h, a } = setup();
    expect(a.createContainer('/c0', null, { flags: 0 }).err).toBe(OK);
    expect(a.createContainer('/c-', null, { flags: CreateMode.PERSISTENT_SEQUENTIAL }).path).toBe('/c-0000000001');
    expect(a.create('/p4', null, { flags: CreateMode.CONTAINER }).err).toBe(OK);
    expect(a.create2('/q4', null, { flags: CreateMode.CONTAINER }).err).toBe(OK);
    expect(a.createContainer('/t', null, { flags: CreateMode.PERSISTENT_WITH_TTL }).err).toBe(UNIMPLEMENTED);
    expect([kindOf(h, '/c0'), kindOf(h, '/c-0000000001'), kindOf(h, '/p4'), kindOf(h, '/q4')]).toEqual(['container', 'container', 'persistent', 'persistent']);
  });

  it('inside multi: the flags pick the sub-op; a TTL flag on a create sub-op fails the whole multi to decode', () => {
    const { h, a } = setup({ extendedTypesEnabled: true });
    const ok = a.multi([
      sub(OpCode.create, '/m4', CreateMode.CONTAINER),
      sub(OpCode.createContainer, '/m0', 0),
      sub(OpCode.createTTL, '/mt0', 0),
      sub(OpCode.createTTL, '/mt5', CreateMode.PERSISTENT_WITH_TTL),
      sub(OpCode.create2, '/m2', 0),
    ]);
    expect(ok.err).toBe(OK);
    expect(ok.results!.map((r) => r.type)).toEqual([OpCode.create2, OpCode.create, OpCode.create, OpCode.create2, OpCode.create2]);
    expect(['/m4', '/m0', '/mt0', '/mt5', '/m2'].map((p) => kindOf(h, p))).toEqual(['container', 'persistent', 'persistent', 'ttl', 'persistent']);
    const before = h.core.tree.digest();
    for (const type of [OpCode.create, OpCode.create2, OpCode.createContainer]) {
      const r = a.multi([sub(OpCode.create, '/x', 0), sub(type, '/y', CreateMode.PERSISTENT_WITH_TTL)]);
      expect(r.err).toBe(MARSHALLINGERROR);
    }
    expect(h.core.tree.digest()).toBe(before);
    // The failed decode left nothing pending: /x can be created.
    expect(a.create('/x').err).toBe(OK);
  });
});

describe('closeSession while its ephemeral create is still pending', () => {
  it('the pending view treats the not-yet-applied ephemeral as deleted, so a later create of the path succeeds', () => {
    const h = new Harness();
    const owner = h.connect();
    const other = h.connect();
    h.autoCommit = false;
    owner.send(OpCode.create, (w) => CreateRequest.write(w, { path: '/a', data: null, acl: OPEN, flags: CreateMode.EPHEMERAL }));
    owner.send(OpCode.closeSession);
    const xid = other.send(OpCode.create, (w) => CreateRequest.write(w, { path: '/a', data: null, acl: OPEN, flags: CreateMode.PERSISTENT }));
    h.commitPending();
    const reply = other.receive().find((r) => r.xid === xid)!;
    expect(reply.err).toBe(ErrorCode.OK);
    expect(h.core.tree.get('/a')?.ephemeralOwner).toBe(0n);
  });
});
