import { ErrorCode, OpCode, RemoveWatchesRequest, SetWatches, SetWatches2, WatcherType } from '@corral/protocol';
import type { Logger } from 'pino';
import { ClientClosedError, ConnectionLossError, ZooKeeperError } from './errors.js';
import type { Chroot } from './paths.js';
import type { CallSpec } from './pipeline.js';
import type { PersistentKind, PersistentWatch, WatchRegistry } from './watches.js';

// Keeps the server's watch registrations in step with the local WatchRegistry.

/** Java's client splits setWatches into batches of about this many bytes of paths. */
const SET_WATCHES_BATCH_BYTES = 128 * 1024;

export interface WatchLink {
  readonly chroot: Chroot;
  readonly watches: WatchRegistry;
  readonly log: Logger;
  /** Whether a request of the client's own may go out now (connected and not closing). */
  canSend(): boolean;
  /** Sends a request of the client's own; fails with ConnectionLossError without a connection. */
  internal<T>(spec: CallSpec<T>): Promise<T>;
}

type WatchLists = { dataWatches: string[]; existWatches: string[]; childWatches: string[]; persistentWatches: string[]; persistentRecursiveWatches: string[] };

const emptyLists = (): WatchLists => ({ dataWatches: [], existWatches: [], childWatches: [], persistentWatches: [], persistentRecursiveWatches: [] });

/** After a reconnect to the same session: re-registers every local watch (server paths) in batches. */
export function restoreWatches(link: WatchLink, relativeZxid: bigint): void {
  const snapshot = link.watches.snapshot();
  const lists: WatchLists = {
    dataWatches: snapshot.data,
    existWatches: snapshot.exist,
    childWatches: snapshot.child,
    persistentWatches: snapshot.persistent,
    persistentRecursiveWatches: snapshot.recursive,
  };
  const total = Object.values(lists).reduce((n, list) => n + list.length, 0);
  if (total === 0) return;
  // setWatches2 only when needed, so 3.5-era servers (no op 105) keep working.
  const v2 = snapshot.persistent.length + snapshot.recursive.length > 0;
  const batches: WatchLists[] = [];
  let batch = emptyLists();
  let bytes = 0;
  for (const key of Object.keys(lists) as (keyof WatchLists)[]) {
    for (const path of lists[key]) {
      const serverPath = link.chroot.toServer(path);
      if (bytes > 0 && bytes + serverPath.length > SET_WATCHES_BATCH_BYTES) {
        batches.push(batch);
        batch = emptyLists();
        bytes = 0;
      }
      batch[key].push(serverPath);
      bytes += serverPath.length;
    }
  }
  batches.push(batch);
  link.log.debug({ watches: total, batches: batches.length, relativeZxid: relativeZxid.toString(16), v2 }, 'restoring watches');
  for (const b of batches) {
    const spec: CallSpec<void> = v2
      ? { op: OpCode.setWatches2, write: (w) => SetWatches2.write(w, { relativeZxid, ...b }), read: () => undefined }
      : { op: OpCode.setWatches, write: (w) => SetWatches.write(w, { relativeZxid, dataWatches: b.dataWatches, existWatches: b.existWatches, childWatches: b.childWatches }), read: () => undefined };
    link.internal(spec).catch((error: unknown) => link.log.warn({ err: String(error) }, 'setWatches failed'));
  }
}

function removeWatches(link: WatchLink, path: string, type: WatcherType): Promise<void> {
  return link.internal({ op: OpCode.removeWatches, path, write: (w) => RemoveWatchesRequest.write(w, { path: link.chroot.toServer(path), type }), read: () => undefined });
}

/** A persistent watch ended locally: once no local watch of its kind is left on the path, the server's goes too. */
export function removePersistentWatch(link: WatchLink, kind: PersistentKind, watch: PersistentWatch): void {
  const remaining = link.watches.removePersistent(kind, watch.path, watch);
  if (remaining > 0 || !link.canSend()) return;
  const path = watch.path;
  const type = kind === 'recursive' ? WatcherType.PersistentRecursive : WatcherType.Persistent;
  const removeAny = (): void => {
    // 3.8 servers know only types 1..3; Any (3) would also drop one-shot watches we still need.
    if (link.watches.hasOneShot(path) || link.watches.hasPersistent(kind === 'recursive' ? 'persistent' : 'recursive', path)) return;
    removeWatches(link, path, WatcherType.Any).catch((error: unknown) => link.log.debug({ path, err: String(error) }, 'removeWatches(Any) failed'));
  };
  removeWatches(link, path, type).then(
    () => link.log.debug({ path, type }, 'server watch removed'),
    (error: unknown) => {
      link.log.debug({ path, type, err: String(error) }, 'removeWatches failed');
      if (error instanceof ZooKeeperError && error.errno === ErrorCode.NOWATCHER) return;
      if (error instanceof ZooKeeperError && !(error instanceof ConnectionLossError) && !(error instanceof ClientClosedError)) removeAny();
    },
  );
}
