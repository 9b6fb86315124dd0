import { createServer, connect, type Server, type Socket } from 'node:net';
import { startCorral, startZooKeeper, runsHere, zookeeperAvailable, type ServerProcess, type StartOptions } from '@corral/testing';
import { createClient, type ClientOptions, type ClientState, type ZooKeeperClient } from '../src/index.js';

// In CI a missing ZooKeeper is a broken environment, not a reason to skip.
export const zookeeperSkipped = !runsHere(zookeeperAvailable(), 'client tests against Apache ZooKeeper');

export interface Target {
  name: 'corral' | 'zookeeper';
  skip: boolean;
  start(options?: StartOptions): Promise<ServerProcess>;
}

/** The two servers every client test runs against. */
export const targets: Target[] = [
  { name: 'corral', skip: false, start: startCorral },
  { name: 'zookeeper', skip: zookeeperSkipped, start: startZooKeeper },
];

/** Restart a stopped server on the same port and dataDir (and the same settings). */
export function restart(target: Target, server: ServerProcess, settings: Record<string, string | number> = {}): Promise<ServerProcess> {
  return target.start({ settings: { ...settings, clientPort: server.port, dataDir: server.dataDir } });
}

const clients: ZooKeeperClient[] = [];

/** A client that is destroyed by closeAllClients() (call it in afterEach). */
export function trackedClient(connectString: string, options: ClientOptions = {}): ZooKeeperClient {
  const client = createClient(connectString, options);
  clients.push(client);
  return client;
}

export async function connected(connectString: string, options: ClientOptions = {}): Promise<ZooKeeperClient> {
  const client = trackedClient(connectString, options);
  await client.connect({ signal: AbortSignal.timeout(20_000) });
  return client;
}

export async function closeAllClients(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => c.destroy())));
}

/** Resolves when the client reaches `state` (immediately if it is there already). */
export function waitForState(client: ZooKeeperClient, state: ClientState, timeoutMs = 20_000): Promise<void> {
  if (client.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('state', onState);
      reject(new Error(`client did not reach state ${state} within ${timeoutMs} ms (now ${client.state})`));
    }, timeoutMs);
    const onState = (s: ClientState): void => {
      if (s !== state) return;
      clearTimeout(timer);
      client.off('state', onState);
      resolve();
    };
    client.on('state', onState);
  });
}

/** Records every state change of a client. */
export function recordStates(client: ZooKeeperClient): ClientState[] {
  const states: ClientState[] = [];
  client.on('state', (s) => states.push(s));
  return states;
}

let counter = 0;
export function uniqueName(prefix = 't'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

export const text = (data: Uint8Array | null): string | null => (data === null ? null : Buffer.from(data).toString('utf8'));

/**
 * A loopback TCP proxy in front of a server, to cut, refuse or black-hole client connections
 * without touching the server process.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<{ client: Socket; upstream: Socket }>();
  #mode: 'forward' | 'refuse' | 'blackhole' | 'dropReplies' = 'forward';
  port = 0;

  private constructor(readonly targetHost: string, readonly targetPort: number) {
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  get connectString(): string {
    return `127.0.0.1:${this.port}`;
  }

  get connections(): number {
    return this.#pairs.size;
  }

  /** forward: normal; refuse: accept and close at once; blackhole: keep sockets open but pass nothing; dropReplies: pass requests, drop replies. */
  setMode(mode: 'forward' | 'refuse' | 'blackhole' | 'dropReplies'): void {
    this.#mode = mode;
  }

  /** Destroys every proxied connection (both sides). */
  cutAll(): void {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#mode === 'refuse') {
      client.destroy();
      return;
    }
    const upstream = connect({ host: this.targetHost, port: this.targetPort });
    const pair = { client, upstream };
    this.#pairs.add(pair);
    const drop = (): void => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk) => {
      if (this.#mode === 'forward' || this.#mode === 'dropReplies') upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (this.#mode === 'forward') client.write(chunk);
    });
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
