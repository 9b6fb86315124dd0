import { closeSync, fdatasyncSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { ACL, DecodeError, JuteReader, JuteWriter, byteString, int, long, record, string, vector, type Infer } from '@corral/protocol';
import { DataTree, NO_CHILDREN, type ZNode } from '../core/tree.js';
import { syncDirSync, versionDir, zxidHex } from './files.js';

/**
 * Snapshot layout (streamed both ways, never a second copy of the tree in memory):
 *   int magic "CRSN", int version, long zxid (last applied txn when the snapshot started)
 *   int session count, then (long id, int timeoutMs) pairs
 *   node entries: int length N > 0, then N bytes of SnapshotNode; int 0 ends the list
 *   int crc32 of every byte before it, int magic "CREN"
 * Nodes come parents first. Version 2 is exact: the tree as it was at zxid (written by the snapshot
 * worker's merge, or at start-up). Version 1 is fuzzy: the tree kept changing while it was written;
 * recovery replays the log from the snapshot's zxid, which repairs any txn half-reflected in it.
 */
export const SNAP_MAGIC = 0x4352534e;
const SNAP_END_MAGIC = 0x4352454e;
/** Written while the tree kept changing: only the log replay after it makes it right. */
const SNAP_VERSION_FUZZY = 1;
/** The tree exactly as it was at the snapshot's zxid: what a merge can start from. */
const SNAP_VERSION_EXACT = 2;
const WRITE_BYTES = 256 * 1024;
/**
 * Flush written data to disk every this many bytes rather than all at the end: one fsync of a
 * whole snapshot keeps the disk busy long enough to stall the txn log's synced writes behind it
 * (acknowledged writes wait); a MiB at a time lets the log's writes in between.
 */
const SYNC_EVERY_BYTES = 1024 * 1024;
const READ_BYTES = 1024 * 1024;
/** No entry is larger: data is at most jute.maxbuffer (1 MiB by default), far below this. */
const MAX_ENTRY_BYTES = 64 * 1024 * 1024;

/** An entry's fields after path, data and ACL. */
const STAT_FIELDS = {
  czxid: long,
  mzxid: long,
  pzxid: long,
  ctime: long,
  mtime: long,
  version: int,
  cversion: int,
  aversion: int,
  ephemeralOwner: long,
};
const SnapshotNode = record('SnapshotNode', { path: string, data: byteString, acl: vector(ACL), ...STAT_FIELDS });
const SnapshotNodeStat = record('SnapshotNodeStat', STAT_FIELDS);

export class SnapshotError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SnapshotError';
  }
}

export interface SessionEntry {
  id: bigint;
  timeoutMs: number;
}

/** Sessions kept as id → timeout, as snapshot entries. */
export function sessionEntries(sessions: Iterable<[bigint, number]>): SessionEntry[] {
  return [...sessions].map(([id, timeoutMs]) => ({ id, timeoutMs }));
}

/**
 * Writes one snapshot file: header, entries, terminator, checksum trailer; then fsync and rename of
 * the temp file. Synchronous I/O in 256 KiB writes: it runs in the snapshot worker, or on the main
 * thread only where nothing else runs (start-up) or where the caller yields between entries.
 */
export class SnapshotFileWriter {
  readonly file: string;
  readonly #tmp: string;
  readonly #fd: number;
  readonly #w = new JuteWriter(WRITE_BYTES + 1024);
  #checksum = 0;
  #nodes = 0;
  #unsyncedBytes = 0;
  #writtenBytes = 0;
  readonly #startedAt = performance.now();
  readonly #bytesPerSecond: number;
  /** One record object reused for every node: a million nodes should not mean a million temporaries. */
  readonly #scratch: Infer<typeof SnapshotNode> = { path: '/', data: null, acl: [], czxid: 0n, mzxid: 0n, pzxid: 0n, ctime: 0n, mtime: 0n, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n };

