import { connect, type Socket } from 'node:net';
import {
  FrameReader,
  JuteReader,
  JuteWriter,
  OpCode,
  ReplyHeader,
  RequestHeader,
  WatcherEvent,
  Xid,
  encodeFrame,
  readConnectResponse,
  writeConnectRequest,
  type Codec,
  type ConnectResponse,
} from '@corral/protocol';

export interface RawConnectOptions {
  /** Requested session timeout in ms (default 30000). */
  timeoutMs?: number;
  /** 0n (default) asks for a new session. */
  sessionId?: bigint;
  /** Default: 16 zero bytes. */
  passwd?: Uint8Array | null;
  lastZxidSeen?: bigint;
  /** The optional trailing byte; undefined leaves it off (an "old" 44-byte ConnectRequest). */
  readOnly?: boolean;
}

export interface RawClientOptions {
  /** TCP connect timeout (default 5000 ms). */
  connectTimeoutMs?: number;
  /** A request (or the handshake) with no reply after this long is rejected (default 10000 ms). */
  replyTimeoutMs?: number;
}

export interface RawReply {
  header: ReplyHeader;
  /** Whatever followed the ReplyHeader in the frame. */
  body: Uint8Array;
}

export interface RawEvent extends WatcherEvent {
  /** zxid of the notification's ReplyHeader (-1 on 3.8). */
  zxid: bigint;
}

export class RawClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RawClientError';
  }
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
  done: boolean;
}

interface Pending {
  xid: number;
  op: number;
  waiter: Waiter<RawReply>;
}

function waiter<T>(timeoutMs: number, what: string): { waiter: Waiter<T>; promise: Promise<T> } {
  let w!: Waiter<T>;
  const promise = new Promise<T>((resolve, reject) => {
    w = {
      done: false,
      resolve: (v) => {
        if (w.done) return;
        w.done = true;
        clearTimeout(w.timer);
        resolve(v);
      },
      reject: (e) => {
        if (w.done) return;
        w.done = true;
        clearTimeout(w.timer);
        reject(e);
      },
    };
  });
  if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
    w.timer = setTimeout(() => w.reject(new RawClientError(`${what}: no answer after ${timeoutMs} ms`)), timeoutMs);
    w.timer.unref();
  }
  promise.catch(() => {}); // callers that never await must not produce unhandled rejections
  return { waiter: w, promise };
}

/**
 * A minimal ZooKeeper wire client for tests that must control bytes. Replies are matched to
 * requests in FIFO order (auth replies, xid -4, out of band); notifications are queued.
 * Nothing is retried or reconnected.
 */
export class RawClient {
  readonly socket: Socket;
  /** Every frame payload received, in order (ConnectResponse included). */
  readonly frames: Uint8Array[] = [];
  /** Resolves when the socket has closed (for any reason). */
  readonly closed: Promise<void>;
  connectResponse: ConnectResponse | undefined;

  readonly #replyTimeoutMs: number;
  readonly #reader = new FrameReader({ maxFrameLength: 64 * 1024 * 1024 });
  readonly #pending: Pending[] = [];
  readonly #events: RawEvent[] = [];
  readonly #eventWaiters: Waiter<RawEvent>[] = [];
  #handshake: Waiter<ConnectResponse> | undefined;
  #handshakeSent = false;
  #nextXid = 1;
  #closeError: Error | undefined;

