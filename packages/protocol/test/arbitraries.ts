import fc from 'fast-check';
import * as protocol from '../src/index.js';
import {
  CheckVersionRequest,
  CreateRequest,
  CreateTTLRequest,
  DeleteRequest,
  GetChildrenRequest,
  GetDataRequest,
  OpCode,
  SetDataRequest,
  Stat,
  type Codec,
  type MultiOp,
  type MultiResult,
  type RecordCodec,
  type VectorCodec,
} from '../src/index.js';

/** A record codec with its field types erased. */
export type AnyRecord = RecordCodec<Record<string, Codec<any>>>;

export function isRecordCodec(value: unknown): value is AnyRecord {
  return (
    typeof value === 'object' &&
    value !== null &&
    'fields' in value &&
    'encode' in value &&
    'decode' in value &&
    typeof (value as { name?: unknown }).name === 'string'
  );
}

function isVectorCodec(codec: Codec<unknown>): codec is VectorCodec<unknown> {
  return codec.name.startsWith('vector<') && 'element' in codec;
}

/** Every RecordCodec exported by the package (which re-exports every record of records.ts), keyed by export name. */
export const allRecords: ReadonlyArray<readonly [string, AnyRecord]> = (Object.entries(protocol) as [string, unknown][])
  .filter((entry): entry is [string, AnyRecord] => isRecordCodec(entry[1]))
  .sort(([a], [b]) => a.localeCompare(b));

export const int32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
export const int64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
/** Full Unicode (astral planes included, no lone surrogates: those cannot survive UTF-8 by definition). */
export const unicodeString = fc.string({ unit: 'binary', maxLength: 24 });
export const bytes = fc.uint8Array({ maxLength: 48 });
export const nullableBytes = fc.option(bytes, { nil: null, freq: 4 });
export const nullableString = fc.option(unicodeString, { nil: null, freq: 4 });

/** Builds an arbitrary for any codec by walking its shape: primitives by name, records by `fields`, vectors by `element`. */
export function arbitraryFor(codec: Codec<any>): fc.Arbitrary<any> {
  if (isRecordCodec(codec)) {
    const shape: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [key, field] of Object.entries(codec.fields)) shape[key] = arbitraryFor(field);
    return fc.record(shape, { noNullPrototype: true });
  }
  switch (codec.name) {
    case 'int':
      return int32;
    case 'long':
      return int64;
    case 'boolean':
      return fc.boolean();
    case 'buffer':
      return nullableBytes;
    case 'ustring':
      return nullableString;
    case 'string':
      return unicodeString;
  }
  if (isVectorCodec(codec)) return fc.array(arbitraryFor(codec.element), { maxLength: 4 });
  throw new Error(`no arbitrary for codec ${codec.name}`);
}

const statArb = arbitraryFor(Stat) as fc.Arbitrary<Stat>;

/** fc.record producing ordinary objects (toStrictEqual compares prototypes). */
function rec<T>(shape: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(shape, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

export const writeOpArb: fc.Arbitrary<MultiOp> = fc.oneof(
  rec({
    type: fc.constantFrom(OpCode.create, OpCode.create2, OpCode.createContainer),
    request: arbitraryFor(CreateRequest),
  }),
  rec({ type: fc.constant(OpCode.createTTL), request: arbitraryFor(CreateTTLRequest) }),
  rec({ type: fc.constant(OpCode.delete), request: arbitraryFor(DeleteRequest) }),
  rec({ type: fc.constant(OpCode.setData), request: arbitraryFor(SetDataRequest) }),
  rec({ type: fc.constant(OpCode.check), request: arbitraryFor(CheckVersionRequest) }),
) as fc.Arbitrary<MultiOp>;

export const readOpArb: fc.Arbitrary<MultiOp> = fc.oneof(
  rec({ type: fc.constant(OpCode.getChildren), request: arbitraryFor(GetChildrenRequest) }),
  rec({ type: fc.constant(OpCode.getData), request: arbitraryFor(GetDataRequest) }),
) as fc.Arbitrary<MultiOp>;

export const multiResultArb: fc.Arbitrary<MultiResult> = fc.oneof(
  rec({ type: fc.constant(OpCode.create), path: unicodeString }),
  rec({ type: fc.constant(OpCode.create2), path: unicodeString, stat: statArb }),
  rec({ type: fc.constant(OpCode.delete) }),
  rec({ type: fc.constant(OpCode.check) }),
  rec({ type: fc.constant(OpCode.setData), stat: statArb }),
  rec({ type: fc.constant(OpCode.getChildren), children: fc.array(unicodeString, { maxLength: 4 }) }),
  rec({ type: fc.constant(OpCode.getData), data: nullableBytes, stat: statArb }),
  rec({ type: fc.constant(OpCode.error), err: int32 }),
) as fc.Arbitrary<MultiResult>;

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Hex with spaces and line breaks removed, as the fact sheet writes it. */
export function unhex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}
