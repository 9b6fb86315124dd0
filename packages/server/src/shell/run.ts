import { mkdir } from 'node:fs/promises';
import pino, { type Logger } from 'pino';
import { readZooCfg } from '../config/zooCfg.js';
import { recover } from '../persistence/recovery.js';
import { ClientServer } from './clientServer.js';

/** Reads zoo.cfg, starts a standalone server and stops it cleanly on SIGINT/SIGTERM. */
export async function runServer(configPath: string, log: Logger = pino({ name: 'corral' })): Promise<ClientServer> {
  const config = await readZooCfg(configPath);
  for (const { key, line } of config.unknownKeys) log.info({ key, line }, 'ignoring unknown or unsupported config key');
  if (config.clientPort === 0) {
    const own = [...config.servers.values()][0];
    if (own?.clientPort) config.clientPort = own.clientPort;
  }
  if (config.servers.size > 1) log.warn({ servers: config.servers.size }, 'replicated mode is not implemented yet; running standalone');
  await mkdir(config.dataDir, { recursive: true });
  const started = performance.now();
  const recovered = await recover({ dataDir: config.dataDir, dataLogDir: config.dataLogDir, log });
  log.info(
    { ms: Math.round(performance.now() - started), nodes: recovered.tree.nodeCount, sessions: recovered.sessions.length, replayed: recovered.txnsReplayed, zxid: `0x${recovered.tree.lastZxid.toString(16)}` },
    'recovered state from disk',
  );
  const server = new ClientServer(config, log, { recovered });
  const { host, port } = await server.listen();
  log.info({ host, port, dataDir: config.dataDir, tickTimeMs: config.tickTimeMs }, 'serving clients (standalone)');
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  return server;
}
