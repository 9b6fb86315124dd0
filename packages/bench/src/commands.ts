/**
 * `corral bench run|compare`, as a commander command the CLI adds with program.addCommand(benchCommand()).
 * Exported as `@corral/bench/cli`; the work is imported lazily so `corral server` starts no slower.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CompareOptions } from './compare.js';
import { DEFAULT_COMPARE, QUICK_COMPARE } from './defaults.js';
import { isWorkload, WORKLOADS, type WorkloadName } from './workloads.js';

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

/** `--workers` of compare: one count, or several ("1,2") to try each. */
function workerCounts(value: string): number[] {
  const counts = value.split(',').map((part) => Number(part.trim()));
  if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new InvalidArgumentError('--workers must be a positive integer or a comma-separated list of them');
  if (new Set(counts).size !== counts.length) throw new InvalidArgumentError('--workers lists a count twice');
  return counts;
}

function nonNegativeInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return n;
  };
}

function seconds(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number of seconds`);
    return n;
  };
}

function workload(value: string): WorkloadName {
  if (!isWorkload(value)) throw new InvalidArgumentError(`unknown workload; one of ${WORKLOADS.join(', ')}`);
  return value;
}

function workloadList(value: string, previous: WorkloadName[] | undefined): WorkloadName[] {
  const list = value.split(',').map((w) => w.trim()).filter(Boolean).map(workload);
  return [...(previous ?? []), ...list];
}

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** The exact command line, for reports (`npx corral bench …`). */
function commandLine(): string {
  const args = process.argv.slice(2).map((a) => (/^[\w.,:/=@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  const line = `npx corral ${args.join(' ')}`;
  return process.env.npm_lifecycle_event === 'bench' ? `npm run bench   # = ${line}` : line;
}

