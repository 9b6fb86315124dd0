import { DecodeError } from '@corral/protocol';
import type { Txn } from '../core/txn.js';
import type { RecordDecoder } from './logFormat.js';
import { CREATE_OPS, TXN_HEADER, TYPE_CODES, decodeTxn } from './txnCodec.js';

const { bytes: HEADER_BYTES, zxidAt: ZXID_AT, timeAt: TIME_AT, typeAt: TYPE_AT } = TXN_HEADER;
const CREATE_TYPE = TYPE_CODES.create;
const SET_DATA_TYPE = TYPE_CODES.setData;

/**
 * A plain create as the snapshot merge reads it. Its path, data and ACL are, byte for byte, the first
 * three fields of the node's snapshot entry, so the merge copies them from the segment (bytes
 * [headStart, headEnd)) instead of decoding and re-encoding them: creates are most of a busy log.
 */
export interface LoggedCreate {
  kind: 'create';
  zxid: bigint;
  timeMs: number;
  path: string;
  segment: Uint8Array;
  headStart: number;
  headEnd: number;
  ephemeralOwner: bigint;
  parentCVersion: number;
}

/** A plain setData, its data already as the byte string a node holds (the merge needs nothing else of it). */
export interface LoggedSetData {
  kind: 'setData';
  zxid: bigint;
  timeMs: number;
  path: string;
  data: string | null;
  version: number;
}

/** Every other txn, decoded whole. */
export interface LoggedOther {
  kind: 'other';
  zxid: bigint;
  txn: Txn;
}

export type LoggedTxn = LoggedCreate | LoggedSetData | LoggedOther;

/** Segments are read into Buffers; anything else gets a Buffer view for its string decoding. */
function bytesAsBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads the jute fields of one record by hand: this runs for every txn of the log at every merge. */
class RecordCursor {
  pos: number;
  constructor(
    readonly segment: Buffer,
    readonly view: DataView,
    start: number,
    readonly end: number,
    readonly what: string,
  ) {
    this.pos = start;
  }

  int(field: string): number {
    if (this.pos + 4 > this.end) throw new DecodeError(`${this.what} cut short in its ${field}`);
    const value = this.view.getInt32(this.pos);
    this.pos += 4;
    return value;
  }

  /** Moves past an int length (-1: null) and that many bytes; returns the length. */
  sized(field: string): number {
    const length = this.int(field);
    if (length < -1 || this.pos + Math.max(0, length) > this.end) throw new DecodeError(`bad ${field} length ${length} in a ${this.what}`);
    this.pos += Math.max(0, length);
    return length;
  }

  /** A jute string or buffer as text: utf8 for strings, latin1 (one char per byte) for data. */
  text(field: string, encoding: 'utf8' | 'latin1'): string | null {
    const length = this.sized(field);
    return length < 0 ? null : this.segment.toString(encoding, this.pos - length, this.pos);
  }

  finish(tail: number): void {
    if (this.pos + tail !== this.end) throw new DecodeError(`${this.what} has ${this.end - this.pos} bytes where ${tail} were expected`);
  }
}

/** The merge's record decoder: creates in place (see LoggedCreate), setData lightly, the rest through decodeTxn. */
export const decodeForMerge: RecordDecoder<LoggedTxn> = (segment, view, start, end) => {
  if (end - start < HEADER_BYTES) throw new DecodeError(`txn of ${end - start} bytes is shorter than its header`);
  const type = view.getInt32(start + TYPE_AT);
  if (type !== CREATE_TYPE && type !== SET_DATA_TYPE) {
    const txn = decodeTxn(segment.subarray(start, end));
    return { kind: 'other', zxid: txn.zxid, txn };
  }
  const zxid = view.getBigInt64(start + ZXID_AT);
  const timeMs = Number(view.getBigInt64(start + TIME_AT));
  const r = new RecordCursor(bytesAsBuffer(segment), view, start + HEADER_BYTES, end, type === CREATE_TYPE ? 'create txn' : 'setData txn');
  const headStart = r.pos;
  const path = r.text('path', 'utf8');
  if (path === null) throw new DecodeError(`${r.what} without a path`);
  if (type === SET_DATA_TYPE) {
    const data = r.text('data', 'latin1');
    r.finish(4);
    return { kind: 'setData', zxid, timeMs, path, data, version: r.int('version') };
  }
  r.sized('data');
  const aclCount = r.int('ACL count');
  // An ACL is at least 12 bytes (perms, two string lengths).
  if (aclCount < -1 || aclCount * 12 > end - r.pos) throw new DecodeError(`bad ACL count ${aclCount} in a create txn`);
  for (let i = 0; i < aclCount; i++) {
    r.int('ACL perms');
    r.sized('ACL scheme');
    r.sized('ACL id');
  }
  const headEnd = r.pos;
  r.finish(16);
  // Owner words are unsigned in memory (CONTAINER_OWNER, TTL_OWNER_BASE).
  const ephemeralOwner = view.getBigUint64(headEnd);
  const parentCVersion = view.getInt32(headEnd + 8);
  const op = view.getInt32(headEnd + 12);
  if (op < 0 || op >= CREATE_OPS.length) throw new DecodeError(`invalid create op ${op} in txn`);
  return { kind: 'create', zxid, timeMs, path, segment, headStart, headEnd, ephemeralOwner, parentCVersion };
};
