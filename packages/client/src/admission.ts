import { OperationTimeoutError } from './errors.js';
import { Call, type CallSpec } from './pipeline.js';
import { SlotGate } from './slotGate.js';
import type { OperationOptions } from './types.js';

/** What admission hands requests to (the session executor). */
export interface RequestSink {
  /** Why a new request is refused right now (closing, closed, session lost), or undefined. */
  refusal(path: string | undefined): Error | undefined;
  /** The call holds a slot: send it now, or hold it until a connection is ready. */
  submit(call: Call): void;
  /** The caller gave up on a call that was never sent. */
  withdraw(call: Call): void;
}

/**
 * Admission of user requests: at most `maxOutstandingRequests` hold a slot (in flight, or waiting
 * for a connection while suspended); the rest wait in FIFO order (SlotGate). Each request's signal and
 * timeout cover the whole wait, queueing and reconnection included.
 */
export class RequestAdmission {
  readonly #gate: SlotGate;
  readonly #sink: RequestSink;
  readonly #requestTimeoutMs: number | undefined;

  constructor(sink: RequestSink, options: { maxOutstandingRequests: number; requestTimeoutMs: number | undefined }) {
    this.#sink = sink;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#gate = new SlotGate(options.maxOutstandingRequests);
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#gate.queued;
  }

  /** Requests holding a slot. */
  get holding(): number {
    return this.#gate.holding;
  }

  /** Resolves once no request waits for a slot, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#gate.onEmpty(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Resolves with the decoded reply. */
  enqueue<T>(spec: CallSpec<T>, options: OperationOptions): Promise<T> {
    const refused = this.#sink.refusal(spec.path);
    if (refused) return Promise.reject(refused);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const call = new Call<T>(spec, resolve, reject);
      const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
      if (signal || timeoutMs !== undefined) {
        let timer: NodeJS.Timeout | undefined;
        const abort = (reason: unknown): void => {
          call.reject(reason instanceof Error ? reason : new Error(String(reason)));
          // 'sent' calls stay in the pipeline until their reply arrives; 'new' ones skip their turn.
          this.#sink.withdraw(call);
        };
        const onAbort = (): void => abort(signal!.reason);
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => abort(new OperationTimeoutError({ path: spec.path, message: `no reply within ${timeoutMs} ms${spec.path ? ` (path ${spec.path})` : ''}` })), timeoutMs);
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        call.onSettle(() => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        });
      }
      this.#gate.run(() => {
        try {
          this.#sink.submit(call);
        } catch (error) {
          call.fail(error instanceof Error ? error : new Error(String(error)));
        }
        return call.finished;
      });
    });
  }
}
