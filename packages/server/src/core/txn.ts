import type { ACL } from '@corral/protocol';

/**
 * A transaction: the only way the tree changes. Requests are prepared into txns (all checks done,
 * zxid assigned); every replica applies the same txns in zxid order and reaches the same tree.
 */
export type TxnBody =
  | { type: 'createSession'; timeoutMs: number }
  | { type: 'closeSession' }
  | {
      type: 'create';
      path: string;
      data: Uint8Array | null;
      acl: ACL[];
      /** Internal owner word: session id, CONTAINER_OWNER, or TTL_OWNER_BASE | ttl; 0 for persistent. */
      ephemeralOwner: bigint;
      /** The parent's child-creation counter after this create; lets a replay over a fuzzy snapshot repair it. */
      parentCVersion: number;
      /** Which create op asked for it, so the reply and multi result type match the request. */
      op: 'create' | 'create2' | 'createContainer' | 'createTTL';
    }
  | { type: 'delete'; path: string }
  | { type: 'setData'; path: string; data: Uint8Array | null; version: number }
  | { type: 'setACL'; path: string; acl: ACL[]; version: number }
  | { type: 'check'; path: string }
  | { type: 'multi'; ops: TxnBody[] }
  | { type: 'error'; err: number };

export interface Txn {
  zxid: bigint;
  sessionId: bigint;
  cxid: number;
  /** Leader wall-clock time when the txn was made; becomes ctime/mtime. */
  timeMs: number;
  body: TxnBody;
}

/** Stored ephemeralOwner of a container node. */
export const CONTAINER_OWNER = 0x8000000000000000n;
/** Stored ephemeralOwner of a TTL node is this OR-ed with the TTL in ms. */
export const TTL_OWNER_BASE = 0xff00000000000000n;
export const TTL_MASK = 0x000000ffffffffffn;

export type OwnerKind = 'none' | 'ephemeral' | 'container' | 'ttl';

export function ownerKind(owner: bigint): OwnerKind {
  if (owner === 0n) return 'none';
  if (owner === CONTAINER_OWNER) return 'container';
  if ((owner & TTL_OWNER_BASE) === TTL_OWNER_BASE) return 'ttl';
  return 'ephemeral';
}

/** zxid = epoch << 32 | counter. */
export function makeZxid(epoch: number, counter: number): bigint {
  return (BigInt(epoch) << 32n) | BigInt(counter >>> 0);
}
