import { createHash } from 'node:crypto';
import { byteStringOf, EventType, zeroStat, type ACL, type Stat } from '@corral/protocol';
import { OPEN_ACL_UNSAFE, READ_ACL_UNSAFE } from './acl.js';
import { AclCache } from './aclCache.js';
import { childPath, parentOf } from './path.js';
import { ownerKind, type Txn, type TxnBody } from './txn.js';

export interface ZNode {
  /** The data as a byte string (one char per byte; see byteString.ts in @corral/protocol). */
  data: string | null;
  acl: ACL[];
  czxid: bigint;
  mzxid: bigint;
  pzxid: bigint;
  ctime: bigint;
  mtime: bigint;
  version: number;
  /** Internal child-creation counter: the sequential suffix; clients see 2*cversion - numChildren. */
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  /** Child names. Leaves (most nodes) share NO_CHILDREN; only the tree adds to a node's own set. */
  children: ReadonlySet<string>;
}

/** One empty set for every leaf, so a million leaves do not carry a million empty Sets. */
export const NO_CHILDREN: ReadonlySet<string> = new Set<string>();

function addChild(node: ZNode, name: string): void {
  if (node.children === NO_CHILDREN) node.children = new Set([name]);
  else (node.children as Set<string>).add(name);
}

function removeChild(node: ZNode, name: string): void {
  if (node.children === NO_CHILDREN) return;
  (node.children as Set<string>).delete(name);
  if (node.children.size === 0) node.children = NO_CHILDREN;
}

/** A change the watch registry must hear about. */
export interface TreeEvent {
  type: EventType;
  path: string;
  /** ACL of the node the event is about (the parent for NodeChildrenChanged): watchers without READ do not hear it. */
  acl: readonly ACL[];
}

/** What applying one (sub-)txn produced, in the shape the reply needs. */
export type ApplyResult =
  | { type: 'create'; path: string; stat: Stat; op: 'create' | 'create2' | 'createContainer' | 'createTTL' }
  | { type: 'delete' }
  | { type: 'setData'; stat: Stat }
  | { type: 'setACL'; stat: Stat }
  | { type: 'check' }
  | { type: 'multi'; results: ApplyResult[] }
  | { type: 'error'; err: number }
  | { type: 'session' };

/** Thrown when a txn does not fit the tree: a replica bug, never a client error (prep checked everything). */
export class TreeInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TreeInvariantError';
  }
}

/** A node as a create txn makes it: every zxid and time the txn's, no children yet. */
export function newNode(data: string | null, acl: ACL[], zxid: bigint, timeMs: bigint, owner: bigint): ZNode {
  return {
    data,
    acl,
    czxid: zxid,
    mzxid: zxid,
    pzxid: zxid,
    ctime: timeMs,
    mtime: timeMs,
    version: 0,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: owner,
    children: NO_CHILDREN,
  };
}

/** Txn times as BigInts, one shared by all the txns of a millisecond (a BigInt is 24 bytes a node). */
export class SharedTimes {
  #ms = 0;
  #time = 0n;

  of(ms: number): bigint {
    if (ms !== this.#ms) {
      this.#ms = ms;
      this.#time = BigInt(ms);
    }
    return this.#time;
  }
}

/** The in-memory znode tree. Changes only through apply(txn), in zxid order. */
export class DataTree {
  readonly #nodes = new Map<string, ZNode>();
  readonly #ephemerals = new Map<bigint, Set<string>>();
  readonly #acls = new AclCache();
  #containers = new Set<string>();
  #ttls = new Set<string>();
  #lastZxid = 0n;
  #dataBytes = 0;
  readonly #times = new SharedTimes();

