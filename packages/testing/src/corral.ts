import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CorralNotBuiltError } from './errors.js';
import { launchServer, prepareServerDir, type StartOptions } from './launch.js';
import type { ServerProcess } from './serverProcess.js';

/**
 * Walk up from this module (src/ under vitest, dist/ once bundled) to the
 * directory that contains packages/cli, i.e. the monorepo root.
 */
export function findRepoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'packages', 'cli', 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new CorralNotBuiltError(`could not find the repo root (packages/cli) above ${from}`);
    dir = parent;
  }
}

/** Path of the built CLI entry point; throws if `npm run build` has not produced it. */
export function corralCliPath(): string {
  const main = join(findRepoRoot(), 'packages', 'cli', 'dist', 'main.js');
  if (!existsSync(main)) throw new CorralNotBuiltError(`${main} is missing; run \`npm run build\` first`);
  return main;
}

/**
 * Node flags every Corral server runs with (the `corral` bin's shebang and `npm start` carry the
 * same; a test keeps them equal). V8 marks the old generation with up to four helper threads
 * beside the serving thread; on a 2-core machine they took the serving thread's core: a set load
 * at 20,000 ops/s right after a burst of creates had p99 25-85 ms, with one marking helper
 * 12-19 ms (ZooKeeper 9-13 ms).
 */
export const CORRAL_SERVER_NODE_FLAGS: readonly string[] = ['--concurrent-marking-max-worker-num=1'];

/** Arguments to `node` that run `corral server <cfgPath>` as users run it (extra Node flags first). */
export function corralServerArgs(cfgPath: string, nodeArgs: readonly string[] = []): string[] {
  return [...CORRAL_SERVER_NODE_FLAGS, ...nodeArgs, corralCliPath(), 'server', cfgPath];
}

/** Start `corral server <zoo.cfg>` on a free loopback port and wait until it serves. */
export async function startCorral(options: StartOptions = {}): Promise<ServerProcess> {
  corralCliPath(); // fails before a server directory is made if the CLI is not built
  const dir = await prepareServerDir(options.settings);
  return launchServer({
    name: 'corral',
    command: process.execPath,
    args: corralServerArgs(dir.cfgPath),
    dir,
    env: options.env,
    startTimeoutMs: options.startTimeoutMs,
  });
}
