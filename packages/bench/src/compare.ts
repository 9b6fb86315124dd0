/**
 * `corral bench compare`: Apache ZooKeeper and Corral from the same zoo.cfg, each started fresh in
 * turn (ZooKeeper, Corral, ZooKeeper, Corral, …), the same workloads through the same client library,
 * medians over the valid runs and Corral/ZooKeeper ratios.
 */
import { performance } from 'node:perf_hooks';
import { zookeeperAvailable } from '@corral/testing';
import { measureFailover, measureRecovery, measureSessionExpiry, type ExpirySample, type FailoverSample, type RecoverySample } from './extras.js';
import { DEFAULT_COMPARE } from './defaults.js';
import { describeMachine, formatMachine, type MachineInfo } from './machine.js';
import type { Placement } from './placement.js';
import { runBench, type RunResult } from './run.js';
import { BenchCluster, SERVER_LABEL, ZOOKEEPER_HEAP, type ServerKind } from './servers.js';
import { judgeTarget, median, ratio, summarizeRuns, MAX_ERROR_RATE, type RunSummary } from './stats.js';
import { WORKLOAD_DESCRIPTIONS, type WorkloadName } from './workloads.js';

export interface CompareOptions {
  servers: 1 | 3;
  workloads: WorkloadName[];
  rounds: number;
  durationS: number;
  warmupS?: number;
  clients: number;
  pipeline: number;
  size: number;
  workers?: number;
  /**
   * Several load-generator process counts: every run is made once with each, and the one with the
   * most ops/s counts, for each server separately (each system at the client setting that serves it
   * best). Undefined or one entry: `workers` alone.
   */
  workerChoices?: number[];
  /** Open-loop target ops/s for the measured runs (same for both servers); undefined: closed loop. */
  rate?: number;
  /**
   * Seconds of unmeasured load after every fresh start, split over create, mixed and latch, so that
   * neither JIT (HotSpot's or V8's) is measured cold by the first workload of a round. 0 skips it.
   */
  serverWarmupS: number;
  /** Znodes for the recovery/RSS measure; 0 skips it. */
  znodes: number;
  recoveryTrials: number;
  /** Idle seconds after the populate before the settled RSS: V8 shrinks its heap only once allocation has stopped for a while. */
  settleS: number;
  /** Rounds (from the first) that end with a session-expiry check; 0 skips it. */
  expiryRounds: number;
  expirySessions: number;
  expirySessionTimeoutMs: number;
  /** Failover trials (3-server ZooKeeper only); 0 skips it. */
  failoverTrials: number;
  corralNodeArgs?: string[];
  /**
   * CPU lists (taskset) for the servers of both systems and for the load generator's processes,
   * e.g. "0" and "1": each side gets cores of its own. Undefined: everything shares all CPUs.
   */
  serverCpus?: string;
  clientCpus?: string;
  /** Load-generator processes under SCHED_BATCH (see Placement.batch). */
  clientSchedBatch?: boolean;
  /** The command line, for the report. */
  command?: string;
  log?: (line: string) => void;
}

export interface RunRecord {
  server: ServerKind;
  round: number;
  result?: RunResult;
  /** Set when the run could not produce a result at all (server did not start, worker died, …). */
  failure?: string;
  workload: WorkloadName;
  /** false: a run with another worker count served this server better and counts instead (see workerChoices). */
  counted?: boolean;
}

/**
 * Of the runs of one server, round and workload made with different worker counts, only the valid
 * one with the most ops/s counts (or the first, when none is valid, so the failure still shows).
 */
export function markBestOf(tried: RunRecord[]): void {
  if (tried.length < 2) return;
  let best = tried[0]!;
  const validOps = (r: RunRecord): number => (r.result?.valid ? r.result.opsPerSec : -1);
  for (const r of tried) if (validOps(r) > validOps(best)) best = r;
  for (const r of tried) r.counted = r === best;
}

export interface WorkloadSummary {
  workload: WorkloadName;
  description: string;
  zookeeper: RunSummary;
  /** null: Corral cannot run this configuration yet (3-server ensemble). */
  corral: RunSummary | null;
  throughputRatio: number;
  p99Ratio: number;
  target?: string;
}

export interface CompareReport {
  kind: 'corral-bench-compare';
  version: 1;
  startedAt: string;
  finishedAt: string;
  elapsedS: number;
  command: string;
  machine: MachineInfo;
  zookeeperVersion?: string;
  options: Omit<CompareOptions, 'log'>;
  runs: RunRecord[];
  summary: WorkloadSummary[];
  expiry: Partial<Record<ServerKind, ExpirySample[]>>;
  recovery: Partial<Record<ServerKind, RecoverySample[]>>;
  failover?: Partial<Record<ServerKind, FailoverSample[]>>;
  /** Problems in the non-throughput measures. */
  notes: string[];
}

