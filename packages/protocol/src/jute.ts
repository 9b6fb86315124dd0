import { DecodeError } from './errors.js';

const utf8 = new TextEncoder();

/** Default cap for one length-prefixed buffer/string inside a record (ZooKeeper: maxbuffer + extrasize). */
export const DEFAULT_MAX_FIELD_LENGTH = 2 * 0xfffff;

/** Jute binary archive writer: big-endian primitives into a growable buffer that can be reused. */
export class JuteWriter {
  #bytes: Uint8Array;
  #view: DataView;
  /** The same bytes as a Buffer, for its latin1 encoder; made on the first byteString write. */
  #asBuffer: Buffer | undefined;
  #pos = 0;

  constructor(initialCapacity = 256) {
    this.#bytes = new Uint8Array(initialCapacity);
    this.#view = new DataView(this.#bytes.buffer);
  }

  get length(): number {
    return this.#pos;
  }

  reset(): void {
    this.#pos = 0;
  }

  #ensure(extra: number): void {
    const needed = this.#pos + extra;
    if (needed <= this.#bytes.length) return;
    let capacity = Math.max(this.#bytes.length * 2, 16);
    while (capacity < needed) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.#bytes.subarray(0, this.#pos));
    this.#bytes = next;
    this.#view = new DataView(next.buffer);
    this.#asBuffer = undefined;
  }

  int(value: number): void {
    this.#ensure(4);
    this.#view.setInt32(this.#pos, value);
    this.#pos += 4;
  }

  /** Writes a 64-bit signed long; accepts unsigned values up to 2^64-1 too (they wrap like Java longs). */
  long(value: bigint): void {
    this.#ensure(8);
    this.#view.setBigUint64(this.#pos, BigInt.asUintN(64, value));
    this.#pos += 8;
  }

  bool(value: boolean): void {
    this.#ensure(1);
    this.#bytes[this.#pos++] = value ? 1 : 0;
  }

  byte(value: number): void {
    this.#ensure(1);
    this.#view.setInt8(this.#pos++, value);
  }

  buffer(value: Uint8Array | null): void {
    if (value === null) return this.int(-1);
    this.int(value.length);
    this.raw(value);
  }

  /** A jute buffer held as a byte string (see byteString.ts): one char per byte, written as is. */
  byteString(value: string | null): void {
    if (value === null) return this.int(-1);
    this.#ensure(4 + value.length);
    this.#view.setInt32(this.#pos, value.length);
    this.#pos += 4;
    this.#asBuffer ??= Buffer.from(this.#bytes.buffer);
    this.#pos += this.#asBuffer.write(value, this.#pos, value.length, 'latin1');
  }

  ustring(value: string | null): void {
    if (value === null) return this.int(-1);
    // Encode straight into our buffer (no temporary array): UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.#ensure(4 + value.length * 3);
    const bytes = this.#bytes;
    const start = this.#pos + 4;
    // Short ASCII strings (paths, mostly) byte by byte: no view object per string.
    if (value.length <= 64) {
      let i = 0;
      for (; i < value.length; i++) {
        const unit = value.charCodeAt(i);
        if (unit >= 0x80) break;
        bytes[start + i] = unit;
      }
      if (i === value.length) {
        this.#view.setInt32(this.#pos, i);
        this.#pos = start + i;
        return;
      }
    }
    const { written } = utf8.encodeInto(value, bytes.subarray(start));
    this.#view.setInt32(this.#pos, written);
    this.#pos += 4 + written;
  }

  raw(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#bytes.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  /** Overwrites a 32-bit int at an earlier position (used to back-fill frame lengths). */
  patchInt(position: number, value: number): void {
    this.#view.setInt32(position, value);
  }

  /** The bytes written so far, without copying; valid until the next write or reset. */
  toBytesView(): Uint8Array {
    return this.#bytes.subarray(0, this.#pos);
  }

  /** A copy of the bytes written so far. */
  toBytes(): Uint8Array {
    return this.#bytes.slice(0, this.#pos);
  }
}

/** Jute binary archive reader over one frame; every read is bounds-checked and fails with DecodeError. */
export class JuteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #end: number;
  readonly #maxFieldLength: number;
  readonly #copyBytes: (bytes: Uint8Array) => Uint8Array;
  #pos: number;
  /** The same bytes as a Buffer, made on the first string read (Buffer has the decoders). */
  #asBuffer: Buffer | undefined;

  /**
   * `copyBytes` makes the copy a decoded buffer gets (default: a fresh Uint8Array). A server that keeps
   * millions of small buffers passes a pooled allocator, so each one is not an ArrayBuffer of its own.
   */
  constructor(bytes: Uint8Array, options: { start?: number; end?: number; maxFieldLength?: number; copyBytes?: (bytes: Uint8Array) => Uint8Array } = {}) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#pos = options.start ?? 0;
    this.#end = options.end ?? bytes.length;
    this.#maxFieldLength = options.maxFieldLength ?? DEFAULT_MAX_FIELD_LENGTH;
    this.#copyBytes = options.copyBytes ?? copyToOwnBuffer;
  }

