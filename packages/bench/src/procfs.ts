/** Linux /proc readers: CPU time and RSS of a process, and busy time of the whole machine. */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let clockTicks: number | undefined;

/** USER_HZ (almost always 100). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of a process (all its threads) in µs, or undefined if it is gone / not Linux. */
export function processCpuUs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it are well-formed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1e6) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/**
 * Run-queue wait of each thread of a process, in ns: time spent runnable but not running because
 * the CPUs were busy (second field of /proc/<pid>/task/<tid>/schedstat). Undefined if unavailable.
 */
export function threadWaitNs(pid: number): Map<string, number> | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const waits = new Map<string, number>();
  for (const tid of tids) {
    try {
      waits.set(tid, Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return waits.size > 0 ? waits : undefined;
}

/**
 * Run-queue wait of a process's threads between two samples, in µs summed over threads. Threads
 * started in between count from zero; threads that ended in between are not counted.
 */
export function waitBetweenUs(before: Map<string, number> | undefined, after: Map<string, number> | undefined): number {
  if (!before || !after) return Number.NaN;
  let ns = 0;
  for (const [tid, wait] of after) ns += wait - (before.get(tid) ?? 0);
  return ns / 1000;
}

/** VmRSS of a process in bytes (from /proc/<pid>/status), or undefined. */
export function processRssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface MachineCpu {
  busy: number;
  total: number;
}

/** Jiffies spent busy and in total over all CPUs since boot (first line of /proc/stat). */
export function machineCpu(): MachineCpu | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = v[3]! + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Fraction of the machine's CPU time that was busy between two samples. */
export function busyFraction(before: MachineCpu | undefined, after: MachineCpu | undefined): number {
  if (!before || !after || after.total <= before.total) return Number.NaN;
  return (after.busy - before.busy) / (after.total - before.total);
}
