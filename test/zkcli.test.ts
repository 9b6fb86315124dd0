// Apache ZooKeeper's own Java CLI (ZooKeeperMain from the Debian zookeeper 3.8 package) against Corral.
//
// Every command runs against a Corral server AND an Apache ZooKeeper server started from the same zoo.cfg
// settings; the two outputs must be identical after masking what legitimately differs (zxid values, times,
// session ids). On top of that each step asserts the exact text, so a change that broke both servers the
// same way (impossible for ZooKeeper, but possible for the normalisation) would still be caught.
//
// Most steps are single-command invocations (`zkCli(cs, ['get', '/a'])`: one JVM, one session, one command,
// the JVM exits without closing its session). ZooKeeperMain runs exactly one command when given one on the
// command line, so anything that needs state held by a session (addauth, watches) uses an interactive
// session fed through stdin instead (zkCliSession below).

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findJava,
  runCliSession,
  fourLetterWord,
  startCorral,
  startZooKeeper,
  zkCli,
  runsHere, zookeeperAvailable,
  ZOOKEEPER_CLI_CLASSPATH,
  type ServerProcess,
  type ZooCfgSettings,
} from '@corral/testing';
import { expectedStat, normalize } from './zkcliText.js';

const zookeeperRuns = runsHere(zookeeperAvailable(), 'zkCli compatibility tests');

