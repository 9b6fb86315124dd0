import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { ACL, DecodeError, JuteReader, JuteWriter, buffer, int, long, record, string, vector, type Infer } from '@corral/protocol';
import { DataTree, NO_CHILDREN, type ZNode } from '../core/tree.js';
import { syncDir, versionDir, zxidHex } from './files.js';
import { pooledCopy } from '../core/bytes.js';

/**
 * Snapshot layout (streamed both ways, never a second copy of the tree in memory):
 *   int magic "CRSN", int version 1, long zxid (last applied txn when the snapshot started)
 *   int session count, then (long id, int timeoutMs) pairs
 *   node entries: int length N > 0, then N bytes of SnapshotNode; int 0 ends the list
 *   int crc32 of every byte before it, int magic "CREN"
 * Nodes come parents first. Fuzzy: the tree keeps changing while it is written; recovery replays
 * the log from the snapshot's zxid, which repairs any txn half-reflected in it.
 */
export const SNAP_MAGIC = 0x4352534e;
const SNAP_END_MAGIC = 0x4352454e;
const SNAP_VERSION = 1;
/** Write chunk: the snapshot yields to client traffic after each one, so it bounds the pause it causes. */
const CHUNK_BYTES = 64 * 1024;

const SnapshotNode = record('SnapshotNode', {
  path: string,
  data: buffer,
  acl: vector(ACL),
  czxid: long,
  mzxid: long,
  pzxid: long,
  ctime: long,
  mtime: long,
  version: int,
  cversion: int,
  aversion: int,
  ephemeralOwner: long,
});

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

/** Writes a snapshot of `tree` to <dataDir>/version-2/snapshot.<zxid>, via a temp file, fsync and rename. */
export async function writeSnapshot(dataDir: string, tree: DataTree, sessions: SessionEntry[]): Promise<{ file: string; zxid: bigint; nodes: number }> {
  const zxid = tree.lastZxid;
  const file = path.join(versionDir(dataDir), `snapshot.${zxidHex(zxid)}`);
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, 'w');
  let checksum = 0;
  let nodes = 0;
  const w = new JuteWriter(CHUNK_BYTES + 1024);
  // One record object reused for every node: a million nodes should not mean a million temporaries.
  const scratch: Infer<typeof SnapshotNode> = { path: '/', data: null, acl: [], czxid: 0n, mzxid: 0n, pzxid: 0n, ctime: 0n, mtime: 0n, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n };
  const emit = async (force: boolean) => {
    if (!force && w.length < CHUNK_BYTES) return;
    const bytes = w.toBytes();
    w.reset();
    checksum = crc32(bytes, checksum);
    await handle.write(bytes);
  };
  try {
    w.int(SNAP_MAGIC);
    w.int(SNAP_VERSION);
    w.long(zxid);
    w.int(sessions.length);
    for (const s of sessions) {
      w.long(s.id);
      w.int(s.timeoutMs);
      await emit(false);
    }
    for (const [nodePath, node] of tree.nodes()) {
      const start = w.length;
      w.int(0);
      scratch.path = nodePath;
      scratch.data = node.data;
      scratch.acl = node.acl;
      scratch.czxid = node.czxid;
      scratch.mzxid = node.mzxid;
      scratch.pzxid = node.pzxid;
      scratch.ctime = node.ctime;
      scratch.mtime = node.mtime;
      scratch.version = node.version;
      scratch.cversion = node.cversion;
      scratch.aversion = node.aversion;
      scratch.ephemeralOwner = node.ephemeralOwner;
      SnapshotNode.write(w, scratch);
      w.patchInt(start, w.length - start - 4);
      nodes++;
      // Yielding here is what makes the snapshot fuzzy, and what keeps writes flowing while it is taken.
      await emit(false);
    }
    w.int(0);
    await emit(true);
    const trailer = new JuteWriter(8);
    trailer.int(checksum | 0);
    trailer.int(SNAP_END_MAGIC);
    await handle.write(trailer.toBytes());
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(tmp).catch(() => {});
    throw error;
  }
  await handle.close();
  await rename(tmp, file);
  await syncDir(path.dirname(file));
  return { file, zxid, nodes };
}

