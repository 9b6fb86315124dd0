import type { ACL, Stat } from '@corral/protocol';
import type { CreateModeName, Data, OperationOptions } from './types.js';

export type TransactionOp =
  | { type: 'create'; path: string; data: Data; mode: CreateModeName; acl?: readonly ACL[]; ttlMs?: number }
  | { type: 'delete'; path: string; version: number }
  | { type: 'setData'; path: string; data: Data; version: number }
  | { type: 'check'; path: string; version: number };

/** Per-op result of a committed transaction, in op order. `stat` on creates needs a 3.8.2+ server. */
export type TransactionResult =
  | { type: 'create'; path: string; stat?: Stat }
  | { type: 'delete' }
  | { type: 'setData'; stat: Stat }
  | { type: 'check' };

/**
 * Result entry of a transaction that failed (attached as `error.results`): the failing op has its
 * code, ops before it 'OK' (rolled back), ops after it 'RUNTIMEINCONSISTENCY'.
 */
export interface FailedOpResult {
  type: 'error';
  errno: number;
  code: string;
}

/**
 * Collects ops for one atomic multi: `client.transaction().create(...).setData(...).check(...).delete(...).commit()`.
 * All ops apply with one zxid, or none does; commit() throws the first failing op's error.
 */
export class Transaction {
  readonly #ops: TransactionOp[] = [];
  readonly #commit: (ops: readonly TransactionOp[], options: OperationOptions) => Promise<TransactionResult[]>;

  constructor(commit: (ops: readonly TransactionOp[], options: OperationOptions) => Promise<TransactionResult[]>) {
    this.#commit = commit;
  }

  get ops(): readonly TransactionOp[] {
    return this.#ops;
  }

  create(path: string, data: Data = new Uint8Array(0), options: { mode?: CreateModeName; acl?: readonly ACL[]; ttlMs?: number } = {}): this {
    this.#ops.push({ type: 'create', path, data, mode: options.mode ?? 'persistent', acl: options.acl, ttlMs: options.ttlMs });
    return this;
  }

  delete(path: string, options: { version?: number } = {}): this {
    this.#ops.push({ type: 'delete', path, version: options.version ?? -1 });
    return this;
  }

  setData(path: string, data: Data, options: { version?: number } = {}): this {
    this.#ops.push({ type: 'setData', path, data, version: options.version ?? -1 });
    return this;
  }

  /** Fails the transaction unless the node's version equals `version`. */
  check(path: string, version: number): this {
    this.#ops.push({ type: 'check', path, version });
    return this;
  }

  commit(options: OperationOptions = {}): Promise<TransactionResult[]> {
    return this.#commit([...this.#ops], options);
  }
}
