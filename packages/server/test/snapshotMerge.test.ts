/**
 * Snapshot merge: the newest exact snapshot plus the logged txns after it must give exactly the tree
 * a live server has at that zxid, whatever the history (creates, deletes, re-creates, ephemerals
 * and their sessions closing, multi, ACLs, containers, TTL nodes), and recovery from the merged
 * snapshots must give the live tree.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parentOf } from '../src/core/path.js';
import { CONTAINER_OWNER, TTL_OWNER_BASE } from '../src/core/txn.js';
import { recover } from '../src/persistence/recovery.js';
import { readSnapshot, writeSnapshot } from '../src/persistence/snapshot.js';
import { mergeSnapshot, type MergeResult } from '../src/persistence/snapshotMerge.js';
import { TxnLog } from '../src/persistence/txnLog.js';
import { Snapshotter } from '../src/shell/snapshotter.js';
import { tempDirs } from './tempDirs.js';
import { Workload, treeState, utf8, variedWorkload } from './workload.js';

const tempDir = tempDirs('corral-merge-');

const silent = pino({ level: 'silent' });

/**
 * A workload whose every txn is also appended to a real txn log in `dir`; `snapshot()` does what
 * Durability does: log the txns so far, roll, merge the snapshot at the last zxid.
 */
async function loggedWorkload(dir: string): Promise<{ w: Workload; log: TxnLog; sync: () => Promise<void>; snapshot: () => Promise<MergeResult> }> {
  const log = new TxnLog({ dir, preallocateBytes: 64 * 1024, forceSync: false, maxSegmentBytes: 1 << 30 });
  await log.init();
  const w = new Workload();
  let logged = 0;
  const sync = async () => {
    for (; logged < w.txns.length; logged++) log.append(w.txns[logged]!);
    await log.flush();
  };
  const snapshot = async () => {
    await sync();
    log.roll();
    return mergeSnapshot({ dataDir: dir, dataLogDir: dir, zxid: w.tree.lastZxid });
  };
  return { w, log, sync, snapshot };
}

const SESSIONS = [0x100n, 0x200n, 0x300n];

/**
 * Turns a list of numbers into valid txns: every number picks an operation and its target among the
 * nodes that exist, so shrinking keeps histories valid.
 */
function play(w: Workload, codes: number[], open: Set<bigint>): void {
  const live = () => [...w.tree.nodes()].map(([p]) => p).filter((p) => !p.startsWith('/zookeeper') && p !== '/');
  for (const code of codes) {
    const nodes = live();
    const pick = nodes[code % Math.max(1, nodes.length)];
    const session = SESSIONS[code % SESSIONS.length]!;
    switch (code % 11) {
      case 0:
      case 1: {
        // A child under a random persistent node (or the root); ephemerals cannot have children.
        const parent = pick && w.tree.get(pick)!.ephemeralOwner === 0n ? pick : '/';
        const name = `${parent === '/' ? '' : parent}/n${w.counter}`;
        const owner = code % 3 === 0 && open.has(session) ? session : code % 7 === 0 ? CONTAINER_OWNER : code % 13 === 0 ? TTL_OWNER_BASE | 60000n : 0n;
        w.create(name, code % 5 === 0 ? null : utf8(`v${code}`), owner, owner === session ? session : 1n);
        break;
      }
      case 2:
        if (pick && w.tree.get(pick)!.children.size === 0) w.delete(pick, w.tree.get(pick)!.ephemeralOwner || 1n);
        break;
      case 3:
        if (pick) w.setData(pick, code % 4 === 0 ? null : utf8(`set-${w.counter}`));
        break;
      case 4:
        if (pick) w.setACL(pick, [{ perms: 1 + (code % 31), id: { scheme: 'world', id: 'anyone' } }]);
        break;
      case 5:
        if (open.has(session)) {
          w.apply(session, { type: 'closeSession' });
          open.delete(session);
        } else {
          w.apply(session, { type: 'createSession', timeoutMs: 4000 + (code % 1000) });
          open.add(session);
        }
        break;
      case 6: {
        // Parent and child in one multi txn (same zxid).
        const parent = `/m${w.counter}`;
        w.apply(1n, { type: 'multi', ops: [w.createBody(parent, utf8('p')), { type: 'create', path: `${parent}/c`, data: null, acl: [], ephemeralOwner: 0n, parentCVersion: 1, op: 'create' }] });
        break;
      }
      case 7:
        // Delete and re-create the same path: the node keeps its place but is new.
        if (pick && w.tree.get(pick)!.children.size === 0 && w.tree.get(pick)!.ephemeralOwner === 0n) {
          w.delete(pick);
          w.create(pick, utf8(`again-${w.counter}`));
        }
        break;
      case 8:
        w.apply(1n, { type: 'error', err: -101 });
        break;
      case 9:
        if (pick && parentOf(pick) !== '/' && w.tree.get(pick)!.children.size === 0) {
          w.apply(1n, { type: 'multi', ops: [{ type: 'check', path: pick }, { type: 'setData', path: pick, data: utf8('mm'), version: w.tree.get(pick)!.version + 1 }, { type: 'delete', path: pick }] });
        }
        break;
      default:
        break;
    }
  }
}

