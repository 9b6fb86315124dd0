import { describe, expect, it } from 'vitest';
import { bucketIndex, bucketRange, Histogram, HISTOGRAM_BUCKETS } from '../src/histogram.js';
import { errorRate, judgeRun, judgeTarget, median, percentile, percentileOfSorted, ratio, summarizeRuns, type RunSummary, type SummarizableRun } from '../src/stats.js';
import { renderMarkdown, type CompareReport } from '../src/compare.js';
import { README_END, README_START, replaceReadmeSection } from '../src/results.js';

describe('percentiles', () => {
  it('nearest rank on sorted samples', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(percentileOfSorted(v, 50)).toBe(50);
    expect(percentileOfSorted(v, 99)).toBe(99);
    expect(percentileOfSorted(v, 99.9)).toBe(100);
    expect(percentileOfSorted(v, 100)).toBe(100);
    expect(percentileOfSorted(v, 0)).toBe(1);
    expect(percentileOfSorted([7], 99)).toBe(7);
    expect(percentileOfSorted([], 50)).toBeNaN();
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
  });

  it('the histogram is exact below 2048 µs and agrees with sorted samples', () => {
    const h = new Histogram();
    const samples: number[] = [];
    let x = 12345;
    for (let i = 0; i < 10_000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const v = x % 2000;
      samples.push(v);
      h.record(v);
    }
    samples.sort((a, b) => a - b);
    for (const p of [1, 50, 90, 99, 99.9, 100]) expect(h.percentile(p)).toBe(percentileOfSorted(samples, p));
    expect(h.count).toBe(10_000);
    expect(h.max).toBe(samples.at(-1));
  });

  it('the histogram overstates large values by at most 1/1024 and never understates', () => {
    for (const v of [2048, 2049, 4095, 4096, 123_456, 9_999_999, 2 ** 31 - 1]) {
      const [low, high] = bucketRange(bucketIndex(v));
      expect(low).toBeLessThanOrEqual(v);
      expect(high).toBeGreaterThanOrEqual(v);
      expect((high - low + 1) / low).toBeLessThanOrEqual(1 / 1024);
    }
    expect(bucketIndex(2 ** 40)).toBe(HISTOGRAM_BUCKETS - 1);
    expect(bucketIndex(-5)).toBe(0);
    // Bucket ranges tile the line without gaps.
    for (let i = 2040; i < 6000; i++) expect(bucketRange(i + 1)[0]).toBe(bucketRange(i)[1] + 1);
    const h = new Histogram();
    h.record(100_000);
    expect(h.percentile(50)).toBe(100_000); // capped at the maximum recorded
  });

  it('histograms merge across processes through their JSON form', () => {
    const a = new Histogram();
    const b = new Histogram();
    for (let i = 1; i <= 50; i++) a.record(i);
    for (let i = 51; i <= 100; i++) b.record(i);
    const merged = Histogram.from(JSON.parse(JSON.stringify(a.toJSON())));
    merged.merge(JSON.parse(JSON.stringify(b.toJSON())));
    expect(merged.count).toBe(100);
    expect(merged.min).toBe(1);
    expect(merged.max).toBe(100);
    expect(merged.percentile(50)).toBe(50);
    expect(merged.percentile(99)).toBe(99);
    expect(merged.mean()).toBe(50.5);
    expect(new Histogram().percentile(99)).toBe(0);
  });
});

describe('median and ratio', () => {
  it('median of odd and even counts, ignoring NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it('ratio is candidate over baseline, NaN without a baseline', () => {
    expect(ratio(30_000, 20_000)).toBe(1.5);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(Number.NaN, 2)).toBeNaN();
  });
});

describe('invalid runs', () => {
  it('more than 0.1% errors makes a run invalid; exactly 0.1% does not', () => {
    expect(errorRate(999, 1)).toBe(0.001);
    expect(judgeRun({ ops: 999, errors: 1 }).valid).toBe(true);
    expect(judgeRun({ ops: 998, errors: 2 })).toEqual({ valid: false, reason: 'error rate 0.200% > 0.1%' });
    expect(judgeRun({ ops: 0, errors: 0 }).valid).toBe(false);
    expect(judgeRun({ ops: 10, errors: 0, failure: 'server did not start' })).toEqual({ valid: false, reason: 'server did not start' });
  });

  it('medians are taken over valid runs only', () => {
    const run = (opsPerSec: number, errors = 0): SummarizableRun => ({
      ops: opsPerSec * 10,
      errors,
      opsPerSec,
      latencyMs: { p50: 1, p99: opsPerSec / 1000, p999: 9 },
      clientCpu: { cores: 0.5 },
    });
    const s = summarizeRuns([run(10_000), run(30_000), run(99_000, 50_000), run(20_000)]);
    expect(s.runs).toBe(4);
    expect(s.validRuns).toBe(3);
    expect(s.opsPerSec).toBe(20_000);
    expect(s.p99Ms).toBe(20);
    expect(s.errors).toBe(50_000);
    expect(s.serverCpuUsPerOp).toBeNaN();
    expect(summarizeRuns([run(5, 5)]).opsPerSec).toBeNaN();
  });

  it('targets: ops/s ratio and p99 against ZooKeeper', () => {
    const summary = (opsPerSec: number, p99Ms: number): RunSummary => ({
      runs: 3, validRuns: 3, opsPerSec, p50Ms: 1, p99Ms, p999Ms: 10, errors: 0, clientCores: 1, serverCpuUsPerOp: 10, serverWaitingThreads: 0.3,
    });
    expect(judgeTarget('create', summary(30_000, 5), summary(20_000, 6))).toBe('met');
    expect(judgeTarget('set', summary(25_000, 7), summary(20_000, 6))).toBe('missed (ops/s 1.25× < 1.5×; p99 above ZooKeeper)');
    expect(judgeTarget('get', summary(20_000, 6), summary(20_000, 6))).toBe('met');
    expect(judgeTarget('lock', summary(1, 1), summary(1, 1))).toBeUndefined();
  });
});

