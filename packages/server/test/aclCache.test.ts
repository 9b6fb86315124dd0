import { describe, expect, it } from 'vitest';
import { DataTree } from '../src/core/tree.js';
import type { Txn, TxnBody } from '../src/core/txn.js';

const world = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
const unique = (i: number) => [{ perms: 31, id: { scheme: 'digest', id: `user${i}:hash` } }];

function applier() {
  const tree = new DataTree();
  let zxid = 0x100000000n;
  const apply = (body: TxnBody) => tree.apply({ zxid: ++zxid, sessionId: 0n, cxid: 0, timeMs: 1, body } as Txn);
  return { tree, apply };
}

describe('ACL lists are shared between nodes and dropped when no node uses them', () => {
  it('nodes with equal ACLs share one frozen list', () => {
    const { tree, apply } = applier();
    apply({ type: 'create', path: '/a', data: null, acl: world.map((a) => ({ ...a })), ephemeralOwner: 0n, parentCVersion: 1, op: 'create' });
    apply({ type: 'create', path: '/b', data: null, acl: world.map((a) => ({ ...a })), ephemeralOwner: 0n, parentCVersion: 2, op: 'create' });
    expect(tree.get('/a')!.acl).toBe(tree.get('/b')!.acl);
    expect(Object.isFrozen(tree.get('/a')!.acl)).toBe(true);
  });

  it('unique ACLs do not pile up: deletes and setACL release them', () => {
    const { tree, apply } = applier();
    const baseline = tree.aclCount;
    for (let i = 0; i < 100; i++) apply({ type: 'create', path: `/n${i}`, data: null, acl: unique(i), ephemeralOwner: 0n, parentCVersion: i + 1, op: 'create' });
    expect(tree.aclCount).toBe(baseline + 100);
    for (let i = 0; i < 50; i++) apply({ type: 'delete', path: `/n${i}` });
    for (let i = 50; i < 100; i++) apply({ type: 'setACL', path: `/n${i}`, acl: world, version: 1 });
    expect(tree.aclCount).toBe(baseline);
  });
});
