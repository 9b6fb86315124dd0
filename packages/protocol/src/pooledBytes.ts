/**
 * Copies small byte arrays into shared 8 KiB slabs (as Node's Buffer pool does): request values,
 * replies and replayed txns are not an ArrayBuffer each (a header, an allocation, external-memory
 * accounting for the GC). A slab lives while any value in it does; larger values get their own buffer.
 */
const SLAB_BYTES = 8192;
const MAX_POOLED_BYTES = 1024;

let slab = new Uint8Array(SLAB_BYTES);
let used = 0;

export function pooledCopy(bytes: Uint8Array): Uint8Array {
  if (bytes.length > MAX_POOLED_BYTES) return new Uint8Array(bytes);
  if (used + bytes.length > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    used = 0;
  }
  const out = slab.subarray(used, used + bytes.length);
  out.set(bytes);
  used += (bytes.length + 7) & ~7;
  return out;
}
