import os from 'node:os';
import type { ServerConfig } from '../config/zooCfg.js';
import type { ServerCore } from '../core/server.js';

export const VERSION = '3.8.0-corral-0.1.0';
const BUILT = 'built on 2026-11-30 00:00 UTC';

/** Every word ZooKeeper knows; a known word that is not whitelisted gets ZooKeeper's refusal text. */
const KNOWN = new Set(['ruok', 'srvr', 'stat', 'mntr', 'conf', 'cons', 'wchs', 'wchc', 'wchp', 'envi', 'dump', 'isro', 'dirs', 'srst', 'crst', 'gtmk', 'stmk', 'hash', 'crsr']);

export function isFourLetterWord(word: string): boolean {
  return KNOWN.has(word);
}

export interface ServerFacts {
  core: ServerCore;
  config: ServerConfig;
  startedAtMs: number;
  packetsReceived: number;
  packetsSent: number;
  connectionCount: number;
  resetStats(): void;
}

function hex(n: bigint): string {
  return `0x${n.toString(16)}`;
}

function latency(core: ServerCore): { min: number; avg: number; max: number } {
  let min = Infinity;
  let max = 0;
  let total = 0;
  let count = 0;
  for (const c of core.connections()) {
    if (c.stats.replies === 0) continue;
    min = Math.min(min, c.stats.minLatencyMs);
    max = Math.max(max, c.stats.maxLatencyMs);
    total += c.stats.totalLatencyMs;
    count += c.stats.replies;
  }
  return { min: count === 0 ? 0 : min, avg: count === 0 ? 0 : total / count, max };
}

function srvrLines(facts: ServerFacts): string[] {
  const l = latency(facts.core);
  return [
    `Latency min/avg/max: ${l.min}/${l.avg.toFixed(4)}/${l.max}`,
    `Received: ${facts.packetsReceived}`,
    `Sent: ${facts.packetsSent}`,
    `Connections: ${facts.connectionCount}`,
    `Outstanding: ${facts.core.outstandingRequests}`,
    `Zxid: ${hex(facts.core.lastZxid)}`,
    'Mode: standalone',
    `Node count: ${zkNodeCount(facts.core)}`,
  ];
}

/** ZooKeeper's DataTree keeps the root under both "" and "/", so the node count it reports is one more than ours. */
function zkNodeCount(core: ServerCore): number {
  return core.tree.nodeCount + 1;
}

function connectionLine(c: ReturnType<ServerCore['connections']>[number], detailed: boolean): string {
  const base = ` /${c.remoteAddress}[1](queued=${c.queued},recved=${c.stats.received},sent=${c.stats.sent}`;
  if (!detailed || c.sessionId === 0n) return `${base})`;
  const s = c.stats;
  const avg = s.replies === 0 ? 0 : Math.round(s.totalLatencyMs / s.replies);
  return `${base},sid=${hex(c.sessionId)},lop=${s.lastOp},est=${s.establishedMs},to=${s.timeoutMs},lcxid=0x${s.lastCxid.toString(16)},lzxid=${hex(s.lastZxid)},lresp=${s.replies},llat=${s.lastLatencyMs},minlat=${s.minLatencyMs},avglat=${avg},maxlat=${s.maxLatencyMs})`;
}

