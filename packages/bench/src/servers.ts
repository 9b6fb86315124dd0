/**
 * Servers under test, both started from the same generated zoo.cfg: Apache ZooKeeper (Debian
 * package, `java … QuorumPeerMain zoo.cfg`) and Corral (`node <CORRAL_SERVER_NODE_FLAGS> packages/cli/dist/main.js server zoo.cfg`,
 * as the corral bin runs it).
 * Every start gets an empty data directory unless it is a restart on the same data.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launch } from './placement.js';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  corralCliPath,
  corralServerArgs,
  fourLetterWord,
  getFreePort,
  requireZooKeeperJava,
  ServerProcess,
  writeZooCfg,
  ZOOKEEPER_SERVER_CLASSPATH,
  type ZooCfgSettings,
} from '@corral/testing';

export type ServerKind = 'zookeeper' | 'corral';

export const SERVER_LABEL: Record<ServerKind, string> = { zookeeper: 'ZooKeeper', corral: 'Corral' };

/** ZooKeeper's own default heap in zkEnv.sh (ZK_SERVER_HEAP=1000); the GC is the JVM's default (G1). */
export const ZOOKEEPER_HEAP = '-Xmx1000m';

const LOG4J_PROPERTIES = `log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Target=System.out
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
`;

/**
 * The settings both servers run with. forceSync=yes (each acknowledged write is on disk:
 * fdatasync, group-committed) is the default of both and written out so nobody wonders;
 * maxClientCnxns=0 lifts ZooKeeper's 60-connections-per-IP limit, which 64 loopback clients exceed.
 */
export function benchSettings(dataDir: string, clientPort: number): ZooCfgSettings {
  return {
    tickTime: 2000,
    initLimit: 10,
    syncLimit: 5,
    dataDir,
    clientPort,
    clientPortAddress: '127.0.0.1',
    maxClientCnxns: 0,
    forceSync: 'yes',
    '4lw.commands.whitelist': '*',
    'admin.enableServer': 'false',
  };
}

export interface NodeSpec {
  /** Directory of this server: zoo.cfg, data/, log4j.properties. */
  dir: string;
  cfgPath: string;
  dataDir: string;
  port: number;
  /** server.N id in an ensemble. */
  myid?: number;
}

export interface ClusterOptions {
  /** Extra node flags for Corral (e.g. --cpu-prof). */
  corralNodeArgs?: string[];
  startTimeoutMs?: number;
  /** CPU list every server process is confined to (taskset), e.g. "0"; undefined: all CPUs. */
  cpus?: string;
}

/** One standalone server or an ensemble of one kind; nodes[i] is restarted in place. */
export class BenchCluster {
  readonly kind: ServerKind;
  readonly root: string;
  readonly nodes: NodeSpec[];
  readonly servers: (ServerProcess | undefined)[];
  readonly #options: ClusterOptions;

  private constructor(kind: ServerKind, root: string, nodes: NodeSpec[], options: ClusterOptions) {
    this.kind = kind;
    this.root = root;
    this.nodes = nodes;
    this.servers = nodes.map(() => undefined);
    this.#options = options;
  }

  /** Writes the zoo.cfg file(s) once; call start() for each run. */
  static async prepare(kind: ServerKind, size: 1 | 3, options: ClusterOptions = {}): Promise<BenchCluster> {
    if (kind === 'zookeeper') requireZooKeeperJava();
    if (kind === 'corral') corralCliPath();
    const root = await mkdtemp(join(tmpdir(), `corral-bench-${kind}-`));
    const ports = await Promise.all(Array.from({ length: size * 3 }, () => getFreePort()));
    const nodes: NodeSpec[] = [];
    for (let i = 0; i < size; i++) {
      const dir = join(root, size === 1 ? '' : `s${i + 1}`);
      await mkdir(dir, { recursive: true });
      const dataDir = join(dir, 'data');
      const settings = benchSettings(dataDir, ports[i * 3]!);
      if (size > 1) {
        for (let j = 0; j < size; j++) settings[`server.${j + 1}`] = `127.0.0.1:${ports[j * 3 + 1]}:${ports[j * 3 + 2]}`;
      }
      const cfgPath = await writeZooCfg(dir, settings);
      await writeFile(join(dir, 'log4j.properties'), LOG4J_PROPERTIES, 'utf8');
      nodes.push({ dir, cfgPath, dataDir, port: ports[i * 3]!, ...(size > 1 ? { myid: i + 1 } : {}) });
    }
    return new BenchCluster(kind, root, nodes, options);
  }

