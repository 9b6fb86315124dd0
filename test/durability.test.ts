/**
 * Durability of a real `corral server` process: SIGKILL under a concurrent write load, clean restarts,
 * torn and corrupt txn logs, snapshots with purging, and the `corral log|snapshot dump` tools.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Create2Response,
  CreateMode,
  CreateRequest,
  CreateTTLRequest,
  ErrorCode,
  GetChildrenRequest,
  GetChildrenResponse,
  GetDataRequest,
  GetDataResponse,
  OpCode,
  SetACLRequest,
  SetDataRequest,
  SetDataResponse,
  DeleteRequest,
  writeMultiRequest,
  type ACL,
  type Codec,
  type MultiOp,
} from '@corral/protocol';
import { DataTree, readSnapshot, recover, scanSegment, writeSnapshot, type Txn } from '../packages/server/src/index.js';
import {
  RawClient,
  corralCliPath,
  fourLetterWord,
  restartCorral,
  runCommand,
  startCorral,
  type RawReply,
  type ServerProcess,
} from '../packages/testing/src/index.js';

const OPEN: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('utf8'));

const servers: ServerProcess[] = [];
afterAll(async () => {
  for (const s of servers) await s.cleanup().catch(() => {});
});
function track(server: ServerProcess): ServerProcess {
  servers.push(server);
  return server;
}

// ---------------------------------------------------------------------------------------------
// A small client on top of RawClient: pipelined requests, replies decoded.

const multiCodec: Codec<readonly MultiOp[]> = { name: 'multi', minBytes: 0, write: (w, ops) => writeMultiRequest(w, ops), read: () => [] };

class Zk {
  private constructor(readonly raw: RawClient) {}

  static async connect(server: ServerProcess, timeoutMs = 4000, session?: { id: bigint; passwd: Uint8Array }): Promise<Zk> {
    const raw = await RawClient.connect(server.host, server.port, { timeoutMs, sessionId: session?.id, passwd: session?.passwd });
    return new Zk(raw);
  }

  get sessionId(): bigint {
    return this.raw.sessionId;
  }

  get passwd(): Uint8Array {
    return this.raw.connectResponse!.passwd!;
  }

  async create(p: string, data: string | null, flags = 0): Promise<RawReply> {
    return this.raw.request(OpCode.create2, CreateRequest, { path: p, data: data === null ? null : utf8(data), acl: OPEN, flags });
  }

  async setData(p: string, data: string, version = -1): Promise<RawReply> {
    return this.raw.request(OpCode.setData, SetDataRequest, { path: p, data: utf8(data), version });
  }

  async delete(p: string): Promise<RawReply> {
    return this.raw.request(OpCode.delete, DeleteRequest, { path: p, version: -1 });
  }

  async multi(ops: MultiOp[]): Promise<RawReply> {
    return this.raw.request(OpCode.multi, multiCodec, ops);
  }

  /** null when the node does not exist. */
  async get(p: string): Promise<{ data: string | null; version: number; ephemeralOwner: bigint } | null> {
    const reply = await this.raw.request(OpCode.getData, GetDataRequest, { path: p, watch: false });
    if (reply.header.err === ErrorCode.NONODE) return null;
    expect(reply.header.err, `getData ${p}`).toBe(0);
    const { data, stat } = GetDataResponse.decode(reply.body);
    return { data: text(data), version: stat.version, ephemeralOwner: stat.ephemeralOwner };
  }

  async children(p: string): Promise<string[]> {
    const reply = await this.raw.request(OpCode.getChildren, GetChildrenRequest, { path: p, watch: false });
    expect(reply.header.err, `getChildren ${p}`).toBe(0);
    return GetChildrenResponse.decode(reply.body).children;
  }

  async close(): Promise<void> {
    await this.raw.request(OpCode.closeSession).catch(() => undefined);
    this.raw.destroy();
  }
}

function ok(reply: RawReply, what: string): RawReply {
  expect(reply.header.err, what).toBe(0);
  return reply;
}

async function hash(server: ServerProcess): Promise<{ zxid: bigint; digest: string }> {
  const answer = await fourLetterWord(server.host, server.port, 'hash');
  const match = /^0x([0-9a-f]+): ([0-9a-f]{64})$/m.exec(answer);
  expect(match, answer).not.toBeNull();
  return { zxid: BigInt(`0x${match![1]}`), digest: match![2]! };
}

