import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { getFreePort, type ServerProcess } from '@corral/testing';
import {
  ConnectionLossError,
  CREATOR_ALL_ACL,
  OperationTimeoutError,
  SessionExpiredError,
  type WatchedEvent,
} from '../src/index.js';
import { TcpProxy, closeAllClients, connected, recordStates, restart, sleep, targets, text, trackedClient, uniqueName, waitForState } from './helpers.js';

// Short ticks keep expiry tests fast: session timeouts are clamped to [2, 20] × tickTime.
const FAST = { tickTime: 200 };

const servers: ServerProcess[] = [];
const proxies: TcpProxy[] = [];
const fakes: Server[] = [];
afterEach(async () => {
  await closeAllClients();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  for (const fake of fakes.splice(0)) fake.close();
  await Promise.all(servers.splice(0).map((s) => s.cleanup()));
});

for (const target of targets) {
  describe.skipIf(target.skip)(`failure behaviour against ${target.name}`, () => {
    async function start(settings: Record<string, string | number> = FAST): Promise<ServerProcess> {
      const server = await target.start({ settings });
      servers.push(server);
      return server;
    }

    async function proxied(server: ServerProcess): Promise<TcpProxy> {
      const proxy = await TcpProxy.start(server.host, server.port);
      proxies.push(proxy);
      return proxy;
    }

    it('a connection cut with 1,000 requests in flight loses none silently', async () => {
      const server = await start();
      const proxy = await proxied(server);
      const zk = await connected(proxy.connectString, { sessionTimeoutMs: 4000, maxOutstandingRequests: 1000 });
      const sessionId = zk.sessionId;
      await zk.create('/flight');
      const requests = Array.from({ length: 1000 }, (_, i) =>
        i % 2 === 0 ? zk.create('/flight/n-', String(i), { mode: 'persistentSequential' }) : zk.exists('/flight'),
      );
      await sleep(1); // let part of them be answered
      proxy.cutAll();
      const settled = await Promise.race([
        Promise.allSettled(requests),
        sleep(15_000).then(() => {
          throw new Error('some requests neither resolved nor rejected');
        }),
      ]);
      const rejected = settled.filter((r) => r.status === 'rejected');
      for (const r of rejected) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ConnectionLossError);
      expect(rejected.length).toBeGreaterThan(0);
      // The session survives: the client reattaches it and every acknowledged create is there.
      await waitForState(zk, 'reconnected');
      expect(zk.sessionId).toBe(sessionId);
      const acknowledged = settled.filter((r, i) => i % 2 === 0 && r.status === 'fulfilled').length;
      expect(await zk.getAllChildrenNumber('/flight')).toBeGreaterThanOrEqual(acknowledged);
    });

    it('requests issued while suspended wait for the reconnection, or fail at their own timeout', async () => {
      const server = await start();
      const proxy = await proxied(server);
      const zk = await connected(proxy.connectString, { sessionTimeoutMs: 4000 });
      const states = recordStates(zk);
      await zk.create('/s', 'here');
      proxy.setMode('refuse');
      proxy.cutAll();
      await waitForState(zk, 'suspended');
      const waiting = zk.getData('/s');
      await expect(zk.getData('/s', { timeoutMs: 200 })).rejects.toBeInstanceOf(OperationTimeoutError);
      const controller = new AbortController();
      const aborted = zk.getData('/s', { signal: controller.signal });
      controller.abort(new Error('gave up'));
      await expect(aborted).rejects.toThrow('gave up');
      proxy.setMode('forward');
      expect(text((await waiting).data)).toBe('here');
      expect(states).toEqual(['suspended', 'reconnected']);
    });

    it('watches are restored after a reconnect; a change made while disconnected is delivered once', async () => {
      const server = await start();
      const proxy = await proxied(server);
      const root = await connected(server.connectString);
      const zk = await connected(proxy.connectString, { sessionTimeoutMs: 4000 });
      await zk.create('/x', 'v0');
      await zk.create('/kids');
      const dataEvents: WatchedEvent[] = [];
      await zk.getData('/x', { watcher: (e) => dataEvents.push(e) });
      const created = await zk.exists('/later', { watch: true });
      const children = await zk.getChildren('/kids', { watch: true });
      const persistent = await zk.watch('/x');
      const lastZxid = zk.lastZxidSeen;

      proxy.setMode('refuse');
      proxy.cutAll();
      await waitForState(zk, 'suspended');
      await root.setData('/x', 'v1'); // while zk is disconnected
      await root.create('/later');
      proxy.setMode('forward');
      await waitForState(zk, 'reconnected');

      // Catch-up events from setWatches (relativeZxid = lastZxidSeen before the cut).
      expect(await created.changed).toMatchObject({ type: 'NodeCreated', path: '/later' });
      await zk.sync('/');
      expect(dataEvents).toEqual([expect.objectContaining({ type: 'NodeDataChanged', path: '/x' })]);
      expect(zk.lastZxidSeen).toBeGreaterThan(lastZxid);

      // The child watch and the persistent watch were re-registered and still work.
      await root.create('/kids/k');
      expect(await children.changed).toMatchObject({ type: 'NodeChildrenChanged', path: '/kids' });
      await root.setData('/x', 'v2');
      expect((await persistent.next()).value).toMatchObject({ type: 'NodeDataChanged', path: '/x' });
      await zk.sync('/');
      expect(dataEvents).toHaveLength(1); // one-shot: delivered once, not again
    });

    it('a silent server is detected by the read timeout (2/3 of the session timeout)', async () => {
      const server = await start();
      const proxy = await proxied(server);
      const zk = await connected(proxy.connectString, { sessionTimeoutMs: 3000 });
      expect(zk.negotiatedTimeoutMs).toBe(3000);
      proxy.setMode('blackhole');
      const started = Date.now();
      await waitForState(zk, 'suspended', 5000);
      const elapsed = Date.now() - started;
      // Detected between 1/3 and 2/3 of the timeout after the last reply (pings come every 1/3),
      // and well before the session timeout would make it 'lost'.
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(3000);
      expect(zk.state).toBe('suspended');
      proxy.setMode('forward');
      await waitForState(zk, 'reconnected');
    });

    it('pings keep an idle session alive', async () => {
      const server = await start();
      const zk = await connected(server.connectString, { sessionTimeoutMs: 1500 });
      const states = recordStates(zk);
      await sleep(4500); // three session timeouts without a request
      expect(states).toEqual([]);
      await zk.create('/alive', null, { mode: 'ephemeral' });
    });

    it('credentials are re-sent after a reconnect', async () => {
      const server = await start();
      const proxy = await proxied(server);
      const zk = await connected(proxy.connectString, { sessionTimeoutMs: 4000, authInfo: [{ scheme: 'digest', auth: 'alice:secret' }] });
      await zk.addAuth('digest', 'bob:pw');
      await zk.create('/secret', 'x', { acl: CREATOR_ALL_ACL });
      proxy.cutAll();
      await waitForState(zk, 'reconnected');
      expect(text((await zk.getData('/secret')).data)).toBe('x');
      const who = await zk.whoAmI();
      expect(who).toEqual(expect.arrayContaining([{ authScheme: 'digest', user: 'alice' }, { authScheme: 'digest', user: 'bob' }]));
    });

    it('a protected create whose reply was lost finds its node instead of creating a second one', async () => {
      const server = await start();
      const proxy = await proxied(server);
      const root = await connected(server.connectString);
      const zk = await connected(proxy.connectString, { sessionTimeoutMs: 3000 });
      await zk.create('/locks');
      proxy.setMode('dropReplies'); // the create reaches the server, its reply never comes back
      const creating = zk.create('/locks/lock-', 'me', { mode: 'ephemeralSequential', protected: true });
      await waitForState(zk, 'suspended');
      proxy.setMode('forward');
      const path = await creating;
      expect(path).toMatch(/^\/locks\/_c_[0-9a-f-]{36}-lock-\d{10}$/);
      const { children } = await root.getChildren('/locks');
      expect(children).toEqual([path.slice('/locks/'.length)]);
    });

    it('skips a dead server and one that closes without a ConnectResponse', async () => {
      const server = await start();
      const deadPort = await getFreePort();
      let refused = 0;
      const fake = createServer((socket) => {
        refused++;
        socket.destroy();
      });
      fakes.push(fake);
      await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
      const fakePort = (fake.address() as { port: number }).port;
      const zk = trackedClient(`127.0.0.1:${deadPort},127.0.0.1:${fakePort},${server.connectString}`, {
        random: () => 0.999_999, // keep the listed order
      });
      await zk.connect({ signal: AbortSignal.timeout(10_000) });
      expect(refused).toBe(1);
      expect(await zk.exists('/')).not.toBeNull();
    });

    it("a stopped server past the session timeout yields 'lost' once and SessionExpiredError; reconnect() starts a new session", async () => {
      const server = await start();
      const zk = await connected(server.connectString, { sessionTimeoutMs: 1000 });
      const states = recordStates(zk);
      const losses: string[] = [];
      zk.on('lost', (reason) => losses.push(reason));
      const firstSession = zk.sessionId;
      const { changed } = await zk.exists('/never', { watch: true });
      await server.kill();
      await waitForState(zk, 'lost', 5000);
      expect(losses).toEqual(['timeout']);
      await expect(changed).rejects.toBeInstanceOf(SessionExpiredError);
      await expect(zk.getData('/')).rejects.toBeInstanceOf(SessionExpiredError);
      await expect(zk.connect()).rejects.toBeInstanceOf(SessionExpiredError);
      servers.push(await restart(target, server, FAST));
      await zk.reconnect({ signal: AbortSignal.timeout(10_000) });
      expect(zk.sessionId).not.toBe(firstSession);
      expect(states).toEqual(['suspended', 'lost', 'connecting', 'connected']);
      expect(losses).toEqual(['timeout']);
      await zk.create('/fresh', null, { mode: 'ephemeral' });
    });

    it("a session the server no longer knows is reported 'lost' (expired); autoReconnectAfterLoss starts a new one", async () => {
      const server = await start();
      const first = await connected(server.connectString);
      const session = { sessionId: first.sessionId!, passwd: first.sessionPassword! };
      await first.close();

      const resumed = trackedClient(server.connectString, { session });
      const losses: string[] = [];
      resumed.on('lost', (reason) => losses.push(reason));
      await expect(resumed.connect()).rejects.toBeInstanceOf(SessionExpiredError);
      expect(resumed.state).toBe('lost');
      expect(losses).toEqual(['expired']);

      const auto = trackedClient(server.connectString, { session, autoReconnectAfterLoss: true });
      const states = recordStates(auto);
      await auto.connect({ signal: AbortSignal.timeout(10_000) }); // waits through 'lost' when reconnecting automatically
      expect(states).toEqual(['connecting', 'lost', 'connecting', 'connected']);
      expect(auto.sessionId).not.toBe(session.sessionId);
    });

    it('a live session is resumed by a second client with its id and password', async () => {
      const server = await start();
      const first = await connected(server.connectString);
      await first.create('/mine', null, { mode: 'ephemeral' });
      const session = { sessionId: first.sessionId!, passwd: first.sessionPassword! };
      first.destroy(); // drops the socket without closeSession: the session lives on
      const second = await connected(server.connectString, { session });
      expect(second.sessionId).toBe(session.sessionId);
      expect(second.state).toBe('connected');
      expect(await second.getEphemerals()).toEqual(['/mine']);
    });

    const restartTest = async (): Promise<void> => {
      const settings = { tickTime: 500 };
      const server = await start(settings);
      const zk = await connected(server.connectString, { sessionTimeoutMs: 10_000 });
      const states = recordStates(zk);
      const sessionId = zk.sessionId;
      await zk.create(`/${uniqueName('eph')}`, null, { mode: 'ephemeral' });
      await zk.create('/watched', 'v0');
      const { changed } = await zk.getData('/watched', { watch: true });
      await server.kill();
      await waitForState(zk, 'suspended');
      servers.push(await restart(target, server, settings));
      await waitForState(zk, 'reconnected', 30_000);
      expect(zk.sessionId).toBe(sessionId);
      expect(await zk.getEphemerals()).toHaveLength(1);
      await zk.setData('/watched', 'v1');
      expect(await changed).toMatchObject({ type: 'NodeDataChanged', path: '/watched' });
      expect(states).toEqual(['suspended', 'reconnected']);
    };
    it('the session survives a server restart on the same port and dataDir', restartTest);
  });
}
