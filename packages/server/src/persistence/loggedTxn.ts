import { DecodeError } from '@corral/protocol';
import type { Txn } from '../core/txn.js';
import type { RecordDecoder } from './logFormat.js';
import { CREATE_OPS, TXN_HEADER, TYPE_CODES, readTxn } from './txnCodec.js';

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

/** The merge's record decoder: creates in place (see LoggedCreate), setData lightly, the rest through readTxn. */
export const decodeForMerge: RecordDecoder<LoggedTxn> = (r, segment) => {
  const start = r.position;
  const end = start + r.remaining;
  if (end - start < TXN_HEADER.bytes) throw new DecodeError(`txn of ${end - start} bytes is shorter than its header`);
  // The type comes last in the header: peek at it, then read the header in order.
  r.skip(TXN_HEADER.typeAt);
  const type = r.int();
  r.reposition(start, end);
  if (type !== CREATE_TYPE && type !== SET_DATA_TYPE) {
    const txn = readTxn(r);
    return { kind: 'other', zxid: txn.zxid, txn };
  }
  r.long(); // sessionId
  r.int(); // cxid
  const zxid = r.long();
  const timeMs = Number(r.long());
  r.int(); // type
  const headStart = r.position;
  const path = r.ustring();
  if (path === null) throw new DecodeError('txn without a path');
  if (type === SET_DATA_TYPE) {
    const data = r.byteString();
    const version = r.int();
    if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after a setData txn`);
    return { kind: 'setData', zxid, timeMs, path, data, version };
  }
  r.skipSized();
  // An ACL is at least 12 bytes (perms, two string lengths).
  const aclCount = r.vectorLength(12);
  for (let i = 0; i < aclCount; i++) {
    r.int();
    r.skipSized();
    r.skipSized();
  }
  const headEnd = r.position;
  // Owner words are unsigned in memory (CONTAINER_OWNER, TTL_OWNER_BASE); jute longs read back signed.
  const ephemeralOwner = BigInt.asUintN(64, r.long());
  const parentCVersion = r.int();
  const op = r.int();
  if (op < 0 || op >= CREATE_OPS.length) throw new DecodeError(`invalid create op ${op} in txn`);
  if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after a create txn`);
  return { kind: 'create', zxid, timeMs, path, segment, headStart, headEnd, ephemeralOwner, parentCVersion };
};
