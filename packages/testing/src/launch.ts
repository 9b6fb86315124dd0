import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerExitedError } from './errors.js';
import { getFreePort } from './ports.js';
import { ServerProcess } from './serverProcess.js';
import { defaultStandaloneSettings, writeZooCfg, type ZooCfgSettings } from './zooCfg.js';

export interface StartOptions {
  /** Merged over defaultStandaloneSettings (so they can override port/dataDir too). */
  settings?: ZooCfgSettings;
  /** Merged over process.env for the server process. */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for `srvr` to report a Mode (default 30 s). */
  startTimeoutMs?: number;
}

export interface PreparedServerDir {
  tmpDir: string;
  dataDir: string;
  port: number;
  cfgPath: string;
  settings: ZooCfgSettings;
}

/** Fresh temp dir + free port + zoo.cfg for one standalone server. */
export async function prepareServerDir(settings: ZooCfgSettings = {}): Promise<PreparedServerDir> {
  const tmpDir = await mkdtemp(join(tmpdir(), 'corral-test-'));
  const merged: ZooCfgSettings = {
    ...defaultStandaloneSettings({ dataDir: join(tmpDir, 'data'), clientPort: await getFreePort() }),
    ...settings,
  };
  const dataDir = String(merged.dataDir);
  await mkdir(dataDir, { recursive: true });
  const cfgPath = await writeZooCfg(tmpDir, merged);
  return { tmpDir, dataDir, port: Number(merged.clientPort), cfgPath, settings: merged };
}

export interface LaunchSpec {
  name: string;
  command: string;
  args: string[];
  dir: PreparedServerDir;
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
}

/** Spawn a server and wait until it serves; on failure it is killed before rethrowing. */
export async function launchServer(spec: LaunchSpec): Promise<ServerProcess> {
  const child = spawn(spec.command, spec.args, {
    cwd: spec.dir.tmpDir,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    const [error] = (await once(child, 'error')) as [Error];
    throw new ServerExitedError(`${spec.name}: could not spawn ${spec.command}: ${error.message}`, null, null, '', {
      cause: error,
    });
  }
  const server = new ServerProcess(child, {
    name: spec.name,
    // We always connect over loopback, even if clientPortAddress was overridden.
    host: '127.0.0.1',
    port: spec.dir.port,
    dataDir: spec.dir.dataDir,
    tmpDir: spec.dir.tmpDir,
    cfgPath: spec.dir.cfgPath,
  });
  try {
    await server.waitUntilServing(spec.startTimeoutMs ?? 30_000);
  } catch (err) {
    await server.kill();
    throw err;
  }
  return server;
}
