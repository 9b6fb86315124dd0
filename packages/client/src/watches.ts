import { EventType } from '@corral/protocol';
import { parentOf } from './paths.js';

export type WatchedEventType = 'NodeCreated' | 'NodeDeleted' | 'NodeDataChanged' | 'NodeChildrenChanged';

/** A watch notification. `path` is relative to the chroot; `zxid` is -1n on 3.8 servers and for catch-up events. */
export interface WatchedEvent {
  readonly type: WatchedEventType;
  readonly path: string;
  readonly zxid: bigint;
}

export type Watcher = (event: WatchedEvent) => void;

const eventTypeNames = new Map<number, WatchedEventType>([
  [EventType.NodeCreated, 'NodeCreated'],
  [EventType.NodeDeleted, 'NodeDeleted'],
  [EventType.NodeDataChanged, 'NodeDataChanged'],
  [EventType.NodeChildrenChanged, 'NodeChildrenChanged'],
]);

export function eventTypeName(type: number): WatchedEventType | undefined {
  return eventTypeNames.get(type);
}

/** A registered one-shot watch: fired at most once, or failed when the session ends. */
export interface OneShotWatch {
  fire(event: WatchedEvent): void;
  fail(error: Error): void;
}

/** A persistent (or recursive) watch's sink: receives every matching event until removed. */
export interface PersistentSink {
  push(event: WatchedEvent): void;
  end(error?: Error): void;
}

export type OneShotKind = 'data' | 'exist' | 'child';
export type PersistentKind = 'persistent' | 'recursive';

/** The watch lists setWatches/setWatches2 carries after a reconnect (client paths). */
export interface WatchSnapshot {
  data: string[];
  exist: string[];
  child: string[];
  persistent: string[];
  recursive: string[];
}

function addTo<T>(map: Map<string, Set<T>>, path: string, item: T): void {
  let set = map.get(path);
  if (!set) map.set(path, (set = new Set()));
  set.add(item);
}

function takeFrom<T>(map: Map<string, Set<T>>, path: string, into: Set<T>): void {
  const set = map.get(path);
  if (!set) return;
  map.delete(path);
  for (const item of set) into.add(item);
}

/**
 * Client-side watch table, keyed by application path (chroot already stripped). Routing follows
 * ZooKeeper's ZKWatchManager: which local watches one server notification triggers, and which
 * one-shot watches it consumes. Persistent watches stay until removed.
 */
export class WatchRegistry {
  readonly #data = new Map<string, Set<OneShotWatch>>();
  readonly #exist = new Map<string, Set<OneShotWatch>>();
  readonly #child = new Map<string, Set<OneShotWatch>>();
  readonly #persistent = new Map<string, Set<PersistentSink>>();
  readonly #recursive = new Map<string, Set<PersistentSink>>();

