import { crc32 } from 'node:zlib';
import { DecodeError, JuteWriter, type JuteReader } from '@corral/protocol';
import type { Txn } from '../core/txn.js';
import { readTxn, txnReader, writeTxn } from './txnCodec.js';

/**
 * Txn log segment layout:
 *   header: int magic "CRLG", int version 1, long dbid 0            (16 bytes)
 *   record: int length N, int crc32(length bytes + payload), N payload bytes (a txn), byte 0x42
 *   then zeros: the file is preallocated, so the first zero length marks the end.
 */
export const LOG_MAGIC = 0x43524c47;
export const LOG_VERSION = 1;
export const LOG_HEADER_BYTES = 16;
const RECORD_END = 0x42;
const RECORD_OVERHEAD = 9;

export function logHeader(): Uint8Array {
  const w = new JuteWriter(LOG_HEADER_BYTES);
  w.int(LOG_MAGIC);
  w.int(LOG_VERSION);
  w.long(0n);
  return w.toBytes();
}

/** Appends one framed, checksummed record to a batch buffer. */
export function writeLogRecord(w: JuteWriter, txn: Txn): void {
  const start = w.length;
  w.int(0);
  w.int(0);
  writeTxn(w, txn);
  const length = w.length - start - 8;
  w.patchInt(start, length);
  w.byte(RECORD_END);
  const bytes = w.toBytesView();
  const checksum = crc32(bytes.subarray(start + 8, start + 8 + length), crc32(bytes.subarray(start, start + 4)));
  w.patchInt(start + 4, checksum | 0);
}

/**
 * Decodes the payload of one checked record: `r` reads `segment`, positioned on exactly that
 * payload. A DecodeError marks the record as damaged. `readTxn` by default; the snapshot merge reads
 * less (see loggedTxn.ts).
 */
export type RecordDecoder<T> = (r: JuteReader, segment: Uint8Array) => T;

export interface SegmentScan<T = Txn> {
  txns: T[];
  /** Offset just past the last good record: where a torn tail is cut. */
  validEnd: number;
  /** Set when a record fails: 'torn' if nothing valid follows it (a crash mid-append), else 'corrupt'. */
  damage?: { offset: number; kind: 'torn' | 'corrupt'; reason: string };
}

type RecordCheck<T> = { ok: true; txn: T; end: number } | { ok: false; reason: string };

function checkRecord<T>(bytes: Uint8Array, view: DataView, reader: JuteReader, pos: number, decode: RecordDecoder<T>): RecordCheck<T> {
  if (pos + RECORD_OVERHEAD > bytes.length) return { ok: false, reason: 'record header runs past the end of the file' };
  const length = view.getInt32(pos);
  if (length <= 0 || pos + RECORD_OVERHEAD + length > bytes.length) return { ok: false, reason: `record length ${length} does not fit the file` };
  const expected = view.getInt32(pos + 4);
  const actual = crc32(bytes.subarray(pos + 8, pos + 8 + length), crc32(bytes.subarray(pos, pos + 4))) | 0;
  if (expected !== actual) return { ok: false, reason: 'checksum mismatch' };
  if (bytes[pos + 8 + length] !== RECORD_END) return { ok: false, reason: 'missing end-of-record marker' };
  try {
    reader.reposition(pos + 8, pos + 8 + length);
    return { ok: true, txn: decode(reader, bytes), end: pos + RECORD_OVERHEAD + length };
  } catch (error) {
    if (error instanceof DecodeError) return { ok: false, reason: `undecodable txn: ${error.message}` };
    throw error;
  }
}

const ZEROS = new Uint8Array(64 * 1024);

/** Compares in 64 KiB blocks (memcmp speed): preallocated segments are mostly zeros. */
function allZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i += ZEROS.length) {
    const block = bytes.subarray(i, Math.min(bytes.length, i + ZEROS.length));
    if (Buffer.compare(block, ZEROS.subarray(0, block.length)) !== 0) return false;
  }
  return true;
}

/** Whether any complete, valid record starts after `from`: then the damage is not a torn tail. */
function validRecordAfter<T>(bytes: Uint8Array, view: DataView, reader: JuteReader, from: number, decode: RecordDecoder<T>): boolean {
  for (let pos = from; pos + RECORD_OVERHEAD <= bytes.length; pos++) {
    if (bytes[pos] === 0 && bytes[pos + 1] === 0 && bytes[pos + 2] === 0 && bytes[pos + 3] === 0) continue;
    if (checkRecord(bytes, view, reader, pos, decode).ok) return true;
  }
  return false;
}

/** Reads every record of one segment and classifies any damage. Pure: the caller reads the file. */
export function scanSegment(bytes: Uint8Array, onTxn?: (txn: Txn) => void): SegmentScan;
export function scanSegment<T>(bytes: Uint8Array, onTxn: ((txn: T) => void) | undefined, decode: RecordDecoder<T>): SegmentScan<T>;
export function scanSegment<T>(bytes: Uint8Array, onTxn?: (txn: T) => void, decode: RecordDecoder<T> = readTxn as unknown as RecordDecoder<T>): SegmentScan<T> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = txnReader(bytes);
  // With onTxn each txn is handed over as it is read and not kept: recovery need not hold a whole segment's txns.
  const txns: T[] = [];
  if (bytes.length < LOG_HEADER_BYTES || view.getInt32(0) !== LOG_MAGIC) {
    const kind = allZero(bytes, 0) || bytes.length < LOG_HEADER_BYTES ? 'torn' : 'corrupt';
    return { txns, validEnd: 0, damage: { offset: 0, kind, reason: 'missing or bad file header' } };
  }
  if (view.getInt32(4) !== LOG_VERSION) return { txns, validEnd: 0, damage: { offset: 4, kind: 'corrupt', reason: `unknown log version ${view.getInt32(4)}` } };
  let pos = LOG_HEADER_BYTES;
  for (;;) {
    if (pos + 4 > bytes.length || view.getInt32(pos) === 0) {
      if (allZero(bytes, pos)) return { txns, validEnd: pos };
    }
    const check = checkRecord(bytes, view, reader, pos, decode);
    if (!check.ok) {
      const kind = validRecordAfter(bytes, view, reader, pos + 1, decode) ? 'corrupt' : 'torn';
      return { txns, validEnd: pos, damage: { offset: pos, kind, reason: check.reason } };
    }
    if (onTxn) onTxn(check.txn);
    else txns.push(check.txn);
    pos = check.end;
  }
}
