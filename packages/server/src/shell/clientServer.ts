import net from 'node:net';
import { FrameReader, DecodeError } from '@corral/protocol';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/zooCfg.js';
import { ServerCore, type ConnId, type CoreAction, type CoreOptions } from '../core/server.js';
import { Durability } from './durability.js';
import { answerFourLetterWord, isFourLetterWord, type ServerFacts } from './fourLetterWords.js';

/** A connection stops being read while it has this many requests unanswered... */
const MAX_QUEUED_REQUESTS = 1000;
/** ...or this many reply bytes its peer has not taken yet, so a client cannot make us buffer without bound. */
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;

interface Client {
  readonly id: ConnId;
  readonly socket: net.Socket;
  readonly ip: string;
  readonly frames: FrameReader;
  /** Until the first 4 bytes are in we cannot tell a four-letter word from a frame length. */
  sniffing: boolean;
  sniffed: Buffer;
  /** Replies produced this turn, written together when the turn ends. */
  unsent: Uint8Array[];
  unsentBytes: number;
  paused: boolean;
  /** Frames read but not yet handed to the core because the connection is throttled; next at backlogHead. */
  backlog: Uint8Array[];
  backlogHead: number;
}

/**
 * The standalone server's shell: sockets and timers around the pure ServerCore. It executes the
 * core's actions in order; replies produced in one turn of the event loop leave in one write per
 * socket, since a write per message caps throughput at a fraction of what coalescing gives.
 */
export class ClientServer {
  readonly core: ServerCore;
  readonly #config: ServerConfig;
  readonly #log: Logger;
  readonly #server: net.Server;
  readonly #clients = new Map<ConnId, Client>();
  readonly #perIp = new Map<string, number>();
  readonly #paused = new Set<Client>();
  readonly #facts: ServerFacts;
  #nextConnId = 1;
  #tickTimer: NodeJS.Timeout | undefined;

  readonly #durability: Durability;

  readonly #fuzzyBase: boolean;