/** pino records (JSON lines) the process printed. */
function logRecords(server: ServerProcess): { level: number; msg: string; [k: string]: unknown }[] {
  return server
    .logText()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string });
}

const versionDir = (server: ServerProcess) => path.join(server.dataDir, 'version-2');

async function filesNamed(server: ServerProcess, prefix: 'log' | 'snapshot'): Promise<{ file: string; zxid: bigint }[]> {
  const names = await readdir(versionDir(server));
  return names
    .map((name) => /^(log|snapshot)\.([0-9a-f]+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && m[1] === prefix)
    .map((m) => ({ file: path.join(versionDir(server), m[0]), zxid: BigInt(`0x${m[2]}`) }))
    .sort((a, b) => (a.zxid < b.zxid ? -1 : 1));
}

/** Start offsets of a segment's records, plus the end of the last one. */
function recordOffsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  let pos = 16;
  while (pos + 4 <= bytes.length && view.getInt32(pos) !== 0) {
    offsets.push(pos);
    pos += 9 + view.getInt32(pos);
  }
  offsets.push(pos);
  return offsets;
}

async function writeAt(file: string, bytes: Uint8Array, position: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, position);
  } finally {
    await handle.close();
  }
}

/** Small deterministic PRNG so a failing round can be replayed with CRASH_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------

type NodeState = { data: string; version: number } | null;

/** What the clients know about one path: the last acknowledged state and, if a write was in flight at the kill, what it would make. */
interface Tracked {
  acked: NodeState;
  inflight?: { state: NodeState };
  /** Set for the two nodes of one multi: they must exist together. */
  pair?: string;
}

/**
 * Resolves as soon as a snapshot merge has created its temp file in `dataDir` (inotify), or after
 * `ms`: merges are short, and a kill at a random moment lands in one only now and then.
 */
function mergeUnderWayOrAfter(dataDir: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    const done = (): void => {
      clearTimeout(timer);
      watcher?.close();
      resolve();
    };
    const timer = setTimeout(done, ms);
    try {
      watcher = watch(path.join(dataDir, 'version-2'), (_event, name) => {
        if (name?.endsWith('.tmp')) done();
      });
    } catch {
      // No version-2 directory yet: the timeout decides.
    }
  });
}

