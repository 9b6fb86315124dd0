import { DEFAULT_JUTE_MAX_BUFFER } from './constants.js';
import { FrameSizeError } from './errors.js';
import { JuteWriter } from './jute.js';

/**
 * Splits a byte stream into 4-byte length-prefixed frames. A length outside 0..maxFrameLength throws
 * FrameSizeError before anything is allocated for it, so a hostile peer cannot make us buffer unboundedly.
 */
export class FrameReader {
  readonly maxFrameLength: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #nextLength = -1;

  constructor(options: { maxFrameLength?: number } = {}) {
    this.maxFrameLength = options.maxFrameLength ?? DEFAULT_JUTE_MAX_BUFFER;
  }

  /** Bytes received but not yet returned as a frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Adds received bytes and returns every frame payload they complete, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.#nextLength < 0) {
        if (this.#buffered < 4) break;
        const header = this.#take(4);
        const length = new DataView(header.buffer, header.byteOffset, 4).getInt32(0);
        if (length < 0 || length > this.maxFrameLength) throw new FrameSizeError(length, this.maxFrameLength);
        this.#nextLength = length;
      }
      if (this.#buffered < this.#nextLength) break;
      frames.push(this.#take(this.#nextLength));
      this.#nextLength = -1;
    }
    return frames;
  }

  #take(count: number): Uint8Array {
    this.#buffered -= count;
    const first = this.#chunks[0];
    if (first && first.length >= count) {
      // Common case: the frame lies inside one chunk; hand out a view, no copy.
      const out = first.subarray(0, count);
      if (first.length === count) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(count);
      return out;
    }
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.#chunks[0]!;
      const n = Math.min(chunk.length, count - filled);
      out.set(chunk.subarray(0, n), filled);
      filled += n;
      if (n === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(n);
    }
    return out;
  }
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
