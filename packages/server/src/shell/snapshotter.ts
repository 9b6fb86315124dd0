import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { MergeOptions, MergeResult } from '../persistence/snapshotMerge.js';

/** What the worker is asked (posted as workerData: plain fields only). */
export type MergeRequest = Pick<MergeOptions, 'dataDir' | 'dataLogDir' | 'zxid'>;

export type MergeReply =
  | ({ ok: true; skipped: { file: string; reason: string }[]; ms: number } & MergeResult)
  | { ok: false; error: string; skipped: { file: string; reason: string }[] };

/** Built worker script: next to this module's bundle in dist/, or the built one when running from source (tests). */
function workerScript(): string {
  const here = new URL(import.meta.url);
  return fileURLToPath(here.pathname.endsWith('.ts') ? new URL('../../dist/snapshotWorker.js', here) : new URL('./snapshotWorker.js', here));
}

/**
 * Runs each merge in a worker thread of its own: started per snapshot (a few ms, every few seconds
 * at most) and gone afterwards, so its heap is returned instead of idling beside the tree.
 */
export class Snapshotter {
  #worker: Worker | undefined;

  /** `script`: the worker entry (the built one by default). */
  constructor(private readonly script: string = workerScript()) {}

  get busy(): boolean {
    return this.#worker !== undefined;
  }

  merge(request: MergeRequest): Promise<MergeReply> {
    if (this.#worker) return Promise.reject(new Error('a snapshot merge is already running'));
    let worker: Worker;
    try {
      // Small young generation: what a merge allocates is short-lived or its result, and RSS counts.
      worker = new Worker(this.script, { workerData: request, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
    } catch (error) {
      // A snapshot that cannot start is a logged failure, never a reason to stop serving.
      return Promise.resolve({ ok: false, error: `cannot start the snapshot worker: ${(error as Error).message}`, skipped: [] });
    }
    this.#worker = worker;
    // The worker must not keep a stopping server alive.
    worker.unref();
    return new Promise<MergeReply>((resolve) => {
      let reply: MergeReply | undefined;
      worker.once('message', (message: MergeReply) => {
        reply = message;
      });
      worker.once('error', (error) => {
        reply ??= { ok: false, error: `snapshot worker failed: ${error.message}`, skipped: [] };
      });
      worker.once('exit', (code) => {
        if (this.#worker === worker) this.#worker = undefined;
        resolve(reply ?? { ok: false, error: `snapshot worker exited with code ${code}`, skipped: [] });
      });
    });
  }

  /** Stops a merge in progress; it leaves only a temp file, which recovery removes. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }
}
