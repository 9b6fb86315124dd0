import { unlink } from 'node:fs/promises';
import { listByZxid, versionDir } from './files.js';

/**
 * Keeps the newest `retain` snapshots and the log segments needed to replay from the oldest of them;
 * deletes the rest (ZooKeeper's PurgeTxnLog rule).
 */
export async function purgeOldFiles(options: { dataDir: string; dataLogDir: string; retain: number }): Promise<string[]> {
  const snapshots = await listByZxid(versionDir(options.dataDir), 'snapshot');
  if (snapshots.length <= options.retain) return [];
  const kept = snapshots.slice(-options.retain);
  const oldestKept = kept[0]!.zxid;
  const doomed = snapshots.slice(0, -options.retain).map((s) => s.file);
  const segments = await listByZxid(versionDir(options.dataLogDir), 'log');
  for (let i = 0; i + 1 < segments.length; i++) {
    // Segment i ends where i+1 starts: if that is still at or before oldestKept + 1, i is not needed.
    if (segments[i + 1]!.zxid <= oldestKept + 1n) doomed.push(segments[i]!.file);
  }
  for (const file of doomed) await unlink(file).catch(() => {});
  return doomed;
}