describe('crash safety: SIGKILL under a concurrent write load', () => {
  it('keeps every acknowledged write, multis all-or-nothing, and live sessions with their ephemerals', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const rounds = Number(process.env.CRASH_ROUNDS ?? 20);
    const context = (round: number) => `seed ${seed} round ${round}`;
    let server = track(
      await startCorral({ settings: { snapCount: 200, 'autopurge.purgeInterval': 1, 'autopurge.snapRetainCount': 3 } }),
    );
    const model = new Map<string, Tracked>();
    const holders: { round: number; path: string; sessionId: bigint; passwd: Uint8Array; closed: boolean }[] = [];
    let maxAckedZxid = 0n;
    let acknowledged = 0;
    let lostInFlight = 0;
    let killedMidMerge = 0;
    let restartsFromSnapshot = 0;
    const started = performance.now();

    for (let round = 0; round < rounds; round++) {
      const driver = await Zk.connect(server);
      const dir = `/r${round}`;
      ok(await driver.create(dir, `round ${round}`), context(round));
      model.set(dir, { acked: { data: `round ${round}`, version: 0 } });

      // A session that is alive at the kill, holding an ephemeral.
      const holder = await Zk.connect(server, 6000);
      const ephemeral = `/eph-${round}`;
      ok(await holder.create(ephemeral, `held by ${holder.sessionId.toString(16)}`, CreateMode.EPHEMERAL), context(round));
      holders.push({ round, path: ephemeral, sessionId: holder.sessionId, passwd: holder.passwd, closed: false });

      const clients = await Promise.all([0, 1, 2, 3].map(() => Zk.connect(server)));
      const lane = async (client: Zk, name: string) => {
        const write = async (p: string, next: NodeState, send: () => Promise<RawReply>, check: (r: RawReply) => void) => {
          const entry = model.get(p) ?? { acked: null };
          model.set(p, entry);
          entry.inflight = { state: next };
          const reply = await send(); // rejects when the server dies: the write stays in flight
          check(reply);
          entry.acked = next;
          delete entry.inflight;
          acknowledged++;
          if (reply.header.zxid > maxAckedZxid) maxAckedZxid = reply.header.zxid;
        };
        try {
          for (let k = 0; ; k++) {
            const p = `${dir}/w-${name}-${k}`;
            await write(p, { data: `${p}=0`, version: 0 }, () => client.create(p, `${p}=0`), (r) => ok(r, `create ${p}`));
            const sets = 1 + Math.floor(random() * 3);
            for (let v = 1; v <= sets; v++) {
              await write(
                p,
                { data: `${p}=${v}`, version: v },
                () => client.setData(p, `${p}=${v}`),
                (r) => expect(SetDataResponse.decode(ok(r, `setData ${p}`).body).stat.version).toBe(v),
              );
            }
            const a = `${dir}/a-${name}-${k}`;
            const b = `${dir}/b-${name}-${k}`;
            model.set(a, { acked: null, pair: b });
            model.set(b, { acked: null, pair: a });
            const multiOps: MultiOp[] = [
              { type: OpCode.create, request: { path: a, data: utf8(`${a}!`), acl: OPEN, flags: 0 } },
              { type: OpCode.setData, request: { path: p, data: utf8(`${p}=m`), version: sets } },
              { type: OpCode.create, request: { path: b, data: utf8(`${b}!`), acl: OPEN, flags: 0 } },
            ];
            const pEntry = model.get(p)!;
            model.get(a)!.inflight = { state: { data: `${a}!`, version: 0 } };
            model.get(b)!.inflight = { state: { data: `${b}!`, version: 0 } };
            pEntry.inflight = { state: { data: `${p}=m`, version: sets + 1 } };
            const reply = await client.multi(multiOps);
            ok(reply, `multi ${a} ${b}`);
            for (const [q, state] of [[a, { data: `${a}!`, version: 0 }], [b, { data: `${b}!`, version: 0 }], [p, { data: `${p}=m`, version: sets + 1 }]] as const) {
              const entry = model.get(q)!;
              entry.acked = state;
              delete entry.inflight;
            }
            acknowledged++;
            if (reply.header.zxid > maxAckedZxid) maxAckedZxid = reply.header.zxid;
            if (k % 3 === 2) await write(p, null, () => client.delete(p), (r) => ok(r, `delete ${p}`));
          }
        } catch (error) {
          // Once the kill is under way, requests fail with "connection closed": that ends the lane.
          if (!killed) throw error;
        }
      };
      let killed = false;
      const failures: unknown[] = [];
      const lanes = clients.flatMap((client, c) => [0, 1, 2, 3].map((l) => lane(client, `${c}.${l}`).catch((e: unknown) => void failures.push(e))));
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.floor(random() * 500)));
      // Every other round the kill waits for a merge to be under way (snapCount=200: one starts every
      // few hundred writes), so kills in the middle of a merge do not depend on luck.
      if (round % 2 === 1) await mergeUnderWayOrAfter(server.dataDir, 1000);
      killed = true;
      await server.kill();
      await Promise.all(lanes);
      if (failures.length > 0) throw failures[0];
      for (const c of [driver, holder, ...clients]) c.raw.destroy();
      for (const entry of model.values()) if (entry.inflight) lostInFlight++;

      server = track(await restartCorral(server));
      expect(logRecords(server).some((r) => r.msg === 'recovered state from disk'), context(round)).toBe(true);
      // snapCount=200: merges run all the time, so some kills land in the middle of one.
      if (logRecords(server).some((r) => r.msg === 'removing an unfinished snapshot')) killedMidMerge++;
      if (logRecords(server).some((r) => r.msg === 'loaded snapshot')) restartsFromSnapshot++;
      const { zxid } = await hash(server);
      expect(zxid >= maxAckedZxid, `${context(round)}: recovered zxid 0x${zxid.toString(16)} < acknowledged 0x${maxAckedZxid.toString(16)}`).toBe(true);

      const checker = await Zk.connect(server);
      // The holder's session was alive: it is recovered with its ephemeral, until it expires (checked
      // first: the recovered session has 6 s from the restart).
      const eph = await checker.get(ephemeral);
      expect(eph, `${context(round)}: ephemeral ${ephemeral} of a live session lost`).not.toBeNull();
      expect(eph!.ephemeralOwner).toBe(BigInt.asIntN(64, holders.at(-1)!.sessionId));
      const dump = await fourLetterWord(server.host, server.port, 'dump');
      expect(dump).toContain(`0x${holders.at(-1)!.sessionId.toString(16)}:\n\t${ephemeral}`);
      if (round % 5 === 2) {
        // Reconnecting with the session's id and password works after the restart; closing it drops the ephemeral.
        const again = await Zk.connect(server, 6000, { id: holders.at(-1)!.sessionId, passwd: holders.at(-1)!.passwd });
        expect(again.sessionId).toBe(holders.at(-1)!.sessionId);
        expect(again.raw.connectResponse!.timeOut).toBeGreaterThan(0);
        await again.close();
        holders.at(-1)!.closed = true;
        expect(await checker.get(ephemeral)).toBeNull();
      }
      // Every tracked path of this round (and at the end, of every round) is at its acknowledged state
      // or at the state its in-flight write would have made; nothing else appeared.
      const lastRound = round === rounds - 1;
      const toCheck = [...model].filter(([p]) => lastRound || p === dir || p.startsWith(`${dir}/`));
      const observed = new Map<string, NodeState>();
      await Promise.all(
        toCheck.map(async ([p]) => {
          const got = await checker.get(p);
          observed.set(p, got && { data: got.data!, version: got.version });
        }),
      );
      for (const [p, entry] of toCheck) {
        const seen = observed.get(p)!;
        const allowed = [entry.acked, ...(entry.inflight ? [entry.inflight.state] : [])];
        expect(allowed, `${context(round)}: ${p} is ${JSON.stringify(seen)}`).toContainEqual(seen);
        if (entry.pair) {
          expect(observed.get(entry.pair) === null, `${context(round)}: multi ${p} / ${entry.pair} half applied`).toBe(seen === null);
        }
      }
      const children = await checker.children(dir);
      for (const child of children) expect(model.has(`${dir}/${child}`), `${context(round)}: unexpected ${dir}/${child}`).toBe(true);
      // What recovery decided is now the truth for the next rounds.
      for (const [p, entry] of toCheck) {
        entry.acked = observed.get(p)!;
        delete entry.inflight;
      }

      checker.raw.destroy();
    }

    // Sessions that were never resumed expire on the recovered server and take their ephemerals along.
    const last = holders.at(-1)!;
    expect(last.closed).toBe(false);
    const checker = await Zk.connect(server);
    const deadline = Date.now() + 20_000;
    while ((await checker.get(last.path)) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    for (const h of holders) expect(await checker.get(h.path), `${h.path} outlived its session`).toBeNull();
    await checker.close();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `crash test: ${rounds} rounds, seed ${seed}, ${acknowledged} acknowledged writes, ${lostInFlight} in flight at kills, ` +
        `${killedMidMerge} kills in the middle of a snapshot merge, ${restartsFromSnapshot} restarts from a snapshot, ${seconds}s`,
    );
    expect(restartsFromSnapshot).toBeGreaterThan(rounds / 2);
    expect(killedMidMerge).toBeGreaterThan(0);
    expect(acknowledged).toBeGreaterThan(rounds * 20);
    await server.stop();
    // Snapshots (and purges) happened between the kills, so recoveries started from them too.
    const wholeLog = await readFile(server.logPath, 'utf8');
    expect(wholeLog).toContain('"msg":"snapshot written"');
    expect(wholeLog).toContain('"msg":"loaded snapshot"');
  }, 150_000);
});