/** Answers one four-letter word with the text ZooKeeper would print. */
export function answerFourLetterWord(word: string, facts: ServerFacts): string {
  const { config, core } = facts;
  const whitelist = config.fourLetterWordWhitelist;
  if (whitelist !== '*' && !whitelist.has(word)) return `${word} is not executed because it is not in the whitelist.\n`;
  switch (word) {
    case 'ruok':
      return 'imok';
    case 'isro':
      return 'rw';
    case 'srvr':
      return [`Zookeeper version: ${VERSION}, ${BUILT}`, ...srvrLines(facts)].join('\n') + '\n';
    case 'stat': {
      const conns = core.connections().map((c) => connectionLine(c, false));
      return [`Zookeeper version: ${VERSION}, ${BUILT}`, 'Clients:', ...conns, '', ...srvrLines(facts)].join('\n') + '\n';
    }
    case 'cons':
      return core.connections().map((c) => connectionLine(c, true)).join('\n') + '\n\n';
    case 'mntr':
      return mntr(facts);
    case 'conf':
      return [
        `clientPort=${config.clientPort}`,
        'secureClientPort=-1',
        `dataDir=${config.dataDir}/version-2`,
        'dataDirSize=0',
        `dataLogDir=${config.dataLogDir}/version-2`,
        'dataLogSize=0',
        `tickTime=${config.tickTimeMs}`,
        `maxClientCnxns=${config.maxClientCnxns}`,
        `minSessionTimeout=${config.minSessionTimeoutMs}`,
        `maxSessionTimeout=${config.maxSessionTimeoutMs}`,
        'clientPortListenBacklog=-1',
        'serverId=0',
      ].join('\n') + '\n';
    case 'wchs': {
      const w = core.watches.stats();
      return `${w.connections} connections watching ${w.paths} paths\nTotal watches:${w.watches}\n`;
    }
    case 'wchc': {
      const lines: string[] = [];
      for (const c of core.connections()) {
        const { data, child } = core.watches.pathsOf(c.id);
        const paths = [...new Set([...data, ...child])];
        if (paths.length > 0) lines.push(hex(c.sessionId), ...paths.map((p) => `\t${p}`));
      }
      return lines.join('\n') + '\n';
    }
    case 'wchp': {
      const byPath = new Map<string, bigint[]>();
      for (const c of core.connections()) {
        const { data, child } = core.watches.pathsOf(c.id);
        for (const p of new Set([...data, ...child])) byPath.set(p, [...(byPath.get(p) ?? []), c.sessionId]);
      }
      return [...byPath].flatMap(([p, ids]) => [p, ...ids.map((id) => `\t${hex(id)}`)]).join('\n') + '\n';
    }
    case 'envi':
      return [
        'Environment:',
        `zookeeper.version=${VERSION}, ${BUILT}`,
        `host.name=${os.hostname()}`,
        `node.version=${process.version}`,
        `os.name=${os.type()}`,
        `os.arch=${os.arch()}`,
        `os.version=${os.release()}`,
        `user.name=${os.userInfo().username}`,
        `user.dir=${process.cwd()}`,
        `os.memory.free=${Math.round(os.freemem() / 1048576)}MB`,
        `os.memory.total=${Math.round(os.totalmem() / 1048576)}MB`,
      ].join('\n') + '\n';
    case 'dump': {
      const lines = ['SessionTracker dump:', `Global Sessions(${core.sessions.size}):`];
      for (const [id, s] of core.sessions.entries()) lines.push(`${hex(id)}\t${s.timeoutMs}ms`);
      const eph = core.tree.ephemeralSessions();
      lines.push('ephemeral nodes dump:', `Sessions with Ephemerals (${[...eph.values()].filter((s) => s.size > 0).length}):`);
      for (const [id, paths] of eph) {
        if (paths.size === 0) continue;
        lines.push(`${hex(id)}:`, ...[...paths].sort().map((p) => `\t${p}`));
      }
      lines.push('Connections dump:', `Connections Sets (${facts.connectionCount}):`);
      return lines.join('\n') + '\n';
    }
    case 'dirs':
      return 'datadir_size: 0\nlogdir_size: 0\n';
    case 'srst':
      facts.resetStats();
      return 'Server stats reset.\n';
    case 'crst':
      return 'Connection stats reset.\n';
    case 'hash':
      // ZooKeeper prints its digest history; Corral prints the digest of the whole tree as it is now.
      return `${hex(core.lastZxid)}: ${core.tree.digest()}\n`;
    default:
      return `${word} is not supported by this server.\n`;
  }
}

function mntr(facts: ServerFacts): string {
  const { core } = facts;
  const l = latency(core);
  const w = core.watches.stats();
  let ephemerals = 0;
  for (const paths of core.tree.ephemeralSessions().values()) ephemerals += paths.size;
  const metrics: [string, string | number][] = [
    ['zk_version', `${VERSION}, ${BUILT}`],
    ['zk_server_state', 'standalone'],
    ['zk_avg_latency', l.avg.toFixed(4)],
    ['zk_max_latency', l.max],
    ['zk_min_latency', l.min],
    ['zk_packets_received', facts.packetsReceived],
    ['zk_packets_sent', facts.packetsSent],
    ['zk_num_alive_connections', facts.connectionCount],
    ['zk_outstanding_requests', core.outstandingRequests],
    ['zk_znode_count', zkNodeCount(core)],
    ['zk_watch_count', w.watches],
    ['zk_ephemerals_count', ephemerals],
    ['zk_approximate_data_size', core.tree.approximateDataSize],
    ['zk_global_sessions', core.sessions.size],
    ['zk_local_sessions', 0],
    ['zk_uptime', Date.now() - facts.startedAtMs],
  ];
  return metrics.map(([k, v]) => `${k}\t${v}`).join('\n') + '\n';
}
