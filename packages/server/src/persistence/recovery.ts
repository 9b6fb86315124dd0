import { open, readFile, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { DataTree } from '../core/tree.js';
import type { Txn } from '../core/txn.js';
import { listByZxid, versionDir, zxidHex } from './files.js';
import { scanSegment } from './logFormat.js';
import { SnapshotError, readSnapshot, type SessionEntry } from './snapshot.js';

/** The data on disk cannot be trusted to hold every acknowledged txn: the server must not start. */
export class RecoveryError extends Error {
  constructor(readonly file: string, readonly offset: number | undefined, message: string) {
    super(`${file}${offset === undefined ? '' : ` at offset ${offset}`}: ${message}`);
    this.name = 'RecoveryError';
  }
}

export interface RecoveredState {
  tree: DataTree;
  sessions: SessionEntry[];
  snapshotZxid: bigint;
  txnsReplayed: number;
}

/** zxids follow each other: counter + 1 in the same epoch, or counter 1 of a later epoch. */
export function follows(previous: bigint, next: bigint): boolean {
  if (next === previous + 1n) return true;
  return next >> 32n > previous >> 32n && (next & 0xffffffffn) === 1n;
}

/**
 * Newest snapshot that validates, then every logged txn after it. A torn record at the very tail
 * of the last segment (a crash mid-append, never acknowledged) is cut off with a warning; damage
 * anywhere else, or a gap in zxids, stops recovery with the file and offset.
 */
export async function recover(options: { dataDir: string; dataLogDir: string; log: Logger }): Promise<RecoveredState> {
  const { log } = options;
  // A snapshot being written when the server stopped is an unfinished temp file: never valid, remove it.
  for (const file of await unfinishedSnapshots(versionDir(options.dataDir))) {
    log.warn({ file }, 'removing an unfinished snapshot');
    await unlink(file);
  }
  const snapshots = (await listByZxid(versionDir(options.dataDir), 'snapshot')).reverse();
  let tree = new DataTree();
  let sessions = new Map<bigint, number>();
  let snapshotZxid = 0n;
  let loadedSnapshot = false;
  for (const snapshot of snapshots) {
    try {
      const loaded = await readSnapshot(snapshot.file);
      tree = loaded.tree;
      sessions = new Map(loaded.sessions.map((s) => [s.id, s.timeoutMs]));
      snapshotZxid = loaded.zxid;
      loadedSnapshot = true;
      log.info({ file: snapshot.file, zxid: `0x${zxidHex(loaded.zxid)}`, nodes: tree.nodeCount }, 'loaded snapshot');
      break;
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      log.warn({ err: error.message }, 'snapshot is damaged; falling back to the previous one');
    }
  }

  const segments = await listByZxid(versionDir(options.dataLogDir), 'log');
  // The segment holding snapshotZxid + 1 is the newest one that starts at or before it.
  let first = 0;
  for (let i = 0; i < segments.length; i++) if (segments[i]!.zxid <= snapshotZxid + 1n) first = i;
  let last = snapshotZxid;
  let replayed = 0;
  const apply = (txn: Txn) => {
    tree.replay(txn);
    if (txn.body.type === 'createSession') sessions.set(txn.sessionId, txn.body.timeoutMs);
    if (txn.body.type === 'closeSession') sessions.delete(txn.sessionId);
    last = txn.zxid;
    replayed++;
  };
  for (let i = first; i < segments.length; i++) {
    const { file } = segments[i]!;
    const scan = scanSegment(await readFile(file), (txn) => {
      if (txn.zxid <= last) return;
      if (!follows(last, txn.zxid)) {
        throw new RecoveryError(file, undefined, `gap in the txn log: 0x${zxidHex(txn.zxid)} follows 0x${zxidHex(last)}`);
      }
      apply(txn);
    });
    if (scan.damage) {
      const isLast = i === segments.length - 1;
      if (scan.damage.kind === 'torn' && isLast) {
        log.warn(
          { file, offset: scan.damage.offset, lastZxid: `0x${zxidHex(last)}`, reason: scan.damage.reason },
          `truncating a torn record after zxid 0x${zxidHex(last)} at the tail of the log`,
        );
        const handle = await open(file, 'r+');
        await handle.truncate(scan.validEnd);
        await handle.sync();
        await handle.close();
      } else {
        throw new RecoveryError(file, scan.damage.offset, `damaged txn log record (${scan.damage.reason}) after zxid 0x${zxidHex(last)}; refusing to start with missing history`);
      }
    }
  }
  if (snapshots.length > 0 && !loadedSnapshot && segments.length === 0) {
    throw new RecoveryError(versionDir(options.dataDir), undefined, 'no snapshot validates and there is no txn log to rebuild from');
  }
  return { tree, sessions: [...sessions].map(([id, timeoutMs]) => ({ id, timeoutMs })), snapshotZxid, txnsReplayed: replayed };
}

async function unfinishedSnapshots(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  return names.filter((name) => /^snapshot\.[0-9a-f]+\.tmp$/.test(name)).map((name) => path.join(dir, name));
}