// ---------------------------------------------------------------------------------------------

describe('restart after a clean stop', () => {
  it('gives the identical hash digest, with containers, TTL nodes, sequentials, ACLs and a live session', async () => {
    let server = track(await startCorral({ settings: { extendedTypesEnabled: 'true', 'znode.container.checkIntervalMs': 100 } }));
    const zk = await Zk.connect(server, 20000);
    ok(await zk.create('/app', 'app'), 'create /app');
    for (let i = 0; i < 30; i++) ok(await zk.create('/app/seq-', `s${i}`, CreateMode.PERSISTENT_SEQUENTIAL), 'sequential');
    ok(await zk.raw.request(OpCode.createContainer, CreateRequest, { path: '/box', data: utf8('c'), acl: OPEN, flags: 4 }), 'container');
    ok(await zk.create('/box/item', 'i'), 'container child');
    ok(await zk.raw.request(OpCode.createTTL, CreateTTLRequest, { path: '/ttl', data: utf8('t'), acl: OPEN, flags: 5, ttl: 3_600_000n }), 'ttl');
    ok(await zk.create('/eph', 'e', CreateMode.EPHEMERAL), 'ephemeral');
    for (let i = 0; i < 20; i++) ok(await zk.setData('/ttl', `t${i}`), 'setData');
    ok(await zk.delete('/app/seq-0000000003'), 'delete');
    ok(await zk.raw.request(OpCode.setACL, SetACLRequest, { path: '/app', acl: [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }], version: -1 }), 'setACL');
    const before = await hash(server);
    const nodesBefore = /zk_znode_count\t(\d+)/.exec(await fourLetterWord(server.host, server.port, 'mntr'))![1];
    await server.stop();
    zk.raw.destroy();

    for (let restart = 0; restart < 2; restart++) {
      server = track(await restartCorral(server));
      expect(await hash(server)).toEqual(before);
      expect(/zk_znode_count\t(\d+)/.exec(await fourLetterWord(server.host, server.port, 'mntr'))![1]).toBe(nodesBefore);
      expect(await fourLetterWord(server.host, server.port, 'dump')).toContain(`0x${zk.sessionId.toString(16)}:\n\t/eph`);
      await server.stop();
    }

    // After the restart the node kinds still behave: the container takes children and is reaped when
    // empty, the next write continues the zxid sequence.
    server = track(await restartCorral(server));
    const again = await Zk.connect(server);
    expect(await again.get('/box')).toMatchObject({ data: 'c', ephemeralOwner: 0n });
    expect(await again.get('/ttl')).toMatchObject({ data: 't19', ephemeralOwner: 0n });
    const created = ok(await again.create('/box/second', 'x'), 'child of a recovered container');
    expect(created.header.zxid).toBe(before.zxid + 2n); // +1 is the createSession of `again`
    expect(Create2Response.decode(created.body).path).toBe('/box/second');
    ok(await again.delete('/box/item'), 'delete');
    ok(await again.delete('/box/second'), 'delete');
    const deadline = Date.now() + 10_000;
    while ((await again.get('/box')) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await again.get('/box')).toBeNull();
    await again.close();
    await server.stop();
  });
});

