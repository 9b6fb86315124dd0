import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRepoRoot, startCorral, type ServerProcess } from '@corral/testing';
import type { RunResult } from '../src/run.js';

/** Runs the built CLI (`corral bench run … --json`); `onStderr` sees its progress lines as they come. */
function benchRun(args: string[], onStderr: (text: string) => void = () => {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = join(findRepoRoot(), 'packages', 'cli', 'dist', 'main.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'bench', 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      onStderr(stderr);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('corral bench run', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startCorral();
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('measures a 2 s get workload over two worker processes: ops, latencies, no errors', async () => {
    const { code, stdout, stderr } = await benchRun([
      '--connect', server.connectString, '--workload', 'get', '--clients', '4', '--pipeline', '2', '--duration', '2', '--workers', '2',
      '--server-pid', String(server.pid), '--json',
    ]);
    expect(code, stderr).toBe(0);
    const r = JSON.parse(stdout) as RunResult;
    expect(r.workload).toBe('get');
    expect(r.workers).toBe(2);
    expect(r.warmupS).toBeCloseTo(0.4);
    expect(r.measuredS).toBeCloseTo(1.6);
    expect(r.ops).toBeGreaterThan(0);
    expect(r.opsPerSec).toBeGreaterThan(0);
    expect(r.errors).toBe(0);
    expect(r.errorRate).toBe(0);
    expect(r.valid).toBe(true);
    expect(r.latencyMs.p50).toBeGreaterThan(0);
    expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p99);
    expect(r.latencyMs.p99).toBeLessThanOrEqual(r.latencyMs.p999);
    expect(r.latencyMs.p999).toBeLessThanOrEqual(r.latencyMs.max);
    expect(r.clientCpu.perWorker).toHaveLength(2);
    // Each worker's own share (4 clients over 2 workers: 2 each) adds up to the total.
    const workerOpsPerSec = r.clientCpu.perWorker.map((w) => w.opsPerSec);
    expect(workerOpsPerSec.every((x) => x > 0)).toBe(true);
    expect(workerOpsPerSec.reduce((a, b) => a + b, 0)).toBeCloseTo(r.opsPerSec, -1);
    for (const w of r.clientCpu.perWorker) expect(w.p50).toBeLessThanOrEqual(w.p99);
    expect(r.clientCpu.cores).toBeGreaterThan(0);
    expect(r.serverCpu?.usPerOp).toBeGreaterThan(0);
    expect(r.serverCpu?.waitingThreads).toBeGreaterThanOrEqual(0);
    expect(r.timeline.reduce((a, b) => a + b, 0)).toBe(r.ops);
  });

  it('--rate paces operations (open loop) and charges a stalled server for the operations it held up', async () => {
    const args = ['--connect', server.connectString, '--workload', 'get', '--clients', '8', '--duration', '4', '--warmup', '0.5', '--rate', '1000', '--json'];
    const steady = await benchRun(args);
    expect(steady.code, steady.stderr).toBe(0);
    const r = JSON.parse(steady.stdout) as RunResult;
    expect(r.rate).toBe(1000);
    expect(r.opsPerSec).toBeGreaterThan(900);
    expect(r.opsPerSec).toBeLessThan(1100);
    expect(r.latencyMs.p99).toBeLessThan(100);

    // Freeze the server for 400 ms inside the measured window: every operation due meanwhile waits,
    // and counts from when it was due, not from when a slot got to send it. The run prints its
    // "… over N worker(s)" line when the workers start; measuring begins 0.2 s + 0.5 s warm-up later
    // and lasts 3.5 s, so a stall from 1.2 s to 1.6 s after that line lies inside it.
    let announced!: () => void;
    const started = new Promise<void>((resolve) => (announced = resolve));
    const stalled = benchRun(args, (text) => {
      if (text.includes(' worker(s), ')) announced();
    });
    await started;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    process.kill(server.pid, 'SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 400));
    process.kill(server.pid, 'SIGCONT');
    const s = await stalled;
    expect(s.code, s.stderr).toBe(0);
    const held = JSON.parse(s.stdout) as RunResult;
    expect(held.latencyMs.p99).toBeGreaterThan(200);
    expect(held.opsPerSec).toBeGreaterThan(800);
  });

  it('runs the lock workload (ephemeral-sequential lock with predecessor watches) without errors', async () => {
    const { code, stdout, stderr } = await benchRun([
      '--connect', server.connectString, '--workload', 'lock', '--clients', '4', '--locks', '1', '--duration', '1.5', '--json',
    ]);
    expect(code, stderr).toBe(0);
    const r = JSON.parse(stdout) as RunResult;
    expect(r.ops).toBeGreaterThan(0);
    expect(r.errors).toBe(0);
    expect(r.requests).toBeGreaterThanOrEqual(3 * r.ops);
  });
});
