/**
 * Unit tests of the persistence layer on real files in a temp dir: txn codec, log segment scanning
 * (torn vs corrupt), snapshots (incl. fuzzy ones taken while the tree changes), recovery and purge.
 */
import { open, readFile, readdir, rm, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parentOf } from '../src/core/path.js';
import { CONTAINER_OWNER, TTL_OWNER_BASE, makeZxid, type Txn, type TxnBody } from '../src/core/txn.js';
import { listByZxid, versionDir } from '../src/persistence/files.js';
import { LOG_HEADER_BYTES, scanSegment } from '../src/persistence/logFormat.js';
import { purgeOldFiles } from '../src/persistence/purge.js';
import { RecoveryError, recover } from '../src/persistence/recovery.js';
import { SnapshotError, readSnapshot, visitSnapshot, writeSnapshot } from '../src/persistence/snapshot.js';
import { decodeTxn, encodeTxn, txnReader } from '../src/persistence/txnCodec.js';
import { decodeForMerge } from '../src/persistence/loggedTxn.js';
import { ACL as AclRecord, DecodeError, JuteReader, vector } from '@corral/protocol';
import { TxnLog } from '../src/persistence/txnLog.js';
import { ZERO_AHEAD_BYTES, ZeroFill } from '../src/persistence/zeroFill.js';
import { tempDirs } from './tempDirs.js';
import { Workload, treeState, utf8, variedWorkload } from './workload.js';

const tempDir = tempDirs('corral-persist-');

