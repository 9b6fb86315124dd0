/**
 * `corral bench run`: one workload against one server (or ensemble), from forked worker processes.
 *
 * Why child_process.fork and not worker_threads: a forked worker is a real separate client process,
 * as an application would be, with its own heap and GC; process.cpuUsage() in it is exactly that
 * worker's CPU (in a worker thread it is the whole process's), so client saturation is visible per
 * worker; and the session-expiry check needs a client process it can SIGKILL.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient, NodeExistsError, type ZooKeeperClient } from '@corral/client';
import { launch, type Placement } from './placement.js';
import { Histogram } from './histogram.js';
import { busyFraction, machineCpu, processCpuUs, threadWaitNs, waitBetweenUs } from './procfs.js';
import type { ParentMessage, WorkerConfig, WorkerMessage, WorkerResult } from './protocol.js';
import { errorRate, judgeRun } from './stats.js';
import { layout, setupNodes, type WorkloadName } from './workloads.js';

export interface RunOptions {
  connect: string;
  workload: WorkloadName;
  clients: number;
  /** Operations each client keeps in flight. */
  pipeline: number;
  /** Total seconds, warm-up included. */
  durationS: number;
  /** Seconds at the start that are not measured (default 20% of durationS). */
  warmupS?: number;
  /** Payload bytes for create/set (default 100). */
  size?: number;
  /** Worker processes (default: min(2, CPUs, clients)). */
  workers?: number;
  /** Lock nodes for the lock workload (default 8). */
  locks?: number;
  sessionTimeoutMs?: number;
  /** Where the worker processes run (CPU list, SCHED_BATCH); undefined: like any process. */
  placement?: Placement;
  /** Server processes whose CPU use is sampled over the measured window (compare passes them). */
  serverPids?: number[];
  /** Delete the run's znodes afterwards (default true). */
  cleanup?: boolean;
  /**
   * Target operations per second over all clients (open loop: operations start on a schedule and
   * latency counts from the scheduled start). Default: closed loop, as fast as the server answers.
   */
  rate?: number;
  log?: (line: string) => void;
}

export interface RunResult {
  workload: WorkloadName;
  connect: string;
  clients: number;
  pipeline: number;
  /** Target ops/s (open loop), or null for closed loop. */
  rate: number | null;
  workers: number;
  /** CPU list the workers were confined to, or null (all CPUs). */
  cpus: string | null;
  /** The workers ran under SCHED_BATCH. */
  schedBatch: boolean;
  size: number;
  durationS: number;
  warmupS: number;
  measuredS: number;
  startedAt: string;
  ops: number;
  requests: number;
  errors: number;
  errorRate: number;
  errorCodes: Record<string, number>;
  unfinished: number;
  opsPerSec: number;
  requestsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** Operations completed in each second of the measured window. */
  timeline: number[];
  /** Load-generator CPU: cores busy = CPU seconds / measured seconds, summed over workers. */
  clientCpu: { cores: number; perWorker: { cores: number; eventLoopUtilization: number; opsPerSec: number; p50: number; p99: number }[] };
  /** Server CPU over the measured window, when serverPids were given. */
  /**
   * waitingThreads: the server's threads runnable but waiting for a CPU, on average over the window
   * (run-queue wait in thread-seconds per second; for a one-thread server, the fraction of time its
   * thread waited). Shows a server starved by the load generator on a small machine.
   */
  serverCpu?: { cores: number; usPerOp: number; waitingThreads?: number };
  serverCpuUsPerOp?: number;
  /** Fraction of the whole machine's CPU that was busy during the measured window. */
  machineBusy: number;
  valid: boolean;
  invalidReason?: string;
  failure?: string;
}

