import { connect, type Socket } from 'node:net';
import { FrameReader, JuteWriter, pooledCopy, writeFrame } from '@corral/protocol';

export interface TransportHandlers {
  onOpen(): void;
  /** Whole frames of one received chunk, in order. */
  onFrames(frames: Uint8Array[]): void;
  /** A chunk broke the framing (size cap, negative length): the connection is unusable. */
  onProtocolError(reason: string): void;
  /** Exactly once per transport, whatever ended it. */
  onClose(reason: string): void;
  /** A batch of frames was handed to the socket. */
  onFlush(): void;
}

/**
 * Every socket of this process reads into this one buffer (Node's `onread`) instead of a fresh
 * ArrayBuffer per read. Safe because a read's frames are decoded before the callback returns, and
 * FrameReader copies the part of a read it keeps for a frame still incomplete.
 */
const sharedReadBuffer = new Uint8Array(64 * 1024);

/**
 * The thin socket adapter: one TCP connection, a frame reader, and a write buffer that coalesces
 * every frame queued in one event-loop turn into a single socket write. It has no protocol logic.
 */
export class Transport {
  readonly #socket: Socket;
  readonly #handlers: TransportHandlers;
  readonly #frames: FrameReader;
  readonly #writer = new JuteWriter(4096);
  #flushScheduled = false;
  #closed = false;
  #closeReason = 'connection closed';

  constructor(host: string, port: number, handlers: TransportHandlers, options: { maxFrameLength: number }) {
    this.#handlers = handlers;
    this.#frames = new FrameReader({ maxFrameLength: options.maxFrameLength });
    this.#socket = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: sharedReadBuffer,
        callback: (length, buffer) => {
          this.#onData(buffer.subarray(0, length));
          return true;
        },
      },
    });
    this.#socket.on('connect', () => {
      if (!this.#closed) handlers.onOpen();
    });
    this.#socket.on('error', (error: NodeJS.ErrnoException) => {
      if (this.#closed) return;
      this.#closeReason = error.code ? `${error.code}: ${error.message}` : error.message;
    });
    this.#socket.on('end', () => {
      if (!this.#closed) this.#closeReason = 'server closed the connection';
    });
    this.#socket.on('close', () => {
      this.#closed = true;
      handlers.onClose(this.#closeReason);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues one length-prefixed frame; the batch is written when the current turn ends. */
  send(body: (w: JuteWriter) => void): void {
    if (this.#closed) return;
    writeFrame(this.#writer, body);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  /** Writes what is queued now (normally called on the next tick). */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#writer.length === 0 || this.#closed) {
      this.#writer.reset();
      return;
    }
    // A small batch (the usual one request) goes out from a shared slab, not an ArrayBuffer of its own.
    const bytes = pooledCopy(this.#writer.toBytesView());
    this.#writer.reset();
    this.#socket.write(bytes);
    this.#handlers.onFlush();
  }

  /** Flushes, half-closes, and destroys the socket if the peer has not closed within graceMs. */
  end(graceMs = 1000): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#closeReason = 'closed by the client';
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), graceMs).unref();
  }

  /** Drops the connection now; onClose still follows (asynchronously). */
  destroy(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#socket.destroy();
  }

  /** `chunk` is a view of the shared read buffer: everything in it is handled before this returns. */
  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    let frames: Uint8Array[];
    try {
      frames = this.#frames.push(chunk, true);
    } catch (error) {
      this.#handlers.onProtocolError(error instanceof Error ? error.message : String(error));
      return;
    }
    if (frames.length > 0) this.#handlers.onFrames(frames);
  }
}