describe('report', () => {
  it('marks invalid runs, and Corral as not yet available for an ensemble', () => {
    const summary: RunSummary = { runs: 1, validRuns: 1, opsPerSec: 1000, p50Ms: 1, p99Ms: 2, p999Ms: 3, errors: 0, clientCores: 0.5, serverCpuUsPerOp: 20, serverWaitingThreads: 0.25 };
    const report = {
      startedAt: '2025-01-01T00:00:00.000Z',
      elapsedS: 1,
      machine: { nproc: 2, cpuModel: 'cpu', memoryGiB: 4, kernel: 'Linux', node: 'v20', java: 'java 17' },
      options: { servers: 3, rounds: 1, clients: 64, pipeline: 1, size: 100, durationS: 5, serverWarmupS: 0, znodes: 0, expiryRounds: 0, expirySessions: 0, failoverTrials: 5, expirySessionTimeoutMs: 4000, recoveryTrials: 1, workloads: ['get'] },
      runs: [{ server: 'zookeeper', round: 1, workload: 'get', failure: 'boom' }],
      summary: [{ workload: 'get', description: '', zookeeper: summary, corral: null, throughputRatio: Number.NaN, p99Ratio: Number.NaN }],
      expiry: {},
      recovery: {},
      failover: { zookeeper: [{ failoverMs: 800, attempts: 3 }] },
      notes: [],
    } as unknown as CompareReport;
    const md = renderMarkdown(report);
    expect(md).toContain('| get | 1,000 | not yet available | not yet available |');
    expect(md).toContain('| 20.0 / — | 0.25 / — | 0.50 / — |'); // server CPU, threads waiting, client cores
    expect(md).toContain('| failover: SIGKILL leader → first successful write (5 trials) | 800 ms median (800) | not yet available |');
    expect(md).toContain('- invalid: ZooKeeper round 1 get: boom');
  });

  it('shows RSS 1 s after the populate and once idle, and n/a where an older result has no idle figure', () => {
    const sample = (loaded: number, settled?: number) => ({
      znodes: 1000, payloadBytes: 100, populateOpsPerSec: 5000, rssLoadedBytes: loaded * 2 ** 20, rssSettledBytes: settled === undefined ? undefined : settled * 2 ** 20,
      recoveryMs: 100, rssRecoveredBytes: 50 * 2 ** 20, recoveredDescendants: 1001, complete: true,
    });
    const report = (corralSettled?: number) =>
      ({
        startedAt: '2025-01-01T00:00:00.000Z',
        elapsedS: 1,
        machine: { nproc: 2, cpuModel: 'cpu', memoryGiB: 4, kernel: 'Linux', node: 'v20', java: 'java 17' },
        options: { servers: 1, rounds: 1, clients: 64, pipeline: 1, size: 100, durationS: 5, serverWarmupS: 0, znodes: 1000, expiryRounds: 0, expirySessions: 0, failoverTrials: 0, expirySessionTimeoutMs: 4000, recoveryTrials: 1, workloads: [] },
        runs: [],
        summary: [],
        expiry: {},
        recovery: { zookeeper: [sample(90, 91)], corral: [sample(80, corralSettled)] },
        notes: [],
      }) as unknown as CompareReport;
    expect(renderMarkdown(report(60))).toContain('| RSS with 1,000 znodes × 100 B, 30 s after the populate (idle) | 91 MiB | 60 MiB |');
    expect(renderMarkdown(report(60))).toContain('| RSS with 1,000 znodes × 100 B (VmRSS 1 s after the populate) | 90 MiB | 80 MiB |');
    expect(renderMarkdown(report(undefined))).toContain('(idle) | 91 MiB | n/a |');
    expect(renderMarkdown(report(60))).not.toContain('taskset');
    const pinned = report(60);
    pinned.options = { ...pinned.options, serverCpus: '0', clientCpus: '1' };
    expect(renderMarkdown(pinned)).toContain('Placement: servers on CPU 0, load generator on CPU 1 (taskset); the same for both systems.');
    pinned.options = { ...pinned.options, clientSchedBatch: true };
    expect(renderMarkdown(pinned)).toContain('(taskset); load generator under SCHED_BATCH (chrt -b: its wake-ups do not preempt a server thread); the same');
  });

  it('replaces only the marked README section', () => {
    const readme = `# x\n\nintro\n\n${README_START}\nold\n${README_END}\n\nafter\n`;
    const next = replaceReadmeSection(readme, `${README_START}\nnew\n${README_END}`);
    expect(next).toBe(`# x\n\nintro\n\n${README_START}\nnew\n${README_END}\n\nafter\n`);
    expect(replaceReadmeSection('# y\n', 'S')).toBe('# y\n\nS\n');
  });
});
