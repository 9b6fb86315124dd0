import { DEFAULT_JUTE_MAX_BUFFER } from './constants.js';
import { FrameSizeError } from './errors.js';
import { JuteWriter } from './jute.js';

/**
 * Splits a byte stream into 4-byte length-prefixed frames. A length outside 0..maxFrameLength throws
 * FrameSizeError before anything is allocated for it, so a hostile peer cannot make us buffer unboundedly.
 */
export class FrameReader {
  readonly maxFrameLength: number;
  /** Received chunks not yet fully consumed; the first one from offset #head. */
  #chunks: Uint8Array[] = [];
  #head = 0;
  #buffered = 0;
  #nextLength = -1;

  constructor(options: { maxFrameLength?: number } = {}) {
    this.maxFrameLength = options.maxFrameLength ?? DEFAULT_JUTE_MAX_BUFFER;
  }

  /** Bytes received but not yet returned as a frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Adds received bytes and returns every frame payload they complete, in order. A frame that lies
   * inside one chunk is a view of it (no copy); the length prefix is read in place, so a frame
   * costs one view and nothing else.
   *
   * `transient`: the chunk's memory is reused once the caller has handled the frames (a socket read
   * into one shared buffer), so the returned frames must be used before then, and whatever part of
   * the chunk is kept for a later frame is copied here.
   */
  push(chunk: Uint8Array, transient = false): Uint8Array[] {
    const frames = this.#split(chunk);
    if (transient && this.#chunks[this.#chunks.length - 1] === chunk) this.#keepCopyOfLast();
    return frames;
  }

  /** The unconsumed part of the newest chunk, copied into memory of its own. */
  #keepCopyOfLast(): void {
    const last = this.#chunks.length - 1;
    const from = last === 0 ? this.#head : 0;
    this.#chunks[last] = this.#chunks[last]!.slice(from);
    if (last === 0) this.#head = 0;
  }

  #split(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.#nextLength < 0) {
        if (this.#buffered < 4) break;
        const length = this.#takeLength();
        if (length < 0 || length > this.maxFrameLength) throw new FrameSizeError(length, this.maxFrameLength);
        this.#nextLength = length;
      }
      if (this.#buffered < this.#nextLength) break;
      frames.push(this.#take(this.#nextLength));
      this.#nextLength = -1;
    }
    return frames;
  }

  /** The big-endian int32 at the front (4 bytes are buffered). */
  #takeLength(): number {
    const first = this.#chunks[0]!;
    const at = this.#head;
    if (first.length - at >= 4) {
      this.#consumed(first, 4);
      return int32At(first, at);
    }
    return int32At(this.#take(4), 0);
  }

  #take(count: number): Uint8Array {
    const first = this.#chunks[0];
    if (first && first.length - this.#head >= count) {
      const out = first.subarray(this.#head, this.#head + count);
      this.#consumed(first, count);
      return out;
    }
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.#chunks[0]!;
      const n = Math.min(chunk.length - this.#head, count - filled);
      out.set(chunk.subarray(this.#head, this.#head + n), filled);
      filled += n;
      this.#consumed(chunk, n);
    }
    return out;
  }

  /** `count` bytes of the first chunk are used up; a chunk used up entirely is dropped. */
  #consumed(first: Uint8Array, count: number): void {
    this.#buffered -= count;
    this.#head += count;
    if (this.#head === first.length) {
      this.#chunks.shift();
      this.#head = 0;
    }
  }
}

/** The big-endian int32 at `at` (the caller has checked that 4 bytes are there): no view object. */
export function int32At(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
}

/** Writes one length-prefixed frame whose payload is produced by `body`. */
export function writeFrame(w: JuteWriter, body: (w: JuteWriter) => void): void {
  const start = w.length;
  w.int(0);
  body(w);
  w.patchInt(start, w.length - start - 4);
}

/** Encodes one frame to fresh bytes. */
export function encodeFrame(body: (w: JuteWriter) => void): Uint8Array {
  const w = new JuteWriter();
  writeFrame(w, body);
  return w.toBytes();
}
