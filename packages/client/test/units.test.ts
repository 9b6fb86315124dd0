import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode, errorName } from '@corral/protocol';
import {
  ClientClosedError,
  ConnectionLossError,
  NoNodeError,
  OperationTimeoutError,
  RetryPolicies,
  SessionExpiredError,
  UnknownErrorCodeError,
  ZooKeeperError,
  createClient,
  digestId,
  errorClasses,
  errorFromCode,
  parseConnectString,
  runWithRetry,
  validatePath,
  type WatchedEvent,
} from '../src/index.js';
import { pRetryOptions } from '../src/retry.js';
import { Chroot } from '../src/paths.js';
import { WatchRegistry, promiseWatch, type PersistentSink } from '../src/watches.js';

describe('errors', () => {
  it('has one class per ZooKeeper error code, with the stable string code and errno', () => {
    const codes = Object.entries(ErrorCode).filter(([name]) => name !== 'OK');
    expect(errorClasses.size).toBe(codes.length);
    for (const [name, errno] of codes) {
      const error = errorFromCode(errno, { path: '/p' });
      expect(error).toBeInstanceOf(ZooKeeperError);
      expect(error).toBeInstanceOf(errorClasses.get(errno)!);
      expect(error.code).toBe(name);
      expect(error.errno).toBe(errno);
      expect(error.path).toBe('/p');
      expect(error.message).toContain(name);
      expect(error.name).toMatch(/Error$/);
    }
    expect(errorFromCode(-101)).toBeInstanceOf(NoNodeError);
  });

  it('an unknown code is an error carrying the number, never silence', () => {
    const error = errorFromCode(-999);
    expect(error).toBeInstanceOf(UnknownErrorCodeError);
    expect(error).toMatchObject({ code: 'UNKNOWN', errno: -999 });
    expect(errorName(-999)).toBeUndefined();
  });

  it('ClientClosedError carries CONNECTIONLOSS like the Java client but is not retryable', () => {
    const error = new ClientClosedError();
    expect(error.errno).toBe(ErrorCode.CONNECTIONLOSS);
    expect(error).not.toBeInstanceOf(ConnectionLossError);
  });

  it('every error code is documented in recipes-docs/client.md', async () => {
    const doc = await readFile(fileURLToPath(new URL('../../../recipes-docs/client.md', import.meta.url)), 'utf8');
    for (const [errno, Class] of errorClasses) {
      expect(doc, `${Class.name}`).toContain(`| \`${errorName(errno)}\` | ${errno} | \`${Class.name}\``);
    }
  });
});

describe('connect strings and paths', () => {
  it('parses hosts, default port, IPv6 and chroot', () => {
    expect(parseConnectString('a:1,b:2/app/x')).toEqual({
      servers: [
        { host: 'a', port: 1 },
        { host: 'b', port: 2 },
      ],
      chroot: '/app/x',
    });
    expect(parseConnectString('zk')).toEqual({ servers: [{ host: 'zk', port: 2181 }], chroot: '' });
    expect(parseConnectString('[::1]:3000/')).toEqual({ servers: [{ host: '::1', port: 3000 }], chroot: '' });
    expect(() => parseConnectString('')).toThrow();
    expect(() => parseConnectString('a:99999')).toThrow();
    expect(() => parseConnectString('a:1/bad/')).toThrow();
    expect(() => createClient('a:1/x//y')).toThrow();
  });

  it('maps chroot paths both ways', () => {
    const chroot = new Chroot('/app');
    expect(chroot.toServer('/')).toBe('/app');
    expect(chroot.toServer('/a')).toBe('/app/a');
    expect(chroot.fromServer('/app')).toBe('/');
    expect(chroot.fromServer('/app/a/b')).toBe('/a/b');
    expect(chroot.fromServer('/application')).toBe('/application');
    expect(new Chroot('').toServer('/a')).toBe('/a');
  });

  it('validates paths like ZooKeeper', () => {
    for (const bad of ['', 'a', '/a/', '/a//b', '/a/./b', '/a/../b', '/a\u0000', '/\ud800']) expect(() => validatePath(bad), JSON.stringify(bad)).toThrow();
    for (const good of ['/', '/a', '/a/b-c_d.e', '/é']) expect(() => validatePath(good)).not.toThrow();
    expect(() => validatePath('/q/', 'path', { sequential: true })).not.toThrow();
  });

  it('digest ids match ZooKeeper', () => {
    expect(digestId('alice', 'secret')).toBe('alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=');
  });
});

