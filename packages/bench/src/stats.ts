/** Pure helpers behind every figure the benchmark prints (unit-tested in test/stats.test.ts). */

/** A run whose error rate is above this (0.1%) is marked invalid and left out of medians. */
export const MAX_ERROR_RATE = 0.001;

/** Nearest-rank percentile of already sorted numbers (p in [0, 100]); NaN when empty. */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, p)) / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Nearest-rank percentile of unsorted numbers. */
export function percentile(values: readonly number[], p: number): number {
  return percentileOfSorted([...values].sort((a, b) => a - b), p);
}

/** Median (mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** Errors over all attempts (successes + errors); 0 when nothing was attempted. */
export function errorRate(ops: number, errors: number): number {
  const attempts = ops + errors;
  return attempts === 0 ? 0 : errors / attempts;
}

export interface Validity {
  valid: boolean;
  /** Why a run is invalid. */
  reason?: string;
}

/** A run is invalid if it did nothing, failed outright, or more than 0.1% of its operations failed. */
export function judgeRun(run: { ops: number; errors: number; failure?: string }): Validity {
  if (run.failure) return { valid: false, reason: run.failure };
  if (run.ops === 0) return { valid: false, reason: 'no operation completed' };
  const rate = errorRate(run.ops, run.errors);
  if (rate > MAX_ERROR_RATE) return { valid: false, reason: `error rate ${(rate * 100).toFixed(3)}% > ${MAX_ERROR_RATE * 100}%` };
  return { valid: true };
}

/** candidate / baseline, or NaN if either is missing or the baseline is 0. */
export function ratio(candidate: number, baseline: number): number {
  if (!Number.isFinite(candidate) || !Number.isFinite(baseline) || baseline === 0) return Number.NaN;
  return candidate / baseline;
}

/** The median of each metric over the valid runs only. */
export interface RunSummary {
  runs: number;
  validRuns: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  errors: number;
  /** Median client CPU (cores busy, summed over worker processes). */
  clientCores: number;
  /** Median server CPU per operation, in µs (NaN when not measured). */
  serverCpuUsPerOp: number;
  /** Median of the server's threads waiting for a CPU, on average over a run (NaN when not measured). */
  serverWaitingThreads: number;
}

export interface SummarizableRun {
  ops: number;
  errors: number;
  failure?: string;
  opsPerSec: number;
  latencyMs: { p50: number; p99: number; p999: number };
  clientCpu: { cores: number };
  serverCpuUsPerOp?: number;
  serverCpu?: { waitingThreads?: number };
}

export function summarizeRuns(runs: readonly SummarizableRun[]): RunSummary {
  const valid = runs.filter((r) => judgeRun(r).valid);
  const pick = (f: (r: SummarizableRun) => number | undefined): number => median(valid.map((r) => f(r) ?? Number.NaN));
  return {
    runs: runs.length,
    validRuns: valid.length,
    opsPerSec: pick((r) => r.opsPerSec),
    p50Ms: pick((r) => r.latencyMs.p50),
    p99Ms: pick((r) => r.latencyMs.p99),
    p999Ms: pick((r) => r.latencyMs.p999),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    clientCores: pick((r) => r.clientCpu.cores),
    serverCpuUsPerOp: pick((r) => r.serverCpuUsPerOp),
    serverWaitingThreads: pick((r) => r.serverCpu?.waitingThreads),
  };
}

/** Issue 5's targets for Corral against ZooKeeper at 64 clients. */
export const TARGETS: Record<string, { minThroughputRatio: number; p99AtMostZooKeeper: boolean }> = {
  create: { minThroughputRatio: 1.5, p99AtMostZooKeeper: true },
  set: { minThroughputRatio: 1.5, p99AtMostZooKeeper: true },
  get: { minThroughputRatio: 1.0, p99AtMostZooKeeper: true },
};

/**
 * 'met', 'missed (…)', or undefined when the workload has no target or a side has no valid run.
 * `openLoop`: both ran at one fixed rate, so only the latency target means anything.
 */
export function judgeTarget(workload: string, corral: RunSummary, zookeeper: RunSummary, openLoop = false): string | undefined {
  const target = TARGETS[workload];
  if (!target) return undefined;
  const throughput = ratio(corral.opsPerSec, zookeeper.opsPerSec);
  if (!Number.isFinite(throughput) || !Number.isFinite(corral.p99Ms) || !Number.isFinite(zookeeper.p99Ms)) return undefined;
  const misses: string[] = [];
  if (!openLoop && throughput < target.minThroughputRatio) misses.push(`ops/s ${throughput.toFixed(2)}× < ${target.minThroughputRatio}×`);
  if (target.p99AtMostZooKeeper && corral.p99Ms > zookeeper.p99Ms) misses.push('p99 above ZooKeeper');
  return misses.length === 0 ? 'met' : `missed (${misses.join('; ')})`;
}
