import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  corralCliPath,
  fourLetterWord,
  getFreePort,
  runCommand,
  startCorral,
  startZooKeeper,
  zookeeperAvailable,
  type ServerProcess,
} from '../packages/testing/src/index.js';

const WORDS = ['ruok', 'srvr', 'stat', 'mntr', 'conf', 'cons', 'wchs', 'envi', 'dump', 'isro'];

describe('corral server <zoo.cfg>: config errors', () => {
  async function runWithConfig(text: string) {
    const dir = await mkdtemp(join(tmpdir(), 'corral-cfg-'));
    const cfg = join(dir, 'zoo.cfg');
    await writeFile(cfg, text);
    return runCommand(process.execPath, [corralCliPath(), 'server', cfg], { timeoutMs: 20_000 });
  }

  it('names the file, the line and the key of a malformed value, and exits non-zero', async () => {
    const result = await runWithConfig(['# sample', 'tickTime=2000', 'dataDir=/tmp/x', 'clientPort=abc', ''].join('\n'));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/zoo\.cfg:4:.*clientPort/);
  });

  it('names a missing dataDir', async () => {
    const result = await runWithConfig('tickTime=2000\nclientPort=2999\n');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('dataDir');
  });

  it('names a missing file', async () => {
    const result = await runCommand(process.execPath, [corralCliPath(), 'server', '/nonexistent/zoo.cfg'], { timeoutMs: 20_000 });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('/nonexistent/zoo.cfg');
  });
});

describe('corral dev (what npm start runs)', () => {
  it('serves on the given port with TTL nodes on and writes its zoo.cfg under the data dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'corral-dev-'));
    const port = await getFreePort();
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [corralCliPath(), 'dev', '--port', String(port), '--data', join(dir, 'data')], { stdio: 'ignore' });
    try {
      let answer = '';
      for (let i = 0; i < 100 && answer !== 'imok'; i++) {
        answer = await fourLetterWord('127.0.0.1', port, 'ruok').catch(() => '');
        if (answer !== 'imok') await new Promise((r) => setTimeout(r, 100));
      }
      expect(answer).toBe('imok');
      const conf = await fourLetterWord('127.0.0.1', port, 'conf');
      expect(conf).toContain(`clientPort=${port}`);
      const { readFile } = await import('node:fs/promises');
      expect(await readFile(join(dir, 'data', 'zoo.cfg'), 'utf8')).toContain('extendedTypesEnabled=true');
    } finally {
      child.kill('SIGTERM');
    }
  });
});

/** The same words against Corral and Apache ZooKeeper: same shape of answer (keys and line structure). */
const kinds: { name: string; start: (settings?: Record<string, string | number>) => Promise<ServerProcess>; available: () => boolean }[] = [
  { name: 'corral', start: (settings) => startCorral({ settings }), available: () => true },
  {
    name: 'zookeeper',
    start: (settings) => startZooKeeper({ settings }),
    available: () => {
      const a = zookeeperAvailable();
      if (!a.ok && process.env.CI) throw new Error(`ZooKeeper required in CI: ${a.reason}`);
      if (!a.ok) console.warn(`\n!!! SKIPPING ZooKeeper four-letter-word comparison: ${a.reason}\n`);
      return a.ok;
    },
  },
];

const answers = new Map<string, Map<string, string>>();
const restricted = new Map<string, Map<string, string>>();

describe.each(kinds)('four-letter words on $name', (kind) => {
  const run = kind.available();
  let server: ServerProcess;
  let whitelisted: ServerProcess;

  beforeAll(async () => {
    if (!run) return;
    server = await kind.start();
    whitelisted = await kind.start({ '4lw.commands.whitelist': 'srvr, ruok' });
  });
  afterAll(async () => {
    await server?.cleanup();
    await whitelisted?.cleanup();
  });

  it.runIf(run)('answers every word', async () => {
    const mine = new Map<string, string>();
    for (const word of WORDS) mine.set(word, await fourLetterWord('127.0.0.1', server.port, word));
    answers.set(kind.name, mine);
    expect(mine.get('ruok')).toBe('imok');
    expect(mine.get('isro')).toBe('rw');
    expect(mine.get('srvr')).toMatch(/^Zookeeper version: .*\n/);
    expect(mine.get('srvr')).toMatch(/\nMode: standalone\n/);
    expect(mine.get('srvr')).toMatch(/\nNode count: \d+\n/);
    expect(mine.get('srvr')).toMatch(/\nZxid: 0x[0-9a-f]+\n/);
    expect(mine.get('stat')).toMatch(/\nClients:\n/);
    expect(mine.get('mntr')).toMatch(/^zk_version\t/m);
    expect(mine.get('mntr')).toMatch(/^zk_znode_count\t\d+$/m);
    expect(mine.get('wchs')).toMatch(/^\d+ connections watching \d+ paths\nTotal watches:\d+\n$/);
    expect(mine.get('conf')).toMatch(new RegExp(`^clientPort=${server.port}$`, 'm'));
    expect(mine.get('conf')).toMatch(/^tickTime=2000$/m);
    expect(mine.get('conf')).toMatch(/^maxSessionTimeout=40000$/m);
    expect(mine.get('envi')).toMatch(/^Environment:\nzookeeper.version=/);
    expect(mine.get('dump')).toMatch(/^SessionTracker dump:/);
    expect(mine.get('dump')).toMatch(/ephemeral nodes dump:/);
  });

  it.runIf(run)('refuses words that are not whitelisted, with ZooKeeper\'s text', async () => {
    const mine = new Map<string, string>();
    for (const word of ['ruok', 'mntr', 'conf']) mine.set(word, await fourLetterWord('127.0.0.1', whitelisted.port, word));
    restricted.set(kind.name, mine);
    expect(mine.get('ruok')).toBe('imok');
    expect(mine.get('mntr')).toBe('mntr is not executed because it is not in the whitelist.\n');
    expect(mine.get('conf')).toBe('conf is not executed because it is not in the whitelist.\n');
  });
});

describe('four-letter words: Corral and ZooKeeper agree', () => {
  it.runIf(zookeeperAvailable().ok)('on the set of mntr keys Corral reports and on the line structure of srvr', () => {
    const corral = answers.get('corral')!;
    const zk = answers.get('zookeeper')!;
    const keys = (text: string) => new Set(text.trim().split('\n').map((l) => l.split('\t')[0]));
    const zkKeys = keys(zk.get('mntr')!);
    for (const key of keys(corral.get('mntr')!)) expect(zkKeys, `ZooKeeper has no mntr key ${key}`).toContain(key);
    const labels = (text: string) => text.trim().split('\n').map((l) => l.split(':')[0]);
    expect(labels(corral.get('srvr')!)).toEqual(labels(zk.get('srvr')!));
    expect(restricted.get('corral')).toEqual(restricted.get('zookeeper'));
  });
});