  get connectString(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  get pids(): number[] {
    return this.servers.filter((s): s is ServerProcess => s?.running === true).map((s) => s.pid);
  }

  /** Empties every data directory and starts all nodes; resolves when each reports a Mode. */
  async startFresh(): Promise<void> {
    await this.stop();
    for (const node of this.nodes) {
      await rm(node.dataDir, { recursive: true, force: true });
      await mkdir(node.dataDir, { recursive: true });
      if (node.myid !== undefined) await writeFile(join(node.dataDir, 'myid'), `${node.myid}\n`, 'utf8');
    }
    await Promise.all(this.nodes.map((_, i) => this.startNode(i)));
  }

  /** Spawns node i on its existing data; with `wait` false it returns at once (see waitForMode). */
  async startNode(i: number, wait = true): Promise<ServerProcess> {
    const node = this.nodes[i]!;
    const [javaOrNode, args] =
      this.kind === 'zookeeper'
        ? [
            requireZooKeeperJava(),
            [
              ZOOKEEPER_HEAP,
              `-Dzookeeper.log.dir=${node.dir}`,
              '-Dzookeeper.log.file=zookeeper.log',
              `-Dlog4j.configuration=${pathToFileURL(join(node.dir, 'log4j.properties')).href}`,
              '-Dzookeeper.jmx.log4j.disable=true',
              '-cp',
              ZOOKEEPER_SERVER_CLASSPATH,
              'org.apache.zookeeper.server.quorum.QuorumPeerMain',
              node.cfgPath,
            ],
          ]
        : [process.execPath, corralServerArgs(node.cfgPath, this.#options.corralNodeArgs)];
    const [command, argv] = launch({ cpus: this.#options.cpus }, javaOrNode, args);
    const child = spawn(command, argv, { cwd: node.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error(`${this.kind}: could not spawn ${command}`);
    const server = new ServerProcess(child, {
      name: `${this.kind}${node.myid ? `.${node.myid}` : ''}`,
      host: '127.0.0.1',
      port: node.port,
      dataDir: node.dataDir,
      tmpDir: node.dir,
      cfgPath: node.cfgPath,
    });
    this.servers[i] = server;
    if (wait) {
      try {
        await server.waitUntilServing(this.#options.startTimeoutMs ?? 120_000);
      } catch (error) {
        await server.kill();
        throw error;
      }
    }
    return server;
  }

  /** SIGKILL node i (a crash). */
  async killNode(i: number): Promise<void> {
    await this.servers[i]?.kill();
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s?.stop()));
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.root, { recursive: true, force: true });
  }

  /** `srvr` of node i (undefined if it does not answer). */
  async srvr(i: number, timeoutMs = 1000): Promise<string | undefined> {
    try {
      return await fourLetterWord('127.0.0.1', this.nodes[i]!.port, 'srvr', timeoutMs);
    } catch {
      return undefined;
    }
  }

  /** Mode of node i (leader, follower, standalone) or undefined while it does not serve. */
  async mode(i: number): Promise<string | undefined> {
    return /^Mode:\s*(\S+)/m.exec((await this.srvr(i)) ?? '')?.[1];
  }

  /** Index of the leader of an ensemble, once every node serves (and exactly one leads). */
  async waitForEnsemble(timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const modes = await Promise.all(this.nodes.map((_, i) => this.mode(i)));
      const leaders = modes.flatMap((m, i) => (m === 'leader' ? [i] : []));
      if (leaders.length === 1 && modes.every((m) => m === 'leader' || m === 'follower')) return leaders[0]!;
      if (Date.now() > deadline) throw new Error(`${this.kind} ensemble not formed after ${timeoutMs} ms (modes ${JSON.stringify(modes)})`);
      await sleep(50);
    }
  }

  /** The version line of `srvr` ("Zookeeper version: …"). */
  async version(): Promise<string | undefined> {
    const text = await this.srvr(0);
    return /^Zookeeper version:\s*(.*)$/m.exec(text ?? '')?.[1]?.trim();
  }
}

/**
 * Polls `srvr` every `pollMs` until it reports a Mode; returns the ms from `since` (performance.now()
 * at spawn) to the first answer with a Mode. Throws if the process exits or time runs out.
 */
export async function waitForMode(server: ServerProcess, since: number, timeoutMs = 600_000, pollMs = 10): Promise<number> {
  const deadline = since + timeoutMs;
  for (;;) {
    if (!server.running) throw new Error(`${server.name} (pid ${server.pid}) exited while recovering:\n${server.logText().slice(-3000)}`);
    try {
      const text = await fourLetterWord(server.host, server.port, 'srvr', 2000);
      if (/^Mode:/m.test(text)) return performance.now() - since;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`${server.name} not serving after ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}
