import { constants as fsConstants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { JuteWriter } from '@corral/protocol';
import type { Txn } from '../core/txn.js';
import { syncDir, versionDir, zxidHex } from './files.js';
import { LOG_HEADER_BYTES, logHeader, writeLogRecord } from './logFormat.js';

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
 * Append-only txn log with group commit: append() only buffers; flush() writes everything buffered
 * in one write and one fdatasync. Callers acknowledge a txn only after the flush covering it resolves.
 */
export class TxnLog {
  readonly #options: TxnLogOptions;
  readonly #dir: string;
  #handle: FileHandle | undefined;
  #file = '';
  #position = 0;
  #allocated = 0;
  #batch = new JuteWriter(64 * 1024);
  #batchCount = 0;
  #rollRequested = false;
  #bytesSinceRoll = 0;

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
    if (!this.#handle || this.#handleFile !== file) await this.#openSegment(file);
    await this.#ensureAllocated(bytes.length);
    // With forceSync the file is opened O_DSYNC: this one write returns only once the batch is on
    // disk, one trip through the I/O thread pool instead of a write and then an fdatasync.
    await this.#handle!.write(bytes, 0, bytes.length, this.#position);
    this.#position += bytes.length;
    this.#bytesSinceRoll += bytes.length;
    if (this.#position >= this.#options.maxSegmentBytes) this.#rollRequested = true;
  }

  #handleFile = '';

  async #openSegment(file: string): Promise<void> {
    if (this.#handle) {
      // The finished segment loses its preallocated zero tail: readers (recovery, the snapshot
      // merge) then read its records, not 64 MiB. Every byte kept is already on disk.
      await this.#handle.truncate(this.#position);
      await this.#handle.close();
    }
    // 'w', not 'wx': a segment named after the next zxid can already exist when a crash hit between
    // creating it and writing its first batch; recovery found nothing valid in it, so it is reused.
    const { O_WRONLY, O_CREAT, O_TRUNC, O_DSYNC } = fsConstants;
    this.#handle = await open(file, O_WRONLY | O_CREAT | O_TRUNC | (this.#options.forceSync ? O_DSYNC : 0));
    this.#handleFile = file;
    const header = logHeader();
    this.#allocated = 0;
    this.#position = 0;
    await this.#ensureAllocated(header.length);
    // With forceSync the O_DSYNC write is already on disk (without it nothing is promised): no fsync
    // of the file here, one less on the path of the batch waiting for this segment.
    await this.#handle.write(header, 0, header.length, 0);
    this.#position = LOG_HEADER_BYTES;
    await syncDir(this.#dir);
  }

  /** Extends the file in large steps so most appends do not change its size (cheaper fdatasync). */
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
    await this.#handle?.close();
    this.#handle = undefined;
    this.#handleFile = '';
  }
}