  constructor() {
    const empty = '';
    this.#nodes.set('/', newNode(empty, this.#acls.intern(OPEN_ACL_UNSAFE), 0n, 0n, 0n));
    this.#nodes.set('/zookeeper', newNode(empty, this.#acls.intern(OPEN_ACL_UNSAFE), 0n, 0n, 0n));
    this.#nodes.set('/zookeeper/quota', newNode(empty, this.#acls.intern(OPEN_ACL_UNSAFE), 0n, 0n, 0n));
    const config = newNode(empty, this.#acls.intern(READ_ACL_UNSAFE), 0n, 0n, 0n);
    config.aversion = -1;
    this.#nodes.set('/zookeeper/config', config);
    addChild(this.#nodes.get('/')!, 'zookeeper');
    addChild(this.#nodes.get('/zookeeper')!, 'quota');
    addChild(this.#nodes.get('/zookeeper')!, 'config');
  }

  get lastZxid(): bigint {
    return this.#lastZxid;
  }

  get nodeCount(): number {
    return this.#nodes.size;
  }

  /** Distinct ACL lists in use. */
  get aclCount(): number {
    return this.#acls.size;
  }

  get approximateDataSize(): number {
    return this.#dataBytes;
  }

  get(path: string): ZNode | undefined {
    return this.#nodes.get(path);
  }

  ephemeralsOf(sessionId: bigint): ReadonlySet<string> {
    return this.#ephemerals.get(sessionId) ?? new Set();
  }

  ephemeralSessions(): ReadonlyMap<bigint, ReadonlySet<string>> {
    return this.#ephemerals;
  }

  containerPaths(): ReadonlySet<string> {
    return this.#containers;
  }

  ttlPaths(): ReadonlySet<string> {
    return this.#ttls;
  }

  /** The Stat clients see: cversion counts creations and deletions; containers and TTL nodes show owner 0. */
  statOf(node: ZNode): Stat {
    const kind = ownerKind(node.ephemeralOwner);
    return {
      czxid: node.czxid,
      mzxid: node.mzxid,
      ctime: node.ctime,
      mtime: node.mtime,
      version: node.version,
      cversion: node.cversion * 2 - node.children.size,
      aversion: node.aversion,
      ephemeralOwner: kind === 'ephemeral' ? node.ephemeralOwner : 0n,
      dataLength: node.data?.length ?? 0,
      numChildren: node.children.size,
      pzxid: node.pzxid,
    };
  }

  /** Number of descendants (not counting the node itself). */
  countDescendants(path: string): number {
    const node = this.#nodes.get(path);
    if (!node) return 0;
    let total = 0;
    const stack = [path];
    while (stack.length > 0) {
      const current = stack.pop()!;
      for (const name of this.#nodes.get(current)!.children) {
        total++;
        stack.push(childPath(current, name));
      }
    }
    return total;
  }

  /** Applies one committed txn; zxids must increase. Returns the result for the reply and the events for watches. */
  apply(txn: Txn): { result: ApplyResult; events: TreeEvent[] } {
    if (txn.zxid <= this.#lastZxid) throw new TreeInvariantError(`txn zxid 0x${txn.zxid.toString(16)} not after 0x${this.#lastZxid.toString(16)}`);
    const events: TreeEvent[] = [];
    const result = this.#applyBody(txn, txn.body, events);
    this.#lastZxid = txn.zxid;
    return { result, events };
  }

  /**
   * Applies a logged txn on top of a fuzzy snapshot, which may already reflect it (the snapshot was
   * written while txns kept being applied). Every txn is made harmless to repeat: a create of an
   * existing node only repairs its parent's counters, changes to missing nodes are skipped, and a
   * delete removes whatever the snapshot holds below the node (those children were created later,
   * so their own creates follow in the log).
   */
  replay(txn: Txn): void {
    this.#replaying = true;
    try {
      this.apply(txn);
    } finally {
      this.#replaying = false;
    }
  }

  #replaying = false;

  /** Every node, parents before children (a child is always inserted after its parent). */
  nodes(): IterableIterator<[string, ZNode]> {
    return this.#nodes.entries();
  }

  /** Restores one node from a snapshot; its parent must already be restored. */
  restoreNode(path: string, node: ZNode): void {
    if (path !== '/') {
      const parentPath = parentOf(path);
      const parent = this.#nodes.get(parentPath);
      if (!parent) throw new TreeInvariantError(`snapshot node ${path} comes before its parent`);
      addChild(parent, path.slice(parentPath === '/' ? 1 : parentPath.length + 1));
    }
    const previous = this.#nodes.get(path);
    if (previous) {
      // A fuzzy snapshot can hold a path twice (deleted and re-created while it was written): the later
      // entry wins, and the earlier owner must forget it (else its closeSession would delete the new node).
      this.#dataBytes -= previous.data?.length ?? 0;
      node.children = previous.children;
      this.#acls.release(previous.acl);
      this.#untrack(path, previous.ephemeralOwner);
    }
    node.acl = this.#acls.intern(node.acl);
    this.#nodes.set(path, node);
    this.#dataBytes += node.data?.length ?? 0;
    this.#track(path, node.ephemeralOwner);
  }

  #untrack(path: string, owner: bigint): void {
    switch (ownerKind(owner)) {
      case 'ephemeral':
        this.#ephemerals.get(owner)?.delete(path);
        break;
      case 'container':
        this.#containers.delete(path);
        break;
      case 'ttl':
        this.#ttls.delete(path);
        break;
      case 'none':
        break;
    }
  }

  #track(path: string, owner: bigint): void {
    switch (ownerKind(owner)) {
      case 'ephemeral': {
        let set = this.#ephemerals.get(owner);
        if (!set) this.#ephemerals.set(owner, (set = new Set()));
        set.add(path);
        break;
      }
      case 'container':
        this.#containers.add(path);
        break;
      case 'ttl':
        this.#ttls.add(path);
        break;
      case 'none':
        break;
    }
  }

  /** Sets the last applied zxid after loading a snapshot. */
  setLastZxid(zxid: bigint): void {
    this.#lastZxid = zxid;
  }

  #applyBody(txn: Txn, body: TxnBody, events: TreeEvent[]): ApplyResult {
    switch (body.type) {
      case 'createSession':
        return { type: 'session' };
      case 'closeSession': {
        const paths = [...(this.#ephemerals.get(txn.sessionId) ?? [])].sort();
        for (const path of paths) this.#delete(path, txn.zxid, events);
        this.#ephemerals.delete(txn.sessionId);
        return { type: 'session' };
      }
      case 'create':
        return this.#create(txn, body, events);
      case 'delete':
        this.#delete(body.path, txn.zxid, events);
        return { type: 'delete' };
      case 'setData': {
        if (this.#replaying && !this.#nodes.has(body.path)) return { type: 'setData', stat: zeroStat() };
        const node = this.#mustGet(body.path);
        this.#dataBytes += (body.data?.length ?? 0) - (node.data?.length ?? 0);
        node.data = byteStringOf(body.data);
        node.version = body.version;
        node.mzxid = txn.zxid;
        node.mtime = this.#times.of(txn.timeMs);
        events.push({ type: EventType.NodeDataChanged, path: body.path, acl: node.acl });
        return { type: 'setData', stat: this.statOf(node) };
      }
      case 'setACL': {
        if (this.#replaying && !this.#nodes.has(body.path)) return { type: 'setACL', stat: zeroStat() };
        const node = this.#mustGet(body.path);
        this.#acls.release(node.acl);
        node.acl = this.#acls.intern(body.acl);
        node.aversion = body.version;
        return { type: 'setACL', stat: this.statOf(node) };
      }
      case 'check':
        return { type: 'check' };
      case 'multi':
        return { type: 'multi', results: body.ops.map((op) => this.#applyBody(txn, op, events)) };
      case 'error':
        return { type: 'error', err: body.err };
    }
  }

  #mustGet(path: string): ZNode {
    const node = this.#nodes.get(path);
    if (!node) throw new TreeInvariantError(`txn refers to missing node ${path}`);
    return node;
  }

  #create(txn: Txn, body: Extract<TxnBody, { type: 'create' }>, events: TreeEvent[]): ApplyResult {
    const parentPath = parentOf(body.path);
    const parent = this.#mustGet(parentPath);
    const existing = this.#nodes.get(body.path);
    if (existing && this.#replaying) {
      if (body.parentCVersion > parent.cversion) parent.cversion = body.parentCVersion;
      if (txn.zxid > parent.pzxid) parent.pzxid = txn.zxid;
      return { type: 'create', path: body.path, stat: this.statOf(existing), op: body.op };
    }
    if (existing) throw new TreeInvariantError(`create of existing node ${body.path}`);
    const node = newNode(byteStringOf(body.data), this.#acls.intern(body.acl), txn.zxid, this.#times.of(txn.timeMs), body.ephemeralOwner);
    this.#nodes.set(body.path, node);
    addChild(parent, body.path.slice(parentPath === '/' ? 1 : parentPath.length + 1));
    parent.cversion = body.parentCVersion;
    parent.pzxid = txn.zxid;
    this.#dataBytes += body.data?.length ?? 0;
    this.#track(body.path, body.ephemeralOwner);
    events.push({ type: EventType.NodeCreated, path: body.path, acl: node.acl }, { type: EventType.NodeChildrenChanged, path: parentPath, acl: parent.acl });
    return { type: 'create', path: body.path, stat: this.statOf(node), op: body.op };
  }

  #delete(path: string, zxid: bigint, events: TreeEvent[]): void {
    if (this.#replaying && !this.#nodes.has(path)) {
      // Deleted before the fuzzy snapshot reached it, but its parent may have been written before the
      // delete: the parent's pzxid must still move (as ZooKeeper's DataTree.deleteNode does).
      const parent = this.#nodes.get(parentOf(path));
      if (parent && zxid > parent.pzxid) parent.pzxid = zxid;
      return;
    }
    const node = this.#mustGet(path);
    if (node.children.size > 0 && this.#replaying) {
      for (const name of [...node.children]) this.#delete(childPath(path, name), zxid, events);
    }
    if (node.children.size > 0) throw new TreeInvariantError(`delete of non-empty node ${path}`);
    const parentPath = parentOf(path);
    const parent = this.#mustGet(parentPath);
    this.#nodes.delete(path);
    removeChild(parent, path.slice(parentPath === '/' ? 1 : parentPath.length + 1));
    parent.pzxid = zxid;
    this.#dataBytes -= node.data?.length ?? 0;
    this.#acls.release(node.acl);
    this.#untrack(path, node.ephemeralOwner);
    events.push({ type: EventType.NodeDeleted, path, acl: node.acl }, { type: EventType.NodeChildrenChanged, path: parentPath, acl: parent.acl });
  }

  /** A digest of the whole tree (paths, data, ACLs, stats) for comparing replicas and restarts. */
  digest(): string {
    const hash = createHash('sha256');
    for (const path of [...this.#nodes.keys()].sort()) {
      const node = this.#nodes.get(path)!;
      const stat = this.statOf(node);
      hash.update(path).update('\0');
      hash.update(node.data === null ? '-' : Buffer.from(node.data, 'latin1').toString('base64')).update('\0');
      hash.update(JSON.stringify(node.acl)).update('\0');
      hash.update(Object.values(stat).join(',')).update(node.ephemeralOwner.toString()).update('\n');
    }
    return hash.digest('hex');
  }
}