  /**
   * `exact`: the snapshot is the tree exactly at zxid, whose ephemeral nodes are these (path, owner).
   * `bytesPerSecond` paces the writing (the snapshot worker; it sleeps between writes): a snapshot
   * written as fast as the disk takes it queues tens of MiB ahead of every synced log write.
   */
  constructor(dataDir: string, readonly zxid: bigint, sessions: readonly SessionEntry[], exact?: { ephemerals: Iterable<[string, bigint]> }, options: { bytesPerSecond?: number } = {}) {
    this.#bytesPerSecond = options.bytesPerSecond ?? Infinity;
    this.file = path.join(versionDir(dataDir), `snapshot.${zxidHex(zxid)}`);
    this.#tmp = `${this.file}.tmp`;
    this.#fd = openSync(this.#tmp, 'w');
    const w = this.#w;
    w.int(SNAP_MAGIC);
    w.int(exact ? SNAP_VERSION_EXACT : SNAP_VERSION_FUZZY);
    w.long(zxid);
    w.int(sessions.length);
    for (const s of sessions) {
      w.long(s.id);
      w.int(s.timeoutMs);
      this.#emit(false);
    }
    if (exact) {
      const countAt = w.length;
      let count = 0;
      w.int(0);
      for (const [ephemeralPath, owner] of exact.ephemerals) {
        w.long(owner);
        w.ustring(ephemeralPath);
        count++;
      }
      w.patchInt(countAt, count);
      this.#emit(false);
    }
  }

  get nodes(): number {
    return this.#nodes;
  }

  /** Bytes buffered but not yet written: a caller that yields does so when this wraps. */
  get buffered(): number {
    return this.#w.length;
  }

  node(nodePath: string, node: SnapshotNodeFields): void {
    const w = this.#w;
    const start = w.length;
    w.int(0);
    const s = this.#scratch;
    s.path = nodePath;
    s.data = node.data;
    s.acl = node.acl;
    s.czxid = node.czxid;
    s.mzxid = node.mzxid;
    s.pzxid = node.pzxid;
    s.ctime = node.ctime;
    s.mtime = node.mtime;
    s.version = node.version;
    s.cversion = node.cversion;
    s.aversion = node.aversion;
    s.ephemeralOwner = node.ephemeralOwner;
    SnapshotNode.write(w, s);
    w.patchInt(start, w.length - start - 4);
    this.#nodes++;
    this.#emit(false);
  }

  /**
   * An entry whose path, data and ACL are bytes [start, end) of `source` already in entry form (a
   * create txn's, in the log); the rest comes from `node`.
   */
  loggedNode(source: Uint8Array, start: number, end: number, node: SnapshotNodeFields): void {
    const w = this.#w;
    const at = w.length;
    w.int(0);
    w.raw(source.subarray(start, end));
    SnapshotNodeStat.write(w, node);
    w.patchInt(at, w.length - at - 4);
    this.#nodes++;
    this.#emit(false);
  }

  /** An entry copied as it was read from another snapshot: bytes [start, end) of `source`, without the length prefix. */
  rawEntry(source: Uint8Array, start: number, end: number): void {
    this.#w.int(end - start);
    this.#w.raw(source.subarray(start, end));
    this.#nodes++;
    this.#emit(false);
  }

  /**
   * Entries copied as they were read from another snapshot, length prefixes included: bytes
   * [start, end) of `source`, `count` entries. Written straight from `source`, not through the buffer.
   */
  rawEntries(source: Uint8Array, start: number, end: number, count: number): void {
    this.#emit(true);
    this.#write(source.subarray(start, end));
    this.#nodes += count;
  }

  #emit(force: boolean): void {
    if (this.#w.length === 0 || (!force && this.#w.length < WRITE_BYTES)) return;
    this.#write(this.#w.toBytesView());
    this.#w.reset();
  }