/** dist/worker.js next to this module once built; from src/ (vitest) fall back to ../dist. */
export function workerPath(): string {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return fileURLToPath(here);
  const built = new URL('../dist/worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return fileURLToPath(built);
  throw new Error(`${fileURLToPath(built)} is missing; run \`npm run build\` first`);
}

export function defaultWorkers(clients: number): number {
  return Math.max(1, Math.min(2, availableParallelism(), clients));
}

/**
 * Forks a bench worker; `execArgv: []` keeps the parent's flags (--cpu-prof, inspector) out of it.
 * With a placement it starts as e.g. `taskset -c 1 node worker.js` (fork runs execPath with execArgv first).
 */
export function forkWorker(placement?: Placement): ChildProcess {
  const [execPath, execArgv] = launch(placement, process.execPath, []);
  return fork(workerPath(), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execPath, execArgv });
}

function nextMessage<T extends WorkerMessage['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<WorkerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`bench worker ${child.pid}: no '${type}' after ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: WorkerMessage): void => {
      if (m.type === type) done(undefined, m as Extract<WorkerMessage, { type: T }>);
      else if (m.type === 'fatal') done(new Error(`bench worker ${child.pid} failed: ${m.message}`));
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(new Error(`bench worker ${child.pid} exited (code ${code}, signal ${signal}) before '${type}'`));
    function done(error?: Error, message?: Extract<WorkerMessage, { type: T }>): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message!);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export function sendToWorker(child: ChildProcess, message: ParentMessage): void {
  child.send(message);
}

/** Creates `paths` (persistent, empty), parents first, many in flight; existing ones are fine. */
export async function createAll(zk: ZooKeeperClient, paths: readonly string[], data: Uint8Array | null = null, inFlight = 512): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < paths.length) {
      const path = paths[next++]!;
      try {
        await zk.create(path, data);
      } catch (error) {
        if (!(error instanceof NodeExistsError)) throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, paths.length) }, lane));
}

/** Deletes `path` and everything under it, many requests in flight. */
export async function deleteTree(zk: ZooKeeperClient, path: string, inFlight = 512): Promise<number> {
  const { children } = await zk.getChildren(path);
  let deleted = 0;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < children.length) {
      const n = await deleteTree(zk, `${path}/${children[next++]}`, 1);
      deleted += n; // not `deleted += await …`: that reads `deleted` before awaiting
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, children.length) }, lane));
  await zk.delete(path);
  return deleted + 1;
}

