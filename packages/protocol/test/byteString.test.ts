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