  #write(bytes: Uint8Array): void {
    this.#checksum = crc32(bytes, this.#checksum);
    writeFully(this.#fd, bytes);
    this.#unsyncedBytes += bytes.length;
    this.#writtenBytes += bytes.length;
    if (this.#unsyncedBytes >= SYNC_EVERY_BYTES) {
      fdatasyncSync(this.#fd);
      this.#unsyncedBytes = 0;
    }
    const aheadMs = this.#startedAt + (this.#writtenBytes / this.#bytesPerSecond) * 1000 - performance.now();
    if (aheadMs > 0) sleepSync(aheadMs);
  }

  /** Terminator, checksum trailer, fsync, rename, fsync of the directory. */
  finish(): { file: string; zxid: bigint; nodes: number } {
    this.#w.int(0);
    this.#emit(true);
    const trailer = new JuteWriter(8);
    trailer.int(this.#checksum | 0);
    trailer.int(SNAP_END_MAGIC);
    writeFully(this.#fd, trailer.toBytesView());
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    renameSync(this.#tmp, this.file);
    syncDirSync(path.dirname(this.file));
    return { file: this.file, zxid: this.zxid, nodes: this.#nodes };
  }

  /** Gives up: closes and removes the temp file. */
  abort(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
    rmSync(this.#tmp, { force: true });
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the calling thread (the snapshot worker's: it has nothing else to do meanwhile). */
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function writeFully(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/**
 * Writes a snapshot of `tree` on the calling thread. `exact: true` is the caller's promise that the
 * tree does not change until this resolves (start-up, before clients are served); without it the
 * writer yields between chunks and the snapshot is fuzzy, repaired at recovery by replaying the log.
 */
export async function writeSnapshot(dataDir: string, tree: DataTree, sessions: SessionEntry[], options: { exact?: boolean } = {}): Promise<{ file: string; zxid: bigint; nodes: number }> {
  const exact = options.exact ?? false;
  const ephemerals = function* () {
    for (const [owner, paths] of tree.ephemeralSessions()) for (const p of paths) yield [p, owner] as [string, bigint];
  };
  const writer = new SnapshotFileWriter(dataDir, tree.lastZxid, sessions, exact ? { ephemerals: ephemerals() } : undefined);
  try {
    for (const [nodePath, node] of tree.nodes()) {
      const before = writer.buffered;
      writer.node(nodePath, node);
      // A write just happened: yielding here is what makes a fuzzy snapshot fuzzy.
      if (!exact && writer.buffered < before) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return writer.finish();
  } catch (error) {
    writer.abort();
    throw error;
  }
}

/** One node as stored in a snapshot (children are implied by the paths). */
export type SnapshotNodeFields = ZNode;

export interface SnapshotVisitor {
  /** Called once, before the first node. */
  header?(info: { zxid: bigint; sessions: SessionEntry[]; exact: boolean }): void | Promise<void>;
  /** Called for every node entry in file order (parents first; a path may repeat in a fuzzy snapshot). */
  node(path: string, node: ZNode): void | Promise<void>;
}

/**
 * Reads a snapshot entry by entry in large synchronous chunks, hashing as it goes: the one parser of
 * the file layout. `next()` returns an entry's bytes (without its length prefix, valid until the next
 * call) or undefined after the last one, once the checksum and end marker have been verified.
 */
export class SnapshotReader {
  readonly zxid: bigint;
  readonly exact: boolean;
  readonly sessions: SessionEntry[] = [];
  /** Exact snapshots list their ephemeral nodes (path, owner) up front: a merge needs them before the entries. */
  readonly ephemerals: [string, bigint][] = [];
  /** After nextEntry(): the entry is bytes [entryStart, entryEnd) of `buffer` (valid until the next call). */
  buffer: Buffer = Buffer.alloc(0);
  entryStart = 0;
  entryEnd = 0;
  /** After nextRun(): the run is bytes [runStart, runEnd) of `buffer`. */
  runStart = 0;
  runEnd = 0;
  readonly #file: string;
  readonly #fd: number;
  readonly #bodyEnd: number;
  #checksum = 0;
  #fileRead = 0;
  #view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  #pos = 0;
  #done = false;

  constructor(file: string) {
    this.#file = file;
    this.#fd = openSync(file, 'r');
    try {
      const size = fstatSync(this.#fd).size;
      // Everything before the 8-byte trailer is checksummed; it is hashed chunk by chunk as it is read.
      this.#bodyEnd = size - 8;
      if (this.#bodyEnd < 20) throw new SnapshotError(file, `truncated: ${size} bytes`);
      if (this.#int() !== SNAP_MAGIC) throw new SnapshotError(file, 'not a Corral snapshot (bad magic)');
      const version = this.#int();
      if (version !== SNAP_VERSION_FUZZY && version !== SNAP_VERSION_EXACT) throw new SnapshotError(file, `unknown snapshot version ${version}`);
      this.exact = version === SNAP_VERSION_EXACT;
      this.zxid = this.#long();
      const sessionCount = this.#int();
      if (sessionCount < 0) throw new SnapshotError(file, `bad session count ${sessionCount}`);
      for (let i = 0; i < sessionCount; i++) this.sessions.push({ id: BigInt.asUintN(64, this.#long()), timeoutMs: this.#int() });
      if (this.exact) {
        const ephemeralCount = this.#int();
        if (ephemeralCount < 0) throw new SnapshotError(file, `bad ephemeral count ${ephemeralCount}`);
        for (let i = 0; i < ephemeralCount; i++) {
          const owner = BigInt.asUintN(64, this.#long());
          const length = this.#int();
          if (length < 0 || length > 64 * 1024) throw new SnapshotError(file, `bad ephemeral path length ${length}`);
          this.#ensure(length);
          this.ephemerals.push([this.buffer.toString('utf8', this.#pos, this.#pos + length), owner]);
          this.#pos += length;
        }
      }
    } catch (error) {
      closeSync(this.#fd);
      throw error;
    }
  }

  /** File offset of the next unread byte (of the current entry's length prefix, between entries). */
  get offset(): number {
    return this.#fileRead - (this.buffer.length - this.#pos);
  }

  /** Moves to the next entry (see buffer, entryStart, entryEnd); false after the last, once the checksum is verified. */
  nextEntry(): boolean {
    if (this.#done) return false;
    const offset = this.offset;
    const length = this.#int();
    if (length === 0) {
      this.#finish();
      return false;
    }
    if (length < 0 || length > MAX_ENTRY_BYTES) throw new SnapshotError(this.#file, `bad node length ${length} at byte ${offset}`);
    this.#ensure(length);
    this.entryStart = this.#pos;
    this.entryEnd = this.#pos + length;
    this.#pos += length;
    return true;
  }

  /**
   * Moves past the complete entries already read into `buffer` after the current one: they are
   * bytes [runStart, runEnd), length prefixes included; returns how many (0: call nextEntry, which
   * reads on, ends the list or reports a bad entry).
   */
  nextRun(): number {
    if (this.#done) return 0;
    const end = this.buffer.length;
    let pos = this.#pos;
    let count = 0;
    while (pos + 4 <= end) {
      const length = this.#view.getInt32(pos);
      if (length <= 0 || length > MAX_ENTRY_BYTES || pos + 4 + length > end) break;
      pos += 4 + length;
      count++;
    }
    this.runStart = this.#pos;
    this.runEnd = pos;
    this.#pos = pos;
    return count;
  }

  /** The next entry's bytes (a view, valid until the next call), or undefined after the last. */
  next(): Uint8Array | undefined {
    return this.nextEntry() ? this.buffer.subarray(this.entryStart, this.entryEnd) : undefined;
  }

  close(): void {
    closeSync(this.#fd);
  }

  #finish(): void {
    this.#done = true;
    if (this.offset !== this.#bodyEnd) throw new SnapshotError(this.#file, 'bytes after the last node entry');
    const trailer = Buffer.alloc(8);
    readSync(this.#fd, trailer, 0, 8, this.#bodyEnd);
    const r = new JuteReader(trailer);
    if (r.int() !== (this.#checksum | 0)) throw new SnapshotError(this.#file, 'checksum mismatch');
    if (r.int() !== SNAP_END_MAGIC) throw new SnapshotError(this.#file, 'missing end marker');
  }

  /** Makes `count` unread bytes available at #pos, reading whole chunks. */
  #ensure(count: number): void {
    if (this.buffer.length - this.#pos >= count) return;
    const rest = this.buffer.subarray(this.#pos);
    const wanted = Math.max(READ_BYTES, count);
    const next = Buffer.allocUnsafe(rest.length + Math.min(wanted, Math.max(0, this.#bodyEnd - this.#fileRead)));
    next.set(rest, 0);
    let filled = rest.length;
    while (filled < next.length) {
      const bytesRead = readSync(this.#fd, next, filled, next.length - filled, this.#fileRead);
      if (bytesRead === 0) break;
      this.#checksum = crc32(next.subarray(filled, filled + bytesRead), this.#checksum);
      filled += bytesRead;
      this.#fileRead += bytesRead;
    }
    this.buffer = next.subarray(0, filled);
    this.#view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    this.#pos = 0;
    if (this.buffer.length < count) throw new SnapshotError(this.#file, `truncated at byte ${this.#fileRead}`);
  }

  #int(): number {
    this.#ensure(4);
    this.#pos += 4;
    return this.#view.getInt32(this.#pos - 4);
  }

  #long(): bigint {
    this.#ensure(8);
    this.#pos += 8;
    return this.#view.getBigInt64(this.#pos - 8);
  }
}

/** The path of the raw snapshot entry at bytes [start, end) of `bytes` (its first field), without decoding the rest. */
export function entryPath(bytes: Buffer, start: number, end: number): string {
  const length = bytes.readInt32BE(start);
  if (length < 0 || start + 4 + length > end) throw new DecodeError(`bad path length ${length} in a snapshot entry`);
  return bytes.toString('utf8', start + 4, start + 4 + length);
}

/** Decodes one raw entry into the node it describes. */
export function decodeEntry(entry: Uint8Array, memo: EntryMemo = newEntryMemo()): { path: string; node: ZNode } {
  const reader = new JuteReader(entry);
  const fields = readEntry(reader, entry, memo);
  if (reader.remaining !== 0) throw new DecodeError(`node entry has ${reader.remaining} trailing bytes`);
  return { path: fields.path, node: nodeFromEntry(fields, memo) };
}

/**
 * Streams a snapshot entry by entry without building a tree: used by readSnapshot and by the dump
 * tool. Throws SnapshotError at the first thing that fails to validate; entries before it have
 * already been visited, and the checksum is only known at the end.
 */
export async function visitSnapshot(file: string, visitor: SnapshotVisitor): Promise<{ zxid: bigint; sessions: number; nodes: number; exact: boolean }> {
  let reader: SnapshotReader | undefined;
  try {
    reader = new SnapshotReader(file);
    await visitor.header?.({ zxid: reader.zxid, sessions: reader.sessions, exact: reader.exact });
    let nodes = 0;
    const memo = newEntryMemo();
    for (;;) {
      const offset = reader.offset;
      const entry = reader.next();
      if (!entry) break;
      let decoded: { path: string; node: ZNode };
      try {
        decoded = decodeEntry(entry, memo);
      } catch (error) {
        if (error instanceof DecodeError) throw new SnapshotError(file, `undecodable node at byte ${offset}: ${error.message}`);
        throw error;
      }
      nodes++;
      const visited = visitor.node(decoded.path, decoded.node);
      if (visited) await visited;
    }
    return { zxid: reader.zxid, sessions: reader.sessions.length, nodes, exact: reader.exact };
  } catch (error) {
    if (error instanceof Error && error.name === 'TreeInvariantError') throw new SnapshotError(file, error.message);
    throw error;
  } finally {
    reader?.close();
  }
}

/**
 * What consecutive entries mostly share, kept from the previous one: the ACL bytes and what they
 * decoded to (a handful of distinct lists for a million nodes), and the create time (nodes created
 * in one millisecond share one BigInt, as they do in a live tree).
 */
export interface EntryMemo {
  aclBytes: Uint8Array | undefined;
  acl: Infer<typeof SnapshotNode>['acl'];
  time: bigint;
}

export function newEntryMemo(): EntryMemo {
  return { aclBytes: undefined, acl: [], time: -1n };
}

/**
 * Reads one entry field by field with SnapshotNode's own codecs; an ACL whose bytes equal the
 * previous entry's is not decoded again (a million nodes, a handful of distinct ACL lists).
 */
function readEntry(r: JuteReader, bytes: Uint8Array, memo: EntryMemo): Infer<typeof SnapshotNode> {
  const f = SnapshotNode.fields;
  const path = f.path.read(r);
  const data = f.data.read(r);
  const aclStart = r.position;
  let acl: EntryMemo['acl'];
  const previous = memo.aclBytes;
  if (previous && aclStart + previous.length <= bytes.length && Buffer.compare(bytes.subarray(aclStart, aclStart + previous.length), previous) === 0) {
    r.skip(previous.length);
    acl = memo.acl;
  } else {
    acl = f.acl.read(r);
    memo.aclBytes = bytes.slice(aclStart, r.position);
    memo.acl = acl;
  }
  return {
    path,
    data,
    acl,
    czxid: f.czxid.read(r),
    mzxid: f.mzxid.read(r),
    pzxid: f.pzxid.read(r),
    ctime: f.ctime.read(r),
    mtime: f.mtime.read(r),
    version: f.version.read(r),
    cversion: f.cversion.read(r),
    aversion: f.aversion.read(r),
    ephemeralOwner: f.ephemeralOwner.read(r),
  };
}

/**
 * The node a snapshot entry describes, shaped exactly like a live one (one hidden class for all
 * nodes). Equal zxids and times share one BigInt, as they do in a live tree: a million nodes would
 * otherwise carry three copies of their create zxid.
 */
function nodeFromEntry(e: Infer<typeof SnapshotNode>, memo: EntryMemo): ZNode {
  const mzxid = e.mzxid === e.czxid ? e.czxid : e.mzxid;
  const ctime = e.ctime === memo.time ? memo.time : (memo.time = e.ctime);
  return {
    data: e.data,
    acl: e.acl,
    czxid: e.czxid,
    mzxid,
    pzxid: e.pzxid === e.czxid ? e.czxid : e.pzxid === mzxid ? mzxid : e.pzxid,
    ctime,
    mtime: e.mtime === ctime ? ctime : e.mtime,
    version: e.version,
    cversion: e.cversion,
    aversion: e.aversion,
    // Owner words are unsigned in memory (CONTAINER_OWNER, TTL_OWNER_BASE); jute longs read back signed.
    ephemeralOwner: e.ephemeralOwner === 0n ? 0n : BigInt.asUintN(64, e.ephemeralOwner),
    children: NO_CHILDREN,
  };
}

/** Streams a snapshot into a fresh tree. Throws SnapshotError if any part fails to validate. */
export async function readSnapshot(file: string): Promise<{ tree: DataTree; zxid: bigint; sessions: SessionEntry[]; exact: boolean }> {
  const tree = new DataTree();
  let sessions: SessionEntry[] = [];
  const { zxid, exact } = await visitSnapshot(file, {
    header: (info) => {
      sessions = info.sessions;
    },
    node: (nodePath, node) => tree.restoreNode(nodePath, node),
  });
  tree.setLastZxid(zxid);
  return { tree, zxid, sessions, exact };
}
