import { readdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CORRAL_SERVER_NODE_FLAGS } from '@corral/testing';
import { allowedCpus, checkCpuList, PlacementError, launch, parseCpuList, processCpus, processPolicy } from '../src/placement.js';
import { forkWorker } from '../src/run.js';
import { BenchCluster } from '../src/servers.js';

/** Cpus_allowed_list of every thread of a process: taskset at exec must reach threads started later too. */
function threadCpus(pid: number): number[][] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => allowedCpus(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')));
}

describe('CPU lists', () => {
  it('parses single CPUs, ranges and lists; rejects what is not a list', () => {
    expect(parseCpuList('0')).toEqual([0]);
    expect(parseCpuList('0-2,5')).toEqual([0, 1, 2, 5]);
    expect(parseCpuList('3,1,1-2')).toEqual([1, 2, 3]);
    for (const bad of ['', 'a', '1-', '-1', '2-1', '0,,1', '0 1']) expect(() => parseCpuList(bad), bad).toThrow(PlacementError);
  });

  it('reads the allowed CPUs from a status file and refuses CPUs outside them, naming the option', () => {
    expect(allowedCpus('Name:\tnode\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n')).toEqual([0, 1]);
    expect(checkCpuList('--server-cpus', '1,0', [0, 1])).toBe('0,1');
    expect(checkCpuList('--server-cpus', undefined, [0, 1])).toBeUndefined();
    expect(() => checkCpuList('--client-cpus', '0,7', [0, 1])).toThrow(/--client-cpus: CPU 7 is not available here/);
    expect(() => checkCpuList('--client-cpus', 'x', [0, 1])).toThrow(/--client-cpus: "x" is not a CPU list/);
  });
});

describe('pinned processes', () => {
  const cpu = allowedCpus().at(-1)!;

  it('launch wraps a command in taskset and chrt only as asked', () => {
    expect(launch(undefined, 'node', ['x.js'])).toEqual(['node', ['x.js']]);
    expect(launch({ cpus: '1', batch: true }, 'node', ['x.js'])).toEqual([expect.stringMatching(/taskset$/), ['-c', '1', expect.stringMatching(/chrt$/), '-b', '0', 'node', 'x.js']]);
  });

  it('a load-generator worker forked on a CPU list under SCHED_BATCH runs every thread there, batch-scheduled', async () => {
    const worker = forkWorker({ cpus: String(cpu), batch: true });
    try {
      await once(worker, 'spawn');
      // Node starts its V8 and libuv helper threads during startup: check once they are there.
      const deadline = Date.now() + 10_000;
      while (threadCpus(worker.pid!).length < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(threadCpus(worker.pid!).length).toBeGreaterThanOrEqual(5);
      expect(processCpus(worker.pid!)).toEqual([cpu]);
      for (const cpus of threadCpus(worker.pid!)) expect(cpus).toEqual([cpu]);
      expect(processPolicy(worker.pid!)).toBe('SCHED_BATCH');
    } finally {
      worker.kill('SIGKILL');
    }
  });

  it('a bench server started with cpus serves with all its threads on them', async () => {
    const cluster = await BenchCluster.prepare('corral', 1, { cpus: String(cpu) });
    try {
      await cluster.startFresh();
      const [pid] = cluster.pids;
      expect(threadCpus(pid!).length).toBeGreaterThan(4); // V8 and libuv helpers, not just the main thread
      // Benchmarked as users run it: with the server's Node flags.
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      for (const flag of CORRAL_SERVER_NODE_FLAGS) expect(args).toContain(flag);
      for (const cpus of threadCpus(pid!)) expect(cpus).toEqual([cpu]);
    } finally {
      await cluster.destroy();
    }
  }, 60_000);
});