export function benchCommand(): Command {
  const bench = new Command('bench').description('measure performance: load generator and comparison with Apache ZooKeeper');

  bench
    .command('run')
    .description('run one workload against a running server (or ensemble) and print ops/s, latency percentiles, errors and client CPU')
    .requiredOption('--connect <hosts>', 'connect string, e.g. 127.0.0.1:2181')
    .addOption(new Option('--workload <name>', 'what one operation is').choices([...WORKLOADS]).default('get'))
    .option('--clients <n>', 'client sessions', positiveInt('--clients'), 64)
    .option('--pipeline <d>', 'operations each client keeps in flight', positiveInt('--pipeline'), 1)
    .option('--duration <s>', 'seconds in total, warm-up included', seconds('--duration'), 10)
    .option('--warmup <s>', 'seconds excluded at the start (default: 20% of --duration)', seconds('--warmup'))
    .option('--size <bytes>', 'payload of create and setData', nonNegativeInt('--size'), 100)
    .option('--workers <n>', 'load-generator processes (default: min(2, CPUs, clients))', positiveInt('--workers'))
    .option('--locks <n>', 'lock nodes of the lock workload (contenders share them)', positiveInt('--locks'), 8)
    .option('--rate <ops>', 'open loop: start this many operations per second in all (latency from the scheduled start)', positiveInt('--rate'))
    .option('--cpus <list>', 'CPU list the load-generator processes are confined to (taskset), e.g. 1')
    .addOption(new Option('--sched <policy>', 'scheduling policy of the load-generator processes (batch: chrt -b, their wake-ups do not preempt the server)').choices(['normal', 'batch']).default('normal'))
    .option('--server-pid <pid...>', 'server process(es) whose CPU use to report (Linux /proc)')
    .option('--keep', 'leave the run’s znodes in place (default: delete them)')
    .option('--json', 'print one JSON document instead of text')
    .action(async (o: {
      connect: string; workload: WorkloadName; clients: number; pipeline: number; duration: number; warmup?: number; size: number;
      workers?: number; locks: number; rate?: number; cpus?: string; sched: string; serverPid?: string[]; keep?: boolean; json?: boolean;
    }) => {
      const { formatRunResult, runBench } = await import('./run.js');
      const { checkCpuList } = await import('./placement.js');
      let result: Awaited<ReturnType<typeof runBench>>;
      try {
        result = await runBench({
          placement: { cpus: checkCpuList('--cpus', o.cpus), batch: o.sched === 'batch' },
          connect: o.connect,
          workload: o.workload,
          clients: o.clients,
          pipeline: o.pipeline,
          durationS: o.duration,
          warmupS: o.warmup,
          size: o.size,
          workers: o.workers,
          locks: o.locks,
          rate: o.rate,
          serverPids: o.serverPid?.map(Number),
          cleanup: !o.keep,
          log: progress,
        });
      } catch (error) {
        process.stderr.write(`corral bench run: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatRunResult(result)}\n`);
      if (!result.valid) process.exitCode = 1;
    });

  bench
    .command('compare')
    .description('Apache ZooKeeper (Debian package) against Corral, same zoo.cfg, alternating fresh runs; medians and ratios')
    .addOption(new Option('--servers <n>', '1 (standalone) or 3 (ensemble: ZooKeeper only for now)').choices(['1', '3']).default('1'))
    .option('--workloads <list>', `comma-separated (default: all of ${WORKLOADS.join(',')})`, workloadList)
    .option('--rounds <r>', 'rounds; each round runs ZooKeeper then Corral', positiveInt('--rounds'), DEFAULT_COMPARE.rounds)
    .option('--duration <s>', 'seconds per run, warm-up included', seconds('--duration'), DEFAULT_COMPARE.durationS)
    .option('--warmup <s>', 'seconds excluded at the start of each run (default: 20% of --duration)', seconds('--warmup'))
    .option('--clients <n>', 'client sessions', positiveInt('--clients'), DEFAULT_COMPARE.clients)
    .option('--pipeline <d>', 'operations each client keeps in flight', positiveInt('--pipeline'), DEFAULT_COMPARE.pipeline)
    .option('--size <bytes>', 'payload bytes (workloads and recovery znodes)', nonNegativeInt('--size'), DEFAULT_COMPARE.size)
    .option('--workers <n|list>', 'load-generator processes per run; a list (1,2) makes each run with each and counts, per server, the one with more ops/s', workerCounts)
    .option('--rate <ops>', 'open loop at this many ops/s for both servers (compares latency at equal load)', positiveInt('--rate'))
    .option('--server-warmup <s>', 'seconds of unmeasured load after each server start (create, mixed, latch)', seconds('--server-warmup'), DEFAULT_COMPARE.serverWarmupS)
    .option('--znodes <n>', 'znodes for the recovery/RSS measure (0 skips it)', nonNegativeInt('--znodes'), DEFAULT_COMPARE.znodes)
    .option('--recovery-trials <n>', 'recovery measures per system', positiveInt('--recovery-trials'), DEFAULT_COMPARE.recoveryTrials)
    .option('--settle <s>', 'idle seconds after the populate before the second RSS reading', seconds('--settle'), DEFAULT_COMPARE.settleS)
    .option('--expiry-rounds <n>', 'rounds that end with a session-expiry check (0 skips it)', nonNegativeInt('--expiry-rounds'), DEFAULT_COMPARE.expiryRounds)
    .option('--expiry-sessions <n>', 'client processes killed per session-expiry check', positiveInt('--expiry-sessions'), DEFAULT_COMPARE.expirySessions)
    .option('--failover-trials <n>', 'leader kills with --servers 3 (0 skips it)', nonNegativeInt('--failover-trials'), DEFAULT_COMPARE.failoverTrials)
    .option('--server-cpus <list>', 'CPU list both systems\' servers are confined to (taskset), e.g. 0; use with --client-cpus')
    .option('--client-cpus <list>', 'CPU list the load-generator processes are confined to, e.g. 1')
    .addOption(new Option('--client-sched <policy>', 'scheduling policy of the load-generator processes (batch: chrt -b, their wake-ups do not preempt a server thread)').choices(['normal', 'batch']).default('normal'))
    .option('--corral-node-args <args>', 'extra node flags for the Corral server, space-separated (e.g. "--cpu-prof")')
    .option('--quick', `the short comparison of \`npm run bench\` (${QUICK_COMPARE.rounds} rounds of ${QUICK_COMPARE.durationS} s runs, ${QUICK_COMPARE.serverWarmupS} s server warm-up, ${QUICK_COMPARE.znodes?.toLocaleString('en-US')} znodes read ${QUICK_COMPARE.settleS} s after their populate, expiry in round 1); explicit options still win`)
    .option('--save', 'write packages/bench/results/<date>.json and .md and update packages/bench/README.md')
    .option('--json', 'print the JSON report instead of the Markdown table')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const explicit = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';
      const pick = <T>(name: string, quick: T | undefined): T => (o.quick && !explicit(name) && quick !== undefined ? quick : (o[name] as T));
      const workerList = o.workers as number[] | undefined;
      const options: CompareOptions = {
        servers: o.servers === '3' ? 3 : 1,
        workloads: (o.workloads as WorkloadName[] | undefined) ?? [...WORKLOADS],
        rounds: pick('rounds', QUICK_COMPARE.rounds),
        durationS: pick('duration', QUICK_COMPARE.durationS),
        warmupS: o.warmup as number | undefined,
        clients: o.clients as number,
        pipeline: o.pipeline as number,
        size: o.size as number,
        workers: workerList?.length === 1 ? workerList[0] : undefined,
        workerChoices: workerList && workerList.length > 1 ? workerList : undefined,
        rate: o.rate as number | undefined,
        serverWarmupS: pick('serverWarmup', QUICK_COMPARE.serverWarmupS),
        znodes: pick('znodes', QUICK_COMPARE.znodes),
        recoveryTrials: o.recoveryTrials as number,
        settleS: pick('settle', QUICK_COMPARE.settleS),
        expiryRounds: pick('expiryRounds', QUICK_COMPARE.expiryRounds),
        expirySessions: o.expirySessions as number,
        expirySessionTimeoutMs: DEFAULT_COMPARE.expirySessionTimeoutMs,
        failoverTrials: o.failoverTrials as number,
        corralNodeArgs: typeof o.corralNodeArgs === 'string' ? o.corralNodeArgs.split(/\s+/).filter(Boolean) : undefined,
        serverCpus: o.serverCpus as string | undefined,
        clientCpus: o.clientCpus as string | undefined,
        clientSchedBatch: o.clientSched === 'batch',
        command: process.env.CORRAL_BENCH_COMMAND ?? commandLine(),
        log: progress,
      };
      const { compare, renderMarkdown, ZooKeeperUnavailableError } = await import('./compare.js');
      const { saveResults } = await import('./results.js');
      const { checkCpuList, PlacementError, requireTool } = await import('./placement.js');
      try {
        if (options.clientSchedBatch) requireTool('chrt');
        options.serverCpus = checkCpuList('--server-cpus', options.serverCpus);
        options.clientCpus = checkCpuList('--client-cpus', options.clientCpus);
        const report = await compare(options);
        process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderMarkdown(report)}\n`);
        if (o.save) for (const path of await saveResults(report)) progress(`wrote ${path}`);
      } catch (error) {
        if (error instanceof PlacementError) {
          process.stderr.write(`corral bench compare: ${error.message}\n`);
          process.exitCode = 2;
          return;
        }
        if (error instanceof ZooKeeperUnavailableError) {
          process.stderr.write(`corral bench compare: ${error.message}\n`);
          process.exitCode = 3;
          return;
        }
        throw error;
      }
    });

  return bench;
}
