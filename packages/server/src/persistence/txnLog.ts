import { constants as fsConstants } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { JuteWriter } from '@corral/protocol';
import type { Txn } from '../core/txn.js';
import { syncDir, versionDir, zxidHex } from './files.js';
import { LOG_HEADER_BYTES, logHeader, writeLogRecord } from './logFormat.js';
import { ZERO_AHEAD_BYTES, ZeroFill, writeZeros } from './zeroFill.js';

export interface TxnLogOptions {
  /** dataLogDir (ZooKeeper's name); segments go to <dir>/version-2. */
  dir: string;
  /** Files grow in steps of this many bytes (ZooKeeper: preAllocSize, 64 MiB). */
  preallocateBytes: number;
  /** forceSync=no skips fdatasync: faster, and an acknowledged write may be lost at a power failure. */
  forceSync: boolean;
  /** A segment this large is closed and the next append starts a new one. */
  maxSegmentBytes: number;
}

/**
 * The next segment, made before it is needed: preallocated, header written and synced, under a
 * name recovery and purge do not read (they list `log.<hex zxid>` only).
 */
const PREPARED_SEGMENT = 'log.prepared';

/**
 * Append-only txn log with group commit: append() only buffers; flush() writes everything buffered
 * in one write and one fdatasync. Callers acknowledge a txn only after the flush covering it resolves.
 *
 * A roll (at every snapshot) sits on the path of the batch that starts the new segment. Making
 * that segment then took nine trips through the I/O pool and three disk syncs (1-11 ms measured
 * at 20k creates/s); the segment is prepared in the background instead, and the roll is a rename
 * whose directory sync runs beside the batch's own write. The finished segment is trimmed after.
 */
export class TxnLog {
  readonly #options: TxnLogOptions;
  readonly #dir: string;
  #handle: FileHandle | undefined;
  /** With forceSync: zeros kept ahead of #position in the current segment (cheaper synced writes). */
  #zeroFill: ZeroFill | undefined;
  #file = '';
  #position = 0;
  #allocated = 0;
  #batch = new JuteWriter(64 * 1024);
  #batchCount = 0;
  #rollRequested = false;
  #bytesSinceRoll = 0;
  #prepared: Promise<FileHandle> | undefined;
  /** Trimming and closing of finished segments, done after the roll rather than before it. */
  #retiring: Promise<void> = Promise.resolve();

  constructor(options: TxnLogOptions) {
    this.#options = options;
    this.#dir = versionDir(options.dir);
  }

  get currentFile(): string {
    return this.#file;
  }

  get pending(): number {
    return this.#batchCount;
  }

  /** Bytes appended since the last roll (snapshot trigger by size). */
  get bytesSinceRoll(): number {
    return this.#bytesSinceRoll;
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
  }