function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export async function runBench(options: RunOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  const size = options.size ?? 100;
  const locks = options.locks ?? 8;
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
  const workers = Math.max(1, Math.min(options.workers ?? defaultWorkers(options.clients), options.clients));
  const warmupS = options.warmupS ?? options.durationS * 0.2;
  const measuredS = options.durationS - warmupS;
  if (!(options.clients >= 1) || !(options.pipeline >= 1)) throw new Error('--clients and --pipeline must be at least 1');
  if (options.rate !== undefined && !(options.rate > 0)) throw new Error('--rate must be positive');
  if (!(measuredS > 0)) throw new Error(`nothing to measure: duration ${options.durationS} s, warm-up ${warmupS} s`);

  const runId = `${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;
  const base = `${layout.root}/${options.workload}-${runId}`;
  const admin = createClient(options.connect, { sessionTimeoutMs: 30_000, maxFrameLength: 256 * 1024 * 1024 });
  const children: ChildProcess[] = [];
  const startedAt = new Date().toISOString();
  try {
    try {
      await admin.connect({ signal: AbortSignal.timeout(15_000) });
    } catch (error) {
      throw new Error(`could not connect to ${options.connect} within 15 s (${error instanceof Error ? error.message : String(error)})`);
    }
    const payload = new Uint8Array(size).fill(0x61);
    await createAll(admin, [layout.root, base]);
    await createAll(admin, setupNodes(options.workload, base, options.clients, options.pipeline, locks), payload);

    // Client c runs in worker c % workers.
    const assignment: number[][] = Array.from({ length: workers }, () => []);
    for (let c = 0; c < options.clients; c++) assignment[c % workers]!.push(c);
    const slotRate = options.rate ? options.rate / (options.clients * options.pipeline) : undefined;
    for (const clients of assignment) {
      const config: WorkerConfig = { connect: options.connect, workload: options.workload, base, clients, pipeline: options.pipeline, size, locks, sessionTimeoutMs, slotRate };
      const child = forkWorker(options.placement);
      children.push(child);
      sendToWorker(child, { type: 'config', config });
    }
    await Promise.all(children.map((c) => nextMessage(c, 'ready', 60_000)));

    const warmupMs = warmupS * 1000;
    const measureMs = measuredS * 1000;
    const startAtEpochMs = Date.now() + 200;
    const results = children.map((c) => nextMessage(c, 'result', options.durationS * 1000 + 60_000));
    for (const c of children) sendToWorker(c, { type: 'start', startAtEpochMs, warmupMs, measureMs });
    log(`${options.workload}: ${options.clients} clients × ${options.pipeline} in flight${options.rate ? ` at ${options.rate} ops/s` : ''} over ${workers} worker(s), ${options.durationS} s (${round(warmupS, 2)} s warm-up)`);

    // Server and machine CPU over the measured window, sampled from this (idle) process.
    const pids = options.serverPids ?? [];
    let serverBefore: (number | undefined)[] = [];
    let serverWaitBefore: (Map<string, number> | undefined)[] = [];
    let serverWaitUs = Number.NaN;
    let machineBefore = machineCpu();
    let serverCpuUs = Number.NaN;
    let machineBusy = Number.NaN;
    const windowStartEpoch = startAtEpochMs + warmupMs;
    const windowEndEpoch = windowStartEpoch + measureMs;
    const sampler = new Promise<void>((resolve) => {
      setTimeout(() => {
        serverBefore = pids.map(processCpuUs);
        serverWaitBefore = pids.map(threadWaitNs);
        machineBefore = machineCpu();
        setTimeout(() => {
          const after = pids.map(processCpuUs);
          serverWaitUs = pids.reduce((sum, pid, i) => sum + waitBetweenUs(serverWaitBefore[i], threadWaitNs(pid)), 0);
          machineBusy = busyFraction(machineBefore, machineCpu());
          if (pids.length > 0 && after.every((v, i) => v !== undefined && serverBefore[i] !== undefined)) {
            serverCpuUs = after.reduce<number>((sum, v, i) => sum + v! - serverBefore[i]!, 0);
          }
          resolve();
        }, Math.max(0, windowEndEpoch - Date.now()));
      }, Math.max(0, windowStartEpoch - Date.now()));
    });

    const workerResults: WorkerResult[] = (await Promise.all(results)).map((m) => m.result);
    await sampler;

    // Each worker's own histogram (for its row) and their sum (for the run).
    const workerHistograms = workerResults.map((r) => {
      const own = new Histogram();
      own.merge(r.histogram);
      return own;
    });
    const histogram = new Histogram();
    for (const own of workerHistograms) histogram.merge(own);
    const timeline = new Array<number>(Math.ceil(measureMs / 1000)).fill(0);
    const errorCodes: Record<string, number> = {};
    let ops = 0;
    let requests = 0;
    let errors = 0;
    let unfinished = 0;
    for (const r of workerResults) {
      r.timeline.forEach((n, i) => (timeline[i] = (timeline[i] ?? 0) + n));
      for (const [code, n] of Object.entries(r.errorCodes)) errorCodes[code] = (errorCodes[code] ?? 0) + n;
      ops += r.ops;
      requests += r.requests;
      errors += r.errors;
      unfinished += r.unfinished;
    }
    const ms = (us: number): number => round(us / 1000);
    const perWorker = workerResults.map((r, i) => ({
      cores: round((r.cpu.userUs + r.cpu.systemUs) / 1000 / r.measuredMs),
      eventLoopUtilization: round(r.elu),
      opsPerSec: round(r.ops / measuredS, 1),
      p50: ms(workerHistograms[i]!.percentile(50)),
      p99: ms(workerHistograms[i]!.percentile(99)),
    }));
    const result: RunResult = {
      workload: options.workload,
      connect: options.connect,
      clients: options.clients,
      pipeline: options.pipeline,
      rate: options.rate ?? null,
      workers,
      cpus: options.placement?.cpus ?? null,
      schedBatch: options.placement?.batch ?? false,
      size,
      durationS: options.durationS,
      warmupS: round(warmupS),
      measuredS: round(measuredS),
      startedAt,
      ops,
      requests,
      errors,
      errorRate: errorRate(ops, errors),
      errorCodes,
      unfinished,
      opsPerSec: round(ops / measuredS, 1),
      requestsPerSec: round(requests / measuredS, 1),
      latencyMs: {
        p50: ms(histogram.percentile(50)),
        p90: ms(histogram.percentile(90)),
        p99: ms(histogram.percentile(99)),
        p999: ms(histogram.percentile(99.9)),
        max: ms(histogram.max),
        mean: ms(histogram.mean()),
      },
      timeline,
      clientCpu: { cores: round(perWorker.reduce((s, w) => s + w.cores, 0)), perWorker },
      machineBusy: round(machineBusy),
      valid: true,
    };
    if (Number.isFinite(serverCpuUs)) {
      result.serverCpu = { cores: round(serverCpuUs / 1e6 / measuredS), usPerOp: round(ops > 0 ? serverCpuUs / ops : Number.NaN, 1) };
      if (Number.isFinite(serverWaitUs)) result.serverCpu.waitingThreads = round(serverWaitUs / 1e6 / measuredS);
      result.serverCpuUsPerOp = result.serverCpu.usPerOp;
    }
    const validity = judgeRun(result);
    result.valid = validity.valid;
    if (validity.reason) result.invalidReason = validity.reason;

    if (options.cleanup ?? true) {
      try {
        const n = await deleteTree(admin, base);
        log(`removed ${n} znodes under ${base}`);
      } catch (error) {
        log(`cleanup of ${base} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return result;
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.race([admin.close(), sleep(5000, undefined, { ref: false })]);
    admin.destroy();
  }
}

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';

