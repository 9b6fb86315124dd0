/** The non-throughput figures: session-expiry detection, recovery time and RSS, failover. */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type ZooKeeperClient } from '@corral/client';
import { processRssBytes } from './procfs.js';
import type { Placement } from './placement.js';
import { createAll, forkWorker, sendToWorker } from './run.js';
import { waitForMode, type BenchCluster } from './servers.js';
import type { WorkerMessage } from './protocol.js';

async function connected(connect: string, options: Parameters<typeof createClient>[1] = {}): Promise<ZooKeeperClient> {
  const zk = createClient(connect, { sessionTimeoutMs: 30_000, ...options });
  await zk.connect({ signal: AbortSignal.timeout(30_000) });
  return zk;
}

async function closeQuietly(zk: ZooKeeperClient): Promise<void> {
  await Promise.race([zk.close().catch(() => {}), sleep(5000, undefined, { ref: false })]);
  zk.destroy();
}

export interface ExpirySample {
  /** SIGKILL of the client process → the server deleted its ephemeral (NodeDeleted seen by a watcher). */
  detectionMs: number;
  negotiatedTimeoutMs: number;
  /** detectionMs / negotiatedTimeoutMs: 1.0 = exactly the session timeout. */
  relative: number;
}

/**
 * Session-expiry detection: `sessions` client processes each create an ephemeral znode with the given
 * session timeout; all are SIGKILLed at once; a watcher on another session times the NodeDeleted of each.
 */
export async function measureSessionExpiry(connect: string, sessionTimeoutMs = 4000, sessions = 3, placement?: Placement): Promise<ExpirySample[]> {
  const observer = await connected(connect);
  const holders = Array.from({ length: sessions }, () => forkWorker(placement));
  try {
    await createAll(observer, ['/corral-bench']);
    const tag = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const paths = holders.map((_, i) => `/corral-bench/expiry-${tag}-${i}`);
    const holding = holders.map(
      (child) =>
        new Promise<Extract<WorkerMessage, { type: 'holding' }>>((resolve, reject) => {
          child.on('message', (m: WorkerMessage) => {
            if (m.type === 'holding') resolve(m);
            else if (m.type === 'fatal') reject(new Error(m.message));
          });
          child.once('exit', (code) => reject(new Error(`expiry holder exited with code ${code}`)));
        }),
    );
    holders.forEach((child, i) => sendToWorker(child, { type: 'hold', connect, path: paths[i]!, sessionTimeoutMs }));
    const held = await Promise.all(holding);
    const watches = await Promise.all(paths.map((p) => observer.exists(p, { watch: true })));
    if (watches.some((w) => w.stat === null)) throw new Error('an ephemeral node of the expiry check is missing');
    await sleep(500); // let pings settle into their steady rhythm
    const killedAt = performance.now();
    for (const child of holders) child.kill('SIGKILL');
    const deleted = await Promise.all(
      watches.map((w) =>
        Promise.race([
          w.changed.then(() => performance.now()),
          sleep(sessionTimeoutMs * 5 + 10_000, undefined, { ref: false }).then(() => Number.NaN),
        ]),
      ),
    );
    return deleted.map((t, i) => {
      const detectionMs = t - killedAt;
      return { detectionMs, negotiatedTimeoutMs: held[i]!.negotiatedTimeoutMs, relative: detectionMs / held[i]!.negotiatedTimeoutMs };
    });
  } finally {
    for (const child of holders) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closeQuietly(observer);
  }
}

export interface RecoverySample {
  znodes: number;
  payloadBytes: number;
  populateOpsPerSec: number;
  /** VmRSS 1 s after the populate: garbage of the load and any snapshot still in progress included. */
  rssLoadedBytes: number;
  /** VmRSS after `settleMs` with no load: what holding the znodes costs (absent from results before 2026-11-30 08:30). */
  rssSettledBytes?: number;
  /** Spawn after SIGKILL → first `srvr` answer with a Mode. */
  recoveryMs: number;
  /** VmRSS right after recovery. */
  rssRecoveredBytes: number;
  /** Descendants of the populated subtree after recovery (must be znodes + parents). */
  recoveredDescendants: number;
  complete: boolean;
}

/**
 * Recovery: a fresh server gets `znodes` znodes of `payloadBytes` (1000 per parent), is SIGKILLed and
 * restarted on the same data; we time the restart until `srvr` reports a Mode and read VmRSS.
 */
