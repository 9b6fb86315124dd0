import { ACL, JuteReader, byteStringOf, vector } from '@corral/protocol';
import { DataTree, SharedTimes, TreeInvariantError, newNode, type ZNode } from '../core/tree.js';
import { parentOf } from '../core/path.js';
import { ownerKind, type Txn, type TxnBody } from '../core/txn.js';
import { listByZxid, versionDir, zxidHex } from './files.js';
import { decodeForMerge, type LoggedCreate, type LoggedTxn } from './loggedTxn.js';
import { readLoggedTxns } from './logReader.js';
import { SnapshotError, SnapshotFileWriter, SnapshotReader, decodeEntry, entryPath, sessionEntries, type SessionEntry } from './snapshot.js';

/**
 * Snapshots without the live tree: the newest exact snapshot plus the logged txns after it give the
 * next exact snapshot, the way an LSM tree compacts. Runs in the snapshot worker, so the thread that
 * serves clients never serialises the tree; memory is bounded by the paths the txns touched, not by
 * the size of the tree.
 */

type Fields = Partial<Pick<ZNode, 'data' | 'acl' | 'mzxid' | 'pzxid' | 'mtime' | 'version' | 'cversion' | 'aversion'>>;

/** Where a created node's path, data and ACL still lie in the log (see LoggedCreate): node.data and node.acl are not filled in. */
interface LoggedHead {
  segment: Uint8Array;
  start: number;
  end: number;
}

/** What the txns did to one path since the base snapshot. */
type Change = { kind: 'node'; node: ZNode; head?: LoggedHead } | { kind: 'deleted' } | { kind: 'patch'; fields: Fields };

const AclVector = vector(ACL);

/**
 * The txns after a base snapshot, folded path by path: a created node in full, a deleted path, or the
 * fields that changed on a node of the base. Applies txns exactly as DataTree.apply does.
 */
export class TreeDelta {
  readonly changes = new Map<string, Change>();
  /**
   * Paths of the changes that concern a node of the base: a first change that is a patch or a delete
   * finds the node there (a first create cannot). Every other base node is copied without a lookup.
   */
  readonly basePaths = new Set<string>();
  readonly sessions: Map<bigint, number>;
  readonly #ephemerals = new Map<bigint, Set<string>>();
  readonly #ephemeralOwner = new Map<string, bigint>();

  /** `ephemerals`: the base's ephemeral nodes and their sessions (closeSession deletes them). */
  constructor(sessions: readonly SessionEntry[], ephemerals: Iterable<[string, bigint]>) {
    this.sessions = new Map(sessions.map((s) => [s.id, s.timeoutMs]));
    for (const [path, owner] of ephemerals) this.#trackEphemeral(path, owner);
  }

  apply(txn: Txn): void {
    this.#apply(txn, txn.body);
  }

  /** As apply, for a txn read by decodeForMerge: a plain create keeps its bytes in the log. */
  applyLogged(logged: LoggedTxn): void {
    switch (logged.kind) {
      case 'other':
        return this.apply(logged.txn);
      case 'create':
        return this.#createLogged(logged);
      case 'setData':
        return this.#update(logged.path, { data: logged.data, version: logged.version, mzxid: logged.zxid, mtime: this.#times.of(logged.timeMs) });
    }
  }

  #createLogged(create: LoggedCreate): void {
    const node = newNode(null, [], create.zxid, this.#times.of(create.timeMs), create.ephemeralOwner);
    this.#addNode(create.path, node, create.zxid, create.parentCVersion, { segment: create.segment, start: create.headStart, end: create.headEnd });
  }