describe('retry policies', () => {
  it('translate to p-retry options', () => {
    expect(pRetryOptions(RetryPolicies.exponentialBackoff({ baseDelayMs: 10, maxDelayMs: 80, maxRetries: 3 }))).toMatchObject({ retries: 3, minTimeout: 10, maxTimeout: 80, factor: 2, randomize: true });
    expect(pRetryOptions(RetryPolicies.nTimes(4, 5))).toMatchObject({ retries: 4, minTimeout: 5, factor: 1 });
    expect(pRetryOptions(RetryPolicies.untilElapsed(1000, 5))).toMatchObject({ retries: Infinity, maxRetryTime: 1000 });
    expect(pRetryOptions(RetryPolicies.forever({ maxDelayMs: 50 }))).toMatchObject({ retries: Infinity, maxTimeout: 50 });
  });

  it('retry ConnectionLoss and OperationTimeout only, up to the policy', async () => {
    let calls = 0;
    const result = await runWithRetry(async () => {
      calls++;
      if (calls === 1) throw new ConnectionLossError();
      if (calls === 2) throw new OperationTimeoutError();
      return 'ok';
    }, RetryPolicies.nTimes(5, 1));
    expect(result).toBe('ok');
    expect(calls).toBe(3);

    calls = 0;
    await expect(
      runWithRetry(async () => {
        calls++;
        throw new SessionExpiredError();
      }, RetryPolicies.forever({ baseDelayMs: 1 })),
    ).rejects.toBeInstanceOf(SessionExpiredError);
    expect(calls).toBe(1);

    calls = 0;
    await expect(
      runWithRetry(async () => {
        calls++;
        throw new ConnectionLossError();
      }, RetryPolicies.nTimes(2, 1)),
    ).rejects.toBeInstanceOf(ConnectionLossError);
    expect(calls).toBe(3);

    const started = Date.now();
    await expect(
      runWithRetry(async () => {
        throw new ConnectionLossError();
      }, RetryPolicies.untilElapsed(100, 10)),
    ).rejects.toBeInstanceOf(ConnectionLossError);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('watch registry routing', () => {
  function sink(): PersistentSink & { events: WatchedEvent[] } {
    const events: WatchedEvent[] = [];
    return { events, push: (e) => events.push(e), end: () => undefined };
  }
  const ev = (type: WatchedEvent['type'], path: string): WatchedEvent => ({ type, path, zxid: -1n });

  it('routes like ZKWatchManager and consumes one-shot watches', async () => {
    const registry = new WatchRegistry();
    const data = promiseWatch();
    const exist = promiseWatch();
    const child = promiseWatch();
    registry.addOneShot('data', '/a', data.watch);
    registry.addOneShot('exist', '/a', exist.watch);
    registry.addOneShot('child', '/a', child.watch);
    const persistent = sink();
    const recursive = sink();
    registry.addPersistent('persistent', '/a', persistent);
    registry.addPersistent('recursive', '/', recursive);

    registry.dispatch(ev('NodeChildrenChanged', '/a'));
    expect(await child.changed).toEqual(ev('NodeChildrenChanged', '/a'));
    expect(recursive.events).toEqual([]); // recursive watches never see NodeChildrenChanged
    registry.dispatch(ev('NodeDataChanged', '/a'));
    expect(await data.changed).toEqual(ev('NodeDataChanged', '/a'));
    expect(await exist.changed).toEqual(ev('NodeDataChanged', '/a'));
    registry.dispatch(ev('NodeDataChanged', '/a/deep/er'));
    expect(persistent.events.map((e) => e.type)).toEqual(['NodeChildrenChanged', 'NodeDataChanged']);
    expect(recursive.events.map((e) => e.path)).toEqual(['/a', '/a/deep/er']);
    expect(registry.snapshot()).toEqual({ data: [], exist: [], child: [], persistent: ['/a'], recursive: ['/'] });
  });

  it('fails one-shot watches when the session is lost', async () => {
    const registry = new WatchRegistry();
    const data = promiseWatch();
    registry.addOneShot('data', '/a', data.watch);
    registry.failAll(new SessionExpiredError());
    await expect(data.changed).rejects.toBeInstanceOf(SessionExpiredError);
    expect(registry.size).toBe(0);
  });
});

describe('transport', () => {
  it('coalesces the frames queued in one event-loop turn into one socket write', async () => {
    const { createServer } = await import('node:net');
    const { Transport } = await import('../src/transport.js');
    const received: Buffer[] = [];
    const server = createServer((socket) => socket.on('data', (chunk) => received.push(chunk)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    let flushes = 0;
    const opened = new Promise<void>((resolve) => {
      const transport = new Transport('127.0.0.1', port, {
        onOpen: () => {
          for (let i = 0; i < 100; i++) transport.send((w) => w.int(i));
          setTimeout(() => {
            transport.destroy('done');
            resolve();
          }, 50);
        },
        onFrames: () => undefined,
        onProtocolError: () => undefined,
        onClose: () => undefined,
        onFlush: () => flushes++,
      }, { maxFrameLength: 1024 });
    });
    await opened;
    server.close();
    expect(flushes).toBe(1);
    expect(Buffer.concat(received).length).toBe(100 * 8);
  });
});
