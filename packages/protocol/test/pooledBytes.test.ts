import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pooledCopy } from '../src/pooledBytes.js';

describe('pooledCopy', () => {
  it('returns equal, independent copies: changing the source or one copy leaves the others alone', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 50 }), (sources) => {
        const copies = sources.map((s) => pooledCopy(s));
        const expected = sources.map((s) => Array.from(s));
        for (const s of sources) s.fill(0xee);
        for (const c of copies) if (c.length > 0) c[0] = c[0]!; // touch
        copies.forEach((c, i) => expect(Array.from(c)).toEqual(expected[i]));
        if (copies.length > 1 && copies[0]!.length > 0) {
          copies[0]!.fill(0x11);
          copies.slice(1).forEach((c, i) => expect(Array.from(c)).toEqual(expected[i + 1]));
        }
      }),
    );
  });

  it('small values share slabs; large ones get a buffer of their own', () => {
    const a = pooledCopy(new Uint8Array(100));
    const b = pooledCopy(new Uint8Array(100));
    expect(a.buffer).toBe(b.buffer);
    const big = pooledCopy(new Uint8Array(5000));
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(5000);
  });
});
