import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { MergeResult } from '../persistence/snapshotMerge.js';

export interface MergeRequest {
  dataDir: string;
  dataLogDir: string;
  zxid: bigint;
}

export type MergeReply =
  | ({ ok: true; skipped: { file: string; reason: string }[]; ms: number } & MergeResult)
  | { ok: false; error: string; skipped: { file: string; reason: string }[] };

/** Built worker script: next to this module's bundle in dist/, or the built one when running from source (tests). */
function workerScript(): string {
  const here = new URL(import.meta.url);
  return fileURLToPath(here.pathname.endsWith('.ts') ? new URL('../../dist/snapshotWorker.js', here) : new URL('./snapshotWorker.js', here));
}

/** The snapshot worker thread, started at the first snapshot; one merge at a time. */
export class Snapshotter {
  #worker: Worker | undefined;
  #pending: ((reply: MergeReply) => void) | undefined;

  get busy(): boolean {
    return this.#pending !== undefined;
  }

  merge(request: MergeRequest): Promise<MergeReply> {
    if (this.#pending) return Promise.reject(new Error('a snapshot merge is already running'));
    const worker = this.#worker ?? this.#start();
    return new Promise<MergeReply>((resolve) => {
      this.#pending = resolve;
      worker.postMessage(request);
    });
  }

  #start(): Worker {
    const worker = new Worker(workerScript());
    // The worker must not keep a stopping server alive.
    worker.unref();
    worker.on('message', (reply: MergeReply) => this.#settle(reply));
    worker.on('error', (error) => this.#settle({ ok: false, error: `snapshot worker failed: ${error.message}`, skipped: [] }));
    worker.on('exit', (code) => {
      this.#worker = undefined;
      this.#settle({ ok: false, error: `snapshot worker exited with code ${code}`, skipped: [] });
    });
    this.#worker = worker;
    return worker;
  }

  #settle(reply: MergeReply): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.(reply);
  }

  /** Stops the worker; a merge cut short leaves only a temp file, which recovery removes. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }
}
