import type { JuteReader, JuteWriter, ReplyHeader } from '@corral/protocol';

/** What one request is: its op code, body, and how to turn the reply into a result. */
export interface CallSpec<T> {
  readonly op: number;
  /** Application path, for error messages and `error.path`. */
  readonly path?: string;
  write?(w: JuteWriter): void;
  /** Decodes a successful reply (err 0). Side effects such as watch registration happen here. */
  read(r: JuteReader, header: ReplyHeader): T;
  /** A non-zero err that is a result rather than a failure (exists → NONODE), or undefined. */
  onError?(errno: number): { value: T } | undefined;
}

/**
 * One request's life: `new` (waiting for a slot), `waiting` (for a connection), `sent` (on the
 * wire, awaiting its reply), `finished`. The caller's promise can settle earlier (abort, timeout)
 * while the call still occupies the pipeline: its reply must still be consumed in order.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- calls of every result type share one queue
export class Call<T = any> {
  xid = 0;
  where: 'new' | 'waiting' | 'sent' | 'finished' = 'new';
  settled = false;
  readonly finished: Promise<void>;
  readonly spec: CallSpec<T>;
  readonly #resolve: (value: T) => void;
  readonly #reject: (error: Error) => void;
  #onSettle: (() => void) | undefined;
  #leave!: () => void;

  constructor(spec: CallSpec<T>, resolve: (value: T) => void, reject: (error: Error) => void) {
    this.spec = spec;
    this.#resolve = resolve;
    this.#reject = reject;
    this.finished = new Promise((resolve) => {
      this.#leave = resolve;
    });
  }

  /** Cleanup (abort listener, timer) to run once the caller's promise settles. */
  onSettle(cleanup: () => void): void {
    this.#onSettle = cleanup;
  }

  resolve(value: T): void {
    if (this.settled) return;
    this.settled = true;
    this.#onSettle?.();
    this.#resolve(value);
  }

  reject(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.#onSettle?.();
    this.#reject(error);
  }

  /** The call no longer occupies the pipeline (reply consumed, failed, or withdrawn unsent). */
  leave(): void {
    if (this.where === 'finished') return;
    this.where = 'finished';
    this.#leave();
  }

  fail(error: Error): void {
    this.reject(error);
    this.leave();
  }
}

/** FIFO of calls in flight on one connection (amortised O(1) shift). */
export class CallQueue {
  #items: (Call | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(call: Call): void {
    this.#items.push(call);
  }

  peek(): Call | undefined {
    return this.#items[this.#head];
  }

  shift(): Call | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const call = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return call;
  }

  /** Removes and returns everything, oldest first. */
  drain(): Call[] {
    const calls = this.#items.slice(this.#head) as Call[];
    this.#items = [];
    this.#head = 0;
    return calls;
  }
}
