import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JuteReader, JuteWriter, buffer, byteString, byteStringOf, bytesOf } from '../src/index.js';

describe('byte strings (znode data held as one char per byte)', () => {
  it('every byte value survives bytes → byte string → bytes', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const s = byteStringOf(all);
    expect(s.length).toBe(256);
    expect([...bytesOf(s)]).toEqual([...all]);
    expect(byteStringOf(null)).toBeNull();
    expect(bytesOf(null)).toBeNull();
  });

  it('byteString and buffer put the same bytes on the wire and read each other', () => {
    fc.assert(
      fc.property(fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }), fc.uint8Array({ maxLength: 8 }), (value, prefix) => {
        const asBuffer = new JuteWriter(4);
        asBuffer.raw(prefix);
        buffer.write(asBuffer, value);
        const asString = new JuteWriter(4);
        asString.raw(prefix);
        byteString.write(asString, byteStringOf(value));
        expect(asString.toBytes()).toEqual(asBuffer.toBytes());

        const frame = asBuffer.toBytes();
        const read = byteString.read(new JuteReader(frame, { start: prefix.length }));
        expect(read).toBe(byteStringOf(value));
        const back = buffer.read(new JuteReader(frame, { start: prefix.length }));
        expect(back === null ? null : [...back]).toEqual(value === null ? null : [...value]);
      }),
    );
  });

  it('a byte string read from a view decodes only its own bytes', () => {
    const backing = new Uint8Array([9, 9, 0, 0, 0, 2, 0xff, 0x80, 9]);
    const r = new JuteReader(backing.subarray(2, 8));
    expect(r.byteString()).toBe('\xff\x80');
    expect(r.remaining).toBe(0);
  });

  it('a byte string longer than the frame is a DecodeError', () => {
    expect(() => new JuteReader(new Uint8Array([0, 0, 0, 5, 1, 2])).byteString()).toThrow(/runs past its frame/);
  });
});

describe('ustring decoding', () => {
  // A leading U+FEFF is string content in jute (Java keeps it); invalid UTF-8 becomes U+FFFD.
  const whatwg = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  it('decodes any bytes exactly as a WHATWG decoder that keeps the BOM', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 4 }), (value, prefix) => {
        const w = new JuteWriter(4);
        w.raw(prefix);
        buffer.write(w, value);
        const r = new JuteReader(w.toBytes(), { start: prefix.length });
        expect(r.ustring()).toBe(whatwg.decode(value));
      }),
      { numRuns: 500 },
    );
    const cases = [[0xef, 0xbb, 0xbf, 0x61], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], [0xe2, 0x82], [0xff, 0x61, 0xf4, 0x90, 0x80, 0x80]];
    for (const bytes of cases) {
      const w = new JuteWriter(4);
      buffer.write(w, Uint8Array.from(bytes));
      expect(new JuteReader(w.toBytes()).ustring()).toBe(whatwg.decode(Uint8Array.from(bytes)));
    }
  });
});
