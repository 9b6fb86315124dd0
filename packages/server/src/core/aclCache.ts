import type { ACL } from '@corral/protocol';

/**
 * Nodes share one frozen array per distinct ACL list (most trees use a handful), as ZooKeeper's
 * ACL cache does; reference counts drop lists no node uses any more, so unique ACLs cannot pile up.
 */
export class AclCache {
  readonly #entries = new Map<string, { acl: readonly ACL[]; refs: number }>();
  /** The cache's own frozen lists: a node's list is found again without building its key. */
  readonly #byList = new WeakMap<readonly ACL[], { key: string; entry: { acl: readonly ACL[]; refs: number } }>();
  /** The last list handed in and its entry: snapshot loading passes the same list node after node. */
  #lastInput: readonly ACL[] | undefined;
  #lastEntry: { acl: readonly ACL[]; refs: number } | undefined;

  get size(): number {
    return this.#entries.size;
  }

  static #key(acl: readonly ACL[]): string {
    if (acl.length === 1) return `${acl[0]!.perms}\u0000${acl[0]!.id.scheme}\u0000${acl[0]!.id.id}`;
    return acl.map((a) => `${a.perms}\u0000${a.id.scheme}\u0000${a.id.id}`).join('\u0001');
  }

  intern(acl: readonly ACL[]): ACL[] {
    // Fast paths: a list this cache handed out, or the list handed in last time (callers never change a list they handed in).
    const known = this.#byList.get(acl)?.entry ?? (acl === this.#lastInput ? this.#lastEntry : undefined);
    if (known && known.refs > 0) {
      known.refs++;
      return known.acl as ACL[];
    }
    const key = AclCache.#key(acl);
    let entry = this.#entries.get(key);
    if (!entry) {
      const frozen = Object.freeze(acl.map((a) => Object.freeze({ perms: a.perms, id: Object.freeze({ scheme: a.id.scheme, id: a.id.id }) })));
      this.#entries.set(key, (entry = { acl: frozen, refs: 0 }));
      this.#byList.set(frozen, { key, entry });
    }
    entry.refs++;
    this.#lastInput = acl;
    this.#lastEntry = entry;
    return entry.acl as ACL[];
  }

  release(acl: readonly ACL[]): void {
    const key = this.#byList.get(acl)?.key ?? AclCache.#key(acl);
    const entry = this.#entries.get(key);
    if (entry && --entry.refs === 0) this.#entries.delete(key);
  }
}
