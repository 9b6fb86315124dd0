import type { Logger } from 'pino';
import type { ServerConfig } from '../config/zooCfg.js';
import type { ServerCore } from '../core/server.js';
import type { Txn } from '../core/txn.js';
import { purgeOldFiles } from '../persistence/purge.js';
import { writeSnapshot } from '../persistence/snapshot.js';
import { TxnLog } from '../persistence/txnLog.js';
import { Snapshotter } from './snapshotter.js';

/**
 * Makes proposals durable before they commit: every txn proposed in one turn of the event loop, or
 * while an fsync is running, joins the next write+fdatasync (group commit). Every ~snapCount txns
 * the snapshot worker merges the last snapshot with the log into a new one (off this thread), then
 * old files are purged.
 */
export class Durability {
  readonly #log: TxnLog;
  readonly #config: ServerConfig;
  readonly #logger: Logger;
  readonly #random: () => number;
  #onCommitted: (zxids: bigint[]) => void = () => {};
  #unflushed: bigint[] = [];
  #flushing: Promise<void> | undefined;
  #txnsSinceSnapshot = 0;
  #snapshotThreshold: number;
  readonly #snapshotter = new Snapshotter();
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

  /**
   * `fuzzyBase`: the newest snapshot on disk is a fuzzy one (from an older Corral), which the worker
   * cannot merge onto; an exact one is written now, before any client is served.
   */
  async open(core: ServerCore, onCommitted: (zxids: bigint[]) => void, options: { fuzzyBase?: boolean } = {}): Promise<void> {
    this.#onCommitted = onCommitted;
    await this.#log.init();
    if (options.fuzzyBase) {
      const sessions = [...core.sessions.entries()].map(([id, s]) => ({ id, timeoutMs: s.timeoutMs }));
      const { file, nodes } = await writeSnapshot(this.#config.dataDir, core.tree, sessions, { exact: true });
      this.#logger.info({ file, nodes }, 'wrote an exact snapshot to merge later snapshots onto');
    }
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
        if (this.#txnsSinceSnapshot >= this.#snapshotThreshold) this.#snapshot(batch[batch.length - 1]!);
      }
    } catch (error) {
      // A log we cannot write is a server we cannot trust: stop rather than acknowledge what is not on disk.
      this.#logger.fatal({ err: (error as Error).message }, 'cannot write the txn log; stopping');
      process.exit(3);
    } finally {
      this.#flushing = undefined;
    }
  }

  /** Asks the worker for the snapshot at `zxid` (durable: its flush has completed). */
  #snapshot(zxid: bigint): void {
    if (this.#snapshotter.busy) return;
    this.#txnsSinceSnapshot = 0;
    this.#snapshotThreshold = this.#nextThreshold();
    // Later txns start a new segment, so the one ending at zxid can be purged with its snapshot.
    this.#log.roll();
    const { dataDir, dataLogDir } = this.#config;
    this.#logger.info({ zxid: `0x${zxid.toString(16)}` }, 'snapshot started');
    void this.#snapshotter.merge({ dataDir, dataLogDir, zxid }).then(async (reply) => {
      for (const { file, reason } of reply.skipped) this.#logger.warn({ file, reason }, 'snapshot cannot be merged onto; using an older one');
      if (!reply.ok) {
        if (!this.#closed) this.#logger.error({ err: reply.error }, 'snapshot failed; will retry at the next threshold');
        return;
      }
      // Purged before 'snapshot written' is logged, so that line means the whole step is done.
      if (this.#config.autopurgePurgeIntervalHours > 0 && !this.#closed) {
        const removed = await purgeOldFiles({ dataDir, dataLogDir, retain: this.#config.autopurgeSnapRetainCount });
        if (removed.length > 0) this.#logger.info({ removed }, 'purged old snapshots and logs');
      }
      this.#logger.info({ file: reply.file, nodes: reply.nodes, txns: reply.txns, base: reply.base ?? null, ms: reply.ms }, 'snapshot written');
    });
  }

  /** Flushes what is pending and closes the log. */
  async close(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    this.#closed = true;
    await this.#snapshotter.close();
    await this.#log.close();
  }
}
