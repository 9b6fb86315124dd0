import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCorral, type ServerProcess } from '@corral/testing';

// Runs every ```ts example of recipes-docs/client.md against a real Corral server, with
// '@corral/client' pointing at this package's source.
const docPath = fileURLToPath(new URL('../../../recipes-docs/client.md', import.meta.url));
const srcIndex = fileURLToPath(new URL('../src/index.ts', import.meta.url));
const workDir = fileURLToPath(new URL('./.vitest-doc-examples/', import.meta.url));

const doc = await readFile(docPath, 'utf8');
const examples = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('recipes-docs/client.md examples', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startCorral();
    process.env.ZOOKEEPER = server.connectString;
    await mkdir(workDir, { recursive: true });
  });
  afterAll(async () => {
    delete process.env.ZOOKEEPER;
    await rm(workDir, { recursive: true, force: true });
    await server?.cleanup();
  });

  it('has examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(5);
  });

  examples.forEach((source, index) => {
    const title = source.split('\n').find((line) => line.includes('createClient(')) ?? `example ${index}`;
    it(`example ${index + 1} runs: ${title.trim().slice(0, 60)}`, async () => {
      const file = `${workDir}example-${index}.ts`;
      await writeFile(file, source.replaceAll(`'@corral/client'`, JSON.stringify(srcIndex)), 'utf8');
      const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      let calls = 0;
      try {
        await import(pathToFileURL(file).href);
      } finally {
        calls = log.mock.calls.length;
        log.mockRestore();
      }
      expect(calls).toBeGreaterThan(0);
    });
  });
});