function message(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

export class ZooKeeperUnavailableError extends Error {}

/** What the unmeasured warm-up after each start runs (covers the create, get/set and ephemeral/children paths). */
const SERVER_WARMUP_WORKLOADS: WorkloadName[] = ['create', 'mixed', 'latch'];

export async function compare(options: CompareOptions): Promise<CompareReport> {
  const log = options.log ?? (() => {});
  const zk = zookeeperAvailable();
  if (!zk.ok) {
    throw new ZooKeeperUnavailableError(
      `Apache ZooKeeper is not available here: ${zk.reason}.\n` +
        'Install Java and the Debian package (apt-get install default-jre-headless zookeeper), or use `corral bench run` against a server of your own.',
    );
  }
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const machine = describeMachine();
  log(`machine: ${formatMachine(machine)}`);
  // Corral has no ensemble yet: with --servers 3 only ZooKeeper runs.
  const kinds: ServerKind[] = options.servers === 1 ? ['zookeeper', 'corral'] : ['zookeeper'];
  const clusters = new Map<ServerKind, BenchCluster>();
  for (const kind of kinds) clusters.set(kind, await BenchCluster.prepare(kind, options.servers, { corralNodeArgs: options.corralNodeArgs, cpus: options.serverCpus }));
  const clientPlacement: Placement = { cpus: options.clientCpus, batch: options.clientSchedBatch };
  log(`zoo.cfg (same settings for both): ${clusters.get('zookeeper')!.nodes[0]!.cfgPath}`);

  const runs: RunRecord[] = [];
  const expiry: CompareReport['expiry'] = {};
  const recovery: CompareReport['recovery'] = {};
  const notes: string[] = [];
  let zookeeperVersion: string | undefined;
  let failover: CompareReport['failover'];

  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const kind of kinds) {
        const cluster = clusters.get(kind)!;
        log(`round ${round}/${options.rounds}: ${SERVER_LABEL[kind]} (${options.servers} server${options.servers > 1 ? 's' : ''}, fresh data)`);
        try {
          await cluster.startFresh();
          if (kind === 'zookeeper') zookeeperVersion ??= (await cluster.version())?.replace(/-\$\{mvngit\.commit\.id\}/, '');
        } catch (error) {
          for (const workload of options.workloads) runs.push({ server: kind, round, workload, failure: `server did not start: ${message(error)}` });
          log(`  ${SERVER_LABEL[kind]} did not start: ${message(error)}`);
          continue;
        }
        if (options.serverWarmupS > 0) {
          try {
            for (const workload of SERVER_WARMUP_WORKLOADS) {
              await runBench({
                connect: cluster.connectString,
                workload,
                clients: options.clients,
                pipeline: options.pipeline,
                durationS: options.serverWarmupS / SERVER_WARMUP_WORKLOADS.length,
                warmupS: 0,
                size: options.size,
                workers: options.workers,
                placement: clientPlacement,
                cleanup: false,
              });
            }
          } catch (error) {
            log(`  server warm-up failed: ${message(error)}`);
          }
        }
        const workerCounts = options.workerChoices && options.workerChoices.length > 1 ? options.workerChoices : [options.workers];
        let serverDied = false;
        for (const workload of options.workloads) {
          const tried: RunRecord[] = [];
          for (const workers of workerCounts) {
            try {
              const result = await runBench({
                connect: cluster.connectString,
                workload,
                clients: options.clients,
                pipeline: options.pipeline,
                durationS: options.durationS,
                warmupS: options.warmupS,
                size: options.size,
                workers,
                placement: clientPlacement,
                rate: options.rate,
                serverPids: cluster.pids,
                cleanup: false,
              });
              tried.push({ server: kind, round, workload, result });
              log(
                `  ${workload.padEnd(12)} ${Math.round(result.opsPerSec).toLocaleString('en-US').padStart(9)} ops/s  p50 ${result.latencyMs.p50.toFixed(2)}  p99 ${result.latencyMs.p99.toFixed(2)} ms  errors ${result.errors}` +
                  `  client ${result.clientCpu.cores.toFixed(2)} cores${workerCounts.length > 1 ? ` (${result.workers} worker${result.workers > 1 ? 's' : ''})` : ''}  server ${result.serverCpu?.cores.toFixed(2) ?? '?'} cores (${result.serverCpu?.waitingThreads?.toFixed(2) ?? '?'} waiting)${result.valid ? '' : `  INVALID: ${result.invalidReason}`}`,
              );
            } catch (error) {
              tried.push({ server: kind, round, workload, failure: message(error) });
              log(`  ${workload}: FAILED: ${message(error)}`);
              if (cluster.pids.length < cluster.nodes.length) {
                serverDied = true;
                break;
              }
            }
          }
          markBestOf(tried);
          runs.push(...tried);
          if (serverDied) break; // the server died: next round
        }
        if (round <= options.expiryRounds && options.expirySessions > 0) {
          try {
            const samples = await measureSessionExpiry(cluster.connectString, options.expirySessionTimeoutMs, options.expirySessions, clientPlacement);
            (expiry[kind] ??= []).push(...samples);
            log(`  session expiry: ${samples.map((s) => `${Math.round(s.detectionMs)} ms`).join(', ')} (timeout ${samples[0]?.negotiatedTimeoutMs} ms)`);
          } catch (error) {
            notes.push(`${SERVER_LABEL[kind]} round ${round}: session-expiry check failed: ${message(error)}`);
            log(`  session expiry: FAILED: ${message(error)}`);
          }
        }
        if (options.servers === 3 && round === options.rounds && options.failoverTrials > 0) {
          try {
            log(`  failover: ${options.failoverTrials} trials (SIGKILL the leader, time the first successful write)`);
            failover = { [kind]: await measureFailover(cluster, options.failoverTrials, log) };
          } catch (error) {
            notes.push(`${SERVER_LABEL[kind]}: failover measure failed: ${message(error)}`);
            log(`  failover: FAILED: ${message(error)}`);
          }
        }
        await cluster.stop();
      }
    }

    if (options.servers === 1 && options.znodes > 0) {
      for (let trial = 1; trial <= options.recoveryTrials; trial++) {
        for (const kind of kinds) {
          log(`recovery ${trial}/${options.recoveryTrials}: ${SERVER_LABEL[kind]} with ${options.znodes.toLocaleString('en-US')} znodes of ${options.size} B`);
          try {
            const sample = await measureRecovery(clusters.get(kind)!, options.znodes, options.size, options.settleS * 1000, log);
            (recovery[kind] ??= []).push(sample);
            log(
              `  populated at ${Math.round(sample.populateOpsPerSec).toLocaleString('en-US')} creates/s, RSS ${mib(sample.rssLoadedBytes)} MiB (${mib(sample.rssSettledBytes ?? Number.NaN)} MiB idle); ` +
                `recovered in ${Math.round(sample.recoveryMs)} ms, RSS ${mib(sample.rssRecoveredBytes)} MiB${sample.complete ? '' : ` INCOMPLETE (${sample.recoveredDescendants} descendants)`}`,
            );
          } catch (error) {
            notes.push(`${SERVER_LABEL[kind]}: recovery measure failed: ${message(error)}`);
            log(`  recovery: FAILED: ${message(error)}`);
            await clusters.get(kind)!.stop();
          }
        }
      }
    }
  } finally {
    for (const cluster of clusters.values()) await cluster.destroy();
  }

  const summary = options.workloads.map((workload): WorkloadSummary => {
    const of = (kind: ServerKind): RunSummary =>
      summarizeRuns(
        runs
          .filter((r) => r.server === kind && r.workload === workload && r.counted !== false)
          .map((r) => r.result ?? { ops: 0, errors: 0, failure: r.failure, opsPerSec: Number.NaN, latencyMs: { p50: Number.NaN, p99: Number.NaN, p999: Number.NaN }, clientCpu: { cores: Number.NaN } }),
      );
    const zookeeper = of('zookeeper');
    const corral = kinds.includes('corral') ? of('corral') : null;
    const s: WorkloadSummary = {
      workload,
      description: WORKLOAD_DESCRIPTIONS[workload],
      zookeeper,
      corral,
      throughputRatio: corral ? ratio(corral.opsPerSec, zookeeper.opsPerSec) : Number.NaN,
      p99Ratio: corral ? ratio(corral.p99Ms, zookeeper.p99Ms) : Number.NaN,
    };
    const target = corral && options.clients === 64 ? judgeTarget(workload, corral, zookeeper, options.rate !== undefined) : undefined;
    if (target) s.target = target;
    return s;
  });

  const { log: _log, ...recorded } = options;
  return {
    kind: 'corral-bench-compare',
    version: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    elapsedS: Math.round((performance.now() - t0) / 100) / 10,
    command: options.command ?? 'corral bench compare',
    machine,
    ...(zookeeperVersion ? { zookeeperVersion } : {}),
    options: recorded,
    runs,
    summary,
    expiry,
    recovery,
    ...(failover ? { failover } : {}),
    notes,
  };
}