  addOneShot(kind: OneShotKind, path: string, watch: OneShotWatch): void {
    addTo(kind === 'data' ? this.#data : kind === 'exist' ? this.#exist : this.#child, path, watch);
  }

  addPersistent(kind: PersistentKind, path: string, sink: PersistentSink): void {
    addTo(kind === 'persistent' ? this.#persistent : this.#recursive, path, sink);
  }

  /** Removes one persistent sink; returns how many sinks of that kind remain on the path. */
  removePersistent(kind: PersistentKind, path: string, sink: PersistentSink): number {
    const map = kind === 'persistent' ? this.#persistent : this.#recursive;
    const set = map.get(path);
    if (!set) return 0;
    set.delete(sink);
    if (set.size === 0) map.delete(path);
    return set.size;
  }

  /** Whether one-shot watches of any kind are registered on the path. */
  hasOneShot(path: string): boolean {
    return this.#data.has(path) || this.#exist.has(path) || this.#child.has(path);
  }

  hasPersistent(kind: PersistentKind, path: string): boolean {
    return (kind === 'persistent' ? this.#persistent : this.#recursive).has(path);
  }

  get size(): number {
    let n = 0;
    for (const map of [this.#data, this.#exist, this.#child, this.#persistent, this.#recursive]) for (const set of map.values()) n += set.size;
    return n;
  }

  /** Delivers one notification to every local watch it triggers, consuming the one-shot ones. */
  dispatch(event: WatchedEvent): void {
    const oneShots = new Set<OneShotWatch>();
    const sinks = new Set<PersistentSink>();
    const path = event.path;
    switch (event.type) {
      case 'NodeCreated':
      case 'NodeDataChanged':
        takeFrom(this.#data, path, oneShots);
        takeFrom(this.#exist, path, oneShots);
        break;
      case 'NodeChildrenChanged':
        takeFrom(this.#child, path, oneShots);
        break;
      case 'NodeDeleted':
        takeFrom(this.#data, path, oneShots);
        takeFrom(this.#exist, path, oneShots);
        takeFrom(this.#child, path, oneShots);
        break;
    }
    for (const sink of this.#persistent.get(path) ?? []) sinks.add(sink);
    // A recursive watch covers its node and every descendant, and never sees NodeChildrenChanged.
    if (event.type !== 'NodeChildrenChanged') {
      for (let p = path; ; p = parentOf(p)) {
        for (const sink of this.#recursive.get(p) ?? []) sinks.add(sink);
        if (p === '/') break;
      }
    }
    for (const watch of oneShots) watch.fire(event);
    for (const sink of sinks) sink.push(event);
  }

  /**
   * removeWatches: drops every watch of `type` on `path` ('children': one-shot child watches; 'data':
   * data and exist watches; 'any': those and persistent ones), grouped by the removal event ZooKeeper
   * reports for them (ChildWatchRemoved, DataWatchRemoved, PersistentWatchRemoved).
   */
  removeByType(path: string, type: RemoveWatchesType): { child: OneShotWatch[]; data: OneShotWatch[]; persistent: PersistentSink[] } {
    const child = new Set<OneShotWatch>();
    const data = new Set<OneShotWatch>();
    const persistent = new Set<PersistentSink>();
    if (type !== 'data') takeFrom(this.#child, path, child);
    if (type !== 'children') {
      takeFrom(this.#data, path, data);
      takeFrom(this.#exist, path, data);
    }
    if (type === 'any') {
      takeFrom(this.#persistent, path, persistent);
      takeFrom(this.#recursive, path, persistent);
    }
    return { child: [...child], data: [...data], persistent: [...persistent] };
  }

  snapshot(): WatchSnapshot {
    return {
      data: [...this.#data.keys()],
      exist: [...this.#exist.keys()],
      child: [...this.#child.keys()],
      persistent: [...this.#persistent.keys()],
      recursive: [...this.#recursive.keys()],
    };
  }

  /** The session ended: every watch fails with `error` (persistent sinks end with it). */
  failAll(error: Error): void {
    const oneShots = new Set<OneShotWatch>();
    for (const map of [this.#data, this.#exist, this.#child]) {
      for (const set of map.values()) for (const watch of set) oneShots.add(watch);
      map.clear();
    }
    const sinks = new Set<PersistentSink>();
    for (const map of [this.#persistent, this.#recursive]) {
      for (const set of map.values()) for (const sink of set) sinks.add(sink);
      map.clear();
    }
    for (const watch of oneShots) watch.fail(error);
    for (const sink of sinks) sink.end(error);
  }

  /** The client closed: one-shot watches fail with `error`, persistent sinks simply end. */
  closeAll(error: Error): void {
    const sinks = new Set<PersistentSink>();
    for (const map of [this.#persistent, this.#recursive]) {
      for (const set of map.values()) for (const sink of set) sinks.add(sink);
      map.clear();
    }
    for (const sink of sinks) sink.end();
    this.failAll(error);
  }
}

/** A promise-backed one-shot watch (the `changed` promise); never an unhandled rejection. */
export function promiseWatch(): { watch: OneShotWatch; changed: Promise<WatchedEvent> } {
  let watch!: OneShotWatch;
  const changed = new Promise<WatchedEvent>((resolve, reject) => {
    watch = { fire: resolve, fail: reject };
  });
  changed.catch(() => {});
  return { watch, changed };
}

/** A callback one-shot watch; session end is reported to the optional error callback. */
export function callbackWatch(watcher: Watcher, onError?: (error: Error) => void): OneShotWatch {
  return {
    fire: (event) => watcher(event),
    fail: (error) => onError?.(error),
  };
}

/** Which watches removeWatches() removes (ZooKeeper's WatcherType Children, Data, Any). */
export type RemoveWatchesType = 'children' | 'data' | 'any';

/** The removal events ZooKeeper would deliver for the watches removeWatches() removed. */
export type WatchRemovedEventType = 'ChildWatchRemoved' | 'DataWatchRemoved' | 'PersistentWatchRemoved';

/** A one-shot watch's `changed` promise rejects with this when removeWatches() removed the watch. */
export class WatchRemovedError extends Error {
  readonly code = 'WATCH_REMOVED';
  constructor(readonly path: string) {
    super(`the watch on ${path} was removed`);
    this.name = 'WatchRemovedError';
  }
}

export class WatchBufferOverflowError extends Error {
  readonly code = 'WATCH_BUFFER_OVERFLOW';
  constructor(readonly path: string, readonly limit: number) {
    super(`more than ${limit} undelivered events on the watch of ${path}; the watch was removed`);
    this.name = 'WatchBufferOverflowError';
  }
}

/**
 * A persistent or recursive watch as an async iterable. Events are buffered (up to
 * `maxBufferedEvents`, beyond which the watch ends with WatchBufferOverflowError) until read.
 * It ends when return() is called (a `for await` loop that breaks calls it), when its signal
 * aborts, or when the client closes; it throws SessionExpiredError if the session is lost.
 */
export class PersistentWatch implements AsyncIterableIterator<WatchedEvent>, PersistentSink {
  readonly path: string;
  readonly recursive: boolean;
  readonly #buffer: WatchedEvent[] = [];
  readonly #maxBuffered: number;
  readonly #onRemove: (watch: PersistentWatch) => void;
  #waiter: { resolve(result: IteratorResult<WatchedEvent>): void; reject(error: Error): void } | undefined;
  #ended = false;
  #error: Error | undefined;
  #removed = false;

  constructor(options: { path: string; recursive: boolean; maxBufferedEvents: number; onRemove: (watch: PersistentWatch) => void }) {
    this.path = options.path;
    this.recursive = options.recursive;
    this.#maxBuffered = options.maxBufferedEvents;
    this.#onRemove = options.onRemove;
  }

  /** Whether the watch still receives events. */
  get active(): boolean {
    return !this.#ended;
  }

  push(event: WatchedEvent): void {
    if (this.#ended) return;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.resolve({ value: event, done: false });
      return;
    }
    if (this.#buffer.length >= this.#maxBuffered) {
      this.#remove();
      this.end(new WatchBufferOverflowError(this.path, this.#maxBuffered));
      return;
    }
    this.#buffer.push(event);
  }

  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#removed = true; // the registry already dropped it
    this.#error = error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (!waiter) return;
    if (error) {
      this.#error = undefined;
      waiter.reject(error);
    } else {
      waiter.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<WatchedEvent>> {
    const event = this.#buffer.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.#ended) {
      const error = this.#error;
      this.#error = undefined;
      return error ? Promise.reject(error) : Promise.resolve({ value: undefined, done: true });
    }
    if (this.#waiter) return Promise.reject(new Error('PersistentWatch.next() called again before the previous call settled'));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** Stops the watch: removes it locally and (when no other local watch needs it) on the server. */
  return(): Promise<IteratorResult<WatchedEvent>> {
    this.#remove();
    this.#buffer.length = 0;
    this.end();
    this.#error = undefined;
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<WatchedEvent>> {
    void this.return();
    return Promise.reject(error);
  }

  /** Same as return(). */
  close(): Promise<void> {
    return this.return().then(() => undefined);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    this.#onRemove(this);
  }
}
