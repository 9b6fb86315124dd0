import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { threadWaitNs, waitBetweenUs } from '../src/procfs.js';

describe('run-queue wait (/proc schedstat)', () => {
  it('sums per-thread deltas; a thread started in between counts from zero, one that ended is left out', () => {
    const before = new Map([['1', 1_000_000], ['2', 5_000_000]]);
    const after = new Map([['1', 3_000_000], ['3', 500_000]]);
    expect(waitBetweenUs(before, after)).toBe(2_000 + 500);
    expect(waitBetweenUs(undefined, after)).toBeNaN();
  });

  it.runIf(process.platform === 'linux')('more busy processes than CPUs wait for a CPU, and the measure shows it', async () => {
    const count = availableParallelism() + 1;
    const busy: ChildProcess[] = [];
    try {
      for (let i = 0; i < count; i++) busy.push(spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
      await Promise.all(busy.map((c) => new Promise((resolve) => c.once('spawn', resolve))));
      const before = busy.map((c) => threadWaitNs(c.pid!));
      expect(before.every((w) => w !== undefined)).toBe(true);
      // The window the wait is measured over (not a wait for anything to happen).
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const waitedUs = busy.reduce((sum, c, i) => sum + waitBetweenUs(before[i], threadWaitNs(c.pid!)), 0);
      // count busy loops on count - 1 CPUs: about one loop's worth (~1 s) of waiting in all.
      expect(waitedUs).toBeGreaterThan(200_000);
    } finally {
      for (const c of busy) c.kill('SIGKILL');
    }
  });
});
