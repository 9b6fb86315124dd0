/**
 * Where bench processes run: confined to CPU sets (`--server-cpus`, `--client-cpus`) and, for the
 * load generator, optionally under SCHED_BATCH (`--client-sched batch`). On a small machine the
 * load generator competes with the server under test for the same cores; these options take that
 * interference out, the same way for both systems. Done with util-linux's `taskset` and `chrt` at
 * exec, so every thread a process ever starts (JVM, V8 and libuv helpers included) inherits them:
 * Node has no affinity or scheduling-policy call of its own.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export class PlacementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlacementError';
  }
}

/** CPU numbers of a Linux CPU list ("0", "0-2,5"), ascending, without repeats. */
export function parseCpuList(list: string): number[] {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(list.trim())) throw new PlacementError(`"${list}" is not a CPU list (e.g. 0 or 0-1,3)`);
  const cpus = new Set<number>();
  for (const part of list.trim().split(',')) {
    const [first, last = first] = part.split('-').map(Number) as [number, number?];
    if (last! < first) throw new PlacementError(`"${part}" in "${list}" runs backwards`);
    for (let cpu = first; cpu <= last!; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** The CPUs this process may run on (`Cpus_allowed_list` of /proc/self/status). */
export function allowedCpus(status = readFileSync('/proc/self/status', 'utf8')): number[] {
  const line = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
  if (!line) throw new PlacementError('no Cpus_allowed_list in /proc/self/status');
  return parseCpuList(line[1]!);
}

const toolPaths = new Map<string, string>();

/** Path of util-linux's `taskset` or `chrt`, or a PlacementError saying how to get it. */
export function requireTool(name: 'taskset' | 'chrt'): string {
  const known = toolPaths.get(name);
  if (known) return known;
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path) throw new PlacementError(`${name} is not installed (Debian package util-linux); --server-cpus, --client-cpus and --client-sched need it`);
  toolPaths.set(name, path);
  return path;
}

/**
 * Checks a CPU list against the CPUs this process may use; returns it normalised ("1,0-1" → "0,1").
 * Undefined stays undefined (no pinning).
 */
export function checkCpuList(name: string, list: string | undefined, allowed = allowedCpus()): string | undefined {
  if (list === undefined) return undefined;
  let cpus: number[];
  try {
    cpus = parseCpuList(list);
  } catch (error) {
    throw new PlacementError(`${name}: ${(error as Error).message}`);
  }
  const outside = cpus.filter((cpu) => !allowed.includes(cpu));
  if (outside.length > 0) throw new PlacementError(`${name}: CPU ${outside.join(', ')} is not available here (allowed: ${allowed.join(',')})`);
  requireTool('taskset');
  return cpus.join(',');
}

/** How a bench process is started: on which CPUs, and (load generator only) whether under SCHED_BATCH. */
export interface Placement {
  cpus?: string;
  /**
   * SCHED_BATCH: same CPU share as a normal process, but its wake-ups do not preempt a running
   * thread, so a reply that wakes the load generator does not push the server off its core.
   */
  batch?: boolean;
}

/** `command args` started with the placement (unchanged without one): `taskset -c <cpus> chrt -b 0 command args`. */
export function launch(placement: Placement | undefined, command: string, args: string[]): [string, string[]] {
  let argv = [command, ...args];
  if (placement?.batch) argv = [requireTool('chrt'), '-b', '0', ...argv];
  if (placement?.cpus !== undefined) argv = [requireTool('taskset'), '-c', placement.cpus, ...argv];
  return [argv[0]!, argv.slice(1)];
}

/** The scheduling policy of a running process (`chrt -p`), e.g. "SCHED_BATCH", for reports and tests. */
export function processPolicy(pid: number): string {
  const out = spawnSync(requireTool('chrt'), ['-p', String(pid)], { encoding: 'utf8' }).stdout;
  return /policy:\s*(\S+)/.exec(out)?.[1] ?? 'unknown';
}

/** The CPUs a running process's threads may use (for reports and tests). */
export function processCpus(pid: number): number[] {
  return allowedCpus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}