/** user:base64(sha1(user:password)), the id of a digest ACL. */
function digest(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

const SUPER_PASSWORD = 'pw';
const BASE_SETTINGS: ZooCfgSettings = {
  // ZooKeeper turns this into the system property zookeeper.DigestAuthenticationProvider.superDigest.
  'DigestAuthenticationProvider.superDigest': digest('super', SUPER_PASSWORD),
};
// TTL and container nodes; the reaper runs every 300 ms instead of every minute. ZooKeeper reads the
// interval only as a JVM system property (hence JAVA_TOOL_OPTIONS), Corral from zoo.cfg.
const EXTENDED_SETTINGS: ZooCfgSettings = {
  extendedTypesEnabled: 'true',
  'znode.container.checkIntervalMs': 300,
};
const ZK_EXTENDED_ENV = { JAVA_TOOL_OPTIONS: '-Dznode.container.checkIntervalMs=300' };

interface Pair {
  corral: ServerProcess;
  zookeeper: ServerProcess;
}

interface Output {
  code: number | null;
  out: string;
  err: string;
}

/**
 * Mask what differs between two correct servers: zxids become Z1, Z2, ... by numeric rank within one
 * output (so "mZxid > cZxid" and "pZxid = cZxid" survive the masking), times become <time>, non-zero
 * session ids become <session>.
 */
/** Run one zkCli command on both servers at once; the normalised outputs must be equal. Returns Corral's. */
async function both(pair: Pair, args: string[], sessionTimeoutMs?: number): Promise<Output> {
  const [c, z] = await Promise.all(
    [pair.corral, pair.zookeeper].map(async (server) => {
      const r = await zkCli(server.connectString, args, { sessionTimeoutMs });
      return { code: r.code, out: normalize(r.stdout), err: normalize(r.stderr) };
    }),
  );
  expect(c, `zkCli ${args.join(' ')}: Corral vs ZooKeeper`).toEqual(z);
  return c!;
}

const ok = (out: string, err = ''): Output => ({ code: 0, out, err });
const fails = (err: string): Output => ({ code: 1, out: '', err });

interface SessionOutput {
  code: number | null;
  out: string;
  err: string;
  /** WatchedEvent lines (but the final Closed), in the order the CLI's event thread printed them. */
  events: string[];
}

/**
 * Interactive ZooKeeperMain fed through stdin: all commands share one session. At stdin's EOF the CLI
 * exits without closing the session (unless the last command was `quit`). Watch notifications are
 * printed by another thread and may land between any two lines, so they are pulled out into `events`.
 */
async function zkCliSession(connectString: string, commands: string[]): Promise<SessionOutput> {
  const jvm = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-cp', ZOOKEEPER_CLI_CLASSPATH, 'org.apache.zookeeper.ZooKeeperMain'];
  const r = await runCliSession(findJava()!, [...jvm, '-server', connectString, '-timeout', '10000', '-waitforconnection'], commands);
  return { code: r.code, out: normalize(r.out), err: normalize(r.err), events: r.events };
}

async function bothSessions(pair: Pair, commands: string[]): Promise<SessionOutput> {
  const [c, z] = await Promise.all([pair.corral, pair.zookeeper].map((s) => zkCliSession(s.connectString, commands)));
  expect(c, `zkCli session ${JSON.stringify(commands)}: Corral vs ZooKeeper`).toEqual(z);
  return c!;
}

/** Poll a four-letter word on both servers until `done` holds for each (or time runs out). */
async function waitFor4lw(pair: Pair, word: string, done: (reply: string) => boolean, timeoutMs = 20_000): Promise<void> {
  await Promise.all(
    [pair.corral, pair.zookeeper].map(async (server) => {
      const deadline = Date.now() + timeoutMs;
      let reply = '';
      while (Date.now() < deadline) {
        reply = await fourLetterWord(server.host, server.port, word);
        if (done(reply)) return;
        await sleep(250);
      }
      throw new Error(`${server.name}: ${word} never satisfied the condition; last reply:\n${reply}`);
    }),
  );
}

const nodeCount = (srvr: string): number => Number(/^Node count: (\d+)$/m.exec(srvr)?.[1] ?? NaN);

describe.skipIf(!zookeeperRuns)('Apache ZooKeeper CLI (zkCli) against Corral and ZooKeeper', () => {
  let base: Pair;
  let extended: Pair;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    const start = async <T extends ServerProcess>(p: Promise<T>): Promise<T> => {
      const s = await p;
      servers.push(s);
      return s;
    };
    const [c1, z1, c2, z2] = await Promise.all([
      start(startCorral({ settings: BASE_SETTINGS })),
      start(startZooKeeper({ settings: BASE_SETTINGS })),
      start(startCorral({ settings: EXTENDED_SETTINGS })),
      start(startZooKeeper({ settings: EXTENDED_SETTINGS, env: ZK_EXTENDED_ENV })),
    ]);
    base = { corral: c1, zookeeper: z1 };
    extended = { corral: c2, zookeeper: z2 };
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.cleanup()));
  });

  it('create, get, set (with versions), stat and ls', async () => {
    expect(await both(base, ['create', '/crud', 'hello'])).toEqual(ok('', 'Created /crud'));
    expect(await both(base, ['create', '/crud', 'again'])).toEqual(fails('Node already exists: /crud'));
    expect(await both(base, ['get', '/crud'])).toEqual(ok('hello'));
    expect(await both(base, ['set', '/crud', 'v2'])).toEqual(ok(''));
    expect(await both(base, ['get', '-s', '/crud'])).toEqual(ok(`v2\n${expectedStat({ c: 1, m: 2, p: 1, dataVersion: 1, dataLength: 2 })}`));
    expect(await both(base, ['set', '-v', '5', '/crud', 'v3'])).toEqual(fails('version No is not valid : /crud'));
    expect(await both(base, ['set', '-v', '1', '/crud', 'v3'])).toEqual(ok(''));
    expect(await both(base, ['get', '/nope'])).toEqual(fails('Node does not exist: /nope'));
    expect(await both(base, ['set', '/nope', 'x'])).toEqual(fails('Node does not exist: /nope'));
    expect(await both(base, ['create', '/crud/a/b'])).toEqual(fails('Node does not exist: /crud/a/b'));
    // No data argument: the node's data is null, which the CLI prints as "null"; "" is empty data.
    expect(await both(base, ['create', '/crud/nodata'])).toEqual(ok('', 'Created /crud/nodata'));
    expect(await both(base, ['create', '/crud/empty', ''])).toEqual(ok('', 'Created /crud/empty'));
    expect(await both(base, ['get', '/crud/nodata'])).toEqual(ok('null'));
    expect(await both(base, ['get', '/crud/empty'])).toEqual(ok(''));
    // cZxid < mZxid (two sets) < pZxid (last child create).
    expect(await both(base, ['stat', '/crud'])).toEqual(
      ok(expectedStat({ c: 1, m: 2, p: 3, cversion: 2, dataVersion: 2, dataLength: 2, numChildren: 2 })),
    );
    expect(await both(base, ['ls', '/crud'])).toEqual(ok('[empty, nodata]'));
    expect(await both(base, ['ls', '-s', '/crud/empty'])).toEqual(ok(`[]\n${expectedStat({ c: 1, m: 1, p: 1, dataLength: 0 })}`));
    expect(await both(base, ['create', '/crud/nodata/deep', 'd'])).toEqual(ok('', 'Created /crud/nodata/deep'));
    expect(await both(base, ['ls', '-R', '/crud'])).toEqual(ok('/crud\n/crud/empty\n/crud/nodata\n/crud/nodata/deep'));
    expect(await both(base, ['ls', '/nope'])).toEqual(fails('Node does not exist: /nope'));
  });

  it('ephemeral, sequential and container nodes; an ephemeral outlives its CLI until the session expires', async () => {
    // A 4 s session (the minimum, 2 x tickTime); the JVM exits without closing it.
    expect(await both(base, ['create', '-e', '/short', 'x'], 4000)).toEqual(ok('', 'Created /short'));
    expect(await both(base, ['create', '-e', '/eph', 'e'])).toEqual(ok('', 'Created /eph'));
    expect(await both(base, ['stat', '/eph'])).toEqual(ok(expectedStat({ c: 1, m: 1, p: 1, ephemeral: true, dataLength: 1 })));
    expect(await both(base, ['create', '/eph/child'])).toEqual(fails('Ephemerals cannot have children: /eph/child'));
    expect(await both(base, ['create', '/seq'])).toEqual(ok('', 'Created /seq'));
    expect(await both(base, ['create', '-s', '/seq/n', 'a'])).toEqual(ok('', 'Created /seq/n0000000000'));
    expect(await both(base, ['create', '-s', '-e', '/seq/e'])).toEqual(ok('', 'Created /seq/e0000000001'));
    expect(await both(base, ['create', '-s', '/seq/'])).toEqual(ok('', 'Created /seq/0000000002'));
    expect(await both(base, ['create', '-c', '/container'])).toEqual(ok('', 'Created /container'));
    expect(await both(base, ['ls', '/seq'])).toEqual(ok('[0000000002, e0000000001, n0000000000]'));
    // TTL nodes need extendedTypesEnabled.
    expect(await both(base, ['create', '-t', '1000', '/ttl'])).toEqual(fails('KeeperErrorCode = Unimplemented for /ttl'));

    // The 4 s session expires (both servers check every tick): /short goes, /eph (10 s session) may stay.
    await waitFor4lw(base, 'dump', (dump) => !dump.includes('/short'));
    expect(await both(base, ['stat', '/short'])).toEqual(fails('Node does not exist: /short'));
  });

  it('delete (with versions), deleteall', async () => {
    expect(await both(base, ['create', '/del', 'd'])).toEqual(ok('', 'Created /del'));
    expect(await both(base, ['create', '/del/a', 'x'])).toEqual(ok('', 'Created /del/a'));
    expect(await both(base, ['delete', '/del'])).toEqual(fails('Node not empty: /del'));
    expect(await both(base, ['delete', '-v', '3', '/del/a'])).toEqual(fails('version No is not valid : /del/a'));
    expect(await both(base, ['delete', '-v', '0', '/del/a'])).toEqual(ok(''));
    expect(await both(base, ['delete', '/del/a'])).toEqual(fails('Node does not exist: /del/a'));
    expect(await both(base, ['create', '/del/b'])).toEqual(ok('', 'Created /del/b'));
    expect(await both(base, ['create', '/del/b/c'])).toEqual(ok('', 'Created /del/b/c'));
    expect(await both(base, ['deleteall', '/del'])).toEqual(ok(''));
    expect(await both(base, ['stat', '/del'])).toEqual(fails('Node does not exist: /del'));
    expect(await both(base, ['delete', '/zookeeper'])).toEqual(fails('Arguments are not valid : /zookeeper'));
  });

  it('getAcl, setAcl and ACL enforcement without credentials', async () => {
    expect(await both(base, ['create', '/acl', 'data'])).toEqual(ok('', 'Created /acl'));
    expect(await both(base, ['getAcl', '/acl'])).toEqual(ok("'world,'anyone\n: cdrwa"));
    expect(await both(base, ['getAcl', '/zookeeper/config'])).toEqual(ok("'world,'anyone\n: r"));
    expect(await both(base, ['setAcl', '/acl', 'world:anyone:r'])).toEqual(ok(''));
    expect(await both(base, ['getAcl', '-s', '/acl'])).toEqual(
      ok(`'world,'anyone\n: r\n${expectedStat({ c: 1, m: 1, p: 1, aclVersion: 1, dataLength: 4 })}`),
    );
    expect(await both(base, ['set', '/acl', 'x'])).toEqual(fails('Insufficient permission : /acl'));
    expect(await both(base, ['create', '/acl/child'])).toEqual(fails('Insufficient permission : /acl/child'));
    expect(await both(base, ['get', '/acl'])).toEqual(ok('data'));

    const user = digest('user', 'pass');
    expect(await both(base, ['create', '/secret', 'hidden', `digest:${user}:cdrwa`])).toEqual(ok('', 'Created /secret'));
    expect(await both(base, ['get', '/secret'])).toEqual(fails('Insufficient permission : /secret'));
    expect(await both(base, ['getAcl', '/secret'])).toEqual(fails('Insufficient permission : /secret'));
    // Only world, auth, digest and ip are valid schemes; ZooKeeper has no provider for "super".
    expect(await both(base, ['create', '/bad', 'x', 'super:foo:cdrwa'])).toEqual(
      fails('KeeperErrorCode = InvalidACL for /bad\nAcl is not valid : /bad'),
    );
    expect(await both(base, ['create', '/bad', 'x', 'world:someone:r'])).toEqual(
      fails('KeeperErrorCode = InvalidACL for /bad\nAcl is not valid : /bad'),
    );
    expect(await both(base, ['create', '/ipacl', 'x', 'ip:10.0.0.0/8:r,ip:127.0.0.1:cdrwa'])).toEqual(ok('', 'Created /ipacl'));
    expect(await both(base, ['getAcl', '/ipacl'])).toEqual(ok("'ip,'10.0.0.0/8\n: r\n'ip,'127.0.0.1\n: cdrwa"));
  });

  it('addauth, whoami, auth ACLs and the super user within one CLI session', async () => {
    const alice = digest('alice', 'y');
    const r = await bothSessions(base, [
      `create /vault v digest:${alice}:cdrwa`,
      'get /vault',
      'whoami',
      'addauth digest alice:wrong', // accepted, but adds an identity that matches nothing
      'get /vault',
      'addauth digest alice:y',
      'get /vault',
      'getAcl /vault',
      'addauth digest bob:x',
      'addauth digest alice:y', // a connection's identities are a set: no duplicate
      'whoami',
      // "auth" expands to every digest identity of the connection, not the ip one.
      'create /mine m auth::cdrwa',
      'getAcl /mine',
      // Without ADMIN on the node, getAcl masks digest hashes as "x".
      'create /mine-ro m auth::r',
      'getAcl /mine-ro',
      `addauth digest super:${SUPER_PASSWORD}`,
      'whoami',
      'create /mine2 m auth::cdrwa', // the super identity itself is not an ACL identity
      'getAcl /mine2',
    ]);
    expect(r.code).toBe(0);
    expect(r.err).toBe(
      ['Created /vault', 'Insufficient permission : /vault', 'Insufficient permission : /vault', 'Created /mine', 'Created /mine-ro', 'Created /mine2'].join(
        '\n',
      ),
    );
    const wrong = digest('alice', 'wrong');
    const bob = digest('bob', 'x');
    const superUser = digest('super', SUPER_PASSWORD);
    const acl = (ids: string[], perms: string) => ids.flatMap((id) => [`'digest,'${id}`, `: ${perms}`]);
    // Identities are listed in the order of ZooKeeper's hash set (ServerCnxn.authInfo), not of the addauth calls.
    expect(r.out).toBe(
      [
        'Auth scheme: User',
        'ip: 127.0.0.1',
        'v',
        ...acl([alice], 'cdrwa'),
        'Auth scheme: User',
        'digest: alice',
        'digest: bob',
        'ip: 127.0.0.1',
        'digest: alice',
        ...acl([alice, bob, wrong], 'cdrwa'),
        ...acl(['alice:x', 'bob:x', 'alice:x'], 'r'),
        'Auth scheme: User',
        'digest: alice',
        'digest: super',
        'super: ',
        'digest: bob',
        'ip: 127.0.0.1',
        'digest: alice',
        ...acl([alice, superUser, bob, wrong], 'cdrwa'),
      ].join('\n'),
    );

    // The super user may do anything, even to a node whose ACL names nobody it holds.
    const su = await bothSessions(base, [
      `addauth digest super:${SUPER_PASSWORD}`,
      'create /locked x digest:nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA=:r',
      'set /locked y',
      'get /locked',
      'getAcl /locked',
      'delete /locked',
      'get /vault',
    ]);
    expect(su).toMatchObject({ code: 0, out: "y\n'digest,'nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n: r\nv", err: 'Created /locked' });
  });

  it('watches fire in a CLI session; closing the session removes its ephemerals at once', async () => {
    const r = await bothSessions(base, [
      'create /w one',
      'get -w /w',
      'set /w two',
      'ls -w /w',
      'create /w/kid',
      'stat -w /w/kid',
      'delete /w/kid',
      'create -e /w/mine',
      'get -w /w',
      'delete /w',
      'quit', // closes the session (plain EOF just exits the JVM)
    ]);
    expect(r.err).toBe(['Created /w', 'Created /w/kid', 'Created /w/mine', 'Node not empty: /w'].join('\n'));
    expect(r.out).toBe('one\n' + '[]\n' + expectedStat({ c: 1, m: 1, p: 1, dataLength: 0 }) + '\ntwo');
    expect(r.events).toEqual([
      'WatchedEvent state:SyncConnected type:None path:null',
      'WatchedEvent state:SyncConnected type:NodeDataChanged path:/w',
      'WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/w',
      'WatchedEvent state:SyncConnected type:NodeDeleted path:/w/kid',
    ]);
    // The session was closed by quit, so its ephemeral is already gone.
    expect(await both(base, ['ls', '/w'])).toEqual(ok('[]'));
  });

  it('TTL and container nodes (extendedTypesEnabled) are created and reaped', async () => {
    const before = nodeCount(await fourLetterWord(extended.corral.host, extended.corral.port, 'srvr'));
    expect(nodeCount(await fourLetterWord(extended.zookeeper.host, extended.zookeeper.port, 'srvr'))).toBe(before);
    expect(await both(extended, ['create', '-t', '600000', '/ttl', 'x'])).toEqual(ok('', 'Created /ttl'));
    // A TTL node's ephemeralOwner field holds the TTL internally, but clients see 0.
    expect(await both(extended, ['stat', '/ttl'])).toEqual(ok(expectedStat({ c: 1, m: 1, p: 1, dataLength: 1 })));
    expect(await both(extended, ['create', '-t', '600000', '-s', '/ttl/q'])).toEqual(ok('', 'Created /ttl/q0000000000'));
    expect(await both(extended, ['create', '-t', '0', '/t0'])).toEqual(fails('ttl must be positive and cannot be larger than: 1099511627775'));
    expect(await both(extended, ['create', '-e', '-t', '100', '/te'])).toEqual(fails('TTLs cannot be used with Ephemeral znodes'));
    expect(await both(extended, ['create', '-t', '300', '/brief'])).toEqual(ok('', 'Created /brief'));
    expect(await both(extended, ['create', '-c', '/box'])).toEqual(ok('', 'Created /box'));
    expect(await both(extended, ['create', '-c', '/never-used'])).toEqual(ok('', 'Created /never-used'));
    expect(await both(extended, ['create', '/box/item'])).toEqual(ok('', 'Created /box/item'));
    expect(await both(extended, ['delete', '/box/item'])).toEqual(ok(''));
    // Reaped: /brief (TTL elapsed, no children) and /box (container that had a child and is empty now).
    // Kept: /ttl and its child, /never-used (a container is only reaped once it has had a child).
    await waitFor4lw(extended, 'srvr', (srvr) => nodeCount(srvr) === before + 3);
    expect(await both(extended, ['ls', '/'])).toEqual(ok('[never-used, ttl, zookeeper]'));
  });
});