// ---------------------------------------------------------------------------------------------

/** The tree a list of txns makes, for the digest a recovered server must report. */
function digestOf(txns: Txn[]): { zxid: bigint; digest: string } {
  const tree = new DataTree();
  for (const txn of txns) tree.apply(txn);
  return { zxid: tree.lastZxid, digest: tree.digest() };
}

/** A server with `writes` acknowledged writes, stopped cleanly while its client was still connected. */
async function stoppedServerWithWrites(writes: number): Promise<{ server: ServerProcess; txns: Txn[]; segment: string }> {
  const server = track(await startCorral());
  const zk = await Zk.connect(server, 20000);
  ok(await zk.create('/t', 'base'), 'create');
  for (let i = 0; i < writes; i++) {
    ok(await (i % 4 === 0 ? zk.create(`/t/n${i}`, `v${i}`) : zk.setData('/t', `value-${i}-${'z'.repeat(i)}`)), `write ${i}`);
  }
  await server.stop();
  zk.raw.destroy();
  const segments = await filesNamed(server, 'log');
  const txns: Txn[] = [];
  for (const s of segments) txns.push(...scanSegment(await readFile(s.file)).txns);
  expect(txns.at(-1)!.body.type).toBe('setData');
  return { server, txns, segment: segments.at(-1)!.file };
}

