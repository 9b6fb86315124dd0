import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_JUTE_MAX_BUFFER,
  DEFAULT_MAX_FIELD_LENGTH,
  DecodeError,
  FrameReader,
  FrameSizeError,
  GetChildrenResponse,
  GetDataRequest,
  JuteReader,
  JuteWriter,
  OpCode,
  RequestHeader,
  WhoAmIResponse,
  encodeFrame,
  readConnectRequest,
  readConnectResponse,
  readMultiRequest,
  readMultiResponse,
  writeMultiRequest,
  writeMultiResponse,
  type Codec,
} from '../src/index.js';
import { allRecords, arbitraryFor, hex, multiResultArb, readOpArb, unhex, writeOpArb, type AnyRecord } from './arbitraries.js';

const RUNS = 80;

/** Runs `fn`; a DecodeError (or subclass) is an accepted outcome, anything else fails the property. */
function onlyDecodeError(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (error instanceof DecodeError) return;
    throw error;
  }
}

/** Lengths and counts that stress bounds checks, as 32-bit patterns. */
const nastyInts = [-1, -2, -0x8000_0000, 0x7fff_ffff, 0x7fff_fffe, 0x4000_0000, DEFAULT_MAX_FIELD_LENGTH, DEFAULT_MAX_FIELD_LENGTH + 1, 0xfffff, 1, 0, 255];

/** Takes valid bytes and damages them: overwrite 4-byte windows with nasty ints, flip bytes, truncate or extend. */
function damaged(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      bytes: valid,
      patches: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...nastyInts)), { maxLength: 3 }),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 3 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 6 }),
    })
    .map(({ bytes, patches, flips, cut, tail }) => {
      let out = new Uint8Array([...bytes, ...tail]);
      const view = new DataView(out.buffer);
      for (const [at, value] of patches) if (out.length >= 4) view.setInt32(at % (out.length - 3), value);
      for (const [at, mask] of flips) if (out.length > 0) out[at % out.length]! ^= mask;
      if (cut !== undefined && out.length > 0) out = out.subarray(0, cut % out.length);
      return out;
    });
}

function encoded(codec: AnyRecord): fc.Arbitrary<Uint8Array> {
  return arbitraryFor(codec).map((value) => codec.encode(value));
}

const randomBytes = fc.uint8Array({ maxLength: 96 });

