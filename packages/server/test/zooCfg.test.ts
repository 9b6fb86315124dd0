import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseZooCfg, readZooCfg } from '../src/config/zooCfg.js';

const CFG = '/etc/zk-test/zoo.cfg';
const MINIMAL = 'dataDir=/var/lib/zk\nclientPort=2181\n';

function parse(text: string) {
  return parseZooCfg(text, CFG);
}

function errorOf(text: string): ConfigError {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseZooCfg', () => {
  const DEBIAN_SAMPLE = '/etc/zookeeper/conf/zoo.cfg';
  it.skipIf(!existsSync(DEBIAN_SAMPLE))("parses Debian's sample zoo.cfg", async () => {
    const cfg = await readZooCfg(DEBIAN_SAMPLE);
    expect(cfg.configPath).toBe(DEBIAN_SAMPLE);
    expect(cfg.tickTimeMs).toBe(2000);
    expect(cfg.initLimit).toBe(10);
    expect(cfg.syncLimit).toBe(5);
    expect(cfg.dataDir).toBe('/tmp/zookeeper');
    expect(cfg.dataLogDir).toBe('/tmp/zookeeper');
    expect(cfg.clientPort).toBe(2181);
    expect(cfg.minSessionTimeoutMs).toBe(4000);
    expect(cfg.maxSessionTimeoutMs).toBe(40000);
    expect(cfg.maxClientCnxns).toBe(60); // commented out in the sample
    expect(cfg.servers.size).toBe(0);
    expect(cfg.unknownKeys).toEqual([]); // everything else in it is commented out
  });

  it('applies ZooKeeper defaults, deriving session timeouts from tickTime', () => {
    const cfg = parse(MINIMAL);
    expect(cfg).toMatchObject({
      configPath: CFG,
      tickTimeMs: 3000,
      dataDir: '/var/lib/zk',
      dataLogDir: '/var/lib/zk',
      clientPort: 2181,
      clientPortAddress: '0.0.0.0',
      minSessionTimeoutMs: 6000,
      maxSessionTimeoutMs: 60000,
      maxClientCnxns: 60,
      juteMaxBuffer: 0xfffff,
      extendedTypesEnabled: false,
      initLimit: 10,
      syncLimit: 5,
      snapCount: 100000,
      autopurgeSnapRetainCount: 3,
      autopurgePurgeIntervalHours: 0,
      forceSync: true,
      containerCheckIntervalMs: 60000,
      unknownKeys: [],
    });
    expect(cfg.fourLetterWordWhitelist).toEqual(new Set(['srvr']));
    expect(cfg.superDigest).toBeUndefined();
    expect(cfg.servers.size).toBe(0);

    const t = parse(`${MINIMAL}tickTime=1000\n`);
    expect([t.minSessionTimeoutMs, t.maxSessionTimeoutMs]).toEqual([2000, 20000]);
    const d = parse(`${MINIMAL}tickTime=1000\nminSessionTimeout=-1\nmaxSessionTimeout=-1\n`);
    expect([d.minSessionTimeoutMs, d.maxSessionTimeoutMs]).toEqual([2000, 20000]);
    const e = parse(`${MINIMAL}tickTime=1000\nminSessionTimeout=500\nmaxSessionTimeout=90000\n`);
    expect([e.minSessionTimeoutMs, e.maxSessionTimeoutMs]).toEqual([500, 90000]);
  });

  it('reads every key Corral uses', () => {
    const cfg = parse(
      [
        'tickTime=500',
        'dataDir=/data/zk',
        'dataLogDir=/logs/zk',
        'clientPort=12181',
        'clientPortAddress=127.0.0.1',
        'maxClientCnxns=0',
        '4lw.commands.whitelist=stat, ruok ,, conf',
        'jute.maxbuffer=4194304',
        'extendedTypesEnabled=TRUE',
        'initLimit=20',
        'syncLimit=4',
        'snapCount=5000',
        'autopurge.snapRetainCount=7',
        'autopurge.purgeInterval=24',
        'forceSync=no',
        'znode.container.checkIntervalMs=1000',
        'DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=',
      ].join('\n'),
    );
    expect(cfg).toMatchObject({
      tickTimeMs: 500,
      dataDir: '/data/zk',
      dataLogDir: '/logs/zk',
      clientPort: 12181,
      clientPortAddress: '127.0.0.1',
      maxClientCnxns: 0,
      juteMaxBuffer: 4194304,
      extendedTypesEnabled: true,
      initLimit: 20,
      syncLimit: 4,
      snapCount: 5000,
      autopurgeSnapRetainCount: 7,
      autopurgePurgeIntervalHours: 24,
      forceSync: false,
      containerCheckIntervalMs: 1000,
      superDigest: 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=',
      unknownKeys: [],
    });
    // srvr is always enabled, as in ZooKeeper's FourLetterCommands
    expect(cfg.fourLetterWordWhitelist).toEqual(new Set(['srvr', 'stat', 'ruok', 'conf']));
    expect(parse(`${MINIMAL}4lw.commands.whitelist=stat, *`).fourLetterWordWhitelist).toBe('*');
    expect(parse(`${MINIMAL}zookeeper.extendedTypesEnabled=true`).extendedTypesEnabled).toBe(true);
    expect(parse(`${MINIMAL}clientPortAddress=[::1]`).clientPortAddress).toBe('::1');
  });

  it('adjusts values the way ZooKeeper does', () => {
    const cfg = parse(
      `${MINIMAL}autopurge.snapRetainCount=1\nsnapCount=1\nmaxClientCnxns=-4\nautopurge.purgeInterval=-2\ntickTime=+2000\n`,
    );
    expect(cfg.autopurgeSnapRetainCount).toBe(3);
    expect(cfg.snapCount).toBe(2);
    expect(cfg.maxClientCnxns).toBe(0);
    expect(cfg.autopurgePurgeIntervalHours).toBe(0);
    expect(cfg.tickTimeMs).toBe(2000); // Integer.parseInt accepts a leading '+'
  });

  it('resolves relative directories against the working directory', () => {
    const cfg = parse('dataDir=data/zk\nclientPort=2181\n');
    expect(cfg.dataDir).toBe(path.resolve(process.cwd(), 'data/zk'));
    expect(cfg.dataLogDir).toBe(cfg.dataDir);
    expect(parseZooCfg(MINIMAL, 'conf/zoo.cfg').configPath).toBe(path.resolve('conf/zoo.cfg'));
  });

  it('skips comments and blank lines', () => {
    const cfg = parse(
      [
        '# a comment',
        '! also a comment',
        '   # an indented comment',
        '',
        '   \t ',
        'dataDir=/var/lib/zk # not a comment: part of the value',
        '#tickTime=1',
        'clientPort=2181',
      ].join('\n'),
    );
    expect(cfg.dataDir).toBe('/var/lib/zk # not a comment: part of the value');
    expect(cfg.tickTimeMs).toBe(3000);
    expect(cfg.clientPort).toBe(2181);
  });

  it('accepts key=value, key: value and key value, trimming whitespace', () => {
    const cfg = parse(
      [
        'tickTime : 2000  ',
        'dataDir /var/lib/zk\t',
        '  clientPort   =   2181',
        'initLimit:7',
        'syncLimit\t3',
      ].join('\r\n'),
    );
    expect(cfg.tickTimeMs).toBe(2000);
    expect(cfg.dataDir).toBe('/var/lib/zk');
    expect(cfg.clientPort).toBe(2181);
    expect(cfg.initLimit).toBe(7);
    expect(cfg.syncLimit).toBe(3);
    // Only one separator is consumed: the value here is "= 5".
    expect(errorOf(`${MINIMAL}maxClientCnxns = = 5`).message).toContain('"= 5"');
  });

  it('joins continuation lines and resolves escapes like java.util.Properties', () => {
    const cfg = parse(
      'dataDir=/var/lib/\\\n     zk\nclientPort=21\\\n81\nunknown\\ key=x\\u0041\\ty\ndataLogDir=/logs\\\\\ninitLimit=4\n',
    );
    expect(cfg.dataDir).toBe('/var/lib/zk');
    expect(cfg.clientPort).toBe(2181);
    expect(cfg.dataLogDir).toBe('/logs\\'); // "\\\\" is an escaped backslash, not a continuation...
    expect(cfg.initLimit).toBe(4); // ...so the next line is a line of its own
    expect(cfg.unknownKeys).toEqual([{ key: 'unknown key', line: 5 }]);
    // A continuation ends at an empty line; a comment line never continues.
    const c = parse('# comment \\\ntickTime=1000\\\n\ninitLimit=3\ndataDir=/d\nclientPort=1\n');
    expect([c.tickTimeMs, c.initLimit]).toEqual([1000, 3]);
  });

  it('lets the last occurrence of a key win', () => {
    const cfg = parse(`tickTime=abc\n${MINIMAL}tickTime=1500\n`);
    expect(cfg.tickTimeMs).toBe(1500);
  });

  it('collects unknown and unused keys with their line numbers', () => {
    const cfg = parse(
      [
        'tickTime=2000', // 1
        'admin.enableServer=false', // 2
        'dataDir=/var/lib/zk', // 3
        'metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider', // 4
        '# standaloneEnabled=false', // 5
        'standaloneEnabled=false', // 6
        'clientPort=2181', // 7
        'reconfigEnabled=true', // 8
        'tikcTime=1', // 9
        'constructor=1', // 10
      ].join('\n'),
    );
    expect(cfg.unknownKeys).toEqual([
      { key: 'admin.enableServer', line: 2 },
      { key: 'metricsProvider.className', line: 4 },
      { key: 'standaloneEnabled', line: 6 },
      { key: 'reconfigEnabled', line: 8 },
      { key: 'tikcTime', line: 9 },
      { key: 'constructor', line: 10 },
    ]);
  });

  describe('server.N lines', () => {
    it('parses host:port:port with optional role and ;[host:]clientPort', () => {
      const cfg = parse(
        [
          'dataDir=/var/lib/zk',
          'server.1=zk1.example.com:2888:3888',
          'server.2=10.0.0.2:2888:3888:participant;2181',
          'server.3=zk3:2888:3888:OBSERVER;0.0.0.0:2182',
          'server.4=[fe80::1]:2888:3888;[::1]:2183',
        ].join('\n'),
      );
      expect(cfg.servers).toEqual(
        new Map([
          [1, { host: 'zk1.example.com', quorumPort: 2888, electionPort: 3888, role: 'participant' }],
          [2, { host: '10.0.0.2', quorumPort: 2888, electionPort: 3888, role: 'participant', clientPort: 2181 }],
          [
            3,
            {
              host: 'zk3',
              quorumPort: 2888,
              electionPort: 3888,
              role: 'observer',
              clientPort: 2182,
              clientHost: '0.0.0.0',
            },
          ],
          [
            4,
            { host: 'fe80::1', quorumPort: 2888, electionPort: 3888, role: 'participant', clientPort: 2183, clientHost: '::1' },
          ],
        ]),
      );
      // No clientPort key: the port comes from the server.N line of this server (chosen by the caller).
      expect(cfg.clientPort).toBe(0);
    });

    it('works alongside clientPort when server lines carry no client port', () => {
      const cfg = parse(`${MINIMAL}server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n`);
      expect(cfg.clientPort).toBe(2181);
      expect([...cfg.servers.keys()]).toEqual([1, 2, 3]);
      expect(cfg.servers.get(2)).toEqual({ host: 'b', quorumPort: 2888, electionPort: 3888, role: 'participant' });
    });

    it.each([
      ['server.1=a:2888', 'server.1'],
      ['server.1=a:2888:3888:leader', 'server.1'],
      ['server.1=a:2888:2888', 'server.1'],
      ['server.1=a:2888:70000', 'server.1'],
      ['server.1=a:2888:-1', 'server.1'],
      ['server.1=a:x:3888', 'server.1'],
      ['server.1=:2888:3888', 'server.1'],
      ['server.1=a:2888:3888;b:c:2181', 'server.1'],
      ['server.1=a:2888:3888;2181;x', 'server.1'],
      ['server.1=a:2888:3888|b:2888:3888', 'server.1'],
      ['server.1=a:2888:3888; 2181', 'server.1'],
      ['server.x=a:2888:3888', 'server.x'],
      ['server.-1=a:2888:3888', 'server.-1'],
    ])('rejects %s', (line, key) => {
      const err = errorOf(`${MINIMAL}${line}\n`);
      expect(err.key).toBe(key);
      expect(err.line).toBe(3);
      expect(err.message).toMatch(new RegExp(`^zoo\\.cfg:3: .*${key.replace('.', '\\.')}`));
    });

    it('rejects a duplicate server id', () => {
      const err = errorOf(`${MINIMAL}server.1=a:2888:3888\nserver.01=b:2888:3888\n`);
      expect(err.key).toBe('server.01');
      expect(err.line).toBe(4);
      expect(err.message).toContain('duplicate server id 1 (also on line 3)');
    });
  });

  describe('errors', () => {
    it('names the file, line and key of an invalid value', () => {
      const text = ['# zoo.cfg', 'dataDir=/var/lib/zk', 'clientPort=2181', '', '# ticks', '', 'tickTime=abc'].join('\n');
      const err = errorOf(text);
      expect(err.message).toBe('zoo.cfg:7: invalid value for tickTime: "abc" (expected a positive integer)');
      expect(err.file).toBe(CFG);
      expect(err.key).toBe('tickTime');
      expect(err.line).toBe(7);
      expect(err.name).toBe('ConfigError');
    });

    it.each([
      ['tickTime=0', 'tickTime'],
      ['tickTime=-5', 'tickTime'],
      ['tickTime=2000ms', 'tickTime'],
      ['tickTime=0x10', 'tickTime'],
      ['tickTime=1.5', 'tickTime'],
      ['tickTime=2147483648', 'tickTime'],
      ['tickTime=', 'tickTime'],
      ['clientPort=-1', 'clientPort'],
      ['clientPort=65536', 'clientPort'],
      ['clientPort=70000', 'clientPort'],
      ['clientPortAddress=', 'clientPortAddress'],
      ['dataLogDir=', 'dataLogDir'],
      ['minSessionTimeout=-2', 'minSessionTimeout'],
      ['maxSessionTimeout=abc', 'maxSessionTimeout'],
      ['maxClientCnxns=many', 'maxClientCnxns'],
      ['initLimit=0', 'initLimit'],
      ['syncLimit=x', 'syncLimit'],
      ['snapCount=1e5', 'snapCount'],
      ['jute.maxbuffer=0', 'jute.maxbuffer'],
      ['extendedTypesEnabled=yes', 'extendedTypesEnabled'],
      ['zookeeper.extendedTypesEnabled=1', 'zookeeper.extendedTypesEnabled'],
      ['forceSync=false', 'forceSync'],
      ['forceSync=NO', 'forceSync'],
      ['autopurge.snapRetainCount=three', 'autopurge.snapRetainCount'],
      ['autopurge.purgeInterval=1h', 'autopurge.purgeInterval'],
      ['znode.container.checkIntervalMs=0', 'znode.container.checkIntervalMs'],
      ['DigestAuthenticationProvider.superDigest=nocolon', 'DigestAuthenticationProvider.superDigest'],
    ])('%s', (line, key) => {
      const err = errorOf(`tickTime=2000\n${MINIMAL}${line}\n`);
      expect(err.key).toBe(key);
      expect(err.line).toBe(4);
      expect(err.message).toMatch(/^zoo\.cfg:4: invalid value for /);
      expect(err.message).toContain(`invalid value for ${key}: ${JSON.stringify(line.slice(key.length + 1))}`);
    });

    it('rejects dataDir= with no value', () => {
      const err = errorOf('clientPort=2181\ndataDir=\n');
      expect([err.key, err.line]).toEqual(['dataDir', 2]);
    });

    it('requires dataDir', () => {
      const err = errorOf('tickTime=2000\nclientPort=2181\n');
      expect(err.key).toBe('dataDir');
      expect(err.line).toBeUndefined();
      expect(err.message).toBe('zoo.cfg: dataDir is not set');
    });

    it('requires clientPort unless a server.N line gives one', () => {
      const err = errorOf('tickTime=2000\ndataDir=/var/lib/zk\nserver.1=a:2888:3888\n');
      expect(err.key).toBe('clientPort');
      expect(err.line).toBeUndefined();
      expect(err.message).toMatch(/^zoo\.cfg: clientPort is not set/);
      // clientPort=0 means "not set" in ZooKeeper
      const zero = errorOf('dataDir=/var/lib/zk\nclientPort=0\n');
      expect([zero.key, zero.line]).toEqual(['clientPort', 2]);
    });

    it('rejects clientPortAddress without clientPort, as ZooKeeper does', () => {
      const err = errorOf('dataDir=/var/lib/zk\nclientPortAddress=127.0.0.1\nserver.1=a:2888:3888;2181\n');
      expect([err.key, err.line]).toEqual(['clientPortAddress', 2]);
    });

    it('rejects minSessionTimeout > maxSessionTimeout, naming the key set in the file', () => {
      const min = errorOf(`${MINIMAL}tickTime=2000\nminSessionTimeout=50000\n`);
      expect([min.key, min.line]).toEqual(['minSessionTimeout', 4]);
      expect(min.message).toContain('must not be larger than maxSessionTimeout');
      const max = errorOf(`${MINIMAL}maxSessionTimeout=1000\n`); // default min is 6000
      expect([max.key, max.line]).toEqual(['maxSessionTimeout', 3]);
    });

    it('rejects a malformed \\u escape', () => {
      const err = errorOf(`${MINIMAL}dataLogDir=/x\\u00g1\n`);
      expect(err.line).toBe(3);
      expect(err.message).toMatch(/^zoo\.cfg:3: malformed \\uXXXX escape/);
    });
  });
});

describe('readZooCfg', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'zoocfg-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file', async () => {
    const file = path.join(dir, 'zoo.cfg');
    await writeFile(file, 'tickTime=2000\ndataDir=/var/lib/zk\nclientPort=2181\n');
    const cfg = await readZooCfg(file);
    expect(cfg.configPath).toBe(file);
    expect(cfg.tickTimeMs).toBe(2000);
  });

  it('decodes ISO-8859-1, as Properties.load(InputStream) does', async () => {
    const file = path.join(dir, 'latin1.cfg');
    await writeFile(file, Buffer.concat([Buffer.from('clientPort=2181\ndataDir=/d/caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    expect((await readZooCfg(file)).dataDir).toBe('/d/café');
  });

  it('throws a ConfigError naming a missing file', async () => {
    const file = path.join(dir, 'missing.cfg');
    const err = await readZooCfg(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).file).toBe(file);
    expect((err as ConfigError).message).toContain(file);
    expect((err as ConfigError).message).toContain('no such file');
  });
});