describe('torn tail of the txn log', () => {
  it('cuts at several offsets inside the last record: the server starts, warns naming the zxid, and has every other txn', async () => {
    let { server, txns, segment } = await stoppedServerWithWrites(40);
    const original = await readFile(segment);
    const offsets = recordOffsets(original);
    const start = offsets.at(-2)!;
    const end = offsets.at(-1)!;
    const expected = digestOf(txns.slice(0, -1));
    const lastGood = `0x${txns.at(-2)!.zxid.toString(16)}`;
    expect(end - start).toBeLessThan(256); // so the length field's first three bytes are zero
    for (const cut of [start + 2, start + 4, start + 6, start + 8, start + 20, Math.floor((start + end) / 2), end - 1]) {
      await writeAt(segment, original.subarray(start, end), start);
      await writeAt(segment, new Uint8Array(end - cut), cut);
      server = track(await restartCorral(server));
      const warns = logRecords(server).filter((r) => r.level === 40);
      // Cut inside the (zero) high bytes of the length field, what is left looks like a clean end: nothing to warn about.
      const expectWarning = cut - start >= 4;
      expect(warns.some((r) => r.msg.includes(lastGood) && r.offset === start), `cut at +${cut - start}: ${JSON.stringify(warns)}`).toBe(expectWarning);
      expect(await hash(server)).toEqual(expected);
      await server.stop();
      // Truncated for good: the next start is clean.
      server = track(await restartCorral(server));
      expect(logRecords(server).filter((r) => r.level >= 40)).toEqual([]);
      expect(await hash(server)).toEqual(expected);
      await server.stop();
    }
  });

  it('a crash right after a new segment was created (header only) does not stop the next write', async () => {
    let { server, txns } = await stoppedServerWithWrites(10);
    const next = txns.at(-1)!.zxid + 1n;
    const header = (await readFile((await filesNamed(server, 'log'))[0]!.file)).subarray(0, 16);
    await writeFile(path.join(versionDir(server), `log.${next.toString(16)}`), Buffer.concat([header, Buffer.alloc(4096)]));
    server = track(await restartCorral(server));
    const zk = await Zk.connect(server, 20000);
    ok(await zk.create('/after', 'crash'), 'first write after the restart');
    expect(server.running).toBe(true);
    const before = await hash(server);
    await server.stop();
    zk.raw.destroy();
    server = track(await restartCorral(server));
    expect(await hash(server)).toEqual(before);
    await server.stop();
  });
});

