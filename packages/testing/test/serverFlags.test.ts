import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CORRAL_SERVER_NODE_FLAGS, findRepoRoot, startCorral } from '../src/index.js';

const root = findRepoRoot();
const cmdline = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

describe('the Node flags a Corral server runs with', () => {
  it('are the same in the corral bin, npm start and the test harness', () => {
    const shebang = readFileSync(join(root, 'packages', 'cli', 'bin', 'corral.js'), 'utf8').split('\n')[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${CORRAL_SERVER_NODE_FLAGS.join(' ')}`);
    const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start;
    expect(start).toBe(`node ${CORRAL_SERVER_NODE_FLAGS.join(' ')} packages/cli/dist/main.js dev`);
  });

  it('the corral bin starts under them (env -S splits the shebang)', () => {
    const bin = join(root, 'node_modules', '.bin', 'corral');
    const result = spawnSync(bin, ['--help'], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('Usage: corral');
  });

  it('a server started by the harness has them on its command line', async () => {
    const server = await startCorral();
    try {
      const args = cmdline(server.pid);
      for (const flag of CORRAL_SERVER_NODE_FLAGS) expect(args.indexOf(flag)).toBeGreaterThan(0);
      expect(args.indexOf(CORRAL_SERVER_NODE_FLAGS[0]!)).toBeLessThan(args.findIndex((a) => a.endsWith('main.js')));
    } finally {
      await server.cleanup();
    }
  });
});