  append(txn: Txn): void {
    if (this.#batchCount === 0 && this.#rollRequested) {
      // A roll takes effect at a batch boundary, so a segment's name is its first txn's zxid.
      this.#rollRequested = false;
      this.#file = '';
    }
    if (this.#batchCount === 0 && !this.#file) this.#file = path.join(this.#dir, `log.${zxidHex(txn.zxid)}`);
    writeLogRecord(this.#batch, txn);
    this.#batchCount++;
  }

  /** The next append starts a new segment (after a snapshot, so old segments can be purged). */
  roll(): void {
    this.#rollRequested = true;
    this.#bytesSinceRoll = 0;
  }

  /** Writes and syncs everything appended so far. Not re-entrant: the caller serialises flushes. */
  async flush(): Promise<void> {
    if (this.#batchCount === 0) return;
    const bytes = this.#batch.toBytes();
    const file = this.#file;
    this.#batch.reset();
    this.#batchCount = 0;
    let named: Promise<void> | undefined;
    if (!this.#handle || this.#handleFile !== file) named = (await this.#openSegment(file)).named;
    await this.#ensureAllocated(bytes.length);
    await this.#zeroFill?.beforeAppend(this.#position + bytes.length);
    // With forceSync the file is opened O_DSYNC: this one write returns only once the batch is on
    // disk, one trip through the I/O thread pool instead of a write and then an fdatasync. A new
    // segment's name must be durable too before its first batch counts as written.
    const written = this.#handle!.write(bytes, 0, bytes.length, this.#position);
    await (named ? Promise.all([written, named]) : written);
    this.#position += bytes.length;
    this.#zeroFill?.advance();
    this.#bytesSinceRoll += bytes.length;
    if (this.#position >= this.#options.maxSegmentBytes) this.#rollRequested = true;
  }

  #handleFile = '';

  /** Makes `file` the current segment; `named` resolves once its directory entry is on disk. */
  async #openSegment(file: string): Promise<{ named: Promise<void> }> {
    await this.#retiring; // the previous roll's, long done: only its failure matters here
    const finished = this.#handle;
    // Stopped now, not when the retiring below gets its turn: no new fill starts on the finished segment.
    const fillStopped = this.#zeroFill?.stop();
    if (finished) {
      const end = this.#position;
      // Its records are on disk already; only the preallocated zero tail goes (recovery and the
      // snapshot merge then read records, not 64 MiB). Failures surface at the next roll or close.
      this.#retiring = this.#retiring.then(async () => {
        await fillStopped;
        await finished.truncate(end);
        await finished.close();
      });
    }
    const prepared = this.#prepared ?? this.#prepare();
    this.#prepared = undefined;
    this.#handle = await prepared;
    this.#handleFile = file;
    this.#allocated = this.#preparedBytes();
    this.#position = LOG_HEADER_BYTES;
    this.#zeroFill = this.#options.forceSync ? new ZeroFill(this.#handle, this.#preparedZeros(), this.#allocated) : undefined;
    // 'log.prepared' replaces a segment of this name if one exists: a crash between creating it and
    // writing its first batch leaves it with nothing valid in it (recovery found nothing there).
    await rename(path.join(this.#dir, PREPARED_SEGMENT), file);
    const named = syncDir(this.#dir);
    named.catch(() => undefined); // awaited by flush; this only keeps an early failure from being unhandled
    this.#prepared = this.#prepare();
    this.#prepared.catch(() => undefined); // awaited at the next roll
    return { named };
  }

  #preparedBytes(): number {
    return Math.max(this.#options.preallocateBytes, LOG_HEADER_BYTES + 4096);
  }

  #preparedZeros(): number {
    return Math.min(ZERO_AHEAD_BYTES, this.#preparedBytes());
  }

  /**
   * Creates the next segment under PREPARED_SEGMENT: preallocated, header written, size and header
   * synced; with forceSync also its first ZERO_AHEAD_BYTES zero-filled.
   */
  async #prepare(): Promise<FileHandle> {
    const { O_WRONLY, O_CREAT, O_TRUNC, O_DSYNC } = fsConstants;
    const handle = await open(path.join(this.#dir, PREPARED_SEGMENT), O_WRONLY | O_CREAT | O_TRUNC | (this.#options.forceSync ? O_DSYNC : 0));
    try {
      await handle.truncate(this.#preparedBytes());
      const header = logHeader();
      await handle.write(header, 0, header.length, 0);
      if (this.#options.forceSync) await writeZeros(handle, LOG_HEADER_BYTES, this.#preparedZeros());
      // The O_DSYNC write synced the header; the size set by truncate needs a sync of its own.
      if (this.#options.forceSync) await handle.sync();
      return handle;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Extends the file in large steps so most appends do not change its size (cheaper fdatasync). The
   * extension is not zero-filled: segments roll before they outgrow the first step.
   */
  async #ensureAllocated(extra: number): Promise<void> {
    const needed = this.#position + extra + 4096;
    if (needed <= this.#allocated) return;
    const step = this.#options.preallocateBytes;
    this.#allocated = Math.ceil(needed / step) * step;
    await this.#handle!.truncate(this.#allocated);
    // The new size must be durable before records in the extended range count as written.
    if (this.#options.forceSync) await this.#handle!.sync();
  }

  async close(): Promise<void> {
    const prepared = this.#prepared;
    this.#prepared = undefined;
    await this.#retiring;
    await this.#zeroFill?.stop();
    this.#zeroFill = undefined;
    await this.#handle?.close();
    this.#handle = undefined;
    this.#handleFile = '';
    if (prepared) {
      await prepared.then((handle) => handle.close(), () => undefined);
      await rm(path.join(this.#dir, PREPARED_SEGMENT), { force: true });
    }
  }
}
