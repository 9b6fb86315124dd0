import { describe, expect, it } from 'vitest';
import { corralCliPath, runCommand, runsHere, zookeeperAvailable } from '@corral/testing';
import { markBestOf, type CompareReport, type RunRecord } from '../src/compare.js';
import type { RunResult } from '../src/run.js';

function record(opsPerSec: number, valid = true): RunRecord {
  return { server: 'corral', round: 1, workload: 'get', result: { opsPerSec, valid } as RunResult };
}

describe('best of several load-generator process counts', () => {
  it('counts the valid run with the most ops/s, and the first when none is valid', () => {
    const runs = [record(50_000), record(90_000, false), record(70_000)];
    markBestOf(runs);
    expect(runs.map((r) => r.counted)).toEqual([false, false, true]);
    const failed: RunRecord[] = [{ server: 'corral', round: 1, workload: 'get', failure: 'worker died' }, record(10, false)];
    markBestOf(failed);
    expect(failed.map((r) => r.counted)).toEqual([true, false]);
    const single = [record(1)];
    markBestOf(single);
    expect(single[0]!.counted).toBeUndefined();
  });

  it.runIf(runsHere(zookeeperAvailable(), 'bench compare against Apache ZooKeeper'))(
    'compare --workers 1,2 makes each run with both counts and counts, per server, the one with more ops/s',
    async () => {
      const args = ['bench', 'compare', '--rounds', '1', '--workloads', 'get', '--duration', '1.5', '--clients', '4', '--workers', '1,2',
        '--server-warmup', '0', '--znodes', '0', '--expiry-rounds', '0', '--json'];
      const { code, stdout, stderr } = await runCommand(process.execPath, [corralCliPath(), ...args], { timeoutMs: 110_000 });
      expect(code, stderr).toBe(0);
      const report = JSON.parse(stdout) as CompareReport;
      expect(report.options.workerChoices).toEqual([1, 2]);
      for (const server of ['zookeeper', 'corral'] as const) {
        const runs = report.runs.filter((r) => r.server === server);
        expect(runs.map((r) => r.result?.workers)).toEqual([1, 2]);
        const counted = runs.filter((r) => r.counted);
        expect(counted).toHaveLength(1);
        const best = Math.max(...runs.map((r) => r.result!.opsPerSec));
        expect(counted[0]!.result!.opsPerSec).toBe(best);
        const summary = report.summary[0]![server]!;
        expect(summary.runs).toBe(1);
        expect(summary.opsPerSec).toBe(best);
      }
    },
    120_000,
  );
});