describe('corrupt txn log', () => {
  it('a flipped byte in the middle of the log: corral server refuses to start, naming the file and offset', async () => {
    const { server, txns, segment } = await stoppedServerWithWrites(30);
    const bytes = await readFile(segment);
    const offsets = recordOffsets(bytes);
    const victim = Math.floor(offsets.length / 2);
    bytes[offsets[victim]! + 30] ^= 0x20;
    await writeFile(segment, bytes);
    const result = await runCommand(process.execPath, [corralCliPath(), 'server', server.cfgPath], { timeoutMs: 20_000 });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(`cannot recover: ${segment} at offset ${offsets[victim]}`);

    // The dump tool shows the records before the damage and where it is, and fails.
    const dump = await runCommand(process.execPath, [corralCliPath(), 'log', 'dump', segment], { timeoutMs: 20_000 });
    expect(dump.code).toBe(1);
    const lines = dump.stdout.trim().split('\n');
    expect(lines.filter((l) => / zxid 0x[0-9a-f]+ /.test(l))).toHaveLength(victim);
    expect(lines.at(-1)).toMatch(new RegExp(`^CORRUPT record at offset ${offsets[victim]} after ${victim} txns: checksum mismatch`));
    const json = await runCommand(process.execPath, [corralCliPath(), 'log', 'dump', '--json', segment], { timeoutMs: 20_000 });
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout) as { txns: { zxid: string; sessionId: string; type: string }[]; damage: { kind: string; offset: number } };
    expect(doc.damage).toMatchObject({ kind: 'corrupt', offset: offsets[victim] });
    expect(doc.txns.map((t) => t.zxid)).toEqual(txns.slice(0, victim).map((t) => `0x${t.zxid.toString(16)}`));
    expect(doc.txns[0]).toMatchObject({ type: 'createSession', sessionId: `0x${txns[0]!.sessionId.toString(16)}` });
  });

  it('log dump of a torn tail prints the records and the torn record, and succeeds', async () => {
    const { txns, segment } = await stoppedServerWithWrites(6);
    const bytes = await readFile(segment);
    const offsets = recordOffsets(bytes);
    bytes.fill(0, offsets.at(-2)! + 10);
    await writeFile(segment, bytes);
    const dump = await runCommand(process.execPath, [corralCliPath(), 'log', 'dump', segment], { timeoutMs: 20_000 });
    expect(dump.code).toBe(0);
    expect(dump.stdout).toContain(` zxid 0x${txns.at(-2)!.zxid.toString(16)} `);
    expect(dump.stdout).not.toContain(` zxid 0x${txns.at(-1)!.zxid.toString(16)} `);
    expect(dump.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^TORN record at offset ${offsets.at(-2)} after ${txns.length - 1} txns`));
  });
});

// ---------------------------------------------------------------------------------------------

describe('snapshots and purging', () => {
  it('snapCount=100: writes make snapshots in the worker, purging keeps 3, restarts recover from them, a damaged newest falls back', async () => {
    let server = track(await startCorral({ settings: { snapCount: 100, 'autopurge.purgeInterval': 1, 'autopurge.snapRetainCount': 3 } }));
    const zk = await Zk.connect(server, 20000);
    ok(await zk.create('/s', 'root'), 'create');
    // The worker skips a threshold while it is still merging (as ZooKeeper skips a snapshot while one
    // is running): write until five snapshots have been written, at least 1000 writes.
    const snapshotsWritten = () => logRecords(server).filter((r) => r.msg === 'snapshot written').length;
    for (let batch = 0; batch < 20 || (snapshotsWritten() < 5 && batch < 400); batch++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const n = batch * 50 + i;
          return (n % 2 === 0 ? zk.create(`/s/n${n}`, `v${n}`) : zk.setData('/s', `root-${n}`)).then((r) => ok(r, `write ${n}`));
        }),
      );
    }
    await zk.close();
    // Snapshots are merged and purged in the background: wait until every one started is done.
    const started = () => logRecords(server).filter((r) => r.msg === 'snapshot started').length;
    // (Twice, 300 ms apart: the log lines of the last close may still be on their way.)
    const deadline = Date.now() + 10_000;
    for (let settled = 0; settled < 2 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, snapshotsWritten() < started() ? 50 : 300));
      settled = snapshotsWritten() === started() ? settled + 1 : 0;
    }
    const written = logRecords(server).filter((r) => r.msg === 'snapshot written');
    expect(written.length).toBe(started());
    expect(written.length).toBeGreaterThanOrEqual(5); // thresholds are randomised between snapCount/2 and snapCount
    expect(logRecords(server).some((r) => r.msg === 'purged old snapshots and logs')).toBe(true);
    const snapshots = await filesNamed(server, 'snapshot');
    expect(snapshots.length).toBeGreaterThanOrEqual(1);
    expect(snapshots.length).toBeLessThanOrEqual(3);
    const logs = await filesNamed(server, 'log');
    expect(logs.length).toBeLessThan(written.length);
    expect(logs[0]!.zxid).toBeLessThanOrEqual(snapshots[0]!.zxid + 1n);
    const before = await hash(server);
    await server.stop();

    server = track(await restartCorral(server));
    expect(await hash(server)).toEqual(before);
    const newest = (await filesNamed(server, 'snapshot')).at(-1)!;
    expect(logRecords(server).find((r) => r.msg === 'loaded snapshot')).toMatchObject({ file: newest.file });
    await server.stop();

    // The dump tool streams a valid snapshot.
    const dump = await runCommand(process.execPath, [corralCliPath(), 'snapshot', 'dump', newest.file], { timeoutMs: 20_000 });
    expect(dump.code).toBe(0);
    expect(dump.stdout).toContain(`zxid 0x${newest.zxid.toString(16)} (exact)`);
    expect(dump.stdout).toMatch(/^\/s czxid=0x[0-9a-f]+ mzxid=0x[0-9a-f]+ .* dataLength=\d+ acl=\[world:anyone:cdrwa\]$/m);
    expect(dump.stdout).toMatch(/\n\d+ nodes, \d+ sessions; checksum ok\.\n$/);
    const json = await runCommand(process.execPath, [corralCliPath(), 'snapshot', 'dump', '--json', newest.file], { timeoutMs: 20_000 });
    const doc = JSON.parse(json.stdout) as { zxid: string; exact: boolean; nodes: { path: string; czxid: string }[]; count: number; error: null };
    expect(doc.zxid).toBe(`0x${newest.zxid.toString(16)}`);
    expect(doc.exact).toBe(true);
    expect(doc.count).toBe(doc.nodes.length);
    expect(doc.nodes[0]).toMatchObject({ path: '/', czxid: '0x0' });
    expect(doc.error).toBeNull();

    // Damage the newest snapshot: recovery warns, falls back to the previous one and replays more log.
    const bytes = await readFile(newest.file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(newest.file, bytes);
    const bad = await runCommand(process.execPath, [corralCliPath(), 'snapshot', 'dump', newest.file], { timeoutMs: 20_000 });
    expect(bad.code).toBe(1);
    expect(bad.stdout.trim().split('\n').at(-1)).toMatch(/^DAMAGED after \d+ nodes: .*(checksum mismatch|undecodable|bad node length|truncated)/);
    server = track(await restartCorral(server));
    expect(await hash(server)).toEqual(before);
    const records = logRecords(server);
    expect(records.some((r) => r.level === 40 && r.msg.includes('snapshot is damaged') && String(r.err).includes(newest.file))).toBe(true);
    const loaded = records.find((r) => r.msg === 'loaded snapshot');
    expect(loaded?.file).not.toBe(newest.file);
    await server.stop();
  });

  it('a fuzzy snapshot from an older Corral is replaced by an exact one at start, and the worker merges onto it', async () => {
    let server = track(await startCorral({ settings: { snapCount: 100 } }));
    let zk = await Zk.connect(server, 20000);
    ok(await zk.create('/f', 'root'), 'create');
    for (let i = 0; i < 150; i++) ok(await zk.create(`/f/n${i}`, `v${i}`), `create ${i}`);
    await zk.close();
    const before = await hash(server);
    await server.stop();
    // Rewrite the data directory as an older Corral left it: one fuzzy (version 1) snapshot, the whole log.
    const quiet = pino({ level: 'silent' });
    const state = await recover({ dataDir: server.dataDir, dataLogDir: server.dataDir, log: quiet });
    for (const { file } of await filesNamed(server, 'snapshot')) await rm(file);
    const fuzzy = await writeSnapshot(server.dataDir, state.tree, state.sessions);
    expect((await readSnapshot(fuzzy.file)).exact).toBe(false);

    server = track(await restartCorral(server));
    expect(await hash(server)).toEqual(before);
    const migrated = logRecords(server).find((r) => r.msg === 'wrote an exact snapshot to merge later snapshots onto');
    expect(migrated).toMatchObject({ file: fuzzy.file });
    expect((await readSnapshot(fuzzy.file)).exact).toBe(true);
    zk = await Zk.connect(server, 20000);
    for (let i = 0; i < 300 && !logRecords(server).some((r) => r.msg === 'snapshot written'); i++) ok(await zk.setData('/f', `set ${i}`), `set ${i}`);
    await zk.close();
    const deadline = Date.now() + 10_000;
    while (!logRecords(server).some((r) => r.msg === 'snapshot written') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(logRecords(server).find((r) => r.msg === 'snapshot written')).toMatchObject({ base: fuzzy.file });
  });

  it('a merge that cannot read the log (a segment removed under it) is logged, and the server keeps serving writes', async () => {
    const server = track(await startCorral({ settings: { snapCount: 100 } }));
    const zk = await Zk.connect(server, 20000);
    ok(await zk.create('/g', 'root'), 'create');
    const snapshotsWritten = () => logRecords(server).filter((r) => r.msg === 'snapshot written').length;
    for (let i = 0; i < 400 && snapshotsWritten() === 0; i++) ok(await zk.setData('/g', `a${i}`), `set ${i}`);
    const deadline = Date.now() + 10_000;
    while (snapshotsWritten() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(snapshotsWritten()).toBe(1);
    // The segment after the snapshot is what the next merge needs: take it away.
    const snapshot = (await filesNamed(server, 'snapshot')).at(-1)!;
    const needed = (await filesNamed(server, 'log')).filter((l) => l.zxid <= snapshot.zxid + 1n).at(-1)!;
    await rm(needed.file);
    const failed = () => logRecords(server).filter((r) => r.msg === 'snapshot failed; will retry at the next threshold');
    for (let i = 0; i < 400 && failed().length === 0; i++) ok(await zk.setData('/g', `b${i}`), `set ${i}`);
    while (failed().length === 0 && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 50));
    expect(String(failed()[0]?.err)).toMatch(/RecoveryError: .*gap in the txn log|txn log ends/);
    ok(await zk.setData('/g', 'still serving'), 'set after the failed merge');
    expect(snapshotsWritten()).toBe(1);
    await zk.close();
  });
});
