/**
 * Records are read and written by code generated per record; a process that disallows code
 * generation from strings gets the same bytes and values from the loop instead.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CreateRequest } from '../src/index.js';

const built = fileURLToPath(new URL('../dist/index.js', import.meta.url));

describe('record codecs', () => {
  it('work the same in a process started with --disallow-code-generation-from-strings (built package)', () => {
    const value = { path: '/a/ü', data: new Uint8Array([0, 1, 255]), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], flags: 2 };
    const script = `
      import { CreateRequest } from ${JSON.stringify(built)};
      const bytes = Buffer.from(process.argv[1], 'hex');
      const decoded = CreateRequest.decode(bytes);
      process.stdout.write(JSON.stringify({ decoded: { ...decoded, data: [...decoded.data] }, again: Buffer.from(CreateRequest.encode(decoded)).toString('hex') }));
      new Function('');`;
    const hex = Buffer.from(CreateRequest.encode(value)).toString('hex');
    const child = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '--input-type=module', '-e', script, hex], { encoding: 'utf8' });
    // The last line of the script proves the flag was in force: it must throw an EvalError.
    expect(child.stderr).toMatch(/EvalError: Code generation from strings disallowed/);
    const out = JSON.parse(child.stdout) as { decoded: unknown; again: string };
    expect(out.decoded).toEqual({ ...value, data: [0, 1, 255] });
    expect(out.again).toBe(hex);
  });
});
