import { OpCode, errorName, readMultiResponse, writeMultiRequest, type MultiOp } from '@corral/protocol';
import { BadArgumentsError, MarshallingError, errorFromCode } from './errors.js';
import { createRequest, isSequential, isTtl, toBytes, type OpContext } from './operations.js';
import { validatePath } from './paths.js';
import type { CallSpec } from './pipeline.js';
import type { FailedOpResult, TransactionOp, TransactionResult } from './transaction.js';
import type { MultiReadOp, MultiReadResult } from './types.js';

// Encoding and decoding of the two multi ops. Callers answer an empty op list themselves.

/** An atomic multi (Transaction.commit): every op applies, or the first failing op's error is thrown. */
export function multi(ctx: OpContext, ops: readonly TransactionOp[]): CallSpec<TransactionResult[]> {
  const wire: MultiOp[] = ops.map((op) => toWire(ctx, op));
  return {
    op: OpCode.multi,
    path: ops[0]!.path,
    write: (w) => writeMultiRequest(w, wire),
    read: (r) => {
      const results = readMultiResponse(r);
      const failedIndex = results.findIndex((result) => result.type === OpCode.error && result.err !== 0);
      if (failedIndex !== -1) {
        const failed: FailedOpResult[] = results.map((result) => {
          const errno = result.type === OpCode.error ? result.err : 0;
          return { type: 'error', errno, code: errno === 0 ? 'OK' : (errorName(errno) ?? 'UNKNOWN') };
        });
        const error = errorFromCode(failed[failedIndex]!.errno, { path: ops[failedIndex]?.path });
        error.results = failed;
        error.opIndex = failedIndex;
        throw error;
      }
      return results.map((result): TransactionResult => {
        switch (result.type) {
          case OpCode.create:
            return { type: 'create', path: ctx.chroot.fromServer(result.path) };
          case OpCode.create2:
            return { type: 'create', path: ctx.chroot.fromServer(result.path), stat: result.stat };
          case OpCode.delete:
            return { type: 'delete' };
          case OpCode.setData:
            return { type: 'setData', stat: result.stat };
          case OpCode.check:
            return { type: 'check' };
          default:
            throw new MarshallingError({ message: `unexpected result type ${result.type} in a multi reply` });
        }
      });
    },
  };
}

function toWire(ctx: OpContext, op: TransactionOp): MultiOp {
  const path = ctx.chroot.toServer(op.path);
  switch (op.type) {
    case 'create': {
      validatePath(op.path, 'path', { sequential: isSequential(op.mode) });
      // Unlike a single create, the TTL's range and a ttlMs on a non-TTL mode are left to the server.
      const request = createRequest(ctx.chroot, op.path, op.data, op.mode, op.acl);
      if (!isTtl(op.mode)) return { type: op.mode === 'container' ? OpCode.createContainer : OpCode.create, request };
      if (op.ttlMs === undefined) throw new BadArgumentsError({ path: op.path, message: `mode ${op.mode} needs ttlMs` });
      return { type: OpCode.createTTL, request: { ...request, ttl: BigInt(Math.trunc(op.ttlMs)) } };
    }
    case 'delete':
      validatePath(op.path);
      return { type: OpCode.delete, request: { path, version: op.version } };
    case 'setData':
      validatePath(op.path);
      return { type: OpCode.setData, request: { path, data: toBytes(op.data), version: op.version } };
    case 'check':
      validatePath(op.path);
      return { type: OpCode.check, request: { path, version: op.version } };
  }
}

/** Several reads in one round trip; each op succeeds or fails on its own. */
export function multiRead(ctx: OpContext, ops: readonly MultiReadOp[]): CallSpec<MultiReadResult[]> {
  for (const op of ops) validatePath(op.path);
  const wire: MultiOp[] = ops.map((op) => {
    const request = { path: ctx.chroot.toServer(op.path), watch: false };
    return op.type === 'getData' ? { type: OpCode.getData, request } : { type: OpCode.getChildren, request };
  });
  return {
    op: OpCode.multiRead,
    path: ops[0]!.path,
    write: (w) => writeMultiRequest(w, wire),
    read: (r) =>
      readMultiResponse(r).map((result, index): MultiReadResult => {
        switch (result.type) {
          case OpCode.getData:
            return { type: 'getData', data: result.data, stat: result.stat };
          case OpCode.getChildren:
            return { type: 'getChildren', children: result.children };
          case OpCode.error:
            return { type: 'error', error: errorFromCode(result.err, { path: ops[index]?.path }) };
          default:
            throw new MarshallingError({ message: `unexpected result type ${result.type} in a multiRead reply` });
        }
      }),
  };
}
