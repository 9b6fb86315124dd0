import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { findJava } from '@corral/testing';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  java: string;
}

export function describeMachine(): MachineInfo {
  const java = findJava();
  let javaVersion = 'not found';
  if (java) {
    const r = spawnSync(java, ['-version'], { encoding: 'utf8', timeout: 30_000 });
    javaVersion = (r.stderr || r.stdout || '').split('\n').find((l) => l.trim())?.trim() ?? 'unknown';
  }
  return {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: `Linux ${release()}`,
    node: process.version,
    java: javaVersion,
  };
}

export function formatMachine(m: MachineInfo): string {
  return `${m.nproc} CPUs (nproc), ${m.cpuModel}, ${m.memoryGiB} GiB RAM, ${m.kernel}, Node ${m.node}, ${m.java}`;
}
