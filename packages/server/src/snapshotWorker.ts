/**
 * Entry of a snapshot worker thread: merges the newest exact snapshot with the logged txns after it
 * into the next one (workerData: a MergeRequest), posts one MergeReply and ends, so the thread
 * serving clients never serialises the tree and nothing of the merge stays in memory afterwards.
 */
import { constants, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { mergeSnapshot } from './persistence/snapshotMerge.js';
import type { MergeReply, MergeRequest } from './shell/snapshotter.js';

const port = parentPort;
if (!port) throw new Error('snapshotWorker runs as a worker thread');
// Background work: on Linux this lowers only this thread (nice is per thread), so under load the
// threads serving clients are not preempted by a merge that can just as well finish later.
try {
  setPriority(0, constants.priority.PRIORITY_LOW);
} catch {
  // Not permitted or not supported: run at normal priority.
}
/**
 * How fast a merge may write its snapshot. Unpaced, tens of MiB queued on the disk held the txn
 * log's synced appends up to ~25 ms (p99; a 256 KiB-write writer beside 8 KiB O_DSYNC appends on
 * this machine's disk); paced near this rate, with 1 MiB syncs, under 1 ms. About the speed a merge
 * makes anyway (~1 s for a million znodes), so it caps bursts rather than slowing merges down.
 */
const WRITE_BYTES_PER_SECOND = 128 * 1024 * 1024;

const request = workerData as MergeRequest;
const started = performance.now();
const skipped: { file: string; reason: string }[] = [];
mergeSnapshot({ ...request, writeBytesPerSecond: WRITE_BYTES_PER_SECOND, onSkip: (file, reason) => skipped.push({ file, reason }) }).then(
  (result) => port.postMessage({ ok: true, ...result, skipped, ms: Math.round(performance.now() - started) } satisfies MergeReply),
  (error: Error) => port.postMessage({ ok: false, error: `${error.name}: ${error.message}`, skipped } satisfies MergeReply),
);