/** Human-readable lines for `corral bench run`. */
export function formatRunResult(r: RunResult): string {
  const lines = [
    `workload ${r.workload} on ${r.connect}: ${r.clients} clients × pipeline ${r.pipeline}${r.rate ? `, paced at ${fmt(r.rate)} ops/s (open loop)` : ''} over ${r.workers} worker process(es)${r.cpus ? ` on CPU ${r.cpus}` : ''}${r.schedBatch ? ' (SCHED_BATCH)' : ''}, payload ${r.size} B`,
    `measured ${fmt(r.measuredS, 1)} s after ${fmt(r.warmupS, 1)} s warm-up (excluded)`,
    `throughput  ${fmt(r.opsPerSec)} ops/s (${fmt(r.requestsPerSec)} requests/s)`,
    `latency ms  p50 ${fmt(r.latencyMs.p50, 2)}  p90 ${fmt(r.latencyMs.p90, 2)}  p99 ${fmt(r.latencyMs.p99, 2)}  p99.9 ${fmt(r.latencyMs.p999, 2)}  max ${fmt(r.latencyMs.max, 2)}`,
    `errors      ${r.errors} (${(r.errorRate * 100).toFixed(3)}%)${Object.keys(r.errorCodes).length ? ' ' + JSON.stringify(r.errorCodes) : ''}`,
    `client CPU  ${fmt(r.clientCpu.cores, 2)} cores (${r.clientCpu.perWorker.map((w, i) => `worker ${i}: ${fmt(w.opsPerSec)} ops/s, p99 ${fmt(w.p99, 2)} ms, ${fmt(w.cores * 100)}% CPU, event loop ${fmt(w.eventLoopUtilization * 100)}% busy`).join('; ')})`,
  ];
  if (r.serverCpu) {
    const waiting = r.serverCpu.waitingThreads === undefined ? '' : `; threads waiting for a CPU ${fmt(r.serverCpu.waitingThreads, 2)} on average`;
    lines.push(`server CPU  ${fmt(r.serverCpu.cores, 2)} cores, ${fmt(r.serverCpu.usPerOp, 1)} µs per op${waiting}`);
  }
  lines.push(`machine     ${fmt(r.machineBusy * 100)}% of all CPUs busy`);
  if (!r.valid) lines.push(`INVALID: ${r.invalidReason}`);
  return lines.join('\n');
}
