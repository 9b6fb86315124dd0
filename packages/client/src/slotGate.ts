/**
 * A counting semaphore with a FIFO wait list: at most `capacity` tasks hold a slot at once; the
 * others start, in the order they came, as slots free up. A task starts synchronously when a slot is
 * free, so a request admitted on an idle client is written in the caller's turn.
 */
export class SlotGate {
  readonly #capacity: number;
  #holding = 0;
  /** Tasks waiting for a slot; the next one is at #head (an index, so a dequeue does not shift the array). */
  #waiting: (() => Promise<unknown>)[] = [];
  #head = 0;
  #emptyWaiters: (() => void)[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Tasks holding a slot. */
  get holding(): number {
    return this.#holding;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.#waiting.length - this.#head;
  }

  /**
   * Runs `task` once a slot is free; the slot is held until the promise it returns settles. `task`
   * must not throw (a synchronous throw would keep its slot): report failures through the promise.
   */
  run(task: () => Promise<unknown>): void {
    if (this.#holding < this.#capacity && this.queued === 0) this.#start(task);
    else this.#waiting.push(task);
  }

  /** Resolves once no task waits for a slot. */
  onEmpty(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.#emptyWaiters.push(resolve));
  }

  #start(task: () => Promise<unknown>): void {
    this.#holding++;
    task().then(this.#release, this.#release);
  }

  readonly #release = (): void => {
    this.#holding--;
    if (this.queued === 0) return;
    const next = this.#waiting[this.#head]!;
    this.#waiting[this.#head++] = undefined!;
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
      const waiters = this.#emptyWaiters;
      this.#emptyWaiters = [];
      for (const resolve of waiters) resolve();
    }
    this.#start(next);
  };
}
