/**
 * Test helpers: a workload that produces valid txns against a live tree (what the server's prep
 * would produce), and the state recovery must reproduce.
 */
import type { ACL } from '@corral/protocol';
import { OPEN_ACL_UNSAFE } from '../src/core/acl.js';
import { parentOf } from '../src/core/path.js';
import { DataTree } from '../src/core/tree.js';
import { CONTAINER_OWNER, TTL_OWNER_BASE, makeZxid, type Txn, type TxnBody } from '../src/core/txn.js';


export const utf8 = (s: string) => new TextEncoder().encode(s);

export class Workload {
  readonly tree = new DataTree();
  readonly txns: Txn[] = [];
  counter = 0;

  apply(sessionId: bigint, body: TxnBody): Txn {
    this.counter++;
    const txn: Txn = { zxid: makeZxid(1, this.counter), sessionId, cxid: this.counter, timeMs: 1_700_000_000_000 + this.counter, body };
    this.tree.apply(txn);
    this.txns.push(txn);
    return txn;
  }

  createBody(nodePath: string, data: Uint8Array | null, owner = 0n, extraSiblings = 0): TxnBody {
    const parent = this.tree.get(parentOf(nodePath))!;
    return { type: 'create', path: nodePath, data, acl: OPEN_ACL_UNSAFE, ephemeralOwner: owner, parentCVersion: parent.cversion + 1 + extraSiblings, op: 'create2' };
  }

  create(nodePath: string, data: Uint8Array | null = utf8(nodePath), owner = 0n, sessionId = 1n): Txn {
    return this.apply(sessionId, this.createBody(nodePath, data, owner));
  }

  setData(nodePath: string, data: Uint8Array | null): Txn {
    return this.apply(1n, { type: 'setData', path: nodePath, data, version: this.tree.get(nodePath)!.version + 1 });
  }

  setACL(nodePath: string, acl: ACL[]): Txn {
    return this.apply(1n, { type: 'setACL', path: nodePath, acl, version: this.tree.get(nodePath)!.aversion + 1 });
  }

  delete(nodePath: string, sessionId = 1n): Txn {
    return this.apply(sessionId, { type: 'delete', path: nodePath });
  }

  /** Two creates under one parent, all or nothing. */
  multiCreate(a: string, b: string): Txn {
    return this.apply(1n, { type: 'multi', ops: [this.createBody(a, utf8('a')), this.createBody(b, utf8('b'), 0n, parentOf(a) === parentOf(b) ? 1 : 0)] });
  }
}

/** A small but varied history: every txn type, ephemerals, containers, TTL nodes, multi, errors. */
export function variedWorkload(): Workload {
  const w = new Workload();
  w.apply(0x100n, { type: 'createSession', timeoutMs: 30000 });
  w.apply(0x200n, { type: 'createSession', timeoutMs: 10000 });
  w.create('/app');
  w.create('/app/config', utf8('{"x":1}'));
  w.create('/app/empty', new Uint8Array(0));
  w.create('/app/nulldata', null);
  w.create('/app/lock', null, 0x100n, 0x100n);
  w.create('/app/lock2', utf8('e'), 0x200n, 0x200n);
  w.create('/container', null, CONTAINER_OWNER);
  w.create('/container/child');
  w.create('/ttl', utf8('t'), TTL_OWNER_BASE | 5000n);
  w.setData('/app/config', utf8('{"x":2}'));
  w.setACL('/app/config', [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }, { perms: 31, id: { scheme: 'digest', id: 'u:abc=' } }]);
  w.multiCreate('/app/m1', '/app/m2');
  w.apply(1n, { type: 'multi', ops: [{ type: 'check', path: '/app' }, { type: 'setData', path: '/app/m1', data: utf8('mm'), version: 1 }, { type: 'delete', path: '/app/m2' }] });
  w.apply(1n, { type: 'error', err: -101 });
  w.apply(1n, { type: 'multi', ops: [{ type: 'error', err: 0 }, { type: 'error', err: -110 }] });
  w.delete('/container/child');
  w.apply(0x200n, { type: 'closeSession' });
  for (let i = 0; i < 20; i++) w.create(`/app/n${i}`, utf8(`value-${i}-${'x'.repeat(i * 7)}`));
  return w;
}

function ephemeralView(tree: DataTree): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [owner, paths] of tree.ephemeralSessions()) if (paths.size > 0) out[owner.toString(16)] = [...paths].sort();
  return out;
}

/** Everything recovery must reproduce, not only what the digest covers. */
export function treeState(tree: DataTree) {
  return {
    digest: tree.digest(),
    lastZxid: tree.lastZxid,
    nodeCount: tree.nodeCount,
    dataBytes: tree.approximateDataSize,
    ephemerals: ephemeralView(tree),
    containers: [...tree.containerPaths()].sort(),
    ttls: [...tree.ttlPaths()].sort(),
  };
}