// ------------------------------------------------------------------------------------------ report

function mib(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(0) : 'n/a';
}

const num = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';
const times = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}×` : 'n/a');
const NOT_YET = 'not yet available';

function latencies(s: RunSummary): string {
  return s.validRuns === 0 ? 'no valid run' : `${num(s.p50Ms, 2)} / ${num(s.p99Ms, 2)} / ${num(s.p999Ms, 2)}`;
}

function opsCell(s: RunSummary): string {
  return s.validRuns === 0 ? `no valid run (${s.runs})` : `${num(s.opsPerSec)}${s.validRuns < s.runs ? ` (${s.validRuns}/${s.runs} valid)` : ''}`;
}

/** The Markdown report: throughput/latency table, then the other measures. */
export function renderMarkdown(report: CompareReport): string {
  const o = report.options;
  const hasCorral = report.summary.some((s) => s.corral !== null);
  const out: string[] = [];
  out.push(
    `Run ${report.startedAt.slice(0, 19).replace('T', ' ')} UTC, ${report.elapsedS} s. ` +
      (o.servers === 1
        ? `One standalone server per system, ${o.rounds} round${o.rounds === 1 ? '' : 's'} alternating ZooKeeper and Corral, fresh data directory each start, same zoo.cfg (forceSync=yes). `
        : `A 3-server Apache ZooKeeper ensemble on loopback (Corral has no ensemble yet), ${o.rounds} round${o.rounds === 1 ? '' : 's'}, fresh data directories each start (forceSync=yes). `) +
      `${o.clients} clients × ${o.pipeline} request(s) in flight${o.rate ? `, open loop at ${o.rate.toLocaleString('en-US')} ops/s (latency from each operation's scheduled start)` : ''}, ${o.size}-byte payloads, ${o.durationS} s per run of which the first ${num(o.warmupS ?? o.durationS * 0.2, 1)} s are warm-up (excluded)` +
      `${o.serverWarmupS > 0 ? `, after ${o.serverWarmupS} s of unmeasured load following each start` : ''}. ` +
      `${o.workerChoices && o.workerChoices.length > 1 ? `Each run made with ${o.workerChoices.join(', then ')} load-generator processes in turn; for each server the one with more ops/s counts. ` : o.workers ? `${o.workers} load-generator process${o.workers > 1 ? 'es' : ''}. ` : ''}` +
      `Medians over valid runs; a run with more than ${MAX_ERROR_RATE * 100}% errors is invalid.`,
  );
  out.push('');
  const placement: string[] = [];
  if (o.serverCpus !== undefined || o.clientCpus !== undefined) {
    placement.push(`servers on ${o.serverCpus === undefined ? 'all CPUs' : `CPU ${o.serverCpus}`}, load generator on ${o.clientCpus === undefined ? 'all CPUs' : `CPU ${o.clientCpus}`} (taskset)`);
  }
  if (o.clientSchedBatch) placement.push('load generator under SCHED_BATCH (chrt -b: its wake-ups do not preempt a server thread)');
  if (placement.length > 0) {
    out.push(`Placement: ${placement.join('; ')}; the same for both systems.`);
    out.push('');
  }
  out.push(`Machine: ${formatMachine(report.machine)}. ZooKeeper ${report.zookeeperVersion ?? '(version unknown)'} (Debian package, ${ZOOKEEPER_HEAP}, default GC).`);
  out.push('');
  out.push('| workload | ZooKeeper ops/s | Corral ops/s | Corral/ZK | ZooKeeper p50 / p99 / p99.9 ms | Corral p50 / p99 / p99.9 ms | p99 Corral/ZK | server CPU µs/op ZK / Corral | server threads waiting for a CPU ZK / Corral | client cores ZK / Corral | errors ZK / Corral | target |');
  out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const s of report.summary) {
    const c = s.corral;
    out.push(
      `| ${s.workload} | ${opsCell(s.zookeeper)} | ${c ? opsCell(c) : NOT_YET} | ${c ? times(s.throughputRatio) : NOT_YET} | ${latencies(s.zookeeper)} | ${c ? latencies(c) : NOT_YET} | ${c ? times(s.p99Ratio) : NOT_YET} | ` +
        `${num(s.zookeeper.serverCpuUsPerOp, 1)} / ${c ? num(c.serverCpuUsPerOp, 1) : '—'} | ${num(s.zookeeper.serverWaitingThreads, 2)} / ${c ? num(c.serverWaitingThreads, 2) : '—'} | ${num(s.zookeeper.clientCores, 2)} / ${c ? num(c.clientCores, 2) : '—'} | ${s.zookeeper.errors} / ${c ? c.errors : '—'} | ${s.target ?? (c ? '—' : NOT_YET)} |`,
    );
  }
  out.push('');
  out.push('| measure | ZooKeeper | Corral |');
  out.push('|---|--:|--:|');
  const corralCell = (f: () => string): string => (hasCorral ? f() : NOT_YET);
  const exp = (samples: ExpirySample[] | undefined): string => {
    const ok = (samples ?? []).filter((x) => Number.isFinite(x.detectionMs));
    if (ok.length === 0) return 'n/a';
    const med = median(ok.map((x) => x.detectionMs));
    return `${num(med)} ms = ${(med / ok[0]!.negotiatedTimeoutMs).toFixed(2)}× timeout (${ok.length} sessions, ${num(Math.min(...ok.map((x) => x.detectionMs)))}–${num(Math.max(...ok.map((x) => x.detectionMs)))})`;
  };
  if (o.expiryRounds > 0 && o.expirySessions > 0) {
    out.push(`| session expiry detection (client SIGKILLed → ephemeral gone; timeout ${o.expirySessionTimeoutMs} ms, tickTime 2000) | ${exp(report.expiry.zookeeper)} | ${corralCell(() => exp(report.expiry.corral))} |`);
  }
  const rec = (samples: RecoverySample[] | undefined, f: (r: RecoverySample) => number, unit: (n: number) => string): string => {
    if (!samples?.length) return 'n/a';
    const v = median(samples.map(f));
    return `${unit(v)}${samples.every((x) => x.complete) ? '' : ' (INCOMPLETE recovery)'}`;
  };
  if (o.servers === 1 && o.znodes > 0) {
    const label = `${num(o.znodes)} znodes × ${o.size} B`;
    const ms = (n: number): string => `${num(n)} ms`;
    const mb = (n: number): string => `${mib(n)} MiB`;
    const cps = (n: number): string => `${num(n)} creates/s`;
    out.push(`| populate ${label} (4 clients × 256 in flight) | ${rec(report.recovery.zookeeper, (r) => r.populateOpsPerSec, cps)} | ${rec(report.recovery.corral, (r) => r.populateOpsPerSec, cps)} |`);
    out.push(`| RSS with ${label} (VmRSS 1 s after the populate) | ${rec(report.recovery.zookeeper, (r) => r.rssLoadedBytes, mb)} | ${rec(report.recovery.corral, (r) => r.rssLoadedBytes, mb)} |`);
    const settled = (samples: RecoverySample[] | undefined) => (samples?.every((r) => r.rssSettledBytes !== undefined) ? rec(samples, (r) => r.rssSettledBytes!, mb) : 'n/a');
    out.push(`| RSS with ${label}, ${o.settleS ?? DEFAULT_COMPARE.settleS} s after the populate (idle) | ${settled(report.recovery.zookeeper)} | ${settled(report.recovery.corral)} |`);
    out.push(`| recovery after SIGKILL with ${label} (spawn → srvr reports a Mode) | ${rec(report.recovery.zookeeper, (r) => r.recoveryMs, ms)} | ${rec(report.recovery.corral, (r) => r.recoveryMs, ms)} |`);
    out.push(`| RSS right after recovery | ${rec(report.recovery.zookeeper, (r) => r.rssRecoveredBytes, mb)} | ${rec(report.recovery.corral, (r) => r.rssRecoveredBytes, mb)} |`);
  }
  if (o.servers === 3) {
    const f = report.failover?.zookeeper;
    const cell = f?.length
      ? `${num(median(f.map((x) => x.failoverMs)))} ms median (${f.map((x) => num(x.failoverMs)).join(', ')})`
      : 'n/a';
    out.push(`| failover: SIGKILL leader → first successful write (${o.failoverTrials} trials) | ${cell} | ${NOT_YET} |`);
  }
  const invalid = report.runs.filter((r) => r.failure || (r.result && !r.result.valid));
  if (invalid.length > 0 || report.notes.length > 0) {
    out.push('');
    for (const r of invalid) out.push(`- invalid: ${SERVER_LABEL[r.server]} round ${r.round} ${r.workload}: ${r.failure ?? r.result?.invalidReason}`);
    for (const n of report.notes) out.push(`- ${n}`);
  }
  return out.join('\n');
}
