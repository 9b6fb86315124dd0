import { OpCode, RemoveWatchesRequest, WatcherType } from '@corral/protocol';
import { NoWatcherError } from './errors.js';
import type { Chroot } from './paths.js';
import type { CallSpec } from './pipeline.js';
import { WatchRemovedError, type RemoveWatchesType, type WatchRemovedEventType, type WatchRegistry } from './watches.js';

// ZooKeeper's removeAllWatches(path, type, local): the server request, then the local removal.

/** The removeWatches request (op 18) for every watch of `type` on `path`. */
export function removeWatchesSpec(chroot: Chroot, path: string, type: RemoveWatchesType): CallSpec<void> {
  const wire = type === 'children' ? WatcherType.Children : type === 'data' ? WatcherType.Data : WatcherType.Any;
  return { op: OpCode.removeWatches, path, write: (w) => RemoveWatchesRequest.write(w, { path: chroot.toServer(path), type: wire }), read: () => undefined };
}

/**
 * Drops the local watches of `type` on `path`: one-shot ones reject with WatchRemovedError,
 * persistent ones end. Returns the removal events ZooKeeper would deliver, one per kind removed;
 * throws NoWatcherError if nothing matched.
 */
export function removeLocalWatches(watches: WatchRegistry, path: string, type: RemoveWatchesType): WatchRemovedEventType[] {
  const removed = watches.removeByType(path, type);
  const events: WatchRemovedEventType[] = [];
  if (removed.child.length > 0) events.push('ChildWatchRemoved');
  if (removed.data.length > 0) events.push('DataWatchRemoved');
  if (removed.persistent.length > 0) events.push('PersistentWatchRemoved');
  if (events.length === 0) throw new NoWatcherError({ path });
  for (const watch of [...removed.child, ...removed.data]) watch.fail(new WatchRemovedError(path));
  for (const sink of removed.persistent) sink.end();
  return events;
}
