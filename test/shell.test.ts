// `corral shell` (a zkCli-style shell on @corral/client) against Apache ZooKeeper's own zkCli.
//
// Every step runs three ways at once: (a) `corral shell` against Corral, (b) `corral shell` against
// Apache ZooKeeper, (c) the real zkCli (ZooKeeperMain) against another ZooKeeper started from the same
// settings. The normalised outputs (zxids ranked, times and session ids masked, as in zkcli.test.ts)
// and exit codes must be identical; (c) is the reference for the format. Commands that need one
// session (addauth, whoami, watches, ephemerals, close/connect, history) are scripted through stdin of
// one interactive process; the others are one-shot invocations (`corral shell -server hp cmd args`).

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  corralCliPath,
  findJava,
  getFreePort,
  runCliSession,
  runCommand,
  startCorral,
  startZooKeeper,
  zkCli,
  runsHere, zookeeperAvailable,
  ZOOKEEPER_CLI_CLASSPATH,
  type ServerProcess,
  type ZooCfgSettings,
} from '@corral/testing';
import { expectedStat, normalize } from './zkcliText.js';

const withZooKeeper = runsHere(zookeeperAvailable(), 'the zkCli comparison of corral shell (Corral-only shell tests run)');

const TIMEOUT_MS = 10_000;
const PAUSE_MS = 400;
const digest = (user: string, password: string): string => `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
const SETTINGS: ZooCfgSettings = {
  extendedTypesEnabled: 'true',
  'DigestAuthenticationProvider.superDigest': digest('super', 'pw'),
};

interface Output {
  code: number | null;
  out: string;
  err: string;
}

interface SessionOutput extends Output {
  /** WatchedEvent lines in the order printed (a final Closed, which races zkCli's exit, dropped). */
  events: string[];
}

/** The usage listing printed for an unknown command names each tool's own commands: masked. */
function maskUsage(text: string): string {
  return text.replace(/^(ZooKeeper|corral shell) -server .*\n(\t.*\n)+/m, '<usage>\n');
}

// Both print this on stdout before the command's own output (the shell always waits for the connection).
const PREAMBLE = /^Connecting to [^\n]*\n(?:\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n)?/;

function shellArgs(connectString: string, extra: string[]): string[] {
  return [corralCliPath(), 'shell', '-server', connectString, '-timeout', String(TIMEOUT_MS), ...extra];
}

async function corralShellOnce(connectString: string, args: string[]): Promise<Output> {
  const r = await runCommand(process.execPath, shellArgs(connectString, args), { timeoutMs: 30_000 });
  return { code: r.code, out: normalize(r.stdout.replace(PREAMBLE, '')), err: normalize(maskUsage(r.stderr)) };
}

async function zkCliOnce(connectString: string, args: string[]): Promise<Output> {
  const r = await zkCli(connectString, args, { sessionTimeoutMs: TIMEOUT_MS });
  return { code: r.code, out: normalize(r.stdout), err: normalize(maskUsage(r.stderr)) };
}

/** One stdin-fed session of a zkCli-style CLI, normalised for comparison. */
async function session(command: string, args: string[], commands: string[]): Promise<SessionOutput> {
  const r = await runCliSession(command, args, commands, { pauseMs: PAUSE_MS });
  return { code: r.code, out: normalize(r.out), err: normalize(maskUsage(`${r.err}\n`)), events: r.events };
}

function corralShellSession(connectString: string, commands: string[]): Promise<SessionOutput> {
  return session(process.execPath, shellArgs(connectString, []), commands);
}

function zkCliSession(connectString: string, commands: string[]): Promise<SessionOutput> {
  const jvm = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-cp', ZOOKEEPER_CLI_CLASSPATH, 'org.apache.zookeeper.ZooKeeperMain'];
  return session(findJava()!, [...jvm, '-server', connectString, '-timeout', String(TIMEOUT_MS), '-waitforconnection'], commands);
}

interface Trio {
  corral: ServerProcess;
  /** Used by `corral shell`. */
  zookeeper: ServerProcess;
  /** Used by the real zkCli (so both see the same history of the same commands). */
  reference: ServerProcess;
}

const servers: ServerProcess[] = [];
let trio: Trio;

beforeAll(async () => {
  const start = async (p: Promise<ServerProcess>): Promise<ServerProcess> => {
    const s = await p;
    servers.push(s);
    return s;
  };
  if (!withZooKeeper) {
    trio = { corral: await start(startCorral({ settings: SETTINGS })) } as Trio;
    return;
  }
  const [corral, zookeeper, reference] = await Promise.all([
    start(startCorral({ settings: SETTINGS })),
    start(startZooKeeper({ settings: SETTINGS })),
    start(startZooKeeper({ settings: SETTINGS })),
  ]);
  trio = { corral, zookeeper, reference };
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.cleanup()));
});

/** One command, three ways; all normalised outputs equal. Returns zkCli's (the reference). */
async function oneShot(...args: string[]): Promise<Output> {
  const [a, b, c] = await Promise.all([
    corralShellOnce(trio.corral.connectString, args),
    corralShellOnce(trio.zookeeper.connectString, args),
    zkCliOnce(trio.reference.connectString, args),
  ]);
  expect(b, `corral shell vs zkCli (ZooKeeper): ${args.join(' ')}`).toEqual(c);
  expect(a, `corral shell on Corral vs on ZooKeeper: ${args.join(' ')}`).toEqual(b);
  return c!;
}

/** A scripted interactive session, three ways; `{server}` in a command is each one's connect string. */
async function scripted(commands: string[]): Promise<SessionOutput> {
  const forServer = (s: ServerProcess): string[] => commands.map((c) => c.replaceAll('{server}', s.connectString));
  const [a, b, c] = await Promise.all([
    corralShellSession(trio.corral.connectString, forServer(trio.corral)),
    corralShellSession(trio.zookeeper.connectString, forServer(trio.zookeeper)),
    zkCliSession(trio.reference.connectString, forServer(trio.reference)),
  ]);
  expect(b, 'corral shell vs zkCli (ZooKeeper)').toEqual(c);
  expect(a, 'corral shell on Corral vs on ZooKeeper').toEqual(b);
  return c!;
}

const ok = (out: string, err = ''): Output => ({ code: 0, out, err });
const fails = (err: string, code = 1): Output => ({ code, out: '', err });

describe.skipIf(!withZooKeeper)('corral shell matches zkCli (Apache ZooKeeper 3.8)', () => {
  it('one-shot commands: output, messages and exit codes', { timeout: 90_000 }, async () => {
    expect(await oneShot('create', '/o', 'hello')).toEqual(ok('', 'Created /o'));
    expect(await oneShot('create', '/o', 'again')).toEqual(fails('Node already exists: /o'));
    expect(await oneShot('get', '-s', '/o')).toEqual(ok(`hello\n${expectedStat({ c: 1, m: 1, p: 1, dataLength: 5 })}`));
    expect(await oneShot('set', '-s', '/o', 'v2')).toEqual(ok(expectedStat({ c: 1, m: 2, p: 1, dataVersion: 1, dataLength: 2 })));
    expect(await oneShot('set', '-v', '7', '/o', 'x')).toEqual(fails('version No is not valid : /o'));
    expect(await oneShot('set', '-v', '1', '/o', 'v3')).toEqual(ok(''));
    expect(await oneShot('get', '/nope')).toEqual(fails('Node does not exist: /nope'));
    expect(await oneShot('create', '/o/c1')).toEqual(ok('', 'Created /o/c1'));
    expect(await oneShot('get', '/o/c1')).toEqual(ok('null'));
    expect(await oneShot('create', '/o/c1/deep', 'd')).toEqual(ok('', 'Created /o/c1/deep'));
    expect(await oneShot('create', '-s', '/o/seq-', 'a')).toEqual(ok('', 'Created /o/seq-0000000001'));
    expect(await oneShot('create', '-c', '/o/box')).toEqual(ok('', 'Created /o/box'));
    expect(await oneShot('create', '-t', '600000', '/o/ttl', 't')).toEqual(ok('', 'Created /o/ttl'));
    expect(await oneShot('create', '/o/acl', 'x', 'world:anyone:cdr,digest:bob:xyz:cdrwa,oops')).toEqual(
      ok('', 'oops does not have the form scheme:id:perm\nCreated /o/acl'),
    );
    // Without ADMIN on the node, digest ids are shown as user:x.
    expect(await oneShot('getAcl', '-s', '/o/acl')).toEqual(ok(`'world,'anyone\n: cdr\n'digest,'bob:x\n: cdrwa\n${expectedStat({ c: 1, m: 1, p: 1, dataLength: 1 })}`));
    expect(await oneShot('setAcl', '/o/acl', 'world:anyone:cdrwa')).toEqual(fails('Insufficient permission : /o/acl'));
    expect(await oneShot('setAcl', '-v', '3', '/o/c1', 'world:anyone:cdrwa')).toEqual(fails('version No is not valid : /o/c1'));
    expect(await oneShot('setAcl', '-s', '/o/c1', 'world:anyone:cdrwa')).toEqual(ok(expectedStat({ c: 1, m: 1, p: 2, aclVersion: 1, cversion: 1, dataLength: 0, numChildren: 1 })));
    // -R goes on after a failure, printing the KeeperException's message without a newline.
    expect(await oneShot('setAcl', '-R', '/o', 'world:anyone:cdrw')).toEqual(ok('KeeperErrorCode = NoAuth for /o/acl'));
    expect(await oneShot('getAcl', '/o/c1/deep')).toEqual(ok("'world,'anyone\n: cdrw"));
    expect(await oneShot('ls', '/o')).toEqual(ok('[acl, box, c1, seq-0000000001, ttl]'));
    expect((await oneShot('ls', '-s', '/o')).out).toMatch(/^\[acl, box, c1, seq-0000000001, ttl\]\ncZxid = Z1\n/);
    expect(await oneShot('ls', '-R', '/o')).toEqual(ok(['/o', '/o/acl', '/o/box', '/o/c1', '/o/seq-0000000001', '/o/ttl', '/o/c1/deep'].join('\n')));
    expect((await oneShot('stat', '/o')).out).toMatch(/\nnumChildren = 5$/);
    expect(await oneShot('delete', '/o/c1')).toEqual(fails('Node not empty: /o/c1'));
    expect(await oneShot('delete', '-v', '5', '/o/c1/deep')).toEqual(fails('version No is not valid : /o/c1/deep'));
    expect(await oneShot('delete', '-v', '0', '/o/c1/deep')).toEqual(ok(''));
    expect(await oneShot('getAllChildrenNumber', '/o')).toEqual(ok('5'));
    expect(await oneShot('deleteall', '/o/c1')).toEqual(ok(''));
    expect(await oneShot('sync', '/o')).toEqual(ok('Sync is OK'));
    // Exit codes: 1 for an invalid path, 127 for an unknown command.
    expect(await oneShot('ls', 'bad')).toEqual(fails('Path must start with / character'));
    expect(await oneShot('frob', '/o')).toEqual(fails('<usage>\nCommand not found: Command not found frob', 127));
    expect(await oneShot('deleteall', '/o', '-b', '2')).toEqual(ok(''));
    expect(await oneShot('ls', '/')).toEqual(ok('[zookeeper]'));
  });

  it('a scripted session: watches, removewatches, addWatch, ephemerals, history, redo, printwatches, close and connect', async () => {
    const r = await scripted([
      'create /s data',
      'create -e /s/eph e',
      'create -e -s /s/seq- x',
      'getEphemerals /s/seq',
      'get -w /s',
      'set /s data2',
      'ls -w /s',
      'create /s/kid',
      'stat -w /s/kid',
      'delete /s/kid',
      'stat -w /s/later',
      'create /s/later',
      'get -w /s',
      'ls -w /s',
      'removewatches /s -d',
      'removewatches /s -d',
      'removewatches /s -c',
      'removewatches /s',
      'addWatch -m persistent /s',
      'create /s/p',
      'removewatches /s',
      // zkCli keeps the previous -m (its command objects are reused), so the mode is always given.
      'addWatch -m persistent_recursive /s',
      'set /s/p 1',
      'delete /s/p',
      'removewatches /s -l',
      'printwatches',
      '{pause}',
      'printwatches off',
      'get -w /s',
      'set /s quiet', // not shown
      '{pause}',
      'printwatches',
      'printwatches on',
      'getAllChildrenNumber /s',
      'history',
      'redo 31',
      'redo 99',
      'close',
      'ls /s',
      '{pause}', // zkCli's old session prints Closed from its own thread
      'connect {server}',
      'ls /s',
      'getEphemerals',
      'frob',
      'quit',
    ]);
    // quit exits with the status of the command before it (frob: 127).
    expect(r.code).toBe(127);
    expect(r.events).toEqual(
      [
        'SyncConnected type:None path:null',
        'SyncConnected type:NodeDataChanged path:/s',
        'SyncConnected type:NodeChildrenChanged path:/s',
        'SyncConnected type:NodeDeleted path:/s/kid',
        'SyncConnected type:NodeCreated path:/s/later',
        'SyncConnected type:DataWatchRemoved path:/s',
        'SyncConnected type:ChildWatchRemoved path:/s',
        'SyncConnected type:NodeChildrenChanged path:/s',
        'SyncConnected type:PersistentWatchRemoved path:/s',
        'SyncConnected type:NodeDataChanged path:/s/p',
        'SyncConnected type:NodeDeleted path:/s/p',
        'SyncConnected type:PersistentWatchRemoved path:/s',
        'Closed type:None path:null',
        'SyncConnected type:None path:null',
      ].map((e) => `WatchedEvent state:${e}`),
    );
    expect(r.err).toBe(
      [
        'Created /s',
        'Created /s/eph',
        'Created /s/seq-0000000001',
        'Created /s/kid',
        'Node does not exist: /s/later',
        'Created /s/later',
        'KeeperErrorCode = No such watcher for /s',
        'KeeperErrorCode = No such watcher for /s',
        'Created /s/p',
        'Command index out of range',
        '<usage>',
        'Command not found: Command not found frob',
      ].join('\n'),
    );
    const out = r.out.split('\n');
    expect(out.slice(0, 3)).toEqual(['[/s/seq-0000000001]', 'data', '[eph, seq-0000000001]']);
    expect(out).toContain('printwatches is on');
    expect(out).toContain('printwatches is off');
    expect(out).toContain('31 - getAllChildrenNumber /s');
    // close ended the session (its ephemerals went with it); connect started a new one.
    expect(out.slice(-3)).toEqual(['Not connected', '[later]', '[]']);
  });

  it('a scripted session: argument, option and path errors', async () => {
    const r = await scripted([
      'ls /zookeeper watch',
      'stat /zookeeper/quota watch',
      'ls -s',
      'get -x /x',
      'get -sx /x',
      'set -v',
      'set -v5 /zookeeper/nope x',
      'set /x',
      'create /o//x',
      'get /x/',
      'create -t 0 /t0',
      'create -t abc /t',
      'create -c -s /cs',
      'create -e -t 5 /te',
      'create /bad x world:anyone',
      'create /perm x world:anyone:rq',
      'delete /zookeeper',
      'delete /perm 3',
      'stat /nope',
      'getEphemerals /a/',
      'addWatch -m foo /x',
      'removewatches',
      'getAllChildrenNumber',
      'whoami',
      'frob',
    ]);
    expect(r.code).toBe(127);
    expect(r.err).toBe(
      [
        "'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead.",
        "'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead.",
        'ls [-s] [-w] [-R] path',
        'org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x',
        'org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -sx',
        'org.apache.commons.cli.MissingArgumentException: Missing argument for option: v',
        'Node does not exist: /zookeeper/nope',
        'set [-s] [-v version] path data',
        'Invalid path string "/o//x" caused by empty node name specified @3',
        'Path must not end with / character',
        'ttl must be positive and cannot be larger than: 1099511627775',
        '-t argument must be a long value',
        '-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.',
        'TTLs cannot be used with Ephemeral znodes',
        'world:anyone does not have the form scheme:id:perm',
        'KeeperErrorCode = InvalidACL',
        'Acl is not valid : null',
        'Unknown perm type: q',
        'Created /perm',
        'Arguments are not valid : /zookeeper',
        "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.",
        'Node does not exist: /nope',
        'Path must not end with / character',
        'addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE',
        'removewatches path [-c|-d|-a] [-l]',
        'getAllChildrenNumber path',
        '<usage>',
        'Command not found: Command not found frob',
      ].join('\n'),
    );
    expect(r.out).toMatch(/^\[config, quota\]\ncZxid = Z1\n[^]*\nAuth scheme: User\nip: 127\.0\.0\.1$/);
  });

  it('a scripted session: addauth, whoami, auth ACLs and the super user', async () => {
    const r = await scripted([
      'whoami',
      `create /vault v digest:${digest('alice', 'secret')}:cdrwa`,
      'get /vault',
      'addauth digest alice:secret',
      'whoami',
      'get /vault',
      'create /mine m auth::cdrwa',
      'getAcl /mine',
      'addauth digest super:pw',
      'setAcl /vault world:anyone:r',
      'getAcl -s /vault',
      'deleteall /mine',
      'delete /vault',
    ]);
    expect(r).toMatchObject({ code: 0, events: ['WatchedEvent state:SyncConnected type:None path:null'] });
  });

  it('a rejected addauth ends the session as in zkCli (AuthFailed)', async () => {
    const r = await scripted(['addauth nosuchscheme secret', 'ls /', 'whoami', 'history']);
    expect(r.events).toEqual(['WatchedEvent state:SyncConnected type:None path:null', 'WatchedEvent state:AuthFailed type:None path:null']);
    expect(r.err).toBe('KeeperErrorCode = AuthFailed for /');
    expect(r.out).toBe(['Not connected', '0 - addauth nosuchscheme secret', '1 - ls /', '2 - whoami', '3 - history', 'Not connected'].join('\n'));
  });
});

describe('corral shell on its own', () => {
  it('shows the zkCli prompt (with -prompt) as the state and the command count change', async () => {
    const cs = trio.corral.connectString;
    const r = await session(process.execPath, shellArgs(cs, ['-prompt']), ['create /prompted p', 'get /prompted', '', 'close', 'ls /']);
    const prompt = (state: string, n: number): string => `[zk: ${cs}(${state}) ${n}] `;
    expect(r.code).toBe(0);
    // An empty line is not a command (the count stays); close's event ends the prompt's line.
    expect(r.out).toBe(
      [`${prompt('CONNECTED', 0)}${prompt('CONNECTED', 1)}p`, `${prompt('CONNECTED', 2)}${prompt('CONNECTED', 2)}`, `${prompt('CLOSED', 3)}Not connected`, prompt('CLOSED', 4)].join('\n'),
    );
    expect(r.events).toEqual(['WatchedEvent state:SyncConnected type:None path:null']); // (session() drops the final Closed)
  });

  it('exits 1 when no server answers, and prints its help with -h', async () => {
    const port = await getFreePort();
    const r = await runCommand(process.execPath, [corralCliPath(), 'shell', '-server', `127.0.0.1:${port}`, '-timeout', '1000', 'ls', '/'], { timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Unable to connect to 127.0.0.1:${port}`);
    const help = await runCommand(process.execPath, [corralCliPath(), 'shell', '-h'], { timeoutMs: 20_000 });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: corral shell \[-server host:port\[,host:port\.\.\.\]/);
    expect(help.stdout).toContain('\tremovewatches path [-c|-d|-a] [-l]\n');
  });
});
