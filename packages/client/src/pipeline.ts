import { DecodeError, RequestHeader, type JuteReader, type JuteWriter, type ReplyHeader } from '@corral/protocol';
import { MarshallingError, ZooKeeperError, errorFromCode } from './errors.js';
import type { Transport } from './transport.js';

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

  /** Its reply arrived: the call leaves the pipeline and settles with the decoded value or the reply's error. */
  complete(header: ReplyHeader, r: JuteReader): void {
    this.leave();
    if (this.settled) return;
    const spec = this.spec;
    if (header.err !== 0) {
      const handled = spec.onError?.(header.err);
      if (handled) this.resolve(handled.value);
      else this.reject(errorFromCode(header.err, { path: spec.path }));
      return;
    }
    let value: T;
    try {
      value = spec.read(r, header);
    } catch (error) {
      if (error instanceof ZooKeeperError) this.reject(error);
      else if (error instanceof DecodeError) this.reject(new MarshallingError({ path: spec.path, cause: error, message: `undecodable reply to op ${spec.op}: ${error.message}` }));
      else this.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.resolve(value);
  }
}

/**
 * A session's requests between admission and reply: held while there is no usable connection,
 * then written with the next xid and matched to replies in order (the server answers in order).
 */
export class RequestPipeline {
  readonly #sent = new CallQueue();
  #held: Call[] = [];
  #nextXid = 1;

  write(call: Call, transport: Transport): void {
    const xid = this.#nextXid;
    this.#nextXid = xid >= 0x7fffffff ? 1 : xid + 1;
    call.xid = xid;
    call.where = 'sent';
    this.#sent.push(call);
    const spec = call.spec;
    transport.send((w) => {
      RequestHeader.write(w, { xid, type: spec.op });
      spec.write?.(w);
    });
  }

  /** Keeps the call until release(): there is no connection it may be written to. */
  hold(call: Call): void {
    call.where = 'waiting';
    this.#held.push(call);
  }

  /** Drops a held call whose caller gave up; a call already sent stays until its reply is read. */
  withdraw(call: Call): void {
    if (call.where !== 'waiting') return;
    this.#held = this.#held.filter((c) => c !== call);
    call.leave();
  }

  /** Writes every held call, oldest first (those abandoned meanwhile just leave). */
  release(transport: Transport): void {
    const held = this.#held;
    this.#held = [];
    for (const call of held) {
      if (call.settled) call.leave();
      else this.write(call, transport);
    }
  }

  /** The call the next reply must belong to. */
  peek(): Call | undefined {
    return this.#sent.peek();
  }

  shift(): Call | undefined {
    return this.#sent.shift();
  }

  /** Removes and returns the calls in flight (their connection is gone), oldest first. */
  drainSent(): Call[] {
    return this.#sent.drain();
  }

  failHeld(error: Error): void {
    for (const call of this.#held.splice(0)) call.fail(error);
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
