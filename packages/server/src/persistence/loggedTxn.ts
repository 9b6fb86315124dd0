import { DecodeError } from '@corral/protocol';
import type { Txn } from '../core/txn.js';
import type { RecordDecoder } from './logFormat.js';
import { decodeTxn } from './txnCodec.js';

/** TxnHeader: long sessionId, int cxid, long zxid, long timeMs, int type. */
const HEADER_BYTES = 32;
const ZXID_AT = 12;
const TIME_AT = 20;
const TYPE_AT = 28;
const CREATE_TYPE = 1;
/** CreateTxn's op field: create, create2, createContainer, createTTL. */
const CREATE_OPS = 4;

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

/** Every other txn, decoded whole. */
export interface LoggedOther {
  kind: 'other';
  zxid: bigint;
  txn: Txn;
}

export type LoggedTxn = LoggedCreate | LoggedOther;

/** Segments are read into Buffers; anything else gets a Buffer view for its string decoding. */
function bytesAsBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The merge's record decoder: creates in place (see LoggedCreate), the rest through decodeTxn. */
export const decodeForMerge: RecordDecoder<LoggedTxn> = (segment, view, start, end) => {
  if (end - start < HEADER_BYTES) throw new DecodeError(`txn of ${end - start} bytes is shorter than its header`);
  if (view.getInt32(start + TYPE_AT) !== CREATE_TYPE) {
    const txn = decodeTxn(segment.subarray(start, end));
    return { kind: 'other', zxid: txn.zxid, txn };
  }
  // Read by hand rather than with a JuteReader: this runs for every create of the log at every merge.
  let pos = start + HEADER_BYTES;
  /** Moves past an int length (-1: null) and that many bytes; returns the length. */
  const sized = (what: string): number => {
    const length = pos + 4 <= end ? view.getInt32(pos) : -2;
    if (length < -1 || pos + 4 + Math.max(0, length) > end) throw new DecodeError(`bad ${what} length in a create txn at ${pos}`);
    pos += 4 + Math.max(0, length);
    return length;
  };
  const headStart = pos;
  const pathLength = sized('path');
  if (pathLength < 0) throw new DecodeError('create txn without a path');
  const path = bytesAsBuffer(segment).toString('utf8', headStart + 4, headStart + 4 + pathLength);
  sized('data');
  const aclCount = pos + 4 <= end ? view.getInt32(pos) : -2;
  // An ACL is at least 12 bytes (perms, two string lengths).
  if (aclCount < -1 || aclCount * 12 > end - pos - 4) throw new DecodeError(`bad ACL count ${aclCount} in a create txn`);
  pos += 4;
  for (let i = 0; i < aclCount; i++) {
    if (pos + 4 > end) throw new DecodeError(`ACL ${i} runs past a create txn`);
    pos += 4;
    sized('ACL scheme');
    sized('ACL id');
  }
  const headEnd = pos;
  if (pos + 16 !== end) throw new DecodeError(`create txn has ${end - pos} bytes after its ACL, not 16`);
  // Owner words are unsigned in memory (CONTAINER_OWNER, TTL_OWNER_BASE).
  const ephemeralOwner = view.getBigUint64(pos);
  const parentCVersion = view.getInt32(pos + 8);
  const op = view.getInt32(pos + 12);
  if (op < 0 || op >= CREATE_OPS) throw new DecodeError(`invalid create op ${op} in txn`);
  return {
    kind: 'create',
    zxid: view.getBigInt64(start + ZXID_AT),
    timeMs: Number(view.getBigInt64(start + TIME_AT)),
    path,
    segment,
    headStart,
    headEnd,
    ephemeralOwner,
    parentCVersion,
  };
};
