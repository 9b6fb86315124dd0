/**
 * A load-generator process, forked by run.ts (or by the session-expiry check, in `hold` mode).
 * It connects its clients, reports `ready`, runs the workload from the agreed start time, and sends
 * back one histogram and its own CPU use for the measured window.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type ZooKeeperClient } from '@corral/client';
import { Histogram } from './histogram.js';
import type { ParentMessage, WorkerConfig, WorkerMessage, WorkerResult } from './protocol.js';
import { needsSetter, operationOf, type SlotContext } from './workloads.js';

/** How long in-flight operations may take to finish after the measured window ends. */
const STOP_GRACE_MS = 10_000;

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function errorCode(error: unknown): string {
  if (error && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (error instanceof Error) return error.name;
  }
  return 'UNKNOWN';
}

async function closeAll(clients: ZooKeeperClient[]): Promise<void> {
  await Promise.race([Promise.allSettled(clients.map((c) => c.close())), sleep(5000, undefined, { ref: false })]);
  for (const c of clients) c.destroy();
}

class LoadWorker {
  readonly #config: WorkerConfig;
  readonly #clients: ZooKeeperClient[] = [];
  readonly #setters: ZooKeeperClient[] = [];

  constructor(config: WorkerConfig) {
    this.#config = config;
  }

