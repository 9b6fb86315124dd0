import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServerProcess } from '@corral/testing';
import { NoWatcherError, WatchRemovedError, type WatchedEvent } from '../src/index.js';
import { closeAllClients, connected, targets } from './helpers.js';

for (const target of targets) {
  describe.skipIf(target.skip)(`removeWatches against ${target.name}`, () => {
    let server: ServerProcess;

    beforeAll(async () => {
      server = await target.start();
    });
    afterAll(async () => {
      await server?.cleanup();
    });
    afterEach(closeAllClients);

    it('removes one-shot watches by type, on the server too, and reports the removal events', async () => {
      const zk = await connected(server.connectString);
      await zk.create('/rw', 'x');
      const data = await zk.getData('/rw', { watch: true });
      const exists = await zk.exists('/rw/none', { watch: true });
      const children = await zk.getChildren('/rw', { watch: true });

      expect(await zk.removeWatches('/rw', { type: 'data' })).toEqual(['DataWatchRemoved']);
      await expect(data.changed).rejects.toBeInstanceOf(WatchRemovedError);
      await expect(zk.removeWatches('/rw', { type: 'data' })).rejects.toBeInstanceOf(NoWatcherError);
      expect(await zk.removeWatches('/rw/none')).toEqual(['DataWatchRemoved']);
      await expect(exists.changed).rejects.toBeInstanceOf(WatchRemovedError);

      // Removed on the server as well: a change fires nothing, while the child watch still works.
      const fired: string[] = [];
      void zk.getData('/rw', { watcher: (e: WatchedEvent) => fired.push(`${e.type} ${e.path}`) });
      expect(await zk.removeWatches('/rw', { type: 'any' })).toEqual(['ChildWatchRemoved', 'DataWatchRemoved']);
      await expect(children.changed).rejects.toBeInstanceOf(WatchRemovedError);
      await zk.setData('/rw', 'y');
      await zk.create('/rw/kid');
      await zk.sync('/rw');
      expect(fired).toEqual([]);
    });

    it('ends persistent watches (type any); local removal works without the server', async () => {
      const zk = await connected(server.connectString);
      await zk.create('/pw');
      const watch = await zk.watch('/pw', { recursive: true });
      expect(await zk.removeWatches('/pw', { type: 'children' }).catch((e: unknown) => e)).toBeInstanceOf(NoWatcherError);
      expect(await zk.removeWatches('/pw')).toEqual(['PersistentWatchRemoved']);
      expect(await watch.next()).toEqual({ value: undefined, done: true });

      const { changed } = await zk.getData('/pw', { watch: true });
      await zk.close();
      // Closing failed the watch already; nothing is left to remove, even locally.
      await expect(changed).rejects.toThrow();
      await expect(zk.removeWatches('/pw', { local: true })).rejects.toBeInstanceOf(NoWatcherError);
    });
  });
}