  get position(): number {
    return this.#pos;
  }

  /** Reads bytes [start, end) of the same buffer next: one reader (and its views) serves every record of a file. */
  reposition(start: number, end: number): void {
    if (start < 0 || end > this.#bytes.length || start > end) throw new RangeError(`cannot read bytes [${start}, ${end}) of ${this.#bytes.length}`);
    this.#pos = start;
    this.#end = end;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  #take(count: number, what: string): number {
    if (this.#pos + count > this.#end) {
      throw new DecodeError(`record runs past its frame reading ${what} at offset ${this.#pos} (${this.remaining} bytes left, ${count} needed)`);
    }
    const at = this.#pos;
    this.#pos += count;
    return at;
  }

  int(): number {
    return this.#view.getInt32(this.#take(4, 'int'));
  }

  long(): bigint {
    return this.#view.getBigInt64(this.#take(8, 'long'));
  }

  bool(): boolean {
    return this.#bytes[this.#take(1, 'boolean')] !== 0;
  }

  byte(): number {
    return this.#view.getInt8(this.#take(1, 'byte'));
  }

  #length(what: string): number {
    const length = this.int();
    if (length < -1) throw new DecodeError(`negative ${what} length ${length}`);
    if (length > this.#maxFieldLength) throw new DecodeError(`${what} length ${length} exceeds ${this.#maxFieldLength}`);
    return length;
  }

  buffer(): Uint8Array | null {
    const length = this.#length('buffer');
    if (length === -1) return null;
    const at = this.#take(length, 'buffer');
    // Always a copy: a view would alias (and retain) the whole frame.
    return this.#copyBytes(this.#bytes.subarray(at, at + length));
  }

  /** A jute buffer decoded as a byte string (see byteString.ts): no typed array per value. */
  byteString(): string | null {
    const length = this.#length('buffer');
    if (length === -1) return null;
    const at = this.#take(length, 'buffer');
    return this.#buffer().toString('latin1', at, at + length);
  }

  ustring(): string | null {
    const length = this.#length('string');
    if (length === -1) return null;
    const at = this.#take(length, 'string');
    // Decoded from one Buffer view of the frame (Buffer's decoder keeps a BOM and replaces invalid
    // sequences with U+FFFD, as TextDecoder with ignoreBOM does) rather than a new view per string.
    return this.#buffer().toString('utf8', at, at + length);
  }

  #buffer(): Buffer {
    return (this.#asBuffer ??= Buffer.from(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.byteLength));
  }

  /** Element count of a vector; every element takes at least one byte, so a count beyond the frame is rejected before allocating. */
  vectorLength(minElementBytes: number): number {
    const count = this.int();
    if (count < -1) throw new DecodeError(`negative vector length ${count}`);
    if (count > 0 && count * minElementBytes > this.remaining) {
      throw new DecodeError(`vector of ${count} elements cannot fit in the ${this.remaining} bytes left`);
    }
    return count;
  }

  /** Moves past a buffer or string (int length, -1 for null, then the bytes) without decoding it. */
  skipSized(): void {
    const length = this.#length('buffer');
    if (length > 0) this.#take(length, 'buffer');
  }

  /** Moves past `count` bytes already known to hold a value (e.g. one equal to bytes decoded before). */
  skip(count: number): void {
    this.#take(count, 'skipped bytes');
  }

  rest(): Uint8Array {
    return new Uint8Array(this.#bytes.subarray(this.#take(this.remaining, 'rest'), this.#end));
  }
}

function copyToOwnBuffer(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