/** One node as stored in a snapshot (children are implied by the paths). */
export type SnapshotNodeFields = ZNode;

export interface SnapshotVisitor {
  /** Called once, before the first node. */
  header?(info: { zxid: bigint; sessions: SessionEntry[] }): void | Promise<void>;
  /** Called for every node entry in file order (parents first; a path may repeat in a fuzzy snapshot). */
  node(path: string, node: ZNode): void | Promise<void>;
}

/**
 * Streams a snapshot entry by entry without building a tree: the one parser of the format, used by
 * readSnapshot and by the dump tool. Throws SnapshotError at the first thing that fails to validate;
 * entries before it have already been visited, and the checksum is only known at the end.
 */
export async function visitSnapshot(file: string, visitor: SnapshotVisitor): Promise<{ zxid: bigint; sessions: number; nodes: number }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    // Everything before the 8-byte trailer is checksummed; it is hashed chunk by chunk as it is read.
    const bodyEnd = size - 8;
    let checksum = 0;
    let fileRead = 0;
    let buf: Uint8Array = new Uint8Array(0);
    let view = new DataView(buf.buffer);
    let pos = 0;

    /** Makes `count` unread bytes available in buf at pos, reading whole chunks (one await per chunk, not per node). */
    const ensure = async (count: number) => {
      if (buf.length - pos >= count) return;
      const wanted = Math.max(CHUNK_BYTES * 4, count);
      const rest = buf.subarray(pos);
      const next = Buffer.allocUnsafe(rest.length + Math.min(wanted, Math.max(0, bodyEnd - fileRead)));
      next.set(rest, 0);
      let filled = rest.length;
      while (filled < next.length) {
        const { bytesRead } = await handle.read(next, filled, next.length - filled, fileRead);
        if (bytesRead === 0) break;
        checksum = crc32(next.subarray(filled, filled + bytesRead), checksum);
        filled += bytesRead;
        fileRead += bytesRead;
      }
      buf = next.subarray(0, filled);
      view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      pos = 0;
      if (buf.length < count) throw new SnapshotError(file, `truncated at byte ${fileRead}`);
    };
    const readInt = async () => {
      await ensure(4);
      pos += 4;
      return view.getInt32(pos - 4);
    };
    const readLong = async () => {
      await ensure(8);
      pos += 8;
      return view.getBigInt64(pos - 8);
    };

    if (bodyEnd < 20) throw new SnapshotError(file, `truncated: ${size} bytes`);
    if ((await readInt()) !== SNAP_MAGIC) throw new SnapshotError(file, 'not a Corral snapshot (bad magic)');
    const version = await readInt();
    if (version !== SNAP_VERSION) throw new SnapshotError(file, `unknown snapshot version ${version}`);
    const zxid = await readLong();
    const sessionCount = await readInt();
    if (sessionCount < 0) throw new SnapshotError(file, `bad session count ${sessionCount}`);
    const sessions: SessionEntry[] = [];
    for (let i = 0; i < sessionCount; i++) sessions.push({ id: BigInt.asUintN(64, await readLong()), timeoutMs: await readInt() });
    await visitor.header?.({ zxid, sessions });
    let nodes = 0;
    const aclMemo: AclMemo = { bytes: undefined, acl: [] };
    for (;;) {
      const offset = fileRead - (buf.length - pos);
      const length = await readInt();
      if (length === 0) break;
      if (length < 0 || length > 64 * 1024 * 1024) throw new SnapshotError(file, `bad node length ${length} at byte ${offset}`);
      await ensure(length);
      const reader = new JuteReader(buf, { start: pos, end: pos + length, copyBytes: pooledCopy });
      const entry = readEntry(reader, buf, aclMemo);
      if (reader.remaining !== 0) throw new SnapshotError(file, `node entry at byte ${offset} has ${reader.remaining} trailing bytes`);
      pos += length;
      nodes++;
      const visited = visitor.node(entry.path, nodeFromEntry(entry));
      if (visited) await visited;
    }
    if (fileRead - (buf.length - pos) !== bodyEnd) throw new SnapshotError(file, 'bytes after the last node entry');
    const trailer = Buffer.alloc(8);
    await handle.read(trailer, 0, 8, bodyEnd);
    const trailerReader = new JuteReader(trailer);
    if (trailerReader.int() !== (checksum | 0)) throw new SnapshotError(file, 'checksum mismatch');
    if (trailerReader.int() !== SNAP_END_MAGIC) throw new SnapshotError(file, 'missing end marker');
    return { zxid, sessions: sessionCount, nodes };
  } catch (error) {
    if (error instanceof DecodeError) throw new SnapshotError(file, `undecodable node: ${error.message}`);
    if (error instanceof Error && error.name === 'TreeInvariantError') throw new SnapshotError(file, error.message);
    throw error;
  } finally {
    await handle.close();
  }
}