export async function measureRecovery(cluster: BenchCluster, znodes: number, payloadBytes: number, settleMs: number, log: (s: string) => void = () => {}): Promise<RecoverySample> {
  await cluster.startFresh();
  const root = '/corral-bench-recovery';
  const perParent = 1000;
  const parents = Math.ceil(znodes / perParent);
  const clients = await Promise.all(Array.from({ length: 4 }, () => connected(cluster.connectString, { maxOutstandingRequests: 1024 })));
  let populateOpsPerSec = 0;
  try {
    await createAll(clients[0]!, [root]);
    await createAll(clients[0]!, Array.from({ length: parents }, (_, p) => `${root}/p${p}`));
    const payload = new Uint8Array(payloadBytes).fill(0x61);
    const t0 = performance.now();
    let next = 0;
    let lastLog = t0;
    await Promise.all(
      clients.map((zk) =>
        Promise.all(
          Array.from({ length: 256 }, async () => {
            while (next < znodes) {
              const i = next++;
              await zk.create(`${root}/p${Math.floor(i / perParent)}/n${i % perParent}`, payload);
              if (i % 10_000 === 0 && performance.now() - lastLog > 5000) {
                lastLog = performance.now();
                log(`  ${cluster.kind}: ${i.toLocaleString('en-US')} / ${znodes.toLocaleString('en-US')} znodes`);
              }
            }
          }),
        ),
      ),
    );
    populateOpsPerSec = znodes / ((performance.now() - t0) / 1000);
  } finally {
    await Promise.all(clients.map(closeQuietly));
  }
  await sleep(1000);
  const rssLoadedBytes = processRssBytes(cluster.servers[0]!.pid) ?? Number.NaN;
  await sleep(Math.max(0, settleMs - 1000));
  const rssSettledBytes = processRssBytes(cluster.servers[0]!.pid) ?? Number.NaN;
  await cluster.killNode(0);
  const spawnedAt = performance.now();
  const server = await cluster.startNode(0, false);
  const recoveryMs = await waitForMode(server, spawnedAt);
  const rssRecoveredBytes = processRssBytes(server.pid) ?? Number.NaN;
  const check = await connected(cluster.connectString);
  let recoveredDescendants = -1;
  try {
    recoveredDescendants = await check.getAllChildrenNumber(root);
  } finally {
    await closeQuietly(check);
  }
  await cluster.stop();
  return {
    znodes,
    payloadBytes,
    populateOpsPerSec,
    rssLoadedBytes,
    rssSettledBytes,
    recoveryMs,
    rssRecoveredBytes,
    recoveredDescendants,
    complete: recoveredDescendants === znodes + parents,
  };
}

export interface FailoverSample {
  /** SIGKILL of the leader → first successful setData through a client of the other servers. */
  failoverMs: number;
  attempts: number;
}

/** Failover of a running ensemble: kill the leader, time the first successful write, restart it. */
export async function measureFailover(cluster: BenchCluster, trials = 5, log: (s: string) => void = () => {}): Promise<FailoverSample[]> {
  const samples: FailoverSample[] = [];
  const path = '/corral-bench-failover';
  for (let t = 0; t < trials; t++) {
    const leader = await cluster.waitForEnsemble();
    const others = cluster.nodes.flatMap((n, i) => (i === leader ? [] : [`127.0.0.1:${n.port}`])).join(',');
    const zk = await connected(others, { reconnectBaseDelayMs: 5, reconnectMaxDelayMs: 20, connectTimeoutMs: 1000 });
    try {
      await createAll(zk, [path]);
      await zk.setData(path, 'warm');
      const killedAt = performance.now();
      await cluster.killNode(leader);
      let attempts = 0;
      for (;;) {
        attempts++;
        try {
          await zk.setData(path, `after-${t}`, { timeoutMs: 1000 });
          break;
        } catch (error) {
          if (zk.state === 'lost' || zk.state === 'closed') throw new Error(`failover client lost its session: ${String(error)}`);
          if (performance.now() - killedAt > 60_000) throw new Error(`no successful write 60 s after killing the leader: ${String(error)}`);
          await sleep(5);
        }
      }
      const failoverMs = performance.now() - killedAt;
      samples.push({ failoverMs, attempts });
      log(`  failover trial ${t + 1}: ${failoverMs.toFixed(0)} ms (leader was server.${leader + 1})`);
    } finally {
      await closeQuietly(zk);
    }
    await cluster.startNode(leader);
  }
  await cluster.waitForEnsemble();
  return samples;
}