  private constructor(socket: Socket, options: RawClientOptions) {
    this.socket = socket;
    this.#replyTimeoutMs = options.replyTimeoutMs ?? 10_000;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {}); // 'close' follows and rejects whatever is pending
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.#fail(this.#closeError ?? new RawClientError('connection closed'));
      resolve();
    }));
  }

  /** A TCP connection with no handshake sent yet. */
  static open(host: string, port: number, options: RawClientOptions = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RawClientError(`connect to ${host}:${port} timed out`));
      }, options.connectTimeoutMs ?? 5000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RawClient(socket, options));
      });
    });
  }

  /** open() + handshake(); rejects if the server closes without a ConnectResponse. */
  static async connect(host: string, port: number, connectOptions: RawConnectOptions = {}, options: RawClientOptions = {}): Promise<RawClient> {
    const client = await RawClient.open(host, port, options);
    try {
      await client.handshake(connectOptions);
    } catch (err) {
      client.destroy();
      throw err;
    }
    return client;
  }

  /**
   * Sends the ConnectRequest; the promise resolves with the ConnectResponse. Requests sent before
   * it settles are pipelined right behind the ConnectRequest.
   */
  handshake(options: RawConnectOptions = {}): Promise<ConnectResponse> {
    return this.handshakeRaw(
      encodeFrame((writer) =>
        writeConnectRequest(writer, {
          protocolVersion: 0,
          lastZxidSeen: options.lastZxidSeen ?? 0n,
          timeOut: options.timeoutMs ?? 30_000,
          sessionId: options.sessionId ?? 0n,
          passwd: options.passwd === undefined ? new Uint8Array(16) : options.passwd,
          readOnly: options.readOnly,
        }),
      ),
    );
  }

  /** handshake() with a hand-made ConnectRequest frame (length prefix included). */
  handshakeRaw(frameBytes: Uint8Array): Promise<ConnectResponse> {
    if (this.#handshakeSent) throw new RawClientError('handshake already sent');
    this.#handshakeSent = true;
    const { waiter: w, promise } = waiter<ConnectResponse>(this.#replyTimeoutMs, 'handshake');
    this.#handshake = w;
    this.sendRaw(frameBytes);
    if (this.socket.destroyed) w.reject(this.#closeError ?? new RawClientError('connection closed'));
    return promise;
  }

  get sessionId(): bigint {
    return this.connectResponse?.sessionId ?? 0n;
  }

  /** Sends `RequestHeader{xid, op}` + the encoded body; resolves with the matching reply. */
  request<T>(op: number, codec?: Codec<T>, body?: T, options: { xid?: number } = {}): Promise<RawReply> {
    const xid = options.xid ?? (op === OpCode.ping ? Xid.PING : op === OpCode.auth ? Xid.AUTH : this.#nextXid++);
    const bytes = encodeFrame((w) => {
      RequestHeader.write(w, { xid, type: op });
      if (codec) codec.write(w, body as T);
    });
    return this.requestRaw(xid, op, bytes);
  }

  /** Sends pre-encoded frame bytes and waits for the reply to `xid` like request() does. */
  requestRaw(xid: number, op: number, frameBytes: Uint8Array): Promise<RawReply> {
    const { waiter: w, promise } = waiter<RawReply>(this.#replyTimeoutMs, `request xid ${xid} op ${op}`);
    if (this.socket.destroyed) {
      w.reject(this.#closeError ?? new RawClientError('connection closed'));
      return promise;
    }
    this.#pending.push({ xid, op, waiter: w });
    this.sendRaw(frameBytes);
    return promise;
  }

  /** Next notification (queued ones first); rejects after timeoutMs. */
  nextEvent(timeoutMs = 5000): Promise<RawEvent> {
    const queued = this.#events.shift();
    if (queued) return Promise.resolve(queued);
    const { waiter: w, promise } = waiter<RawEvent>(timeoutMs, 'nextEvent');
    this.#eventWaiters.push(w);
    return promise;
  }

  /** Notifications received and not yet taken by nextEvent(). */
  get queuedEvents(): readonly RawEvent[] {
    return this.#events;
  }

  sendRaw(bytes: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  /** Half-close (FIN) and wait for the server to close its side. */
  async close(): Promise<void> {
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    await this.closed;
    clearTimeout(timer);
  }

  /** Drop the connection at once. */
  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    let frames: Uint8Array[];
    try {
      // A plain Uint8Array view, so decoded buffers compare equal to plain arrays (not Buffers).
      frames = this.#reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    } catch (err) {
      this.#closeError = err as Error;
      this.socket.destroy();
      return;
    }
    for (const frame of frames) {
      this.frames.push(frame);
      try {
        this.#onFrame(frame);
      } catch (err) {
        this.#closeError = new RawClientError(`bad frame from server: ${(err as Error).message}`);
        this.socket.destroy();
        return;
      }
    }
  }

  #onFrame(frame: Uint8Array): void {
    if (this.connectResponse === undefined && this.#handshake) {
      this.connectResponse = readConnectResponse(new JuteReader(frame));
      this.#handshake.resolve(this.connectResponse);
      return;
    }
    const r = new JuteReader(frame);
    const header = ReplyHeader.read(r);
    if (header.xid === Xid.NOTIFICATION) {
      const event: RawEvent = { ...WatcherEvent.read(r), zxid: header.zxid };
      // Waiters that already timed out are skipped.
      while (this.#eventWaiters.length > 0) {
        const w = this.#eventWaiters.shift()!;
        if (!w.done) return w.resolve(event);
      }
      this.#events.push(event);
      return;
    }
    const body = frame.slice(r.position);
    const index = header.xid === Xid.AUTH ? this.#pending.findIndex((p) => p.xid === Xid.AUTH) : 0;
    const pending = index >= 0 ? this.#pending[index] : undefined;
    if (!pending || pending.xid !== header.xid) {
      throw new RawClientError(`reply xid ${header.xid} does not match the oldest request (${pending ? pending.xid : 'none'})`);
    }
    this.#pending.splice(index, 1);
    pending.waiter.resolve({ header, body });
  }

  #fail(error: Error): void {
    this.#handshake?.reject(error);
    for (const p of this.#pending.splice(0)) p.waiter.reject(error);
    for (const w of this.#eventWaiters.splice(0)) w.reject(error);
  }
}

/** Encodes a request frame with an arbitrary body (for tests that lie about lengths). */
export function rawRequestFrame(xid: number, op: number, body: Uint8Array = new Uint8Array()): Uint8Array {
  const w = new JuteWriter();
  w.int(8 + body.length);
  RequestHeader.write(w, { xid, type: op });
  w.raw(body);
  return w.toBytes();
}