  async connect(): Promise<void> {
    const { connect, pipeline, sessionTimeoutMs, workload } = this.#config;
    const options = { sessionTimeoutMs, maxOutstandingRequests: Math.max(1024, pipeline) };
    for (const _ of this.#config.clients) {
      this.#clients.push(createClient(connect, options));
      if (needsSetter(workload)) this.#setters.push(createClient(connect, options));
    }
    const all = [...this.#clients, ...this.#setters];
    await Promise.all(all.map((c) => c.connect({ signal: AbortSignal.timeout(30_000) })));
  }

  async run(startAtEpochMs: number, warmupMs: number, measureMs: number): Promise<WorkerResult> {
    const { base, pipeline, size, locks, workload } = this.#config;
    const op = operationOf(workload);
    const payload = new Uint8Array(size).fill(0x61);
    const start = performance.now() + Math.max(0, startAtEpochMs - Date.now());
    const measureStart = start + warmupMs;
    const measureEnd = measureStart + measureMs;

    const histogram = new Histogram();
    const timeline = new Array<number>(Math.ceil(measureMs / 1000)).fill(0);
    const errorCodes: Record<string, number> = {};
    let ops = 0;
    let requests = 0;
    let errors = 0;
    let stopping = false;
    let running = 0;

    let cpuStart = process.cpuUsage();
    let eluStart = performance.eventLoopUtilization();
    let cpu = { userUs: 0, systemUs: 0 };
    let elu = 0;
    let windowStarted = false;
    let windowEnded = false;
    const beginWindow = (): void => {
      if (windowStarted) return;
      windowStarted = true;
      cpuStart = process.cpuUsage();
      eluStart = performance.eventLoopUtilization();
    };
    const endWindow = (): void => {
      if (windowEnded) return;
      windowEnded = true;
      stopping = true;
      const used = process.cpuUsage(cpuStart);
      cpu = { userUs: used.user, systemUs: used.system };
      elu = performance.eventLoopUtilization(eluStart).utilization;
    };

    await sleep(Math.max(0, start - performance.now()));
    const startTimer = setTimeout(beginWindow, Math.max(0, measureStart - performance.now()));
    const endTimer = setTimeout(endWindow, Math.max(0, measureEnd - performance.now()));

    // With a rate, each slot starts its operations on a fixed schedule (staggered across slots) and
    // latency counts from the scheduled start: a server that falls behind is charged for the wait
    // it causes (no coordinated omission). Without one, a slot starts the next when the last ends.
    const interval = this.#config.slotRate ? 1000 / this.#config.slotRate : 0;
    const slotCount = this.#config.clients.length * pipeline;
    let slotIndex = 0;
    const slot = async (ctx: SlotContext): Promise<void> => {
      running++;
      let scheduled = start + (interval * slotIndex++) / slotCount;
      try {
        while (!stopping) {
          if (interval > 0) {
            const wait = scheduled - performance.now();
            if (wait >= 1) await sleep(Math.floor(wait));
            if (stopping) break;
          }
          // Started late (a slow answer, or a late timer): counted from the schedule. Early (timers
          // are whole milliseconds): from the real start.
          const t0 = interval > 0 ? Math.min(scheduled, performance.now()) : performance.now();
          scheduled += interval;
          let sent = 0;
          let failure: unknown;
          try {
            sent = await op(ctx);
          } catch (error) {
            failure = error;
          }
          ctx.n++;
          const t1 = performance.now();
          if (t1 >= measureStart && t1 < measureEnd) {
            if (failure === undefined) {
              ops++;
              requests += sent;
              histogram.record(Math.round((t1 - t0) * 1000));
              timeline[Math.floor((t1 - measureStart) / 1000)]++;
            } else {
              errors++;
              const code = errorCode(failure);
              errorCodes[code] = (errorCodes[code] ?? 0) + 1;
            }
          }
          // A failing server must not turn the loop into a busy spin.
          if (failure !== undefined) await sleep(1);
        }
      } finally {
        running--;
      }
    };

    const loops: Promise<void>[] = [];
    this.#config.clients.forEach((client, i) => {
      for (let s = 0; s < pipeline; s++) {
        loops.push(
          slot({ base, client, slot: s, pipeline, locks, payload, zk: this.#clients[i]!, setter: this.#setters[i], n: 0 }),
        );
      }
    });

    const all = Promise.all(loops);
    await sleep(Math.max(0, measureEnd - performance.now()));
    endWindow();
    clearTimeout(startTimer);
    clearTimeout(endTimer);
    await Promise.race([all, sleep(STOP_GRACE_MS, undefined, { ref: false })]);
    const unfinished = running;
    return {
      ops,
      requests,
      errors: errors + unfinished,
      errorCodes: unfinished > 0 ? { ...errorCodes, UNFINISHED: unfinished } : errorCodes,
      unfinished,
      histogram: histogram.toJSON(),
      timeline,
      cpu,
      elu,
      measuredMs: measureMs,
    };
  }

  async close(): Promise<void> {
    await closeAll([...this.#clients, ...this.#setters]);
  }
}

/** Session-expiry helper: create an ephemeral node and wait to be SIGKILLed. */
async function hold(connect: string, path: string, sessionTimeoutMs: number): Promise<void> {
  const zk = createClient(connect, { sessionTimeoutMs });
  await zk.connect({ signal: AbortSignal.timeout(30_000) });
  await zk.create(path, null, { mode: 'ephemeral' });
  await send({ type: 'holding', negotiatedTimeoutMs: zk.negotiatedTimeoutMs ?? sessionTimeoutMs, sessionId: zk.sessionId?.toString(16) ?? '' });
  // Stay alive (pinging) until killed.
  setInterval(() => {}, 1 << 30);
}

let worker: LoadWorker | undefined;

process.on('message', (message: ParentMessage) => {
  void (async () => {
    try {
      if (message.type === 'config') {
        worker = new LoadWorker(message.config);
        await worker.connect();
        await send({ type: 'ready' });
      } else if (message.type === 'start') {
        if (!worker) throw new Error('start before config');
        const result = await worker.run(message.startAtEpochMs, message.warmupMs, message.measureMs);
        await worker.close();
        await send({ type: 'result', result });
        process.exit(0);
      } else if (message.type === 'hold') {
        await hold(message.connect, message.path, message.sessionTimeoutMs);
      }
    } catch (error) {
      await send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      process.exit(1);
    }
  })();
});

process.on('disconnect', () => {
  // The parent went away: nothing left to report to.
  setTimeout(() => process.exit(0), 100).unref();
});
