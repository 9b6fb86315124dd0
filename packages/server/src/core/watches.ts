import { EventType, WatcherType } from '@corral/protocol';
import { parentOf } from './path.js';

/** Who watches: the server-side connection id (ZooKeeper's watcher is the connection, not the session). */
export type WatcherId = number;

/** Modes a (watcher, path) entry can hold at once, as bits. */
export const WatchMode = {
  standard: 1,
  persistent: 2,
  recursive: 4,
} as const;

export type WatchTable = 'data' | 'child';

export interface WatchDelivery {
  watcher: WatcherId;
  type: EventType;
  path: string;
}

/** Shared and frozen: callers only read what trigger() returns. */
const NO_DELIVERIES = Object.freeze([]) as unknown as WatchDelivery[];

/**
 * ZooKeeper's two watch tables (data and child). Standard watches are one-shot; persistent ones stay;
 * recursive ones live in the data table and also fire for descendants. One change yields at most one
 * event per watcher.
 */
export class WatchRegistry {
  readonly #tables: Record<WatchTable, Map<string, Map<WatcherId, number>>> = { data: new Map(), child: new Map() };
  /** Per watcher, the paths it has in each table, so a closing connection is removed without a scan. */
  readonly #byWatcher = new Map<WatcherId, { data: Set<string>; child: Set<string> }>();
  #recursiveCount = 0;

  add(table: WatchTable, path: string, watcher: WatcherId, mode: number): void {
    let entries = this.#tables[table].get(path);
    if (!entries) this.#tables[table].set(path, (entries = new Map()));
    const before = entries.get(watcher) ?? 0;
    if ((before & WatchMode.recursive) === 0 && (mode & WatchMode.recursive) !== 0) this.#recursiveCount++;
    entries.set(watcher, before | mode);
    let mine = this.#byWatcher.get(watcher);
    if (!mine) this.#byWatcher.set(watcher, (mine = { data: new Set(), child: new Set() }));
    mine[table].add(path);
  }

  /** Adds a persistent (both tables) or persistent-recursive (data table) watch, as addWatch does. */
  addPersistent(path: string, watcher: WatcherId, recursive: boolean): void {
    if (recursive) this.add('data', path, watcher, WatchMode.recursive);
    else {
      this.add('data', path, watcher, WatchMode.persistent);
      this.add('child', path, watcher, WatchMode.persistent);
    }
  }

  modes(table: WatchTable, path: string, watcher: WatcherId): number {
    return this.#tables[table].get(path)?.get(watcher) ?? 0;
  }

  /** Clears mode bits; returns the bits that were actually removed. */
  removeModes(table: WatchTable, path: string, watcher: WatcherId, mode: number): number {
    const entries = this.#tables[table].get(path);
    const before = entries?.get(watcher) ?? 0;
    const removed = before & mode;
    if (!entries || removed === 0) return 0;
    if ((removed & WatchMode.recursive) !== 0) this.#recursiveCount--;
    const after = before & ~mode;
    if (after === 0) {
      entries.delete(watcher);
      if (entries.size === 0) this.#tables[table].delete(path);
      this.#byWatcher.get(watcher)?.[table].delete(path);
    } else {
      entries.set(watcher, after);
    }
    return removed;
  }

  /** checkWatches / removeWatches matching by WatcherType; returns whether anything matched. */
  matchByType(path: string, watcher: WatcherId, type: number, remove: boolean): boolean {
    const selections: [WatchTable, number][] = [];
    switch (type) {
      case WatcherType.Children:
        selections.push(['child', WatchMode.standard]);
        break;
      case WatcherType.Data:
        selections.push(['data', WatchMode.standard]);
        break;
      case WatcherType.Any:
        selections.push(['data', 0xff], ['child', 0xff]);
        break;
      case WatcherType.Persistent:
        selections.push(['data', WatchMode.persistent], ['child', WatchMode.persistent]);
        break;
      case WatcherType.PersistentRecursive:
        selections.push(['data', WatchMode.recursive]);
        break;
      default:
        return false;
    }
    let matched = false;
    for (const [table, mode] of selections) {
      if (remove) matched = this.removeModes(table, path, watcher, mode) !== 0 || matched;
      else matched = (this.modes(table, path, watcher) & mode) !== 0 || matched;
    }
    return matched;
  }

  removeWatcher(watcher: WatcherId): void {
    const mine = this.#byWatcher.get(watcher);
    if (!mine) return;
    for (const table of ['data', 'child'] as const) {
      for (const path of [...mine[table]]) this.removeModes(table, path, watcher, 0xff);
    }
    this.#byWatcher.delete(watcher);
  }

  /**
   * Fires a table for a change at `path`: every mode on the path itself, and recursive watches on its
   * ancestors (data table only; recursive watches never see NodeChildrenChanged). Standard watches are
   * consumed. Watchers in `skip` already got an event for this change.
   */
  trigger(table: WatchTable, path: string, type: EventType, skip?: Set<WatcherId>): WatchDelivery[] {
    const entries = this.#tables[table].get(path);
    const recursive = table === 'data' && this.#recursiveCount > 0 && type !== EventType.NodeChildrenChanged;
    // Most changes have no watcher at all: nothing to allocate then.
    if (!entries && !recursive) return NO_DELIVERIES;
    const deliveries: WatchDelivery[] = [];
    const fired = new Set<WatcherId>(skip);
    if (entries) {
      for (const [watcher, mode] of [...entries]) {
        if ((mode & WatchMode.standard) !== 0) this.removeModes(table, path, watcher, WatchMode.standard);
        const relevant = type === EventType.NodeChildrenChanged ? mode & ~WatchMode.recursive : mode;
        if (relevant === 0 || fired.has(watcher)) continue;
        fired.add(watcher);
        deliveries.push({ watcher, type, path });
      }
    }
    if (recursive) {
      for (let ancestor = path; ancestor !== '/'; ) {
        ancestor = parentOf(ancestor);
        const above = this.#tables.data.get(ancestor);
        if (!above) continue;
        for (const [watcher, mode] of above) {
          if ((mode & WatchMode.recursive) === 0 || fired.has(watcher)) continue;
          fired.add(watcher);
          deliveries.push({ watcher, type, path });
        }
      }
    }
    if (skip) for (const d of deliveries) skip.add(d.watcher);
    return deliveries;
  }

  /** `wchs` counts: ZooKeeper summarises the data-watch table only (watchers, paths, pairs). */
  stats(): { connections: number; paths: number; watches: number } {
    let watches = 0;
    const watchers = new Set<WatcherId>();
    for (const entries of this.#tables.data.values()) {
      watches += entries.size;
      for (const w of entries.keys()) watchers.add(w);
    }
    return { connections: watchers.size, paths: this.#tables.data.size, watches };
  }

  pathsOf(watcher: WatcherId): { data: string[]; child: string[] } {
    const mine = this.#byWatcher.get(watcher);
    return { data: [...(mine?.data ?? [])], child: [...(mine?.child ?? [])] };
  }
}