/** A pino logger whose records land in an array, for checking warn lines. */
function captureLog(): { log: pino.Logger; lines: { level: number; msg: string; [k: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

// ---------------------------------------------------------------------------------------------

describe('txn codec', () => {
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  const text = fc.string({ unit: 'binary', maxLength: 40 });
  const data = fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null });
  const acl = fc.array(fc.record({ perms: i32, id: fc.record({ scheme: text, id: text }) }), { maxLength: 3 });
  const owner = fc.oneof(fc.constant(0n), fc.constant(CONTAINER_OWNER), u64.map((t) => TTL_OWNER_BASE | (t & 0xffffffffffn)), u64);
  const op = fc.constantFrom('create' as const, 'create2' as const, 'createContainer' as const, 'createTTL' as const);
  const opBody: fc.Arbitrary<TxnBody> = fc.oneof(
    fc.record({ type: fc.constant('create' as const), path: text, data, acl, ephemeralOwner: owner, parentCVersion: i32, op }),
    fc.record({ type: fc.constant('delete' as const), path: text }),
    fc.record({ type: fc.constant('setData' as const), path: text, data, version: i32 }),
    fc.record({ type: fc.constant('setACL' as const), path: text, acl, version: i32 }),
    fc.record({ type: fc.constant('check' as const), path: text }),
    fc.record({ type: fc.constant('error' as const), err: i32 }),
  );
  const body: fc.Arbitrary<TxnBody> = fc.oneof(
    opBody,
    fc.record({ type: fc.constant('createSession' as const), timeoutMs: i32 }),
    fc.constant({ type: 'closeSession' as const }),
    fc.record({ type: fc.constant('multi' as const), ops: fc.array(opBody, { maxLength: 6 }) }),
  );
  const txn: fc.Arbitrary<Txn> = fc.record({
    zxid: fc.bigInt({ min: 1n, max: (1n << 63n) - 1n }),
    sessionId: u64,
    cxid: i32,
    timeMs: fc.maxSafeNat(),
    body,
  });

  it('decodeTxn(encodeTxn(t)) equals t for every txn body type, multi included', () => {
    fc.assert(
      fc.property(txn, (t) => {
        expect(decodeTxn(encodeTxn(t))).toEqual(t);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects trailing bytes and unknown types', () => {
    const bytes = encodeTxn({ zxid: 1n, sessionId: 1n, cxid: 1, timeMs: 1, body: { type: 'check', path: '/a' } });
    expect(() => decodeTxn(new Uint8Array([...bytes, 0]))).toThrow(/trailing/);
    const bad = new Uint8Array(bytes);
    new DataView(bad.buffer).setInt32(28, 99); // header: long, int, long, long, then int type
    expect(() => decodeTxn(bad)).toThrow(/unknown txn type 99/);
  });

  /** The merge decoder on `bytes` placed inside a larger segment buffer, bytes [pad, pad + cut) of it, as the log reader hands a record over. */
  const decodeInSegment = (bytes: Uint8Array, pad: number, cut = bytes.length) => {
    const segment = Buffer.alloc(bytes.length + 2 * pad, 0xee);
    segment.set(bytes, pad);
    const reader = txnReader(segment);
    reader.reposition(pad, pad + cut);
    return decodeForMerge(reader, segment);
  };

  it('the merge decoder reads a create in place (path, data and ACL bytes as the snapshot entry has them), a setData lightly and any other txn whole', () => {
    fc.assert(
      fc.property(txn, fc.nat(40), (t, pad) => {
        const logged = decodeInSegment(encodeTxn(t), pad);
        expect(logged.zxid).toBe(t.zxid);
        if (t.body.type === 'setData') {
          const data = t.body.data === null ? null : Buffer.from(t.body.data).toString('latin1');
          return void expect(logged).toEqual({ kind: 'setData', zxid: t.zxid, timeMs: t.timeMs, path: t.body.path, data, version: t.body.version });
        }
        if (t.body.type !== 'create') return void expect(logged).toEqual({ kind: 'other', zxid: t.zxid, txn: t });
        if (logged.kind !== 'create') throw new Error('a create read as another txn');
        expect({ path: logged.path, timeMs: logged.timeMs, ephemeralOwner: logged.ephemeralOwner, parentCVersion: logged.parentCVersion }).toEqual({
          path: t.body.path,
          timeMs: t.timeMs,
          ephemeralOwner: t.body.ephemeralOwner,
          parentCVersion: t.body.parentCVersion,
        });
        const head = new JuteReader(logged.segment, { start: logged.headStart, end: logged.headEnd });
        expect([head.ustring(), head.byteString(), vector(AclRecord).read(head), head.remaining]).toEqual([
          t.body.path,
          t.body.data === null ? null : Buffer.from(t.body.data).toString('latin1'),
          t.body.acl,
          0,
        ]);
      }),
      { numRuns: 2000 },
    );
  });

  it('the merge decoder refuses a create or setData cut short or with bytes to spare, and never reads past its record', () => {
    const acl = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
    for (const body of [
      { type: 'create', path: '/a/b', data: utf8('data'), acl, ephemeralOwner: 0n, parentCVersion: 1, op: 'create' },
      { type: 'setData', path: '/a/b', data: utf8('data'), version: 3 },
    ] as TxnBody[]) {
      const bytes = encodeTxn({ zxid: 7n, sessionId: 1n, cxid: 1, timeMs: 1, body });
      for (let cut = 0; cut < bytes.length; cut++) {
        // The bytes after the cut are still in the buffer (the next record): the decoder must stop at `end`.
        expect(() => decodeInSegment(bytes, 8, cut), `${body.type} cut at ${cut}`).toThrow(DecodeError);
      }
      expect(() => decodeInSegment(new Uint8Array([...bytes, 0]), 0)).toThrow(/1 trailing bytes after a (create|setData) txn/);
    }
  });
});

// ---------------------------------------------------------------------------------------------

/** Writes txns with a real TxnLog (small preallocation), `perBatch` txns per group commit. */
async function writeLog(dir: string, txns: Txn[], options: { perBatch?: number; rollEvery?: number; preallocateBytes?: number } = {}): Promise<TxnLog> {
  const log = new TxnLog({ dir, preallocateBytes: options.preallocateBytes ?? 64 * 1024, forceSync: false, maxSegmentBytes: 1 << 30 });
  await log.init();
  const perBatch = options.perBatch ?? 3;
  for (let i = 0; i < txns.length; i++) {
    log.append(txns[i]!);
    if ((i + 1) % perBatch === 0 || i === txns.length - 1) await log.flush();
    if (options.rollEvery && (i + 1) % options.rollEvery === 0) log.roll();
  }
  await log.close();
  return log;
}

/** Start offsets of the records of a segment, plus the end of the last one. */
function recordOffsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  let pos = LOG_HEADER_BYTES;
  while (pos + 4 <= bytes.length && view.getInt32(pos) !== 0) {
    offsets.push(pos);
    pos += 9 + view.getInt32(pos);
  }
  offsets.push(pos);
  return offsets;
}

describe('log segments', () => {
  it('a segment written by TxnLog scans back to the same txns; preallocated zeros are a clean end', async () => {
    const dir = await tempDir();
    const w = variedWorkload();
    await writeLog(dir, w.txns);
    const [segment] = await listByZxid(versionDir(dir), 'log');
    const bytes = await readFile(segment!.file);
    expect(bytes.length % (64 * 1024)).toBe(0);
    const scan = scanSegment(bytes);
    expect(scan.damage).toBeUndefined();
    expect(scan.txns).toEqual(w.txns);
  });

  it('cutting the last record at every byte offset is torn (or a clean end), never corrupt, and keeps every earlier txn', async () => {
    const dir = await tempDir();
    const w = variedWorkload();
    await writeLog(dir, w.txns);
    const [segment] = await listByZxid(versionDir(dir), 'log');
    const original = await readFile(segment!.file);
    const offsets = recordOffsets(original);
    const start = offsets.at(-2)!;
    const end = offsets.at(-1)!;
    expect(end - start).toBeGreaterThan(100);
    let torn = 0;
    for (let cut = start; cut < end; cut++) {
      for (const mode of ['zero-filled', 'truncated'] as const) {
        const bytes = mode === 'zero-filled' ? Buffer.from(original) : Buffer.from(original.subarray(0, cut));
        if (mode === 'zero-filled') bytes.fill(0, cut);
        const scan = scanSegment(bytes);
        expect(scan.txns).toEqual(w.txns.slice(0, -1));
        expect(scan.validEnd).toBe(start);
        if (scan.damage) {
          torn++;
          expect(scan.damage).toMatchObject({ kind: 'torn', offset: start });
        } else {
          // Only when what is left of the record is zeros, which is what a clean end looks like.
          expect(original.subarray(start, cut).every((b) => b === 0)).toBe(true);
        }
      }
    }
    expect(torn).toBeGreaterThan(2 * (end - start) - 10);
  });

  it('flipping any single byte of a middle record is corrupt, with the txns before it intact', async () => {
    const dir = await tempDir();
    const w = variedWorkload();
    await writeLog(dir, w.txns);
    const [segment] = await listByZxid(versionDir(dir), 'log');
    const original = await readFile(segment!.file);
    const offsets = recordOffsets(original);
    const index = Math.floor((offsets.length - 1) / 2);
    const start = offsets[index]!;
    const end = offsets[index + 1]!;
    for (let at = start; at < end; at++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bytes = Buffer.from(original);
        bytes[at] ^= mask;
        const scan = scanSegment(bytes);
        expect(scan.damage, `byte ${at - start} of the record, mask ${mask}`).toMatchObject({ kind: 'corrupt', offset: start });
        expect(scan.txns).toEqual(w.txns.slice(0, index));
      }
    }
  });

  it('a bad file header is corrupt; an all-zero or empty file is torn', () => {
    const zeros = new Uint8Array(4096);
    expect(scanSegment(zeros).damage).toMatchObject({ kind: 'torn', offset: 0 });
    expect(scanSegment(new Uint8Array(0)).damage).toMatchObject({ kind: 'torn', offset: 0 });
    const junk = new Uint8Array(4096).fill(7);
    expect(scanSegment(junk).damage).toMatchObject({ kind: 'corrupt', offset: 0 });
  });
});

// ---------------------------------------------------------------------------------------------

describe('snapshots', () => {
  it('writeSnapshot / readSnapshot round trip: same digest, zxid, sessions, ephemerals, containers and TTL nodes', async () => {
    const dir = await tempDir();
    await new TxnLog({ dir, preallocateBytes: 4096, forceSync: false, maxSegmentBytes: 1 << 30 }).init();
    const w = variedWorkload();
    const sessions = [{ id: 0x100n, timeoutMs: 30000 }, { id: 0xff00000000000001n, timeoutMs: 4000 }];
    const written = await writeSnapshot(dir, w.tree, sessions);
    expect(path.basename(written.file)).toBe(`snapshot.${w.tree.lastZxid.toString(16)}`);
    const loaded = await readSnapshot(written.file);
    expect(loaded.zxid).toBe(w.tree.lastZxid);
    expect(loaded.sessions).toEqual(sessions);
    expect(treeState(loaded.tree)).toEqual(treeState(w.tree));
    // The streaming visitor sees the same entries, parents first.
    const seen: string[] = [];
    const result = await visitSnapshot(written.file, { node: (p) => void seen.push(p) });
    expect(result).toEqual({ zxid: w.tree.lastZxid, sessions: 2, nodes: w.tree.nodeCount, exact: false });
    for (const p of seen) if (p !== '/') expect(seen.indexOf(parentOf(p))).toBeLessThan(seen.indexOf(p));
  });

  it('any damage (a flipped byte, a cut) is a SnapshotError', async () => {
    const dir = await tempDir();
    await new TxnLog({ dir, preallocateBytes: 4096, forceSync: false, maxSegmentBytes: 1 << 30 }).init();
    const w = variedWorkload();
    const { file } = await writeSnapshot(dir, w.tree, []);
    const original = await readFile(file);
    for (let at = 0; at < original.length; at += 7) {
      const bytes = Buffer.from(original);
      bytes[at] ^= 0x5a;
      await writeFile(file, bytes);
      await expect(readSnapshot(file), `byte ${at}`).rejects.toBeInstanceOf(SnapshotError);
    }
    for (const length of [0, 3, 20, original.length - 9, original.length - 1]) {
      await writeFile(file, original.subarray(0, length));
      await expect(readSnapshot(file), `cut at ${length}`).rejects.toBeInstanceOf(SnapshotError);
    }
  });

  it('a fuzzy snapshot of ~50k nodes taken while txns are applied, plus replay of the log after its zxid, equals the live tree', async () => {
    const dir = await tempDir();
    await new TxnLog({ dir, preallocateBytes: 4096, forceSync: false, maxSegmentBytes: 1 << 30 }).init();
    const w = new Workload();
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const s1 = 0x1000n;
    const s2 = 0x2000n;
    const s3 = 0x3000n;
    for (const s of [s1, s2, s3]) w.apply(s, { type: 'createSession', timeoutMs: 30000 });
    // Ephemerals first in iteration order: they are written in the first chunk, then re-created by another session.
    for (let i = 0; i < 50; i++) w.create(`/e${i}`, utf8(`eph${i}`), s1, s1);
    w.create('/c', null, CONTAINER_OWNER);
    // Parents first, so they are written long before their children: a child deleted before the
    // writer reaches it is missing from the snapshot while its parent's old pzxid is in it.
    for (let d = 0; d < 30; d++) w.create(`/d${d}`, utf8(`dir${d}`));
    for (let z = 0; z < 10; z++) w.create(`/z${z}`, utf8(`one delete below ${z}`));
    for (let d = 0; d < 30; d++) for (let c = 0; c < 1000; c++) w.create(`/d${d}/n${c}`, utf8(`node-${d}-${c}-${'p'.repeat(40)}`));
    for (let z = 0; z < 10; z++) for (let c = 0; c < 2000; c++) w.create(`/z${z}/n${c}`, utf8(`node-${z}-${c}-${'q'.repeat(40)}`));
    expect(w.tree.nodeCount).toBeGreaterThan(50_000);

    // Applies a few txns per turn of the event loop while the snapshot is written.
    let extra = 0;
    let turns = 0;
    const live = new Set<string>();
    const step = () => {
      turns++;
      if (turns === 1) {
        // The writer has yielded after its first chunk: the /z children (inserted last) are not written
        // yet, their parents are. Nothing else touches /z, so these deletes decide the parents' pzxid.
        for (let z = 0; z < 10; z++) for (const c of [1999, 1500 + z]) w.delete(`/z${z}/n${c}`);
      }
      for (let k = 0; k < 8; k++) {
        const d = random(30);
        const c = random(1000);
        const target = `/d${d}/n${c}`;
        switch (random(9)) {

          case 0:
          case 1:
            if (w.tree.get(target)) w.setData(target, utf8(`changed-${w.counter}`));
            break;
          case 2:
          case 3:
            // Deletes of nodes the snapshot may not have reached: their parent's pzxid must still move.
            if (w.tree.get(target) && w.tree.get(target)!.children.size === 0) w.delete(target);
            else if (!w.tree.get(target)) w.create(target, utf8(`back-${w.counter}`));
            break;
          case 4: {
            const fresh = `/d${d}/x${extra++}`;
            w.create(fresh);
            w.create(`${fresh}/leaf`, null, random(2) ? s3 : 0n, s3);
            live.add(fresh);
            break;
          }
          case 5: {
            const fresh = [...live][random(Math.max(1, live.size))];
            if (fresh && w.tree.get(fresh)) {
              if (w.tree.get(`${fresh}/leaf`)) w.delete(`${fresh}/leaf`);
              w.delete(fresh);
              live.delete(fresh);
            }
            break;
          }
          case 6:
            w.multiCreate(`/d${d}/ma${w.counter}`, `/d${d}/mb${w.counter}`);
            break;
          case 7: {
            // An ephemeral of s1 is deleted and re-created by s2 (it then appears twice in the snapshot).
            const e = `/e${random(50)}`;
            const node = w.tree.get(e);
            if (node && node.ephemeralOwner === s1) {
              w.delete(e, s1);
              w.create(e, utf8('now s2'), s2, s2);
            }
            break;
          }
          case 8:
            w.create(`/c/k${w.counter}`);
            break;
        }
      }
    };
    let stop = false;
    const loop = new Promise<void>((resolve) => {
      const tick = () => {
        if (stop) return resolve();
        step();
        setImmediate(tick);
      };
      setImmediate(tick);
    });
    const zxidAtStart = w.tree.lastZxid;
    const sessions = [s1, s2, s3].map((id) => ({ id, timeoutMs: 30000 }));
    const { file, zxid } = await writeSnapshot(dir, w.tree, sessions);
    stop = true;
    await loop;
    expect(zxid).toBe(zxidAtStart);
    expect(turns).toBeGreaterThan(5); // the writer really yielded to the txn loop
    expect(w.tree.lastZxid).toBeGreaterThan(zxid + 50n);
    // More history after the snapshot: s1 goes away (its closeSession must not touch s2's ephemerals).
    w.apply(s1, { type: 'closeSession' });
    for (let i = 0; i < 20; i++) step();

    const loaded = await readSnapshot(file);
    expect(loaded.zxid).toBe(zxid);
    for (const txn of w.txns) if (txn.zxid > zxid) loaded.tree.replay(txn);
    expect(treeState(loaded.tree)).toEqual(treeState(w.tree));
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------

describe('recover()', () => {
  async function recoverQuiet(dir: string) {
    const capture = captureLog();
    const state = await recover({ dataDir: dir, dataLogDir: dir, log: capture.log });
    return { state, lines: capture.lines };
  }

  it('removes a snapshot temp file left by a stop in the middle of writing it, and recovers without it', async () => {
    const dir = await tempDir();
    const w = new Workload();
    const log = new TxnLog({ dir, preallocateBytes: 16 * 1024, forceSync: false, maxSegmentBytes: 1 << 30 });
    await log.init();
    for (let i = 0; i < 20; i++) log.append(w.create(`/t${i}`));
    await log.flush();
    await log.close();
    const { writeFile, readdir } = await import('node:fs/promises');
    const leftover = `${versionDir(dir)}/snapshot.${(0x100000005).toString(16)}.tmp`;
    await writeFile(leftover, 'half a snapshot');
    const { state, lines } = await recoverQuiet(dir);
    expect(await readdir(versionDir(dir))).not.toContain(leftover.split('/').pop());
    expect(lines.some((l) => l.level === 40 && l.msg === 'removing an unfinished snapshot')).toBe(true);
    expect(state.tree.digest()).toBe(w.tree.digest());
  });

  it('replays logs over the newest valid snapshot; a damaged newest snapshot falls back to the previous one', async () => {
    const dir = await tempDir();
    const w = new Workload();
    const log = new TxnLog({ dir, preallocateBytes: 16 * 1024, forceSync: false, maxSegmentBytes: 1 << 30 });
    await log.init();
    const snapshots: string[] = [];
    for (let i = 0; i < 300; i++) {
      log.append(i % 3 === 0 ? w.create(`/n${i}`) : w.setData(`/n${i - (i % 3)}`, utf8(`v${i}`)));
      if (i % 5 === 4) await log.flush();
      if (i % 100 === 99) {
        // What Durability does: roll, then snapshot the committed tree.
        log.roll();
        snapshots.push((await writeSnapshot(dir, w.tree, [])).file);
      }
    }
    await log.flush();
    await log.close();
    expect((await listByZxid(versionDir(dir), "log")).length).toBe(3);

    const clean = await recoverQuiet(dir);
    expect(treeState(clean.state.tree)).toEqual(treeState(w.tree));
    expect(clean.state.snapshotZxid).toBe(makeZxid(1, 300));

    const newest = await readFile(snapshots[2]!);
    const damaged = Buffer.from(newest);
    damaged[Math.floor(damaged.length / 2)] ^= 1;
    await writeFile(snapshots[2]!, damaged);
    const fallback = await recoverQuiet(dir);
    expect(treeState(fallback.state.tree)).toEqual(treeState(w.tree));
    expect(fallback.state.snapshotZxid).toBe(makeZxid(1, 200));
    expect(fallback.lines.some((l) => l.level === 40 && /snapshot is damaged/.test(l.msg) && String(l.err).includes(snapshots[2]!))).toBe(true);

    // Every snapshot damaged: a full replay of the log from the first txn still gets there.
    for (const file of snapshots) await writeFile(file, Buffer.from('garbage'));
    const fromLog = await recoverQuiet(dir);
    expect(treeState(fromLog.state.tree)).toEqual(treeState(w.tree));
  });

  it('cuts a torn tail with a warning naming the zxid, and the next start is clean', async () => {
    const dir = await tempDir();
    const w = variedWorkload();
    await writeLog(dir, w.txns);
    const [segment] = await listByZxid(versionDir(dir), 'log');
    const bytes = await readFile(segment!.file);
    const offsets = recordOffsets(bytes);
    bytes.fill(0, offsets.at(-2)! + 5);
    await writeFile(segment!.file, bytes);
    const { state, lines } = await recoverQuiet(dir);
    const expected = new Workload();
    for (const txn of w.txns.slice(0, -1)) expected.tree.apply(txn);
    expect(treeState(state.tree)).toEqual(treeState(expected.tree));
    const lastGood = `0x${w.txns.at(-2)!.zxid.toString(16)}`;
    expect(lines.some((l) => l.level === 40 && l.msg.includes(lastGood) && l.offset === offsets.at(-2))).toBe(true);
    const again = await recoverQuiet(dir);
    expect(again.lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(treeState(again.state.tree)).toEqual(treeState(expected.tree));
  });

  it('a damaged record in the middle of the log is a RecoveryError naming the file and offset', async () => {
    const dir = await tempDir();
    const w = variedWorkload();
    await writeLog(dir, w.txns);
    const [segment] = await listByZxid(versionDir(dir), 'log');
    const bytes = await readFile(segment!.file);
    const offsets = recordOffsets(bytes);
    bytes[offsets[10]! + 12] ^= 0x10;
    await writeFile(segment!.file, bytes);
    const error = await recoverQuiet(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecoveryError);
    expect((error as RecoveryError).file).toBe(segment!.file);
    expect((error as RecoveryError).offset).toBe(offsets[10]);
    expect((error as Error).message).toContain(`${segment!.file} at offset ${offsets[10]}`);
  });

  it('a gap in zxids is a RecoveryError, within a segment or from a missing segment', async () => {
    const inSegment = await tempDir();
    const w = variedWorkload();
    await writeLog(inSegment, [...w.txns.slice(0, 10), ...w.txns.slice(11)]);
    const error = await recoverQuiet(inSegment).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecoveryError);
    expect((error as Error).message).toMatch(new RegExp(`gap.*0x${w.txns[11]!.zxid.toString(16)} follows 0x${w.txns[9]!.zxid.toString(16)}`));

    const missing = await tempDir();
    await writeLog(missing, w.txns, { perBatch: 1, rollEvery: 8 });
    const segments = await listByZxid(versionDir(missing), 'log');
    expect(segments.length).toBeGreaterThan(2);
    await rm(segments[1]!.file);
    await expect(recoverQuiet(missing)).rejects.toThrow(/gap in the txn log/);
  });

  it('rolls take a segment prepared ahead: names are first zxids, finished segments are trimmed, a stray prepared file is ignored', async () => {
    const dir = await tempDir();
    const w = variedWorkload();
    const prepared = path.join(versionDir(dir), 'log.prepared');
    const log = new TxnLog({ dir, preallocateBytes: 64 * 1024, forceSync: true, maxSegmentBytes: 1 << 30 });
    await log.init();
    for (let i = 0; i < w.txns.length; i++) {
      log.append(w.txns[i]!);
      if (i % 2 === 1 || i === w.txns.length - 1) await log.flush();
      if (i === 1) {
        // The next segment is made in the background once the first is in use.
        await expect.poll(async () => (await stat(prepared).catch(() => undefined))?.size, { timeout: 2000 }).toBe(64 * 1024);
      }
      if (i % 6 === 5) log.roll();
    }
    await log.close();
    expect(await readdir(versionDir(dir))).not.toContain('log.prepared'); // a clean stop removes it

    const segments = await listByZxid(versionDir(dir), 'log');
    expect(segments.length).toBeGreaterThan(2);
    const scanned: Txn[] = [];
    for (const [i, segment] of segments.entries()) {
      const bytes = await readFile(segment.file);
      const scan = scanSegment(bytes);
      expect(scan.damage).toBeUndefined();
      expect(scan.txns[0]!.zxid).toBe(segment.zxid);
      if (i < segments.length - 1) expect(bytes.length).toBe(scan.validEnd); // trimmed after its roll
      scanned.push(...scan.txns);
    }
    expect(scanned).toEqual(w.txns);

    // A kill leaves the prepared file behind (here: garbage in it); recovery does not read it, the
    // next log replaces it, and what that log writes is recovered.
    await writeFile(prepared, Buffer.alloc(5000, 0xab));
    expect(treeState((await recoverQuiet(dir)).state.tree)).toEqual(treeState(w.tree));
    const again = new TxnLog({ dir, preallocateBytes: 64 * 1024, forceSync: true, maxSegmentBytes: 1 << 30 });
    await again.init();
    again.append(w.create('/after-restart'));
    await again.flush();
    await again.close();
    expect(treeState((await recoverQuiet(dir)).state.tree)).toEqual(treeState(w.tree));
  });

  it('with forceSync, zeros are kept on disk ahead of the appends (blocks allocated, not a hole), and never over a record', async () => {
    const dir = await tempDir();
    const w = new Workload();
    const log = new TxnLog({ dir, preallocateBytes: 64 * 1024 * 1024, forceSync: true, maxSegmentBytes: 1 << 30 });
    await log.init();
    const allocatedBytes = async (): Promise<number> => (await stat(log.currentFile)).blocks * 512;
    log.append(w.create('/first'));
    await log.flush();
    // A truncate-extended file is a hole: only the header's block would be allocated.
    expect(await allocatedBytes()).toBeGreaterThanOrEqual(ZERO_AHEAD_BYTES);

    // ~12 MiB in batches of every size from one txn to a few hundred KiB, so appends cross the
    // 1 MiB chunks being filled beside them and run into fills still writing; and one batch of
    // ~6 MiB that jumps past every zero written, which later fills must not overwrite.
    const data = new Uint8Array(40_000).fill(0x5a);
    let written = 0;
    for (let round = 0; written < 12 * 1024 * 1024; round++) {
      const batch = round === 20 ? 300 : (round % 17) + 1;
      for (let i = 0; i < batch; i++) {
        const size = (w.txns.length * 7919) % data.length;
        log.append(w.create(`/n${w.txns.length}`, data.subarray(0, size)));
        written += size;
      }
      await log.flush();
    }
    const zerosAhead = async (): Promise<number> => (await allocatedBytes()) - scanSegment(await readFile(log.currentFile)).validEnd;
    await expect.poll(zerosAhead, { timeout: 10_000 }).toBeGreaterThanOrEqual(ZERO_AHEAD_BYTES);
    expect((await stat(log.currentFile)).size).toBe(64 * 1024 * 1024); // zeros never grow the file
    await log.close();

    const [segment] = await listByZxid(versionDir(dir), 'log');
    const scan = scanSegment(await readFile(segment!.file));
    expect(scan.damage).toBeUndefined();
    // Compared encoded: toEqual walks 9 MiB of data element by element.
    expect(scan.txns.map((t) => Buffer.from(encodeTxn(t)).toString('base64'))).toEqual(w.txns.map((t) => Buffer.from(encodeTxn(t)).toString('base64')));
  });

  it('an append into a range still being zero-filled waits for that fill; later fills start past the append', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'segment');
    await writeFile(file, Buffer.alloc(0));
    const real = await open(file, 'r+');
    // The fill's writes go through a gate the test opens, so "still being filled" is a state, not a race.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const writes: { at: number; length: number }[] = [];
    const gated = {
      write: async (bytes: Uint8Array, offset: number, length: number, at: number) => {
        writes.push({ at, length });
        await gate;
        return real.write(bytes, offset, length, at);
      },
    } as unknown as FileHandle;
    try {
      const fill = new ZeroFill(gated, 4096, 64 * 1024 * 1024);
      await fill.beforeAppend(8192);
      fill.advance();
      expect(writes).toEqual([{ at: 8192, length: 1024 * 1024 }]);
      let appended = false;
      const append = fill.beforeAppend(20_000).then(() => (appended = true));
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(appended).toBe(false);
      openGate();
      await append;
      // The next chunk starts where the zeros end, past the announced append.
      expect(writes[1]).toEqual({ at: 8192 + 1024 * 1024, length: 1024 * 1024 });
      await fill.stop();
    } finally {
      await real.close();
    }
  });

  it('a zero fill that cannot write stops quietly: appends are not held up and nothing is left unhandled', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'segment');
    await writeFile(file, Buffer.alloc(64 * 1024));
    const readOnly = await open(file, 'r'); // every write through it fails (EBADF)
    try {
      const fill = new ZeroFill(readOnly, 4096, 64 * 1024 * 1024);
      await fill.beforeAppend(8192);
      fill.advance(); // starts a chunk, which fails
      await fill.beforeAppend(12_288); // overlaps the failed chunk's range: must not hang or throw
      await fill.stop();
      fill.advance(); // stopped: starts nothing
      await fill.beforeAppend(2 * 1024 * 1024);
      expect((await stat(file)).size).toBe(64 * 1024);
    } finally {
      await readOnly.close();
    }
  });

  it('an empty new segment left by a crash right after it was created recovers, and the log can be written again', async () => {
    const dir = await tempDir();
    const w = variedWorkload();
    await writeLog(dir, w.txns);
    // What a crash between creating log.<next> (header written, preallocated) and writing its first batch leaves.
    const next = makeZxid(1, w.counter + 1);
    const stray = path.join(versionDir(dir), `log.${next.toString(16)}`);
    const header = (await readFile((await listByZxid(versionDir(dir), 'log'))[0]!.file)).subarray(0, LOG_HEADER_BYTES);
    await writeFile(stray, Buffer.concat([header, Buffer.alloc(64 * 1024 - LOG_HEADER_BYTES)]));
    const { state } = await recoverQuiet(dir);
    expect(state.tree.lastZxid).toBe(w.tree.lastZxid);
    // The server resumes at the next zxid, whose segment name is taken by the stray file.
    const log = new TxnLog({ dir, preallocateBytes: 64 * 1024, forceSync: false, maxSegmentBytes: 1 << 30 });
    await log.init();
    log.append(w.create('/after-restart'));
    await log.flush();
    await log.close();
    const again = await recoverQuiet(dir);
    expect(treeState(again.state.tree)).toEqual(treeState(w.tree));

    // Same with a zero-length file (killed between open and the header write).
    await truncate(stray, 0);
    const cut = await recoverQuiet(dir);
    expect(cut.state.tree.lastZxid).toBe(w.tree.lastZxid - 1n);
  });
});

// ---------------------------------------------------------------------------------------------

describe('purgeOldFiles()', () => {
  it('keeps the newest snapRetainCount snapshots and the logs needed to replay from the oldest of them', async () => {
    const dir = await tempDir();
    const w = new Workload();
    const log = new TxnLog({ dir, preallocateBytes: 8 * 1024, forceSync: false, maxSegmentBytes: 1 << 30 });
    await log.init();
    for (let i = 0; i < 700; i++) {
      log.append(w.create(`/p${i}`));
      // Snapshots land mid-batch too: the txns appended during a flush stay in the old segment.
      if (i % 7 === 6) await log.flush();
      if (i % 100 === 50) {
        await log.flush();
        log.append(w.create(`/q${i}`));
        log.roll();
        await writeSnapshot(dir, w.tree, []);
      }
    }
    await log.flush();
    await log.close();
    const snapshotsBefore = await listByZxid(versionDir(dir), 'snapshot');
    const logsBefore = await listByZxid(versionDir(dir), 'log');
    expect(snapshotsBefore.length).toBe(7);
    expect(logsBefore.length).toBe(8);

    const removed = await purgeOldFiles({ dataDir: dir, dataLogDir: dir, retain: 3 });
    const snapshots = await listByZxid(versionDir(dir), 'snapshot');
    const logs = await listByZxid(versionDir(dir), 'log');
    expect(snapshots.map((s) => s.zxid)).toEqual(snapshotsBefore.slice(-3).map((s) => s.zxid));
    const oldest = snapshots[0]!.zxid;
    // The first log kept holds oldest + 1; everything after it is kept; everything before it is gone.
    expect(logs[0]!.zxid).toBeLessThanOrEqual(oldest + 1n);
    expect(logs.length).toBeGreaterThan(1);
    expect(logs[1]!.zxid).toBeGreaterThan(oldest + 1n);
    expect(logs.map((l) => l.file)).toEqual(logsBefore.filter((l) => !removed.includes(l.file)).map((l) => l.file));
    expect(logsBefore.length - logs.length).toBe(removed.length - 4);
    expect(await purgeOldFiles({ dataDir: dir, dataLogDir: dir, retain: 3 })).toEqual([]);

    // Recovery from every retained snapshot still works with the logs that are left.
    const { log: quiet } = captureLog();
    expect(treeState((await recover({ dataDir: dir, dataLogDir: dir, log: quiet })).tree)).toEqual(treeState(w.tree));
    for (const snapshot of snapshots.slice(1).reverse()) {
      await writeFile(snapshot.file, 'damaged');
      expect(treeState((await recover({ dataDir: dir, dataLogDir: dir, log: quiet })).tree)).toEqual(treeState(w.tree));
    }
    expect((await readdir(versionDir(dir))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
