import { ACL, JuteReader, JuteWriter, DecodeError, buffer, int, long, pooledCopy, record, string, vector, type Codec } from '@corral/protocol';
import type { Txn, TxnBody } from '../core/txn.js';

/**
 * Binary form of a txn in the log: a header, then the body by type. Jute encoding, so the same
 * reader hardening (bounds, lengths) protects recovery from a damaged file.
 */
const TxnHeader = record('TxnHeader', { sessionId: long, cxid: int, zxid: long, timeMs: long, type: int });
/** Where TxnHeader's fields lie, for a reader that takes only some of them (loggedTxn.ts). */
export const TXN_HEADER = { bytes: 32, typeAt: 28 } as const;

export const CREATE_OPS = ['create', 'create2', 'createContainer', 'createTTL'] as const;

/** The request a create came from, logged as its index in CREATE_OPS. */
const createOp: Codec<(typeof CREATE_OPS)[number]> = {
  name: 'createOp',
  minBytes: 4,
  write: (w, op) => w.int(CREATE_OPS.indexOf(op)),
  read(r) {
    const index = r.int();
    const op = CREATE_OPS[index];
    if (!op) throw new DecodeError(`invalid create op ${index} in txn`);
    return op;
  },
};

const bodies = {
  createSession: record('CreateSessionTxn', { timeoutMs: int }),
  closeSession: record('CloseSessionTxn', {}),
  create: record('CreateTxn', { path: string, data: buffer, acl: vector(ACL), ephemeralOwner: long, parentCVersion: int, op: createOp }),
  delete: record('DeleteTxn', { path: string }),
  setData: record('SetDataTxn', { path: string, data: buffer, version: int }),
  setACL: record('SetACLTxn', { path: string, acl: vector(ACL), version: int }),
  check: record('CheckTxn', { path: string }),
  error: record('ErrorTxn', { err: int }),
} as const;

export const TYPE_CODES: Record<TxnBody['type'], number> = {
  createSession: -10,
  closeSession: -11,
  create: 1,
  delete: 2,
  setData: 5,
  setACL: 7,
  check: 13,
  multi: 14,
  error: -1,
};
const TYPES_BY_CODE = new Map(Object.entries(TYPE_CODES).map(([name, code]) => [code, name as TxnBody['type']]));

function writeBody(w: JuteWriter, body: TxnBody): void {
  switch (body.type) {
    case 'multi':
      w.int(body.ops.length);
      for (const op of body.ops) {
        w.int(TYPE_CODES[op.type]);
        writeBody(w, op);
      }
      return;
    case 'closeSession':
      return;
    default:
      (bodies[body.type] as { write(w: JuteWriter, v: unknown): void }).write(w, body);
  }
}

function readBody(r: JuteReader, type: TxnBody['type']): TxnBody {
  switch (type) {
    case 'multi': {
      const count = r.vectorLength(4);
      const ops: TxnBody[] = [];
      for (let i = 0; i < count; i++) ops.push(readBody(r, typeOf(r.int())));
      return { type, ops };
    }
    case 'create': {
      const body = bodies.create.read(r);
      // Owner words are unsigned in memory (CONTAINER_OWNER, TTL_OWNER_BASE); jute longs read back signed.
      return { type, ...body, ephemeralOwner: BigInt.asUintN(64, body.ephemeralOwner) };
    }
    case 'closeSession':
      return { type };
    default:
      return { type, ...(bodies[type].read(r) as object) } as TxnBody;
  }
}

function typeOf(code: number): TxnBody['type'] {
  const type = TYPES_BY_CODE.get(code);
  if (!type) throw new DecodeError(`unknown txn type ${code}`);
  return type;
}

export function writeTxn(w: JuteWriter, txn: Txn): void {
  TxnHeader.write(w, { sessionId: txn.sessionId, cxid: txn.cxid, zxid: txn.zxid, timeMs: BigInt(txn.timeMs), type: TYPE_CODES[txn.body.type] });
  writeBody(w, txn.body);
}

export function encodeTxn(txn: Txn): Uint8Array {
  const w = new JuteWriter(256);
  writeTxn(w, txn);
  return w.toBytes();
}

/** A reader for txn bytes: decoded data buffers go to the shared pool, not an ArrayBuffer each. */
export function txnReader(bytes: Uint8Array): JuteReader {
  return new JuteReader(bytes, { copyBytes: pooledCopy });
}

/** Reads one txn that must fill the reader's bytes exactly. */
export function readTxn(r: JuteReader): Txn {
  const header = TxnHeader.read(r);
  const body = readBody(r, typeOf(header.type));
  if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after txn 0x${header.zxid.toString(16)}`);
  return { zxid: header.zxid, sessionId: BigInt.asUintN(64, header.sessionId), cxid: header.cxid, timeMs: Number(header.timeMs), body };
}

export function decodeTxn(bytes: Uint8Array): Txn {
  return readTxn(txnReader(bytes));
}
