import { createServer, type Server } from 'node:net';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  fourLetterWord,
  getFreePort,
  kazooAvailable,
  launchServer,
  prepareServerDir,
  runPython,
  ServerExitedError,
  ServerStartTimeoutError,
  startZooKeeper,
  writeZooCfg,
  zkCli,
  runsHere, zookeeperAvailable,
  type ServerProcess,
} from '../src/index.js';

// In CI a missing ZooKeeper is a broken environment, not a reason to skip.
const zookeeperRuns = runsHere(zookeeperAvailable(), 'Apache ZooKeeper harness tests');
const kazooRuns = runsHere(kazooAvailable(), 'kazoo harness tests');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const servers: ServerProcess[] = [];
const tmpDirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.cleanup()));
  await Promise.all(tmpDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('harness helpers', () => {
  it('getFreePort returns a bindable port', async () => {
    const port = await getFreePort();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => server.close(resolve));
  });

  it('writeZooCfg writes key=value lines', async () => {
    const dir = await prepareServerDir({ maxClientCnxns: 7 });
    tmpDirs.push(dir.tmpDir);
    const text = await readFile(dir.cfgPath, 'utf8');
    expect(text).toContain(`clientPort=${dir.port}\n`);
    expect(text).toContain('4lw.commands.whitelist=*\n');
    expect(text).toContain('maxClientCnxns=7\n');
    expect(text).not.toContain('extendedTypesEnabled');
    await expect(writeZooCfg(dir.tmpDir, { 'a\nb': 1 })).rejects.toThrow(/invalid/);
  });

  it('fourLetterWord collects the reply until the server closes', async () => {
    const server: Server = createServer((socket) => {
      socket.once('data', (cmd) => socket.end(`got ${cmd.toString()}\nMode: standalone\n`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      expect(await fourLetterWord('127.0.0.1', port, 'srvr')).toBe('got srvr\nMode: standalone\n');
    } finally {
      server.close();
    }
  });

  it('waitUntilServing rejects at once with the exit code and log tail', async () => {
    const dir = await prepareServerDir();
    tmpDirs.push(dir.tmpDir);
    const started = Date.now();
    const failure = launchServer({
      name: 'doomed',
      command: process.execPath,
      args: ['-e', 'console.error("boom: cannot start"); process.exit(3)'],
      dir,
    });
    await expect(failure).rejects.toBeInstanceOf(ServerExitedError);
    await expect(failure).rejects.toMatchObject({ code: 3, message: expect.stringContaining('boom: cannot start') });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await readFile(join(dir.tmpDir, 'server.log'), 'utf8')).toContain('boom: cannot start');
  });

  it('waitUntilServing times out (and kills) a process that never answers srvr', async () => {
    const dir = await prepareServerDir();
    tmpDirs.push(dir.tmpDir);
    const failure = launchServer({
      name: 'silent',
      command: process.execPath,
      args: ['-e', 'console.log("up but mute"); setInterval(() => {}, 1000)'],
      dir,
      startTimeoutMs: 1500,
    });
    await expect(failure).rejects.toBeInstanceOf(ServerStartTimeoutError);
    await expect(failure).rejects.toThrow(/up but mute/);
  });
});

describe.skipIf(!zookeeperRuns)('Apache ZooKeeper harness', () => {
  it('starts ZooKeeper, talks to it with zkCli, and stops it', async () => {
    const server = await startZooKeeper();
    servers.push(server);

    const srvr = await fourLetterWord(server.host, server.port, 'srvr');
    expect(srvr).toMatch(/^Mode: standalone$/m);

    const created = await zkCli(server.connectString, ['create', '/harness', 'hello']);
    expect(created.code, created.rawStderr).toBe(0);
    expect(created.stderr).toContain('Created /harness');

    const got = await zkCli(server.connectString, ['get', '/harness']);
    expect(got.code, got.rawStderr).toBe(0);
    expect(got.stdout).toContain('hello');
    expect(got.stdout.trim()).toBe('hello');

    const missing = await zkCli(server.connectString, ['get', '/nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Node does not exist: /nope');

    const exit = await server.stop();
    expect(exit.signal ?? exit.code).toBeTruthy();
    expect(pidAlive(server.pid)).toBe(false);
    expect(server.logText()).toContain('binding to port');
  });

  it.skipIf(!kazooRuns)('kazoo (system python) can talk to it', async () => {
    const server = await startZooKeeper();
    servers.push(server);
    const script = [
      'import os',
      'from kazoo.client import KazooClient',
      'zk = KazooClient(hosts=os.environ["ZK_HOSTS"])',
      'zk.start(timeout=10)',
      'zk.create("/kazoo", b"from-python")',
      'print(zk.get("/kazoo")[0].decode())',
      'zk.stop()',
    ].join('\n');
    const result = await runPython(script, { ZK_HOSTS: server.connectString });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('from-python');
  });
});
