/**
 * Confining servers and load-generator processes to CPU sets (`--server-cpus`, `--client-cpus`).
 * On a small machine the load generator competes with the server under test for the same cores;
 * giving each side its own cores measures the server without that interference, the same way for
 * both systems. Done with util-linux's `taskset` at exec, so every thread a process ever starts
 * (JVM, V8 and libuv helpers included) inherits the set: Node has no affinity call of its own.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export class CpuListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CpuListError';
  }
}

/** CPU numbers of a Linux CPU list ("0", "0-2,5"), ascending, without repeats. */
export function parseCpuList(list: string): number[] {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(list.trim())) throw new CpuListError(`"${list}" is not a CPU list (e.g. 0 or 0-1,3)`);
  const cpus = new Set<number>();
  for (const part of list.trim().split(',')) {
    const [first, last = first] = part.split('-').map(Number) as [number, number?];
    if (last! < first) throw new CpuListError(`"${part}" in "${list}" runs backwards`);
    for (let cpu = first; cpu <= last!; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** The CPUs this process may run on (`Cpus_allowed_list` of /proc/self/status). */
export function allowedCpus(status = readFileSync('/proc/self/status', 'utf8')): number[] {
  const line = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
  if (!line) throw new CpuListError('no Cpus_allowed_list in /proc/self/status');
  return parseCpuList(line[1]!);
}

let tasksetPath: string | undefined;

/** Path of `taskset`, or a CpuListError saying how to get it. */
export function requireTaskset(): string {
  if (tasksetPath) return tasksetPath;
  const found = spawnSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path) throw new CpuListError('taskset is not installed (Debian package util-linux); it is needed for --server-cpus/--client-cpus');
  tasksetPath = path;
  return path;
}

/**
 * Checks a CPU list against the CPUs this process may use; returns it normalised ("0,1" → "0,1").
 * Undefined stays undefined (no pinning).
 */
export function checkCpuList(name: string, list: string | undefined, allowed = allowedCpus()): string | undefined {
  if (list === undefined) return undefined;
  let cpus: number[];
  try {
    cpus = parseCpuList(list);
  } catch (error) {
    throw new CpuListError(`${name}: ${(error as Error).message}`);
  }
  const outside = cpus.filter((cpu) => !allowed.includes(cpu));
  if (outside.length > 0) throw new CpuListError(`${name}: CPU ${outside.join(', ')} is not available here (allowed: ${allowed.join(',')})`);
  requireTaskset();
  return cpus.join(',');
}

/** `command args` run on `cpus` (unchanged without a list). */
export function onCpus(cpus: string | undefined, command: string, args: string[]): [string, string[]] {
  return cpus === undefined ? [command, args] : [requireTaskset(), ['-c', cpus, command, ...args]];
}

/** The CPUs a running process's threads may use (for reports and tests). */
export function processCpus(pid: number): number[] {
  return allowedCpus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}