describe('mergeSnapshot', () => {
  it('merged snapshots are exactly the live tree at their zxid, and recovery from them gives the live tree (random histories)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.nat({ max: 1_000_000 }), { minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 6 }), async (rounds) => {
        const dir = await tempDir();
        const { w, log, snapshot } = await loggedWorkload(dir);
        const open = new Set<bigint>();
        for (const codes of rounds) {
          play(w, codes, open);
          if (w.tree.lastZxid === 0n) continue;
          const merged = await snapshot();
          const loaded = await readSnapshot(merged.file);
          expect(loaded.exact).toBe(true);
          expect(loaded.zxid).toBe(w.tree.lastZxid);
          expect(loaded.tree.digest()).toBe(w.tree.digest());
          if (merged.txns > 0) expect(merged.nodes).toBe(w.tree.nodeCount);
          expect(new Set(loaded.sessions.map((s) => s.id))).toEqual(open);
        }
        await log.close();
        const recovered = await recover({ dataDir: dir, dataLogDir: dir, log: silent });
        expect(treeState(recovered.tree)).toEqual(treeState(w.tree));
        await rm(dir, { recursive: true, force: true });
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('copies unchanged nodes byte for byte and leaves the base untouched; the varied workload merges exactly', async () => {
    const dir = await tempDir();
    const { w, log, snapshot } = await loggedWorkload(dir);
    const reference = variedWorkload();
    for (const txn of reference.txns) w.apply(txn.sessionId, txn.body);
    const first = await snapshot();
    expect(first.base).toBeUndefined();
    const before = await readFile(first.file);
    w.setData('/app/config', utf8('{"x":3}'));
    w.create('/app/late', null, 0x100n, 0x100n);
    w.apply(0x100n, { type: 'closeSession' });
    const second = await snapshot();
    expect(second.base).toBe(first.file);
    expect(second.txns).toBe(3);
    expect(await readFile(first.file)).toEqual(before);
    const loaded = await readSnapshot(second.file);
    expect(treeState(loaded.tree)).toEqual({ ...treeState(w.tree), lastZxid: w.tree.lastZxid });
    expect(loaded.tree.get('/app/lock')).toBeUndefined(); // the closed session's ephemeral went with it
    await log.close();
  });

  it('copies a base larger than its read buffer in runs, whether the changed nodes come first or last', async () => {
    const dir = await tempDir();
    const { w, log, snapshot } = await loggedWorkload(dir);
    const value = new Uint8Array(1000).fill(3);
    w.create('/a', null);
    // ~3.5 MiB of entries: several of the reader's 1 MiB buffers, entries straddling their edges.
    for (let i = 0; i < 3000; i++) w.create(`/a/n${String(i).padStart(4, '0')}`, value);
    w.create('/z', null);
    expect((await snapshot()).nodes).toBe(w.tree.nodeCount);
    // Only the first node changes: everything after it goes in runs.
    const mergedIsLive = async () => {
      const merged = await snapshot();
      expect([merged.nodes, (await readSnapshot(merged.file)).tree.digest()]).toEqual([w.tree.nodeCount, w.tree.digest()]);
    };
    w.setData('/a', utf8('first'));
    w.create('/a/new', null);
    await mergedIsLive();
    // The last node changes too: entry by entry up to it.
    w.setData('/a', utf8('again'));
    w.delete('/z');
    await mergedIsLive();
    await log.close();
  });

  it('a paced merge writes no faster than its rate and gives the same snapshot', async () => {
    const dir = await tempDir();
    const { w, log, sync } = await loggedWorkload(dir);
    const value = new Uint8Array(10_000).fill(7);
    w.create('/big', null);
    for (let i = 0; i < 300; i++) w.create(`/big/n${i}`, value); // ~3 MiB of snapshot
    await sync();
    log.roll();
    const zxid = w.tree.lastZxid;
    const unpacedStart = performance.now();
    const unpaced = await mergeSnapshot({ dataDir: dir, dataLogDir: dir, zxid });
    const unpacedMs = performance.now() - unpacedStart;
    const unpacedBytes = await readFile(unpaced.file);
    await rm(unpaced.file);
    const pacedStart = performance.now();
    const paced = await mergeSnapshot({ dataDir: dir, dataLogDir: dir, zxid, writeBytesPerSecond: 4 * 1024 * 1024 });
    const pacedMs = performance.now() - pacedStart;
    expect(pacedMs).toBeGreaterThanOrEqual((unpacedBytes.length / (4 * 1024 * 1024)) * 1000 * 0.9);
    expect(pacedMs).toBeGreaterThan(unpacedMs);
    expect(Buffer.compare(await readFile(paced.file), unpacedBytes)).toBe(0); // (toEqual walks 3 MiB byte by byte)
    await log.close();
  });

  it('skips a damaged newest snapshot and a fuzzy one for an older exact base (or the empty tree)', async () => {
    const dir = await tempDir();
    const { w, log, sync, snapshot } = await loggedWorkload(dir);
    for (let i = 0; i < 50; i++) w.create(`/a${i}`, utf8(`${i}`));
    const exact = await snapshot();
    for (let i = 0; i < 20; i++) w.setData(`/a${i}`, utf8(`changed ${i}`));
    const damaged = await snapshot();
    const bytes = await readFile(damaged.file);
    bytes[bytes.length - 30] ^= 0xff;
    await writeFile(damaged.file, bytes);
    for (let i = 0; i < 10; i++) w.delete(`/a${i + 40}`);
    await sync();
    log.roll();
    const fuzzy = await writeSnapshot(dir, w.tree, []);
    w.create('/after-fuzzy');
    await sync();
    const skipped: string[] = [];
    const merged = await mergeSnapshot({ dataDir: dir, dataLogDir: dir, zxid: w.tree.lastZxid, onSkip: (file) => skipped.push(file) });
    expect(skipped).toEqual([fuzzy.file, damaged.file]);
    expect(merged.base).toBe(exact.file);
    expect((await readSnapshot(merged.file)).tree.digest()).toBe(w.tree.digest());
    // With no usable snapshot at all, the whole log from the first txn rebuilds it.
    for (const file of [exact.file, merged.file]) await writeFile(file, 'garbage');
    w.create('/after-garbage');
    await sync();
    const fromEmpty = await mergeSnapshot({ dataDir: dir, dataLogDir: dir, zxid: w.tree.lastZxid });
    expect(fromEmpty.base).toBeUndefined();
    expect((await readSnapshot(fromEmpty.file)).tree.digest()).toBe(w.tree.digest());
    await log.close();
  });

  it('the worker merges in its own thread (built script), and a worker that cannot run is a failed reply, not an exception', async () => {
    const dir = await tempDir();
    const { w, log, sync } = await loggedWorkload(dir);
    for (let i = 0; i < 30; i++) w.create(`/w${i}`, utf8(`${i}`));
    await sync();
    log.roll();
    const reply = await new Snapshotter().merge({ dataDir: dir, dataLogDir: dir, zxid: w.tree.lastZxid });
    expect(reply).toMatchObject({ ok: true, txns: 30 });
    if (reply.ok) expect((await readSnapshot(reply.file)).tree.digest()).toBe(w.tree.digest());
    const broken = await new Snapshotter(path.join(dir, 'no-such-worker.js')).merge({ dataDir: dir, dataLogDir: dir, zxid: w.tree.lastZxid });
    expect(broken.ok).toBe(false);
    await log.close();
  });
});
