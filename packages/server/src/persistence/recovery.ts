import { open, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { DataTree } from '../core/tree.js';
import { listByZxid, versionDir, zxidHex } from './files.js';
import { RecoveryError, readLoggedTxns } from './logReader.js';
import { SnapshotError, readSnapshot, sessionEntries, type SessionEntry } from './snapshot.js';

export { RecoveryError, follows } from './logReader.js';

export interface RecoveredState {
  tree: DataTree;
  sessions: SessionEntry[];
  snapshotZxid: bigint;
  /** The newest valid snapshot was written exactly at its zxid (the snapshot worker can merge onto it). */
  snapshotExact: boolean;
  txnsReplayed: number;
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
  let snapshotExact = false;
  for (const snapshot of snapshots) {
    try {
      const loaded = await readSnapshot(snapshot.file);
      tree = loaded.tree;
      sessions = new Map(loaded.sessions.map((s) => [s.id, s.timeoutMs]));
      snapshotZxid = loaded.zxid;
      loadedSnapshot = true;
      snapshotExact = loaded.exact;
      log.info({ file: snapshot.file, zxid: `0x${zxidHex(loaded.zxid)}`, nodes: tree.nodeCount }, 'loaded snapshot');
      break;
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      log.warn({ err: error.message }, 'snapshot is damaged; falling back to the previous one');
    }
  }

  let replayed = 0;
  const { tornTail, segments } = await readLoggedTxns(options.dataLogDir, snapshotZxid, (txn) => {
    tree.replay(txn);
    if (txn.body.type === 'createSession') sessions.set(txn.sessionId, txn.body.timeoutMs);
    if (txn.body.type === 'closeSession') sessions.delete(txn.sessionId);
    replayed++;
  });
  if (tornTail) {
    const last = tree.lastZxid;
    log.warn(
      { file: tornTail.file, offset: tornTail.offset, lastZxid: `0x${zxidHex(last)}`, reason: tornTail.reason },
      `truncating a torn record after zxid 0x${zxidHex(last)} at the tail of the log`,
    );
    const handle = await open(tornTail.file, 'r+');
    await handle.truncate(tornTail.validEnd);
    await handle.sync();
    await handle.close();
  }
  if (snapshots.length > 0 && !loadedSnapshot && segments === 0) {
    throw new RecoveryError(versionDir(options.dataDir), undefined, 'no snapshot validates and there is no txn log to rebuild from');
  }
  return { tree, sessions: sessionEntries(sessions), snapshotZxid, snapshotExact, txnsReplayed: replayed };
}

async function unfinishedSnapshots(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  return names.filter((name) => /^snapshot\.[0-9a-f]+\.tmp$/.test(name)).map((name) => path.join(dir, name));
}