  #addNode(path: string, node: ZNode, zxid: bigint, parentCVersion: number, head?: LoggedHead): void {
    if (this.changes.get(path)?.kind === 'node') throw new TreeInvariantError(`create of existing node ${path}`);
    this.changes.set(path, head ? { kind: 'node', node, head } : { kind: 'node', node });
    if (ownerKind(node.ephemeralOwner) === 'ephemeral') this.#trackEphemeral(path, node.ephemeralOwner);
    this.#update(parentOf(path), { cversion: parentCVersion, pzxid: zxid });
  }

  readonly #times = new SharedTimes();

  #apply(txn: Txn, body: TxnBody): void {
    switch (body.type) {
      case 'createSession':
        this.sessions.set(txn.sessionId, body.timeoutMs);
        return;
      case 'closeSession': {
        for (const path of [...(this.#ephemerals.get(txn.sessionId) ?? [])].sort()) this.#delete(path, txn.zxid);
        this.#ephemerals.delete(txn.sessionId);
        this.sessions.delete(txn.sessionId);
        return;
      }
      case 'create':
        this.#addNode(body.path, newNode(byteStringOf(body.data), body.acl, txn.zxid, this.#times.of(txn.timeMs), body.ephemeralOwner), txn.zxid, body.parentCVersion);
        return;
      case 'delete':
        this.#delete(body.path, txn.zxid);
        return;
      case 'setData':
        this.#update(body.path, { data: byteStringOf(body.data), version: body.version, mzxid: txn.zxid, mtime: this.#times.of(txn.timeMs) });
        return;
      case 'setACL':
        this.#update(body.path, { acl: body.acl, aversion: body.version });
        return;
      case 'multi':
        for (const op of body.ops) this.#apply(txn, op);
        return;
      case 'check':
      case 'error':
        return;
    }
  }

  #delete(path: string, zxid: bigint): void {
    const prior = this.changes.get(path);
    if (prior?.kind === 'deleted') throw new TreeInvariantError(`delete of missing node ${path}`);
    if (!prior) this.basePaths.add(path);
    this.changes.set(path, { kind: 'deleted' });
    const owner = this.#ephemeralOwner.get(path);
    if (owner !== undefined) {
      this.#ephemeralOwner.delete(path);
      this.#ephemerals.get(owner)?.delete(path);
    }
    this.#update(parentOf(path), { pzxid: zxid });
  }

  #update(path: string, fields: Fields): void {
    const change = this.changes.get(path);
    if (!change) {
      this.changes.set(path, { kind: 'patch', fields });
      this.basePaths.add(path);
    } else if (change.kind === 'patch') Object.assign(change.fields, fields);
    else if (change.kind === 'node') {
      if (change.head && (fields.data !== undefined || fields.acl !== undefined)) {
        fillFromLog(change.node, change.head);
        change.head = undefined;
      }
      Object.assign(change.node, fields);
    } else throw new TreeInvariantError(`txn changes deleted node ${path}`);
  }

  /** Ephemeral nodes after the txns applied so far: (path, owner). */
  *ephemeralNodes(): Generator<[string, bigint]> {
    yield* this.#ephemeralOwner;
  }

  #trackEphemeral(path: string, owner: bigint): void {
    let paths = this.#ephemerals.get(owner);
    if (!paths) this.#ephemerals.set(owner, (paths = new Set()));
    paths.add(path);
    this.#ephemeralOwner.set(path, owner);
  }
}

/** Decodes the data and ACL a created node still has in the log (its bytes there begin with the path). */
function fillFromLog(node: ZNode, head: LoggedHead): void {
  const r = new JuteReader(head.segment, { start: head.start, end: head.end });
  r.ustring();
  node.data = r.byteString();
  node.acl = AclVector.read(r);
}

/**
 * Where a merge starts: a snapshot file (unchanged entries are copied byte for byte), or the empty
 * tree. `forEach` hands over each node with ways to read its path, copy it as it is or decode it,
 * until `visit` returns false: every node after that is copied as it is, unread.
 */
interface Base {
  zxid: bigint;
  sessions: readonly SessionEntry[];
  ephemerals: Iterable<[string, bigint]>;
  forEach(visit: (path: () => string, copy: () => void, decode: () => ZNode) => boolean, writer: SnapshotFileWriter): void;
}

/** A snapshot file as a base; refuses a fuzzy one (only a log replay makes that right). */
function fileBase(file: string): Base & { close(): void } {
  const reader = new SnapshotReader(file);
  if (!reader.exact) {
    reader.close();
    throw new SnapshotError(file, 'fuzzy snapshot: cannot merge onto it');
  }
  return {
    zxid: reader.zxid,
    sessions: reader.sessions,
    ephemerals: reader.ephemerals,
    forEach(visit, writer) {
      const copy = () => writer.rawEntry(reader.buffer, reader.entryStart, reader.entryEnd);
      const decode = () => decodeEntry(reader.buffer.subarray(reader.entryStart, reader.entryEnd)).node;
      const path = () => entryPath(reader.buffer, reader.entryStart, reader.entryEnd);
      while (reader.nextEntry()) {
        if (visit(path, copy, decode)) continue;
        // The rest in runs of whole read buffers: no per-entry work on a big tree's unchanged nodes.
        for (;;) {
          const count = reader.nextRun();
          if (count > 0) writer.rawEntries(reader.buffer, reader.runStart, reader.runEnd, count);
          else if (reader.nextEntry()) copy();
          else return;
        }
      }
    },
    close: () => reader.close(),
  };
}

