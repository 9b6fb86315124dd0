import type { Logger } from 'pino';
import type { ServerConfig } from '../config/zooCfg.js';
import type { ServerCore } from '../core/server.js';
import type { Txn } from '../core/txn.js';
import { purgeOldFiles } from '../persistence/purge.js';
import { writeSnapshot } from '../persistence/snapshot.js';
import { TxnLog } from '../persistence/txnLog.js';

/**
 * Makes proposals durable before they commit: every txn proposed in one turn of the event loop, or
 * while an fsync is running, joins the next write+fdatasync (group commit). Takes fuzzy snapshots
 * every ~snapCount txns and purges old files.
 */
export class Durability {
  readonly #log: TxnLog;
  readonly #config: ServerConfig;
  readonly #logger: Logger;
  readonly #random: () => number;
  #core: ServerCore | undefined;
  #onCommitted: (zxids: bigint[]) => void = () => {};
  #unflushed: bigint[] = [];
  #flushing: Promise<void> | undefined;
  #txnsSinceSnapshot = 0;
  #snapshotThreshold: number;
  #snapshotting = false;
  #closed = false;

  constructor(config: ServerConfig, logger: Logger, random: () => number = Math.random) {
    this.#config = config;
    this.#logger = logger;
    this.#random = random;
    this.#log = new TxnLog({
      dir: config.dataLogDir,
      preallocateBytes: 64 * 1024 * 1024,
      forceSync: config.forceSync,
      // Under one preallocation step, so a segment never grows past 64 MiB: recovery reads a segment at once.
      maxSegmentBytes: 60 * 1024 * 1024,
    });
    this.#snapshotThreshold = this.#nextThreshold();
  }

  /** Randomised so that the servers of an ensemble do not all snapshot at once (ZooKeeper's rule). */
  #nextThreshold(): number {
    const half = Math.max(1, Math.floor(this.#config.snapCount / 2));
    return half + Math.floor(this.#random() * half);
  }

  async open(core: ServerCore, onCommitted: (zxids: bigint[]) => void): Promise<void> {
    this.#core = core;
    this.#onCommitted = onCommitted;
    await this.#log.init();
  }

  append(txn: Txn): void {
    if (this.#closed) return;
    this.#log.append(txn);
    this.#unflushed.push(txn.zxid);
    if (!this.#flushing) this.#flushing = this.#flushLoop();
  }

  async #flushLoop(): Promise<void> {
    // Let every proposal of the current turn join this batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.#unflushed.length > 0) {
        const batch = this.#unflushed;
        this.#unflushed = [];
        const started = performance.now();
        await this.#log.flush();
        const elapsed = performance.now() - started;
        if (elapsed > 1000) this.#logger.warn({ ms: Math.round(elapsed), txns: batch.length }, 'fsync of the txn log was slow');
        this.#onCommitted(batch);
        this.#txnsSinceSnapshot += batch.length;
        if (this.#txnsSinceSnapshot >= this.#snapshotThreshold) this.#snapshot();
      }
    } catch (error) {
      // A log we cannot write is a server we cannot trust: stop rather than acknowledge what is not on disk.
      this.#logger.fatal({ err: (error as Error).message }, 'cannot write the txn log; stopping');
      process.exit(3);
    } finally {
      this.#flushing = undefined;
    }
  }

  #snapshot(): void {
    if (this.#snapshotting || !this.#core) return;
    this.#snapshotting = true;
    this.#txnsSinceSnapshot = 0;
    this.#snapshotThreshold = this.#nextThreshold();
    this.#log.roll();
    const core = this.#core;
    const sessions = [...core.sessions.entries()].map(([id, s]) => ({ id, timeoutMs: s.timeoutMs }));
    writeSnapshot(this.#config.dataDir, core.tree, sessions)
      .then(async ({ file, nodes }) => {
        this.#logger.info({ file, nodes }, 'snapshot written');
        if (this.#config.autopurgePurgeIntervalHours > 0) {
          const removed = await purgeOldFiles({ dataDir: this.#config.dataDir, dataLogDir: this.#config.dataLogDir, retain: this.#config.autopurgeSnapRetainCount });
          if (removed.length > 0) this.#logger.info({ removed }, 'purged old snapshots and logs');
        }
      })
      .catch((error: Error) => this.#logger.error({ err: error.message }, 'snapshot failed; will retry at the next threshold'))
      .finally(() => {
        this.#snapshotting = false;
      });
  }

  /** Flushes what is pending and closes the log. */
  async close(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    this.#closed = true;
    await this.#log.close();
  }
}
