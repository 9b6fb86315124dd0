/**
 * Entry of the snapshot worker thread: merges the newest exact snapshot with the logged txns after
 * it into the next one, so the thread serving clients never serialises the tree. One request at a
 * time; the reply is the MergeReply below.
 */
import { parentPort } from 'node:worker_threads';
import { mergeSnapshot } from './persistence/snapshotMerge.js';
import type { MergeReply, MergeRequest } from './shell/snapshotter.js';

const port = parentPort;
if (!port) throw new Error('snapshotWorker runs as a worker thread');
port.on('message', (request: MergeRequest) => {
  const started = performance.now();
  const skipped: { file: string; reason: string }[] = [];
  mergeSnapshot({ ...request, onSkip: (file, reason) => skipped.push({ file, reason }) }).then(
    (result) => port.postMessage({ ok: true, ...result, skipped, ms: Math.round(performance.now() - started) } satisfies MergeReply),
    (error: Error) => port.postMessage({ ok: false, error: `${error.name}: ${error.message}`, skipped } satisfies MergeReply),
  );
});