  constructor(config: ServerConfig, log: Logger, options: { serverId?: number; recovered?: CoreOptions['recovered'] & { snapshotZxid?: bigint; snapshotExact?: boolean } } = {}) {
    this.#config = config;
    this.#log = log;
    const now = Date.now();
    this.core = new ServerCore({
      serverId: options.serverId ?? 1,
      tickTimeMs: config.tickTimeMs,
      minSessionTimeoutMs: config.minSessionTimeoutMs,
      maxSessionTimeoutMs: config.maxSessionTimeoutMs,
      extendedTypesEnabled: config.extendedTypesEnabled,
      superDigest: config.superDigest,
      containerCheckIntervalMs: config.containerCheckIntervalMs,
      epoch: 1,
      startTimeMs: now,
      recovered: options.recovered,
    });
    this.#durability = new Durability(config, log);
    this.#fuzzyBase = options.recovered?.snapshotExact === false && (options.recovered.snapshotZxid ?? 0n) > 0n;
    const clients = this.#clients;
    this.#facts = {
      core: this.core,
      config,
      startedAtMs: now,
      packetsReceived: 0,
      packetsSent: 0,
      get connectionCount() {
        return clients.size;
      },
      resetStats() {
        this.packetsReceived = 0;
        this.packetsSent = 0;
      },
    };
    this.#server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
  }

  async listen(): Promise<{ host: string; port: number }> {
    await this.#durability.open(this.core, (zxids) => {
      const now = Date.now();
      for (const zxid of zxids) this.#execute(this.core.commit(zxid, now));
      for (const client of this.#paused) this.#resumeIfDrained(client);
    }, { fuzzyBase: this.#fuzzyBase });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#config.clientPort, this.#config.clientPortAddress, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    // Half a tick, so session deadlines (rounded to whole ticks) are met within one tick.
    this.#scheduleTick();
    const address = this.#server.address() as net.AddressInfo;
    return { host: address.address, port: address.port };
  }

  /**
   * Ticks on wall-clock multiples of tickTime: session deadlines are rounded to those multiples, so
   * a session expires at its deadline rather than up to one timer period after it. (Sooner when
   * the container check is due.)
   */
  #scheduleTick(): void {
    const tick = this.#config.tickTimeMs;
    this.#tickTimer = setTimeout(() => {
      this.#execute(this.core.tick(Date.now()));
      this.#scheduleTick();
    }, Math.min(tick - (Date.now() % tick) + 1, this.#config.containerCheckIntervalMs));
  }

  async close(): Promise<void> {
    clearTimeout(this.#tickTimer);
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.#durability.close();
    for (const client of this.#clients.values()) client.socket.destroy();
    await closed;
  }

  #accept(socket: net.Socket): void {
    const ip = normalizeIp(socket.remoteAddress ?? 'unknown');
    const limit = this.#config.maxClientCnxns;
    const count = this.#perIp.get(ip) ?? 0;
    if (limit > 0 && count >= limit) {
      this.#log.warn({ ip, limit }, 'too many connections from this address; closing');
      socket.destroy();
      return;
    }
    this.#perIp.set(ip, count + 1);
    const client: Client = {
      id: this.#nextConnId++,
      socket,
      ip,
      frames: new FrameReader({ maxFrameLength: this.#config.juteMaxBuffer }),
      sniffing: true,
      sniffed: Buffer.alloc(0),
      unsent: [],
      unsentBytes: 0,
      paused: false,
      backlog: [],
      backlogHead: 0,
    };
    this.#clients.set(client.id, client);
    this.core.openConnection(client.id, ip, Date.now());
    socket.on('data', (chunk) => this.#onData(client, chunk));
    socket.on('error', (error) => this.#log.debug({ conn: client.id, err: error.message }, 'socket error'));
    socket.on('close', () => this.#onClose(client));
    socket.on('drain', () => this.#resumeIfDrained(client));
  }

  #throttleIfBusy(client: Client): void {
    if (client.paused) return;
    if (this.core.queuedRequests(client.id) >= MAX_QUEUED_REQUESTS || client.socket.writableLength + client.unsentBytes >= MAX_UNSENT_BYTES) {
      client.paused = true;
      client.socket.pause();
      this.#paused.add(client);
    }
  }

  #resumeIfDrained(client: Client): void {
    if (!client.paused || client.socket.destroyed) return;
    if (this.core.queuedRequests(client.id) < MAX_QUEUED_REQUESTS / 2 && client.socket.writableLength < MAX_UNSENT_BYTES / 2) {
      client.paused = false;
      this.#paused.delete(client);
      this.#processBacklog(client);
      if (!client.paused) client.socket.resume();
    }
  }

  #onClose(client: Client): void {
    this.#paused.delete(client);
    if (!this.#clients.delete(client.id)) return;
    const left = (this.#perIp.get(client.ip) ?? 1) - 1;
    if (left > 0) this.#perIp.set(client.ip, left);
    else this.#perIp.delete(client.ip);
    this.core.connectionClosed(client.id);
  }

  #onData(client: Client, chunk: Buffer): void {
    if (client.sniffing) {
      client.sniffed = Buffer.concat([client.sniffed, chunk]);
      if (client.sniffed.length < 4) return;
      client.sniffing = false;
      const word = client.sniffed.subarray(0, 4).toString('latin1');
      if (isFourLetterWord(word)) return this.#fourLetterWord(client, word);
      chunk = client.sniffed;
      client.sniffed = Buffer.alloc(0);
    }
    let frames: Uint8Array[];
    try {
      frames = client.frames.push(chunk);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      this.#log.warn({ conn: client.id, ip: client.ip, err: error.message }, 'bad frame; closing this connection');
      client.socket.destroy();
      return;
    }
    client.backlog.push(...frames);
    this.#processBacklog(client);
  }

  /** Hands frames to the core one by one, stopping as soon as the connection is too busy. */
  #processBacklog(client: Client): void {
    const now = Date.now();
    while (client.backlogHead < client.backlog.length && !client.socket.destroyed) {
      this.#throttleIfBusy(client);
      if (client.paused) return;
      this.#facts.packetsReceived++;
      this.#execute(this.core.receive(client.id, client.backlog[client.backlogHead++]!, now));
    }
    client.backlog = [];
    client.backlogHead = 0;
    this.#throttleIfBusy(client);
  }

  #fourLetterWord(client: Client, word: string): void {
    const text = answerFourLetterWord(word, this.#facts);
    this.core.connectionClosed(client.id);
    client.socket.end(text);
  }

  /** Runs the core's actions in order; a proposal commits once the txn log has it on disk. */
  #execute(actions: CoreAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'propose':
          this.#durability.append(action.txn);
          break;
        case 'send':
          this.#write(action.conn, action.bytes);
          break;
        case 'close': {
          const client = this.#clients.get(action.conn);
          if (!client) break;
          this.#log[action.level]({ conn: action.conn, ip: client.ip }, action.reason);
          // Replies queued before the close still go out, then the FIN.
          this.#flushClient(client);
          client.socket.end();
          // A peer that never reads must not keep the socket (and our buffers) alive.
          setTimeout(() => client.socket.destroy(), 1000).unref();
          break;
        }
      }
    }
  }

  #write(conn: ConnId, bytes: Uint8Array): void {
    const client = this.#clients.get(conn);
    if (!client || client.socket.destroyed || client.socket.writableEnded) return;
    this.#facts.packetsSent++;
    if (client.unsent.length === 0) {
      this.#unflushed.push(client);
      if (this.#unflushed.length === 1) setImmediate(this.#flushAll);
    }
    client.unsent.push(bytes);
    client.unsentBytes += bytes.length;
  }

  /**
   * Clients with replies queued this turn; flushed once, after every socket that was readable in
   * this turn of the event loop has been read (setImmediate, not nextTick after each read). Each
   * reply wakes a client process that competes with this thread for a CPU; writing them after the
   * reads gave 5% more gets/s at 64 clients on 2 cores (writes unchanged: their replies already
   * leave together, from the commit).
   */
  #unflushed: Client[] = [];

  readonly #flushAll = (): void => {
    const clients = this.#unflushed;
    this.#unflushed = [];
    for (const client of clients) this.#flushClient(client);
  };

  #flushClient(client: Client): void {
    const { unsent } = client;
    if (unsent.length === 0) return;
    client.unsent = [];
    client.unsentBytes = 0;
    if (client.socket.destroyed || client.socket.writableEnded) return;
    const { socket } = client;
    if (unsent.length === 1) return void socket.write(unsent[0]!);
    let total = 0;
    for (const bytes of unsent) total += bytes.length;
    // One write per socket per turn: copying a few small replies costs less than a writev; big ones go as one writev.
    if (total <= 64 * 1024) return void socket.write(Buffer.concat(unsent, total));
    socket.cork();
    for (const bytes of unsent) socket.write(bytes);
    socket.uncork();
  }
}

function normalizeIp(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
