import { OpCode } from './constants.js';
import { DecodeError } from './errors.js';
import { JuteReader, JuteWriter } from './jute.js';
import {
  CheckVersionRequest,
  Create2Response,
  CreateRequest,
  CreateResponse,
  CreateTTLRequest,
  DeleteRequest,
  ErrorResponse,
  GetChildrenRequest,
  GetChildrenResponse,
  GetDataRequest,
  GetDataResponse,
  MultiHeader,
  SetDataRequest,
  SetDataResponse,
  type Stat,
} from './records.js';
import type { Infer } from './codec.js';

/** One sub-operation of a multi (14) or multiRead (22) request. */
export type MultiOp =
  | { type: typeof OpCode.create | typeof OpCode.create2 | typeof OpCode.createContainer; request: Infer<typeof CreateRequest> }
  | { type: typeof OpCode.createTTL; request: Infer<typeof CreateTTLRequest> }
  | { type: typeof OpCode.delete; request: Infer<typeof DeleteRequest> }
  | { type: typeof OpCode.setData; request: Infer<typeof SetDataRequest> }
  | { type: typeof OpCode.check; request: Infer<typeof CheckVersionRequest> }
  | { type: typeof OpCode.getChildren; request: Infer<typeof GetChildrenRequest> }
  | { type: typeof OpCode.getData; request: Infer<typeof GetDataRequest> };

export type MultiKind = 'write' | 'read';

const subOpCodecs = {
  [OpCode.create]: [CreateRequest, 'write'],
  [OpCode.create2]: [CreateRequest, 'write'],
  [OpCode.createContainer]: [CreateRequest, 'write'],
  [OpCode.createTTL]: [CreateTTLRequest, 'write'],
  [OpCode.delete]: [DeleteRequest, 'write'],
  [OpCode.setData]: [SetDataRequest, 'write'],
  [OpCode.check]: [CheckVersionRequest, 'write'],
  [OpCode.getChildren]: [GetChildrenRequest, 'read'],
  [OpCode.getData]: [GetDataRequest, 'read'],
} as const;

const DONE: Infer<typeof MultiHeader> = { type: -1, done: true, err: -1 };

export function writeMultiRequest(w: JuteWriter, ops: readonly MultiOp[]): void {
  for (const op of ops) {
    MultiHeader.write(w, { type: op.type, done: false, err: -1 });
    const [codec] = subOpCodecs[op.type];
    (codec as { write(w: JuteWriter, v: unknown): void }).write(w, op.request);
  }
  MultiHeader.write(w, DONE);
}

/** Decodes a MultiOperationRecord. Mixing read and write sub-ops, or an unknown sub-op, is a decode error as in ZooKeeper. */
export function readMultiRequest(r: JuteReader): { kind: MultiKind | undefined; ops: MultiOp[] } {
  const ops: MultiOp[] = [];
  let kind: MultiKind | undefined;
  for (;;) {
    const header = MultiHeader.read(r);
    if (header.done) break;
    const entry = subOpCodecs[header.type as keyof typeof subOpCodecs];
    if (!entry) throw new DecodeError(`invalid multi sub-op type ${header.type}`);
    const [codec, opKind] = entry;
    if (kind !== undefined && kind !== opKind) throw new DecodeError('mixing read and write operations in one multi');
    kind = opKind;
    ops.push({ type: header.type, request: codec.read(r) } as MultiOp);
  }
  return { kind, ops };
}

/** One entry of a MultiResponse. */
export type MultiResult =
  | { type: typeof OpCode.create; path: string }
  | { type: typeof OpCode.create2; path: string; stat: Stat }
  | { type: typeof OpCode.delete }
  | { type: typeof OpCode.check }
  | { type: typeof OpCode.setData; stat: Stat }
  | { type: typeof OpCode.getChildren; children: string[] }
  | { type: typeof OpCode.getData; data: Uint8Array | null; stat: Stat }
  | { type: typeof OpCode.error; err: number };

export function writeMultiResponse(w: JuteWriter, results: readonly MultiResult[]): void {
  for (const result of results) {
    const err = result.type === OpCode.error ? result.err : 0;
    MultiHeader.write(w, { type: result.type, done: false, err });
    switch (result.type) {
      case OpCode.create:
        CreateResponse.write(w, result);
        break;
      case OpCode.create2:
        Create2Response.write(w, result);
        break;
      case OpCode.setData:
        SetDataResponse.write(w, result);
        break;
      case OpCode.getChildren:
        GetChildrenResponse.write(w, result);
        break;
      case OpCode.getData:
        GetDataResponse.write(w, result);
        break;
      case OpCode.error:
        ErrorResponse.write(w, result);
        break;
      case OpCode.delete:
      case OpCode.check:
        break;
    }
  }
  MultiHeader.write(w, DONE);
}

export function readMultiResponse(r: JuteReader): MultiResult[] {
  const results: MultiResult[] = [];
  for (;;) {
    const header = MultiHeader.read(r);
    if (header.done) return results;
    switch (header.type) {
      case OpCode.create:
        results.push({ type: header.type, ...CreateResponse.read(r) });
        break;
      case OpCode.create2:
        results.push({ type: header.type, ...Create2Response.read(r) });
        break;
      case OpCode.setData:
        results.push({ type: header.type, ...SetDataResponse.read(r) });
        break;
      case OpCode.getChildren:
        results.push({ type: header.type, ...GetChildrenResponse.read(r) });
        break;
      case OpCode.getData:
        results.push({ type: header.type, ...GetDataResponse.read(r) });
        break;
      case OpCode.error:
        results.push({ type: header.type, ...ErrorResponse.read(r) });
        break;
      case OpCode.delete:
      case OpCode.check:
        results.push({ type: header.type });
        break;
      default:
        throw new DecodeError(`invalid multi result type ${header.type}`);
    }
  }
}
