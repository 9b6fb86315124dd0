import { corralServerArgs } from './corral.js';
import { launchServer } from './launch.js';
import type { ServerProcess } from './serverProcess.js';

/**
 * Starts `corral server` again on the SAME zoo.cfg, dataDir and port as a server that has exited
 * (after stop() or kill()), and waits until it serves. Its output is appended to the same server.log.
 */
export async function restartCorral(previous: ServerProcess, options: { env?: NodeJS.ProcessEnv; startTimeoutMs?: number } = {}): Promise<ServerProcess> {
  if (previous.running) throw new Error(`corral (pid ${previous.pid}) is still running; stop() or kill() it first`);
  return launchServer({
    name: 'corral',
    command: process.execPath,
    args: corralServerArgs(previous.cfgPath),
    dir: { tmpDir: previous.tmpDir, dataDir: previous.dataDir, port: previous.port, cfgPath: previous.cfgPath, settings: {} },
    env: options.env,
    startTimeoutMs: options.startTimeoutMs,
  });
}
