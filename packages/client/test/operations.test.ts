import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fourLetterWord, type ServerProcess } from '@corral/testing';
import {
  AuthFailedError,
  BadArgumentsError,
  BadVersionError,
  ClientClosedError,
  CREATOR_ALL_ACL,
  InvalidACLError,
  NoAuthError,
  NoChildrenForEphemeralsError,
  NodeExistsError,
  NoNodeError,
  NotEmptyError,
  OPEN_ACL_UNSAFE,
  OperationTimeoutError,
  Perms,
  READ_ACL_UNSAFE,
  RuntimeInconsistencyError,
  UnimplementedError,
  ZooKeeperError,
  digestAcl,
  type WatchedEvent,
  type ZooKeeperClient,
} from '../src/index.js';
import { closeAllClients, connected, targets, text, trackedClient, uniqueName } from './helpers.js';

for (const target of targets) {
  describe.skipIf(target.skip)(`operations against ${target.name}`, () => {
    let server: ServerProcess;
    let root: ZooKeeperClient;
    let chroot: string;
    let zk: ZooKeeperClient;

    beforeAll(async () => {
      server = await target.start({ settings: { extendedTypesEnabled: 'true' } });
    });
    afterAll(async () => {
      await server?.cleanup();
    });
    beforeEach(async () => {
      // Every test works in a fresh chroot, which also exercises chroot handling everywhere.
      root = await connected(server.connectString);
      chroot = `/${uniqueName()}`;
      await root.create(chroot);
      zk = await connected(server.connectString + chroot);
    });
    afterEach(closeAllClients);

    it('create, getData, setData, exists, delete with versions and stats', async () => {
      expect(await zk.create('/a', 'one')).toBe('/a');
      const { data, stat } = await zk.getData('/a');
      expect(text(data)).toBe('one');
      expect(stat.version).toBe(0);
      expect(stat.dataLength).toBe(3);
      const stat2 = await zk.setData('/a', 'two', { version: 0 });
      expect(stat2.version).toBe(1);
      expect(stat2.mzxid).toBeGreaterThan(stat.mzxid);
      await expect(zk.setData('/a', 'three', { version: 0 })).rejects.toBeInstanceOf(BadVersionError);
      expect((await zk.exists('/a'))?.version).toBe(1);
      expect(await zk.exists('/missing')).toBeNull();
      await expect(zk.delete('/a', { version: 0 })).rejects.toMatchObject({ code: 'BADVERSION', errno: -103, path: '/a' });
      await zk.delete('/a', { version: 1 });
      expect(await zk.exists('/a')).toBeNull();
      // Through the root client the node lives under the chroot.
      await zk.create('/b');
      expect(await root.exists(`${chroot}/b`)).not.toBeNull();
    });

    it('data read back is a copy of its own: later replies and changes to another value leave it alone', async () => {
      // Small values share 8 KiB slabs; sizes around the 1 KiB pooling limit and many replies cross slabs.
      const sizes = [0, 1, 7, 100, 1023, 1024, 1025, 3000];
      const values = Array.from({ length: 40 }, (_, i) => new Uint8Array(sizes[i % sizes.length]!).fill(i + 1));
      await Promise.all(values.map((v, i) => zk.create(`/v${i}`, v)));
      const read = await Promise.all(values.map((_, i) => zk.getData(`/v${i}`)));
      const again = await Promise.all(values.map((_, i) => zk.getData(`/v${i}`)));
      for (const { data } of again) data!.fill(0xee);
      read.forEach(({ data }, i) => expect(data).toEqual(values[i]));
    });

    it('replies spanning many socket reads, on two connections at once, arrive intact', async () => {
      // Every socket of the process reads into one shared buffer: a reply longer than a read must be
      // kept from being overwritten by the next read, of its own connection or of another one.
      const other = await connected(server.connectString + chroot);
      const big = Array.from({ length: 3 }, (_, i) => Uint8Array.from({ length: 900_000 }, (_, k) => (k * 31 + i * 7) & 0xff));
      const small = Array.from({ length: 60 }, (_, i) => Uint8Array.from({ length: 50 + i * 37 }, (_, k) => (k + i) & 0xff));
      await Promise.all([...big.map((v, i) => zk.create(`/big${i}`, v)), ...small.map((v, i) => zk.create(`/small${i}`, v))]);
      const reads = await Promise.all(
        [zk, other].flatMap((client) => [
          ...big.map(async (v, i) => ({ want: v, got: (await client.getData(`/big${i}`)).data })),
          ...small.map(async (v, i) => ({ want: v, got: (await client.getData(`/small${i}`)).data })),
        ]),
      );
      for (const { want, got } of reads) expect(Buffer.compare(Buffer.from(got!), Buffer.from(want))).toBe(0);
    });

    it('null and empty data stay distinct', async () => {
      await zk.create('/null', null);
      await zk.create('/empty', new Uint8Array(0));
      expect((await zk.getData('/null')).data).toBeNull();
      expect((await zk.getData('/empty')).data).toEqual(new Uint8Array(0));
    });

    it('create modes: sequential, ephemeral, container, ttl, and create2 stats', async () => {
      const seq1 = await zk.create('/q-', 'x', { mode: 'persistentSequential' });
      const seq2 = await zk.create('/q-', 'x', { mode: 'persistentSequential' });
      expect(seq1).toMatch(/^\/q-\d{10}$/);
      expect(Number(seq2.slice(3))).toBe(Number(seq1.slice(3)) + 1);
      const eph = await zk.create('/e', 'x', { mode: 'ephemeral', stat: true });
      expect(eph.path).toBe('/e');
      expect(eph.stat.ephemeralOwner).toBe(zk.sessionId);
      const ephSeq = await zk.create('/es-', null, { mode: 'ephemeralSequential' });
      expect(ephSeq).toMatch(/^\/es-\d{10}$/);
      await expect(zk.create('/e/child')).rejects.toBeInstanceOf(NoChildrenForEphemeralsError);
      const container = await zk.create('/c', null, { mode: 'container', stat: true });
      expect(container).toMatchObject({ path: '/c', stat: { ephemeralOwner: 0n } });
      const ttl = await zk.create('/ttl', 'x', { mode: 'ttl', ttlMs: 60_000, stat: true });
      expect(ttl.path).toBe('/ttl');
      const ttlSeq = await zk.create('/ttls-', 'x', { mode: 'ttlSequential', ttlMs: 60_000 });
      expect(ttlSeq).toMatch(/^\/ttls-\d{10}$/);
      await expect(zk.create('/ttl2', 'x', { mode: 'ttl' })).rejects.toBeInstanceOf(BadArgumentsError);
      expect((await zk.getEphemerals('/')).sort()).toEqual(['/e', ephSeq].sort());
      expect(await zk.getEphemerals('/es')).toEqual([ephSeq]);
      // Another session does not see our ephemerals as its own.
      const other = await connected(server.connectString + chroot);
      expect(await other.getEphemerals('/')).toEqual([]);
      // Ephemerals vanish with the session.
      await zk.close();
      expect(await other.exists('/e')).toBeNull();
      expect(await other.exists(ephSeq)).toBeNull();
      expect(await other.exists('/c')).not.toBeNull();
    });

    it('getChildren (with stat), getAllChildrenNumber, sync', async () => {
      await zk.create('/p');
      await zk.create('/p/x');
      await zk.create('/p/y');
      await zk.create('/p/y/z');
      const { children } = await zk.getChildren('/p');
      expect(children.sort()).toEqual(['x', 'y']);
      const withStat = await zk.getChildren('/p', { stat: true });
      expect(withStat.stat.numChildren).toBe(2);
      expect(withStat.stat.cversion).toBe(2);
      expect(await zk.getAllChildrenNumber('/p')).toBe(3);
      expect(await zk.sync('/p')).toBe('/p');
      expect((await zk.getChildren('/')).children.sort()).toEqual(['p']);
      await expect(zk.getChildren('/nope')).rejects.toBeInstanceOf(NoNodeError);
    });

    it('maps server error codes to error classes', async () => {
      await zk.create('/n');
      await zk.create('/n/child');
      const cases: [Promise<unknown>, new (...args: never[]) => ZooKeeperError, string, number][] = [
        [zk.getData('/missing'), NoNodeError, 'NONODE', -101],
        [zk.create('/n'), NodeExistsError, 'NODEEXISTS', -110],
        [zk.delete('/n'), NotEmptyError, 'NOTEMPTY', -111],
        [zk.setData('/n', 'x', { version: 42 }), BadVersionError, 'BADVERSION', -103],
        [zk.create('/bad-acl', null, { acl: [] }), InvalidACLError, 'INVALIDACL', -114],
        [zk.create('/creator', null, { acl: CREATOR_ALL_ACL }), InvalidACLError, 'INVALIDACL', -114],
        [zk.create('/missing/child'), NoNodeError, 'NONODE', -101],
      ];
      for (const [promise, Class, code, errno] of cases) {
        const error = await promise.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, code).toBeInstanceOf(Class);
        expect(error).toBeInstanceOf(ZooKeeperError);
        expect(error).toMatchObject({ code, errno });
      }
      // Client-side path validation fails before sending.
      await expect(zk.getData('relative')).rejects.toBeInstanceOf(BadArgumentsError);
      await expect(zk.create('/a/')).rejects.toBeInstanceOf(BadArgumentsError);
      await expect(zk.transaction().delete('/a//b').commit()).rejects.toBeInstanceOf(BadArgumentsError);
    });

    it('TTL creates fail with UNIMPLEMENTED when the server has extended types off', async () => {
      const plain = await target.start();
      try {
        const client = await connected(plain.connectString);
        await expect(client.create('/ttl', 'x', { mode: 'ttl', ttlMs: 1000 })).rejects.toBeInstanceOf(UnimplementedError);
        // The connection survives the error.
        expect(await client.exists('/')).not.toBeNull();
      } finally {
        await closeAllClients();
        await plain.cleanup();
      }
    });

    it('ACLs with digest auth: setACL/getACL, NoAuth without credentials, auth kept after addAuth', async () => {
      const alice = await connected(server.connectString + chroot, { authInfo: [{ scheme: 'digest', auth: 'alice:secret' }] });
      await alice.create('/private', 'mine', { acl: CREATOR_ALL_ACL });
      const { acl, stat } = await alice.getACL('/private');
      expect(acl).toEqual([digestAcl('alice', 'secret')]);
      expect(stat.aversion).toBe(0);
      expect(await alice.whoAmI()).toContainEqual({ authScheme: 'digest', user: 'alice' });

      await expect(zk.getData('/private')).rejects.toBeInstanceOf(NoAuthError);
      await expect(zk.setData('/private', 'x')).rejects.toMatchObject({ code: 'NOAUTH', errno: -102 });
      await zk.addAuth('digest', 'alice:secret');
      expect(text((await zk.getData('/private')).data)).toBe('mine');

      const after = await alice.setACL('/private', [digestAcl('alice', 'secret', Perms.ALL), ...READ_ACL_UNSAFE], { version: 0 });
      expect(after.aversion).toBe(1);
      await expect(alice.setACL('/private', OPEN_ACL_UNSAFE, { version: 0 })).rejects.toBeInstanceOf(BadVersionError);
      const anonymous = await connected(server.connectString + chroot);
      expect(text((await anonymous.getData('/private')).data)).toBe('mine');
      await expect(anonymous.delete('/private')).resolves.toBeUndefined(); // DELETE is checked on the parent (open)
    });

    it('a rejected credential fails addAuth with AuthFailedError; the session survives', async () => {
      const failures: string[] = [];
      zk.on('authFailed', (_e, scheme) => failures.push(scheme));
      const sessionId = zk.sessionId;
      await expect(zk.addAuth('no-such-scheme', 'x')).rejects.toBeInstanceOf(AuthFailedError);
      expect(failures).toEqual(['no-such-scheme']);
      // The server closed the connection; the client reattaches the same session.
      await zk.create('/still-here');
      expect(zk.sessionId).toBe(sessionId);
    });

    it('a rejected credential given at construction closes the client', async () => {
      const client = trackedClient(server.connectString, { authInfo: [{ scheme: 'no-such-scheme', auth: 'x' }] });
      await client.connect().catch(() => undefined);
      await client.closed;
      expect(client.state).toBe('closed');
      await expect(client.exists('/')).rejects.toBeInstanceOf(AuthFailedError);
    });

    it('transactions: per-op results, and the first failing error with all results', async () => {
      await zk.create('/t');
      const results = await zk
        .transaction()
        .create('/t/a', 'a')
        .create('/t/s-', 's', { mode: 'persistentSequential' })
        .setData('/t', 'root', { version: 0 })
        .check('/t', 1)
        .delete('/t/a')
        .commit();
      expect(results[0]).toMatchObject({ type: 'create', path: '/t/a' });
      expect(results[1]).toMatchObject({ type: 'create', path: expect.stringMatching(/^\/t\/s-\d{10}$/) });
      expect(results[2]).toMatchObject({ type: 'setData', stat: { version: 1 } });
      expect(results[3]).toEqual({ type: 'check' });
      expect(results[4]).toEqual({ type: 'delete' });
      const error = await zk
        .transaction()
        .create('/t/b')
        .check('/t', 7)
        .delete('/t')
        .commit()
        .then(
          () => expect.unreachable('the transaction must fail'),
          (e: unknown) => e as ZooKeeperError,
        );
      expect(error).toBeInstanceOf(BadVersionError);
      expect(error).toMatchObject({ path: '/t', opIndex: 1 });
      expect(error.results).toEqual([
        { type: 'error', errno: 0, code: 'OK' },
        { type: 'error', errno: -103, code: 'BADVERSION' },
        { type: 'error', errno: -2, code: 'RUNTIMEINCONSISTENCY' },
      ]);
      expect(await zk.exists('/t/b')).toBeNull(); // nothing applied
      expect(await zk.transaction().commit()).toEqual([]);
      expect(new RuntimeInconsistencyError().code).toBe('RUNTIMEINCONSISTENCY');
    });

    it('multiRead returns per-op results and errors', async () => {
      await zk.create('/m', 'data');
      await zk.create('/m/c');
      const results = await zk.multiRead([
        { type: 'getData', path: '/m' },
        { type: 'getChildren', path: '/m' },
        { type: 'getData', path: '/none' },
      ]);
      expect(results[0]).toMatchObject({ type: 'getData', stat: { numChildren: 1 } });
      expect(text((results[0] as { data: Uint8Array }).data)).toBe('data');
      expect(results[1]).toEqual({ type: 'getChildren', children: ['c'] });
      expect(results[2]!.type).toBe('error');
      expect((results[2] as { error: Error }).error).toBeInstanceOf(NoNodeError);
    });

    it('one-shot watches: getData, exists on a missing node, getChildren, callbacks; chroot stripped', async () => {
      await zk.create('/w', 'v0');
      const { changed } = await zk.getData('/w', { watch: true });
      const missing = await zk.exists('/w2', { watch: true });
      expect(missing.stat).toBeNull();
      const children = await zk.getChildren('/w', { watch: true });
      const callbackEvents: WatchedEvent[] = [];
      await zk.exists('/w', { watcher: (event) => callbackEvents.push(event) });

      await root.setData(`${chroot}/w`, 'v1');
      expect(await changed).toMatchObject({ type: 'NodeDataChanged', path: '/w' });
      await root.create(`${chroot}/w2`);
      expect(await missing.changed).toMatchObject({ type: 'NodeCreated', path: '/w2' });
      await root.create(`${chroot}/w/kid`);
      expect(await children.changed).toMatchObject({ type: 'NodeChildrenChanged', path: '/w' });
      await zk.sync('/');
      expect(callbackEvents).toEqual([expect.objectContaining({ type: 'NodeDataChanged', path: '/w' })]);

      // One-shot: a second change fires nothing more.
      await root.setData(`${chroot}/w`, 'v2');
      await zk.sync('/');
      expect(callbackEvents).toHaveLength(1);

      // NodeDeleted reaches data and child watches alike.
      const again = await zk.getData('/w/kid', { watch: true });
      await root.delete(`${chroot}/w/kid`);
      expect(await again.changed).toMatchObject({ type: 'NodeDeleted', path: '/w/kid' });
    });

    it('a notification is delivered before the reply of the write that caused it', async () => {
      await zk.create('/order', 'a');
      const order: string[] = [];
      const { changed } = await zk.getData('/order', { watch: true });
      void changed.then(() => order.push('event'));
      await zk.setData('/order', 'b').then(() => order.push('reply'));
      expect(order).toEqual(['event', 'reply']);
    });

    it('persistent and recursive watches as async iterables, removed on return()', async () => {
      // Separate paths: ZooKeeper 3.8.0 keeps one persistent mode per (connection, path), the last added.
      await zk.create('/pw');
      await zk.create('/rw');
      const persistent = await zk.watch('/pw');
      const recursive = await zk.watch('/rw', { recursive: true });
      for (const base of ['/pw', '/rw']) {
        await root.create(`${chroot}${base}/a`);
        await root.setData(`${chroot}${base}/a`, 'x');
        await root.setData(`${chroot}${base}`, 'y');
        await root.delete(`${chroot}${base}/a`);
      }
      const seen: WatchedEvent[] = [];
      for await (const event of persistent) {
        seen.push(event);
        if (seen.length === 3) break; // calls return(): the watch is removed
      }
      expect(seen.map((e) => `${e.type} ${e.path}`)).toEqual(['NodeChildrenChanged /pw', 'NodeDataChanged /pw', 'NodeChildrenChanged /pw']);
      expect(persistent.active).toBe(false);
      const recursiveSeen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const { value } = await recursive.next();
        recursiveSeen.push(`${value.type} ${value.path}`);
      }
      // Descendants included, never NodeChildrenChanged.
      expect(recursiveSeen).toEqual(['NodeCreated /rw/a', 'NodeDataChanged /rw/a', 'NodeDataChanged /rw', 'NodeDeleted /rw/a']);

      // Aborting the signal ends a watch too.
      const controller = new AbortController();
      const aborted = await zk.watch('/pw', { signal: controller.signal });
      controller.abort();
      expect(await aborted.next()).toEqual({ value: undefined, done: true });

      await recursive.return();
      await root.setData(`${chroot}/rw`, 'z');
      await zk.sync('/');
      expect(await recursive.next()).toEqual({ value: undefined, done: true });
      // The server's watches are gone too (removeWatches), not just filtered locally. (On 3.8 the
      // fallback removeWatches(Any) goes out when the first attempt's error arrives: one more round trip.)
      await zk.sync('/');
      expect(await fourLetterWord(server.host, server.port, 'wchs')).toMatch(/Total watches:0/);
    });

    it('one-shot and persistent watches on the same path both fire', async () => {
      await zk.create('/both');
      const persistent = await zk.watch('/both');
      const { changed } = await zk.getData('/both', { watch: true });
      await root.setData(`${chroot}/both`, 'x');
      expect(await changed).toMatchObject({ type: 'NodeDataChanged', path: '/both' });
      expect((await persistent.next()).value).toMatchObject({ type: 'NodeDataChanged', path: '/both' });
      await persistent.return();
      // The one-shot watch is still honoured after the persistent one is gone (3.8 has no
      // removeWatches type for persistent watches; the client must not drop the one-shot one).
      const again = await zk.getData('/both', { watch: true });
      const third = await zk.watch('/both');
      await third.return();
      await root.setData(`${chroot}/both`, 'y');
      expect(await again.changed).toMatchObject({ type: 'NodeDataChanged', path: '/both' });
    });

    it('pipelines many requests on one connection, in order, within the outstanding bound', async () => {
      const client = await connected(server.connectString + chroot, { maxOutstandingRequests: 16 });
      await client.create('/pipe');
      const n = 500;
      const creates = Array.from({ length: n }, (_, i) => client.create(`/pipe/n-`, String(i), { mode: 'persistentSequential' }));
      expect(client.outstandingRequests).toBeLessThanOrEqual(16);
      expect(client.queuedRequests).toBeGreaterThan(0);
      const paths = await Promise.all(creates);
      // Sequence numbers follow issue order: requests leave and are answered in FIFO order.
      const seqs = paths.map((p) => Number(p.slice(-10)));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(n);
      expect(await client.getAllChildrenNumber('/pipe')).toBe(n);
    });

    it('close() sends requests still queued for a slot before closeSession', async () => {
      const client = await connected(server.connectString + chroot, { maxOutstandingRequests: 2 });
      const reads = Array.from({ length: 50 }, () => client.exists('/'));
      expect(client.queuedRequests).toBeGreaterThan(0);
      const closing = client.close();
      await expect(client.exists('/')).rejects.toBeInstanceOf(ClientClosedError); // issued after close()
      expect((await Promise.all(reads)).every((stat) => stat !== null)).toBe(true);
      await closing;
    });

    it('signal and timeout reject a request; close() is graceful and idempotent; destroy() rejects', async () => {
      const controller = new AbortController();
      controller.abort(new Error('stop'));
      await expect(zk.exists('/')).resolves.not.toBeNull();
      await expect(zk.exists('/', { signal: controller.signal })).rejects.toThrow('stop');

      // A request waiting for a connection that never comes times out.
      const idle = trackedClient('127.0.0.1:1'); // nothing listens on port 1
      await expect(idle.exists('/', { timeoutMs: 100 })).rejects.toBeInstanceOf(OperationTimeoutError);
      idle.destroy();
      await expect(idle.exists('/')).rejects.toBeInstanceOf(ClientClosedError);

      const client = await connected(server.connectString + chroot);
      await client.create('/eph', null, { mode: 'ephemeral' });
      const pending = client.getData('/eph');
      const closing = client.close();
      expect(client.close()).toBe(closing);
      expect((await pending).data).toBeNull(); // issued before close(): answered
      await closing;
      expect(client.state).toBe('closed');
      expect(await zk.exists('/eph')).toBeNull(); // closeSession removed the ephemeral at once
      await expect(client.getData('/eph')).rejects.toBeInstanceOf(ClientClosedError);

      const doomed = await connected(server.connectString + chroot);
      const inFlight = doomed.getData('/');
      const reason = new Error('shutting down');
      doomed.destroy(reason);
      doomed.destroy();
      await expect(inFlight).rejects.toBe(reason);
    });
  });
}