describe('record decoders reject garbage only with DecodeError', () => {
  for (const [exportName, codec] of allRecords) {
    it(`${exportName}: random and damaged bytes`, () => {
      fc.assert(
        fc.property(fc.oneof(randomBytes, damaged(encoded(codec))), (bytes) => {
          onlyDecodeError(() => codec.decode(bytes));
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('handshake readers', () => {
    fc.assert(
      fc.property(randomBytes, (bytes) => {
        onlyDecodeError(() => readConnectRequest(new JuteReader(bytes)));
        onlyDecodeError(() => readConnectResponse(new JuteReader(bytes)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('multi decoders reject garbage only with DecodeError', () => {
  function multiRequestBytes(ops: Parameters<typeof writeMultiRequest>[1]): Uint8Array {
    const w = new JuteWriter();
    writeMultiRequest(w, ops);
    return w.toBytes();
  }
  const validRequests = fc.oneof(fc.array(writeOpArb, { maxLength: 4 }), fc.array(readOpArb, { maxLength: 4 })).map(multiRequestBytes);
  const validResponses = fc.array(multiResultArb, { maxLength: 4 }).map((results) => {
    const w = new JuteWriter();
    writeMultiResponse(w, results);
    return w.toBytes();
  });

  it('readMultiRequest', () => {
    fc.assert(
      fc.property(fc.oneof(randomBytes, damaged(validRequests), damaged(validResponses)), (bytes) => {
        onlyDecodeError(() => readMultiRequest(new JuteReader(bytes)));
      }),
      { numRuns: 400 },
    );
  });

  it('readMultiResponse', () => {
    fc.assert(
      fc.property(fc.oneof(randomBytes, damaged(validResponses), damaged(validRequests)), (bytes) => {
        onlyDecodeError(() => readMultiResponse(new JuteReader(bytes)));
      }),
      { numRuns: 400 },
    );
  });

  it('sub-op headers with unknown types are DecodeErrors', () => {
    for (const type of [0, 3, 6, 7, 9, 11, 12, 14, 16, 22, 100, -10, -11, 0x7fffffff]) {
      const w = new JuteWriter();
      w.int(type);
      w.bool(false);
      w.int(0);
      w.raw(unhex('00000002 2f61 00000000 ffffffff 01 ffffffff'));
      expect(() => readMultiRequest(new JuteReader(w.toBytes()))).toThrow(/invalid multi sub-op/);
      expect(() => readMultiResponse(new JuteReader(w.toBytes()))).toThrow(/invalid multi result/);
    }
  });
});

describe('hostile lengths are rejected before allocating', () => {
  /** Bytes of `codec` filled with empties, and the byte offset of each field. */
  function layout(codec: AnyRecord): { bytes: Uint8Array; offsets: [string, Codec<any>, number][] } {
    const w = new JuteWriter();
    const offsets: [string, Codec<any>, number][] = [];
    const empty = (c: Codec<any>): unknown => {
      if ('fields' in c) return Object.fromEntries(Object.entries((c as AnyRecord).fields).map(([k, f]) => [k, empty(f)]));
      if (c.name === 'long') return 0n;
      if (c.name === 'int') return 0;
      if (c.name === 'boolean') return false;
      if (c.name === 'buffer') return new Uint8Array(0);
      if (c.name === 'string' || c.name === 'ustring') return '';
      return [];
    };
    for (const [key, field] of Object.entries(codec.fields)) {
      offsets.push([key, field, w.length]);
      field.write(w, empty(field));
    }
    return { bytes: w.toBytes(), offsets };
  }

  const lengthPrefixed = (c: Codec<any>) => c.name === 'buffer' || c.name === 'string' || c.name === 'ustring' || c.name.startsWith('vector<');
  const cases = allRecords.flatMap(([exportName, codec]) =>
    layout(codec)
      .offsets.filter(([, field]) => lengthPrefixed(field))
      .map(([key, field, offset]) => [exportName, codec, key, field, offset] as const),
  );

  it('there are length-prefixed fields to attack', () => {
    expect(cases.length).toBeGreaterThan(50);
  });

  for (const [exportName, codec, key, field, offset] of cases) {
    it(`${exportName}.${key} (${field.name})`, () => {
      const { bytes } = layout(codec);
      for (const hostile of [0x7fff_ffff, 0x7fff_fffe, 0x4000_0000, DEFAULT_MAX_FIELD_LENGTH, 0x1000, -2, -0x8000_0000]) {
        const copy = new Uint8Array([...bytes, 1, 2, 3, 4, 5, 6]);
        new DataView(copy.buffer).setInt32(offset, hostile);
        const started = performance.now();
        expect(() => codec.decode(copy)).toThrow(DecodeError);
        expect(performance.now() - started).toBeLessThan(100);
      }
    });
  }

  it('a vector count of 2^31-1 in a 10-byte frame fails fast', () => {
    const frame = unhex('7fffffff 000000 000000');
    expect(frame.length).toBe(10);
    for (const codec of [GetChildrenResponse, WhoAmIResponse]) {
      const started = performance.now();
      expect(() => codec.decode(frame)).toThrow(/cannot fit/);
      expect(performance.now() - started).toBeLessThan(100);
    }
  });

  it('buffer lengths above the field cap fail even if the bytes were there', () => {
    expect(() => new JuteReader(unhex('7fffffff')).buffer()).toThrow(/exceeds/);
    expect(() => new JuteReader(unhex('00000004 01020304'), { maxFieldLength: 3 }).buffer()).toThrow(/exceeds 3/);
    expect(new JuteReader(unhex('00000003 010203'), { maxFieldLength: 3 }).buffer()).toStrictEqual(new Uint8Array([1, 2, 3]));
    expect(() => new JuteReader(unhex('fffffffe')).ustring()).toThrow(/negative/);
  });

  it('multi: a stream of headers never ends without a done header, and still fails', () => {
    // 1000 delete sub-ops whose body is missing: must fail, not loop.
    const w = new JuteWriter();
    for (let i = 0; i < 1000; i++) {
      w.int(OpCode.delete);
      w.bool(false);
      w.int(-1);
      w.ustring('/');
      w.int(-1);
    }
    expect(() => readMultiRequest(new JuteReader(w.toBytes()))).toThrow(DecodeError);
    // 1000 body-less delete results with no terminator: must fail at the end of the frame.
    const results = new JuteWriter();
    for (let i = 0; i < 1000; i++) {
      results.int(OpCode.delete);
      results.bool(false);
      results.int(0);
    }
    expect(() => readMultiResponse(new JuteReader(results.toBytes()))).toThrow(DecodeError);
  });
});

describe('FrameReader', () => {
  const frame = encodeFrame((w) => {
    RequestHeader.write(w, { xid: 1, type: OpCode.getData });
    GetDataRequest.write(w, { path: '/a/b/c', watch: true });
  });
  const payload = frame.subarray(4);

  it('a frame split at every byte boundary reassembles', () => {
    for (let cut = 0; cut <= frame.length; cut++) {
      const reader = new FrameReader();
      const first = reader.push(frame.slice(0, cut));
      const second = reader.push(frame.slice(cut));
      const frames = [...first, ...second];
      expect(frames).toHaveLength(1);
      expect(hex(frames[0]!)).toBe(hex(payload));
      expect(reader.buffered).toBe(0);
      // And it never returns the frame early.
      expect(first).toHaveLength(cut === frame.length ? 1 : 0);
    }
  });

  it('byte-at-a-time delivery of several frames', () => {
    const stream = new Uint8Array([...frame, ...frame, 0, 0, 0, 0, ...frame]);
    const reader = new FrameReader();
    const frames: Uint8Array[] = [];
    for (const byte of stream) frames.push(...reader.push(new Uint8Array([byte])));
    expect(frames.map((f) => f.length)).toStrictEqual([payload.length, payload.length, 0, payload.length]);
    expect(hex(frames[3]!)).toBe(hex(payload));
  });

  // transient: every chunk is read into one reused buffer, overwritten after each push (the client's
  // sockets read that way); the frames are used before the next read, as the socket's callback does.
  for (const transient of [false, true]) {
    it(`random payloads with random chunking come out unchanged and in order${transient ? ', from one reused read buffer' : ''}`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }),
          fc.array(fc.nat(), { maxLength: 8 }),
          (payloads, cutSeeds) => {
            const w = new JuteWriter();
            for (const p of payloads) {
              w.int(p.length);
              w.raw(p);
            }
            const stream = w.toBytes();
            const cuts = [...new Set(cutSeeds.map((c) => (stream.length === 0 ? 0 : c % stream.length)))].sort((a, b) => a - b);
            const reader = new FrameReader();
            const readBuffer = new Uint8Array(stream.length + 1);
            const out: Uint8Array[] = [];
            let from = 0;
            for (const cut of [...cuts, stream.length]) {
              let chunk = stream.slice(from, cut);
              if (transient) {
                readBuffer.set(chunk);
                chunk = readBuffer.subarray(0, chunk.length);
              }
              out.push(...reader.push(chunk, transient).map((f) => new Uint8Array(f)));
              if (transient) readBuffer.fill(0xa5);
              from = cut;
            }
            expect(out).toStrictEqual(payloads.map((p) => new Uint8Array(p)));
            expect(reader.buffered).toBe(0);
          },
        ),
        { numRuns: 200 },
      );
    });
  }

  it('random bytes in random chunks: only DecodeError (FrameSizeError)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.option(fc.integer({ min: 0, max: 64 }), { nil: undefined }),
        (stream, cutSeeds, maxFrameLength) => {
          const reader = new FrameReader(maxFrameLength === undefined ? {} : { maxFrameLength });
          const cuts = cutSeeds.map((c) => (stream.length === 0 ? 0 : c % stream.length)).sort((a, b) => a - b);
          let from = 0;
          try {
            for (const cut of [...cuts, stream.length]) {
              for (const f of reader.push(stream.subarray(from, cut))) {
                expect(f.length).toBeLessThanOrEqual(reader.maxFrameLength);
                // Decoding a random frame is also only allowed to fail with DecodeError.
                onlyDecodeError(() => readMultiRequest(new JuteReader(f)));
              }
              from = Math.max(from, cut);
            }
          } catch (error) {
            expect(error).toBeInstanceOf(FrameSizeError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('length 0xfffff passes with the default cap', () => {
    expect(DEFAULT_JUTE_MAX_BUFFER).toBe(0xfffff);
    const reader = new FrameReader();
    expect(reader.maxFrameLength).toBe(0xfffff);
    expect(reader.push(unhex('000fffff'))).toStrictEqual([]);
    const big = new Uint8Array(0xfffff).fill(7);
    expect(reader.push(big.subarray(0, 1000))).toStrictEqual([]);
    const frames = reader.push(big.subarray(1000));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.length).toBe(0xfffff);
    expect(frames[0]![0xffffe]).toBe(7);
  });

  it('length 0x100000 throws FrameSizeError as soon as the length arrives', () => {
    const reader = new FrameReader();
    let caught: unknown;
    try {
      reader.push(unhex('00100000'));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FrameSizeError);
    expect(caught).toBeInstanceOf(DecodeError);
    expect(caught).toMatchObject({ length: 0x100000, maxLength: 0xfffff, code: 'ERR_JUTE_DECODE' });
  });

  it('negative lengths throw FrameSizeError', () => {
    for (const header of ['ffffffff', '80000000', 'fffffffe']) {
      expect(() => new FrameReader().push(unhex(header))).toThrow(FrameSizeError);
    }
    // Also when the negative length follows a good frame in the same chunk.
    expect(() => new FrameReader().push(unhex('00000001 aa ffffffff'))).toThrow(FrameSizeError);
  });

  it('the cap is configurable', () => {
    const reader = new FrameReader({ maxFrameLength: 16 });
    expect(reader.push(unhex('00000010' + '00'.repeat(16)))).toHaveLength(1);
    expect(() => new FrameReader({ maxFrameLength: 16 }).push(unhex('00000011'))).toThrow(FrameSizeError);
    expect(new FrameReader({ maxFrameLength: 0 }).push(unhex('00000000 00000000'))).toStrictEqual([new Uint8Array(0), new Uint8Array(0)]);
    expect(() => new FrameReader({ maxFrameLength: 0 }).push(unhex('00000001'))).toThrow(FrameSizeError);
    const large = new FrameReader({ maxFrameLength: 0x200000 });
    expect(large.push(unhex('00100000'))).toStrictEqual([]);
    expect(large.buffered).toBe(0);
  });

  it('empty pushes and partial headers are harmless', () => {
    const reader = new FrameReader();
    expect(reader.push(new Uint8Array(0))).toStrictEqual([]);
    expect(reader.push(unhex('0000'))).toStrictEqual([]);
    expect(reader.buffered).toBe(2);
    expect(reader.push(new Uint8Array(0))).toStrictEqual([]);
    expect(reader.push(unhex('0002 ab'))).toStrictEqual([]);
    expect(reader.push(unhex('cd 0000'))).toStrictEqual([unhex('abcd')]);
    expect(reader.buffered).toBe(2);
  });
});
