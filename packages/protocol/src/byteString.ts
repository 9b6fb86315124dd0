/**
 * Byte strings: bytes held as a JavaScript string with one char (0–255) per byte. V8 stores such a
 * string in one byte per char with a 16-byte header, where a Uint8Array costs a ~96-byte object
 * plus its bytes elsewhere; a server holding a million znodes' data keeps it this way.
 */

export function byteStringOf(bytes: Uint8Array): string;
export function byteStringOf(bytes: Uint8Array | null): string | null;
export function byteStringOf(bytes: Uint8Array | null): string | null {
  if (bytes === null) return null;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function bytesOf(value: string): Uint8Array;
export function bytesOf(value: string | null): Uint8Array | null;
export function bytesOf(value: string | null): Uint8Array | null {
  if (value === null) return null;
  return Buffer.from(value, 'latin1');
}
