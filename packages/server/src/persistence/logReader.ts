import { readFileSync } from 'node:fs';
import type { Txn } from '../core/txn.js';
import { listByZxid, versionDir, zxidHex } from './files.js';
import { scanSegment, type RecordDecoder } from './logFormat.js';
import { readTxn } from './txnCodec.js';

/** The data on disk cannot be trusted to hold every acknowledged txn: the server must not start. */
export class RecoveryError extends Error {
  constructor(readonly file: string, readonly offset: number | undefined, message: string) {
    super(`${file}${offset === undefined ? '' : ` at offset ${offset}`}: ${message}`);
    this.name = 'RecoveryError';
  }
}

/** zxids follow each other: counter + 1 in the same epoch, or counter 1 of a later epoch. */
export function follows(previous: bigint, next: bigint): boolean {
  if (next === previous + 1n) return true;
  return next >> 32n > previous >> 32n && (next & 0xffffffffn) === 1n;
}

/** A torn record at the very end of the newest segment: a crash mid-append, never acknowledged. */
export interface TornTail {
  file: string;
  offset: number;
  validEnd: number;
  reason: string;
}

/**
 * Hands every logged txn after `after` (and up to `until`, if given) to `onTxn` in zxid order,
 * segment by segment. A gap in zxids, or damage anywhere but the tail of the newest segment, is a
 * RecoveryError naming the file and offset. Damage past `until` is ignored: that is the part of the
 * log still being written.
 */
export function readLoggedTxns(dataLogDir: string, after: bigint, onTxn: (txn: Txn) => void, until?: bigint): Promise<{ last: bigint; tornTail?: TornTail; segments: number }>;
/** The same with a decoder of its own: T must carry the zxid, for the order checks. */
export function readLoggedTxns<T extends { zxid: bigint }>(dataLogDir: string, after: bigint, onTxn: (txn: T) => void, until: bigint | undefined, decode: RecordDecoder<T>): Promise<{ last: bigint; tornTail?: TornTail; segments: number }>;
export async function readLoggedTxns<T extends { zxid: bigint }>(
  dataLogDir: string,
  after: bigint,
  onTxn: (txn: T) => void,
  until?: bigint,
  decode: RecordDecoder<T> = readTxn as unknown as RecordDecoder<T>,
): Promise<{ last: bigint; tornTail?: TornTail; segments: number }> {
  const segments = await listByZxid(versionDir(dataLogDir), 'log');
  // The segment holding after + 1 is the newest one that starts at or before it.
  let first = 0;
  for (let i = 0; i < segments.length; i++) if (segments[i]!.zxid <= after + 1n) first = i;
  let last = after;
  let tornTail: TornTail | undefined;
  for (let i = first; i < segments.length; i++) {
    const { file, zxid: firstZxid } = segments[i]!;
    if (until !== undefined && firstZxid > until) break;
    const visit = (txn: T): void => {
      if (txn.zxid <= last || (until !== undefined && txn.zxid > until)) return;
      if (!follows(last, txn.zxid)) throw new RecoveryError(file, undefined, `gap in the txn log: 0x${zxidHex(txn.zxid)} follows 0x${zxidHex(last)}`);
      onTxn(txn);
      last = txn.zxid;
    };
    const scan = scanSegment(readFileSync(file), visit, decode);
    if (!scan.damage || (until !== undefined && last >= until)) continue;
    if (scan.damage.kind === 'torn' && i === segments.length - 1) {
      tornTail = { file, offset: scan.damage.offset, validEnd: scan.validEnd, reason: scan.damage.reason };
    } else {
      throw new RecoveryError(file, scan.damage.offset, `damaged txn log record (${scan.damage.reason}) after zxid 0x${zxidHex(last)}; refusing to start with missing history`);
    }
  }
  if (until !== undefined && last < until) throw new RecoveryError(versionDir(dataLogDir), undefined, `the txn log ends at 0x${zxidHex(last)}, before 0x${zxidHex(until)}`);
  return { last, tornTail, segments: segments.length };
}
