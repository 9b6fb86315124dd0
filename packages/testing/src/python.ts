import { spawnSync } from 'node:child_process';
import { runCommand, type RunOptions, type RunResult } from './run.js';
import type { Availability } from './zookeeper.js';

/** Debian's interpreter: python3-kazoo is only importable from here, not from pyenv. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

let kazooCache: Availability | undefined;

/** Whether /usr/bin/python3 can `import kazoo` (cached per process). */
export function kazooAvailable(): Availability {
  if (kazooCache) return kazooCache;
  const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import kazoo'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) kazooCache = { ok: false, reason: `${SYSTEM_PYTHON}: ${r.error.message}` };
  else if (r.status !== 0) {
    kazooCache = { ok: false, reason: `${SYSTEM_PYTHON} cannot import kazoo (apt-get install python3-kazoo): ${r.stderr.trim()}` };
  } else kazooCache = { ok: true };
  return kazooCache;
}

/** Run `script` with /usr/bin/python3 -c; `env` is merged over process.env. */
export function runPython(
  script: string,
  env: NodeJS.ProcessEnv = {},
  options: Omit<RunOptions, 'env'> = {},
): Promise<RunResult> {
  return runCommand(SYSTEM_PYTHON, ['-c', script], { ...options, env: { PYTHONUNBUFFERED: '1', ...env } });
}