/** The tree before the first txn: the base when there is no snapshot yet. */
function emptyBase(): Base {
  const tree = new DataTree();
  return {
    zxid: 0n,
    sessions: [],
    ephemerals: [],
    forEach(visit, writer) {
      let visiting = true;
      for (const [path, node] of tree.nodes()) {
        if (visiting) visiting = visit(() => path, () => writer.node(path, node), () => ({ ...node }));
        else writer.node(path, node);
      }
    },
  };
}

export interface MergeResult {
  file: string;
  zxid: bigint;
  nodes: number;
  /** The snapshot merged onto (undefined: the empty tree). */
  base: string | undefined;
  txns: number;
}

export interface MergeOptions {
  dataDir: string;
  dataLogDir: string;
  zxid: bigint;
  /** Pace of writing the new snapshot (unset: as fast as the disk takes it). */
  writeBytesPerSecond?: number;
  onSkip?: (file: string, reason: string) => void;
}

/**
 * Writes the exact snapshot at `zxid` (which must be durable in the log): the newest exact snapshot
 * before it that validates, plus the logged txns after that one. A damaged or fuzzy snapshot is
 * skipped for the one before it; with none, the log is replayed from the empty tree.
 */
export async function mergeSnapshot(options: MergeOptions): Promise<MergeResult> {
  const candidates = (await listByZxid(versionDir(options.dataDir), 'snapshot')).filter((s) => s.zxid <= options.zxid).reverse();
  for (const candidate of candidates) {
    try {
      const base = fileBase(candidate.file);
      try {
        return await mergeOnto(base, candidate.file, options);
      } finally {
        base.close();
      }
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error;
      options.onSkip?.(candidate.file, error.message);
    }
  }
  return mergeOnto(emptyBase(), undefined, options);
}

function writeNode(writer: SnapshotFileWriter, path: string, change: Extract<Change, { kind: 'node' }>): void {
  if (change.head) writer.loggedNode(change.head.segment, change.head.start, change.head.end, change.node);
  else writer.node(path, change.node);
}

async function mergeOnto(base: Base, baseFile: string | undefined, options: MergeOptions): Promise<MergeResult> {
  if (baseFile && base.zxid === options.zxid) return { file: baseFile, zxid: base.zxid, nodes: -1, base: baseFile, txns: 0 };
  const delta = new TreeDelta(base.sessions, base.ephemerals);
  let txns = 0;
  await readLoggedTxns(
    options.dataLogDir,
    base.zxid,
    (txn: LoggedTxn) => {
      delta.applyLogged(txn);
      txns++;
    },
    options.zxid,
    decodeForMerge,
  );
  const writer = new SnapshotFileWriter(options.dataDir, options.zxid, sessionEntries(delta.sessions), { ephemerals: delta.ephemeralNodes() }, { bytesPerSecond: options.writeBytesPerSecond });
  try {
    const { changes, basePaths } = delta;
    // Base nodes the txns touched and the loop has not met yet; once none are left, the rest is copied unread.
    let unmet = basePaths.size;
    base.forEach((pathOf, copy, decode) => {
      if (unmet === 0) {
        copy();
        return false;
      }
      const path = pathOf();
      if (!basePaths.has(path)) {
        copy();
        return true;
      }
      unmet--;
      const change = changes.get(path)!;
      changes.delete(path);
      if (change.kind === 'node') writeNode(writer, path, change);
      else if (change.kind === 'patch') writer.node(path, Object.assign(decode(), change.fields));
      return unmet > 0;
    }, writer);
    // Nodes the base did not have, parents first: a parent is created before its child, and within
    // one multi txn (same zxid) a parent's path is the shorter.
    const created: [string, Extract<Change, { kind: 'node' }>][] = [];
    for (const [path, change] of changes) {
      if (change.kind === 'node') created.push([path, change]);
      else if (change.kind === 'patch') throw new TreeInvariantError(`txns change ${path}, which the snapshot at 0x${zxidHex(base.zxid)} does not have`);
    }
    created.sort(([pa, { node: a }], [pb, { node: b }]) => (a.czxid < b.czxid ? -1 : a.czxid > b.czxid ? 1 : pa.length - pb.length));
    for (const [path, change] of created) writeNode(writer, path, change);
    const written = writer.finish();
    return { ...written, base: baseFile, txns };
  } catch (error) {
    writer.abort();
    throw error;
  }
}