/** The ACL bytes of the previous entry and what they decoded to: consecutive nodes mostly share one list. */
interface AclMemo {
  bytes: Uint8Array | undefined;
  acl: Infer<typeof SnapshotNode>['acl'];
}

/**
 * Reads one entry field by field with SnapshotNode's own codecs; an ACL whose bytes equal the
 * previous entry's is not decoded again (a million nodes, a handful of distinct ACL lists).
 */
function readEntry(r: JuteReader, bytes: Uint8Array, memo: AclMemo): Infer<typeof SnapshotNode> {
  const f = SnapshotNode.fields;
  const path = f.path.read(r);
  const data = f.data.read(r);
  const aclStart = r.position;
  let acl: AclMemo['acl'];
  const previous = memo.bytes;
  if (previous && aclStart + previous.length <= bytes.length && Buffer.compare(bytes.subarray(aclStart, aclStart + previous.length), previous) === 0) {
    r.skip(previous.length);
    acl = memo.acl;
  } else {
    acl = f.acl.read(r);
    memo.bytes = bytes.slice(aclStart, r.position);
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
function nodeFromEntry(e: Infer<typeof SnapshotNode>): ZNode {
  const mzxid = e.mzxid === e.czxid ? e.czxid : e.mzxid;
  return {
    data: e.data,
    acl: e.acl,
    czxid: e.czxid,
    mzxid,
    pzxid: e.pzxid === e.czxid ? e.czxid : e.pzxid === mzxid ? mzxid : e.pzxid,
    ctime: e.ctime,
    mtime: e.mtime === e.ctime ? e.ctime : e.mtime,
    version: e.version,
    cversion: e.cversion,
    aversion: e.aversion,
    // Owner words are unsigned in memory (CONTAINER_OWNER, TTL_OWNER_BASE); jute longs read back signed.
    ephemeralOwner: e.ephemeralOwner === 0n ? 0n : BigInt.asUintN(64, e.ephemeralOwner),
    children: NO_CHILDREN,
  };
}

/** Streams a snapshot into a fresh tree. Throws SnapshotError if any part fails to validate. */
export async function readSnapshot(file: string): Promise<{ tree: DataTree; zxid: bigint; sessions: SessionEntry[] }> {
  const tree = new DataTree();
  let sessions: SessionEntry[] = [];
  const { zxid } = await visitSnapshot(file, {
    header: (info) => {
      sessions = info.sessions;
    },
    node: (nodePath, node) => tree.restoreNode(nodePath, node),
  });
  tree.setLastZxid(zxid);
  return { tree, zxid, sessions };
}
