import { DecodeError } from './errors.js';
import { JuteReader, JuteWriter } from './jute.js';

/**
 * One declaration per wire type: the encoder, the decoder and (through Infer) the TypeScript type
 * all come from the same value, so they cannot drift apart.
 */
export interface Codec<T> {
  readonly name: string;
  /** Fewest bytes one value can take; bounds vector counts before allocating. */
  readonly minBytes: number;
  write(writer: JuteWriter, value: T): void;
  read(reader: JuteReader): T;
}

export type Infer<C> = C extends Codec<infer T> ? T : never;

export const int: Codec<number> = {
  name: 'int',
  minBytes: 4,
  write: (w, v) => w.int(v),
  read: (r) => r.int(),
};

export const long: Codec<bigint> = {
  name: 'long',
  minBytes: 8,
  write: (w, v) => w.long(v),
  read: (r) => r.long(),
};

export const boolean: Codec<boolean> = {
  name: 'boolean',
  minBytes: 1,
  write: (w, v) => w.bool(v),
  read: (r) => r.bool(),
};

/** Jute buffer: null (length -1) and empty (length 0) are different values. */
export const buffer: Codec<Uint8Array | null> = {
  name: 'buffer',
  minBytes: 4,
  write: (w, v) => w.buffer(v),
  read: (r) => r.buffer(),
};

/**
 * Jute buffer held as a byte string: the same bytes on the wire, kept in memory as a one-byte string
 * (one char per byte) instead of a typed array, which costs ~100 bytes of object per value. For
 * values kept by the million (znode data); see byteString.ts.
 */
export const byteString: Codec<string | null> = {
  name: 'buffer',
  minBytes: 4,
  write: (w, v) => w.byteString(v),
  read: (r) => r.byteString(),
};

/** Jute ustring where null (length -1) is meaningful. */
export const ustring: Codec<string | null> = {
  name: 'ustring',
  minBytes: 4,
  write: (w, v) => w.ustring(v),
  read: (r) => r.ustring(),
};

/** Jute ustring that the protocol never sends as null (paths, names); a null on the wire is a decode error. */
export const string: Codec<string> = {
  name: 'string',
  minBytes: 4,
  write: (w, v) => w.ustring(v),
  read: (r) => {
    const value = r.ustring();
    if (value === null) throw new DecodeError('null string where a value is required');
    return value;
  },
};

export interface VectorCodec<T> extends Codec<T[]> {
  /** The element codec (lets tests and tools walk a record's shape generically). */
  readonly element: Codec<T>;
}

/**
 * Jute vector. A null vector (count -1) decodes as an empty array: no record of the client protocol
 * gives the two different meanings, and one shape keeps every caller simple.
 */
export function vector<T>(element: Codec<T>): VectorCodec<T> {
  return {
    name: `vector<${element.name}>`,
    element,
    minBytes: 4,
    write(w, values) {
      w.int(values.length);
      for (const value of values) element.write(w, value);
    },
    read(r) {
      const count = r.vectorLength(Math.max(1, element.minBytes));
      const values: T[] = [];
      for (let i = 0; i < count; i++) values.push(element.read(r));
      return values;
    },
  };
}

type Fields = Record<string, Codec<any>>;
export type RecordOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

export interface RecordCodec<F extends Fields> extends Codec<RecordOf<F>> {
  readonly fields: F;
  /** Encodes one record to a fresh byte array. */
  encode(value: RecordOf<F>): Uint8Array;
  /** Decodes one record that must fill the bytes exactly. */
  decode(bytes: Uint8Array): RecordOf<F>;
}

const FIELD_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Builds a record's read and write as straight-line code, one call per field: a loop over the fields
 * with `value[key]` makes every record access megamorphic and every decoded object a dictionary
 * built key by key, and records are on every request's path. A decoded record is one object literal,
 * so all values of a record type share one shape. Field names are our own declarations, checked.
 * Where code generation is disallowed (node --disallow-code-generation-from-strings) the loop is used.
 */
function compileRecord(name: string, entries: [string, Codec<any>][]): Pick<Codec<any>, 'read' | 'write'> {
  for (const [key] of entries) if (!FIELD_NAME.test(key)) throw new Error(`record ${name}: field name ${JSON.stringify(key)} is not an identifier`);
  const fields = entries.map(([, codec]) => codec);
  const read = entries.map(([key], i) => `${key}: f[${i}].read(r)`).join(', ');
  const write = entries.map(([key], i) => `f[${i}].write(w, v.${key});`).join(' ');
  let make: (f: Codec<any>[]) => Pick<Codec<any>, 'read' | 'write'>;
  try {
    make = new Function('f', `return { read(r) { return { ${read} }; }, write(w, v) { ${write} } };`) as typeof make;
  } catch (error) {
    if (!(error instanceof EvalError)) throw error;
    return interpretedRecord(entries);
  }
  return make(fields);
}

/** The same read and write as a loop over the fields. */
function interpretedRecord(entries: [string, Codec<any>][]): Pick<Codec<any>, 'read' | 'write'> {
  return {
    read(r) {
      const value: Record<string, unknown> = {};
      for (const [key, field] of entries) value[key] = field.read(r);
      return value;
    },
    write(w, value) {
      for (const [key, field] of entries) field.write(w, (value as Record<string, unknown>)[key]);
    },
  };
}

/** A jute record: its fields in declaration order, no tags, no length, no padding. */
export function record<F extends Fields>(name: string, fields: F): RecordCodec<F> {
  const entries = Object.entries(fields);
  const minBytes = entries.reduce((sum, [, codec]) => sum + codec.minBytes, 0);
  const { read, write } = compileRecord(name, entries);
  const codec: RecordCodec<F> = {
    name,
    fields,
    minBytes,
    write,
    read,
    encode(value) {
      const w = new JuteWriter();
      codec.write(w, value);
      return w.toBytes();
    },
    decode(bytes) {
      const r = new JuteReader(bytes);
      const value = codec.read(r);
      if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after ${name}`);
      return value;
    },
  };
  return codec;
}
