import type { ACL } from '@corral/protocol';

/**
 * Nodes share one frozen array per distinct ACL list (most trees use a handful), as ZooKeeper's
 * ACL cache does; reference counts drop lists no node uses any more, so unique ACLs cannot pile up.
 */
export class AclCache {
  readonly #entries = new Map<string, { acl: readonly ACL[]; refs: number }>();
  readonly #byList = new WeakMap<readonly ACL[], { key: string; entry: { acl: readonly ACL[]; refs: number } }>();

  get size(): number {
    return this.#entries.size;
  }

  static #key(acl: readonly ACL[]): string {
    return acl.map((a) => `${a.perms}\u0000${a.id.scheme}\u0000${a.id.id}`).join('\u0001');
  }

  intern(acl: readonly ACL[]): ACL[] {
    // Fast path: a list this cache handed out before (snapshot loading passes the same one node after node).
    const known = this.#byList.get(acl);
    if (known && this.#entries.get(known.key) === known.entry) {
      known.entry.refs++;
      return known.entry.acl as ACL[];
    }
    const key = AclCache.#key(acl);
    let entry = this.#entries.get(key);
    if (!entry) {
      const frozen = Object.freeze(acl.map((a) => Object.freeze({ perms: a.perms, id: Object.freeze({ scheme: a.id.scheme, id: a.id.id }) })));
      this.#entries.set(key, (entry = { acl: frozen, refs: 0 }));
      this.#byList.set(frozen, { key, entry });
    }
    entry.refs++;
    // The caller's list maps to this entry too: callers never change a list they handed in.
    this.#byList.set(acl, { key, entry });
    return entry.acl as ACL[];
  }

  release(acl: readonly ACL[]): void {
    const key = AclCache.#key(acl);
    const entry = this.#entries.get(key);
    if (entry && --entry.refs === 0) this.#entries.delete(key);
  }
}
