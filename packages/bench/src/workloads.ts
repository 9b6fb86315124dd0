import type { ZooKeeperClient } from '@corral/client';

export const WORKLOADS = ['create', 'set', 'get', 'mixed', 'exists-watch', 'lock', 'latch'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export function isWorkload(name: string): name is WorkloadName {
  return (WORKLOADS as readonly string[]).includes(name);
}

/** What one counted operation of each workload is (printed with results and in the README). */
export const WORKLOAD_DESCRIPTIONS: Record<WorkloadName, string> = {
  create: 'create of a new persistent znode with the payload (1 request)',
  set: 'setData of the payload on the client’s own znode (1 request)',
  get: 'getData of the client’s own znode (1 request)',
  mixed: '9 getData : 1 setData on the client’s own znode (1 request)',
  'exists-watch': 'exists with a watch, setData by a second session, wait for the NodeDataChanged event (2 requests + 1 notification)',
  lock: 'acquire and release a lock: create ephemeral-sequential, getChildren, watch the predecessor until first, delete (≥3 requests)',
  latch: 'leader-latch churn: create ephemeral-sequential, getChildren of the latch, delete (3 requests)',
};

/** Paths shared by the parent (which creates them) and the workers (which use them). */
export const layout = {
  root: '/corral-bench',
  clientNode: (base: string, client: number): string => `${base}/n${client}`,
  watchNode: (base: string, client: number, slot: number): string => `${base}/w${client}-${slot}`,
  lockNode: (base: string, lock: number): string => `${base}/lock${lock}`,
  latchNode: (base: string): string => `${base}/latch`,
};

export interface SlotContext {
  base: string;
  client: number;
  slot: number;
  pipeline: number;
  locks: number;
  payload: Uint8Array;
  zk: ZooKeeperClient;
  /** A second session (exists-watch only): it changes the node the first one watches. */
  setter?: ZooKeeperClient;
  /** Per-slot counter of operations started. */
  n: number;
}

/** One counted operation; resolves to the number of requests it sent. */
export type Operation = (ctx: SlotContext) => Promise<number>;

const sequenceOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The simple lock the benchmark uses (no recipe library yet): an ephemeral-sequential node under the
 * lock node; the lowest sequence number holds the lock; everyone else watches only its predecessor.
 */
export async function acquireLock(zk: ZooKeeperClient, lockPath: string): Promise<{ path: string; requests: number }> {
  const path = await zk.create(`${lockPath}/n-`, null, { mode: 'ephemeralSequential' });
  const name = path.slice(lockPath.length + 1);
  let requests = 1;
  for (;;) {
    const { children } = await zk.getChildren(lockPath);
    requests++;
    // All names are `n-` + 10 zero-padded digits, so string order is sequence order.
    children.sort(sequenceOrder);
    const index = children.indexOf(name);
    if (index < 0) throw new Error(`lock node ${path} vanished`);
    if (index === 0) return { path, requests };
    const { stat, changed } = await zk.exists(`${lockPath}/${children[index - 1]}`, { watch: true });
    requests++;
    if (stat !== null) await changed;
    // A deleted predecessor does not mean we are first: the one before it may still hold the lock.
  }
}

const ops: Record<WorkloadName, Operation> = {
  async create(ctx) {
    await ctx.zk.create(`${ctx.base}/c${ctx.client}-${ctx.slot}-${ctx.n}`, ctx.payload);
    return 1;
  },
  async set(ctx) {
    await ctx.zk.setData(layout.clientNode(ctx.base, ctx.client), ctx.payload);
    return 1;
  },
  async get(ctx) {
    await ctx.zk.getData(layout.clientNode(ctx.base, ctx.client));
    return 1;
  },
  async mixed(ctx) {
    // Deterministic 90/10: every tenth operation of a slot is a write (offset by slot, so the
    // writes of one client's slots do not line up).
    const path = layout.clientNode(ctx.base, ctx.client);
    if ((ctx.n + ctx.slot) % 10 === 9) await ctx.zk.setData(path, ctx.payload);
    else await ctx.zk.getData(path);
    return 1;
  },
  async 'exists-watch'(ctx) {
    const path = layout.watchNode(ctx.base, ctx.client, ctx.slot);
    const { changed } = await ctx.zk.exists(path, { watch: true });
    await ctx.setter!.setData(path, ctx.payload);
    await changed;
    return 2;
  },
  async lock(ctx) {
    const lockPath = layout.lockNode(ctx.base, (ctx.client * ctx.pipeline + ctx.slot) % ctx.locks);
    const held = await acquireLock(ctx.zk, lockPath);
    await ctx.zk.delete(held.path);
    return held.requests + 1;
  },
  async latch(ctx) {
    const latch = layout.latchNode(ctx.base);
    const path = await ctx.zk.create(`${latch}/n-`, null, { mode: 'ephemeralSequential' });
    await ctx.zk.getChildren(latch);
    await ctx.zk.delete(path);
    return 3;
  },
};

export function operationOf(workload: WorkloadName): Operation {
  return ops[workload];
}

/** Whether a workload needs a second session per client. */
export function needsSetter(workload: WorkloadName): boolean {
  return workload === 'exists-watch';
}

/** Persistent znodes the parent creates before the workers start (parents first). */
export function setupNodes(workload: WorkloadName, base: string, clients: number, pipeline: number, locks: number): string[] {
  switch (workload) {
    case 'set':
    case 'get':
    case 'mixed':
      return Array.from({ length: clients }, (_, c) => layout.clientNode(base, c));
    case 'exists-watch':
      return Array.from({ length: clients * pipeline }, (_, i) => layout.watchNode(base, Math.floor(i / pipeline), i % pipeline));
    case 'lock':
      return Array.from({ length: locks }, (_, k) => layout.lockNode(base, k));
    case 'latch':
      return [layout.latchNode(base)];
    case 'create':
      return [];
  }
}
