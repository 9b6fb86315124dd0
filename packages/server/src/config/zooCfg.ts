/**
 * Reader for Apache ZooKeeper's zoo.cfg, so that one file can start both ZooKeeper 3.8 and Corral.
 *
 * ZooKeeper loads the file with java.util.Properties, then QuorumPeerConfig.parseProperties trims every
 * key and value and interprets the keys it knows; every other key `k` becomes the system property
 * `zookeeper.k` (that is how `4lw.commands.whitelist`, `snapCount`, `forceSync`, `extendedTypesEnabled`
 * and `DigestAuthenticationProvider.superDigest` take effect from zoo.cfg). This module mirrors that:
 *
 *  - Properties syntax: `key=value`, `key: value` or `key value`; `#`/`!` comment lines; blank lines;
 *    a line ending in an odd number of backslashes continues on the next line (its leading whitespace is
 *    dropped; comment lines never continue); escapes `\t \n \r \f \uXXXX`, and `\x` stands for `x`.
 *    The file is decoded as ISO-8859-1, as Properties.load(InputStream) does.
 *  - A key given twice: the last one wins (Properties is a map).
 *  - Keys and values are trimmed like Java's String.trim (every char <= U+0020).
 *  - Integers are what Integer.parseInt accepts: optional sign and ASCII decimal digits, 32-bit range.
 *
 * Corral is stricter than ZooKeeper in places where ZooKeeper would silently misbehave (e.g. a negative
 * tickTime, `forceSync=false`, which ZooKeeper reads as "yes"); where ZooKeeper quietly adjusts a value
 * (autopurge.snapRetainCount < 3, snapCount < 2, maxClientCnxns < 0, purgeInterval < 0) we adjust it the
 * same way, so that any file ZooKeeper accepts and means something sensible, we accept too.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export type ServerRole = 'participant' | 'observer';

/** One `server.N=host:quorumPort:electionPort[:role][;[clientHost:]clientPort]` line. */
export interface QuorumServerConfig {
  host: string;
  quorumPort: number;
  electionPort: number;
  role: ServerRole;
  clientPort?: number;
  clientHost?: string;
}

export interface ServerConfig {
  /** Absolute path of the file read. */
  configPath: string;
  tickTimeMs: number;
  /** Absolute; relative paths are resolved against process.cwd(), as ZooKeeper's java.io.File does. */
  dataDir: string;
  dataLogDir: string;
  /**
   * 1..65535. It is 0 only when the file has no clientPort (or `clientPort=0`, which ZooKeeper also treats
   * as unset) but some server.N line carries one: the caller then takes servers.get(myid).clientPort.
   * Like ZooKeeper, a client port on this server's own server.N line should win over clientPort.
   */
  clientPort: number;
  clientPortAddress: string;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** Per-client-IP connection limit; 0 = unlimited. */
  maxClientCnxns: number;
  /** Enabled four-letter words; always includes 'srvr', as in ZooKeeper. '*' = all. */
  fourLetterWordWhitelist: Set<string> | '*';
  juteMaxBuffer: number;
  extendedTypesEnabled: boolean;
  initLimit: number;
  syncLimit: number;
  snapCount: number;
  autopurgeSnapRetainCount: number;
  autopurgePurgeIntervalHours: number;
  forceSync: boolean;
  containerCheckIntervalMs: number;
  /** `user:base64(sha1(user:password))`. */
  superDigest?: string;
  servers: Map<number, QuorumServerConfig>;
  /**
   * Keys Corral does not use, for the caller to log. These are of two kinds, deliberately not told apart
   * here: keys ZooKeeper 3.8 knows but Corral does not implement (admin.*, standaloneEnabled,
   * reconfigEnabled, dynamicConfigFile, electionAlg, peerType, syncEnabled, metricsProvider.*,
   * audit.enable, maxCnxns, globalOutstandingLimit, preAllocSize, quorumListenOnAllIPs, secureClientPort,
   * ssl.*, quorum.auth.*, group.N, weight.N, ...), and keys nobody knows (typos), which ZooKeeper also
   * ignores, turning them into unused `zookeeper.<key>` system properties. Sorted by line.
   */
  unknownKeys: { key: string; line: number }[];
}

export class ConfigError extends Error {
  readonly key: string | undefined;
  readonly line: number | undefined;
  /** Absolute path of the config file; the message names its basename. */
  readonly file: string;

  constructor(file: string, key: string | undefined, line: number | undefined, detail: string) {
    super(`${path.basename(file)}${line === undefined ? '' : `:${line}`}: ${detail}`);
    this.name = 'ConfigError';
    this.file = file;
    this.key = key;
    this.line = line;
  }
}

// ---------------------------------------------------------------------------------------------------
// java.util.Properties syntax

interface Entry {
  key: string;
  value: string;
  line: number;
}

const PROPS_SPACE = new Set([' ', '\t', '\f']);

function skipSpace(s: string, from: number): number {
  let i = from;
  while (i < s.length && PROPS_SPACE.has(s[i]!)) i++;
  return i;
}

/** Count of consecutive backslashes at the end of s. */
function trailingBackslashes(s: string): number {
  let n = 0;
  while (n < s.length && s[s.length - 1 - n] === '\\') n++;
  return n;
}

/** Java's String.trim: strips every char <= U+0020 from both ends. */
function javaTrim(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) <= 0x20) start++;
  while (end > start && s.charCodeAt(end - 1) <= 0x20) end--;
  return s.slice(start, end);
}

/** Java's String.split: trailing empty strings are dropped. */
function javaSplit(s: string, sep: string): string[] {
  const parts = s.split(sep);
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

const ESCAPES: Record<string, string | undefined> = { t: '\t', n: '\n', r: '\r', f: '\f' };

/** Resolves Properties escapes; returns undefined for a malformed \uXXXX. */
function unescape(s: string): string | undefined {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const e = s[++i]!;
    if (e === 'u') {
      const hex = s.slice(i + 1, i + 5);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) return undefined;
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    } else {
      out += ESCAPES[e] ?? e;
    }
  }
  return out;
}

/** Splits a logical line into its raw (still escaped) key and value. */
function splitKeyValue(s: string): [string, string] {
  let end = 0;
  let escaped = false;
  for (; end < s.length; end++) {
    const c = s[end]!;
    if (!escaped && (c === '=' || c === ':' || PROPS_SPACE.has(c))) break;
    escaped = c === '\\' ? !escaped : false;
  }
  // The separator: whitespace, optionally one '=' or ':', then whitespace.
  let v = skipSpace(s, end);
  if (s[v] === '=' || s[v] === ':') v = skipSpace(s, v + 1);
  return [s.slice(0, end), s.slice(v)];
}

/** Parses Properties text into trimmed entries, the last occurrence of each key winning; sorted by line. */
function readProperties(text: string, file: string): Entry[] {
  const lines = text.split(/\r\n|\r|\n/);
  const byKey = new Map<string, Entry>();
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    let logical = lines[i]!.slice(skipSpace(lines[i]!, 0));
    if (logical === '' || logical[0] === '#' || logical[0] === '!') continue;
    let segment = logical;
    while (trailingBackslashes(segment) % 2 === 1 && i + 1 < lines.length) {
      logical = logical.slice(0, -1);
      const next = lines[++i]!;
      segment = next.slice(skipSpace(next, 0));
      if (segment === '') break; // an empty line ends the continuation
      logical += segment;
    }
    if (trailingBackslashes(segment) % 2 === 1) logical = logical.slice(0, -1); // at end of file
    const [rawKey, rawValue] = splitKeyValue(logical);
    const key = unescape(rawKey);
    const value = unescape(rawValue);
    if (key === undefined || value === undefined) {
      throw new ConfigError(file, undefined, startLine, `malformed \\uXXXX escape in "${logical}"`);
    }
    const trimmedKey = javaTrim(key);
    byKey.set(trimmedKey, { key: trimmedKey, value: javaTrim(value), line: startLine });
  }
  return [...byKey.values()].sort((a, b) => a.line - b.line);
}

// ---------------------------------------------------------------------------------------------------
// Value parsers. They throw Invalid with what was expected; the caller adds file, line, key and value.

class Invalid extends Error {
  constructor(readonly expected: string) {
    super(expected);
  }
}

/** Integer.parseInt: optional sign, decimal digits, within the 32-bit range. */
function javaInt(v: string, expected: string): number {
  const n = /^[+-]?[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < -0x80000000 || n > 0x7fffffff) throw new Invalid(expected);
  return n;
}

function positiveInt(v: string): number {
  const n = javaInt(v, 'a positive integer');
  if (n < 1) throw new Invalid('a positive integer');
  return n;
}

function port(v: string, min: 0 | 1 = 1): number {
  const expected = min === 0 ? 'a port number 1..65535 (0 = not set)' : 'a port number 1..65535';
  const n = javaInt(v, expected);
  if (n < min || n > 65535) throw new Invalid(expected);
  return n;
}

/** minSessionTimeout / maxSessionTimeout: -1 stands for the default derived from tickTime. */
function sessionTimeout(v: string): number | undefined {
  const expected = 'a non-negative integer (milliseconds), or -1 for the default';
  const n = javaInt(v, expected);
  if (n < -1) throw new Invalid(expected);
  return n === -1 ? undefined : n;
}

/** QuorumPeerConfig.parseBoolean: true/false, any case. */
function bool(v: string): boolean {
  if (/^true$/i.test(v)) return true;
  if (/^false$/i.test(v)) return false;
  throw new Invalid('true or false');
}

function directory(v: string): string {
  if (v === '') throw new Invalid('a directory path');
  return path.resolve(v);
}

/** Host name or address; Java's InetAddress.getByName also takes a bracketed IPv6 literal. */
function host(v: string): string {
  const unbracketed = /^\[(.+)\]$/.exec(v)?.[1] ?? v;
  if (unbracketed === '' || /\s/.test(unbracketed)) throw new Invalid('a host name or IP address');
  return unbracketed;
}

/** FourLetterCommands.isEnabled: comma-separated, trimmed, '*' anywhere enables all; srvr is always on. */
function fourLetterWords(v: string): Set<string> | '*' {
  const words = v.split(',').map(javaTrim).filter((w) => w !== '');
  return words.includes('*') ? '*' : new Set(['srvr', ...words]);
}

/** FileTxnLog: only exactly "no" turns fsync off; we refuse anything but yes/no instead of guessing. */
function yesNo(v: string): boolean {
  if (v === 'yes') return true;
  if (v === 'no') return false;
  throw new Invalid('yes or no');
}

function digest(v: string): string {
  if (!/^[^:]+:[A-Za-z0-9+/]+={0,2}$/.test(v)) throw new Invalid('user:base64-digest');
  return v;
}

/** ConfigUtils.getHostAndPort: "host:a:b" or "[ipv6]:a:b", split on ':' with trailing empties dropped. */
function hostAndPorts(s: string): string[] {
  if (!s.startsWith('[')) return javaSplit(s, ':');
  const close = s.indexOf(']');
  if (close < 0 || (close + 1 < s.length && s[close + 1] !== ':')) throw new Invalid('[ipv6-address]:port...');
  return [s.slice(1, close), ...javaSplit(s.slice(close + 2), ':')];
}

const SERVER_FORM = 'host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]';

/** QuorumPeer.QuorumServer: server.N=host:port:port[:type][;[clientHost:]clientPort]. */
function quorumServer(v: string): QuorumServerConfig {
  const [serverPart = '', clientPart, ...rest] = javaSplit(v, ';');
  if (rest.length > 0) throw new Invalid(SERVER_FORM);
  if (serverPart.includes('|')) throw new Invalid(`${SERVER_FORM} (multiple addresses are not supported)`);
  const parts = hostAndPorts(serverPart);
  if (parts.length < 3 || parts.length > 4) throw new Invalid(SERVER_FORM);
  const [h, quorumPort, electionPort, role] = parts as [string, string, string, string | undefined];
  const server: QuorumServerConfig = {
    host: host(h),
    quorumPort: port(quorumPort),
    electionPort: port(electionPort),
    role: 'participant',
  };
  if (server.quorumPort === server.electionPort) throw new Invalid(`${SERVER_FORM} with two different ports`);
  if (role !== undefined) {
    const r = javaTrim(role).toLowerCase();
    if (r !== 'participant' && r !== 'observer') throw new Invalid(`${SERVER_FORM} (unknown role "${role}")`);
    server.role = r;
  }
  if (clientPart !== undefined) {
    const client = hostAndPorts(clientPart);
    if (client.length < 1 || client.length > 2) throw new Invalid(SERVER_FORM);
    server.clientPort = port(client[client.length - 1]!);
    if (client.length === 2) server.clientHost = host(client[0]!);
  }
  return server;
}

// ---------------------------------------------------------------------------------------------------
// The keys Corral reads.

/** Everything in ServerConfig, before defaults and cross-key checks. */
interface Draft {
  tickTimeMs?: number;
  dataDir?: string;
  dataLogDir?: string;
  clientPort?: number;
  clientPortAddress?: string;
  minSessionTimeoutMs?: number;
  maxSessionTimeoutMs?: number;
  maxClientCnxns?: number;
  fourLetterWordWhitelist?: Set<string> | '*';
  juteMaxBuffer?: number;
  extendedTypesEnabled?: boolean;
  initLimit?: number;
  syncLimit?: number;
  snapCount?: number;
  autopurgeSnapRetainCount?: number;
  autopurgePurgeIntervalHours?: number;
  forceSync?: boolean;
  containerCheckIntervalMs?: number;
  superDigest?: string;
}

type Apply = (d: Draft, value: string) => void;

function set<K extends keyof Draft>(field: K, parse: (value: string) => Draft[K]): Apply {
  return (d, value) => {
    d[field] = parse(value);
  };
}

/** Integer.parseInt, then raised to at least `min`: for values ZooKeeper quietly adjusts. */
function atLeast(min: number): (value: string) => number {
  return (v) => Math.max(min, javaInt(v, 'an integer'));
}

/**
 * zoo.cfg key -> how it sets the draft. A Map, not an object literal, so that keys such as
 * `constructor` or `__proto__` are plain unknown keys.
 */
const KEYS = new Map<string, Apply>([
  ['tickTime', set('tickTimeMs', positiveInt)],
  ['dataDir', set('dataDir', directory)],
  ['dataLogDir', set('dataLogDir', directory)],
  ['clientPort', set('clientPort', (v) => port(v, 0))], // ZooKeeper: clientPort=0 means "not set"
  ['clientPortAddress', set('clientPortAddress', host)],
  ['minSessionTimeout', set('minSessionTimeoutMs', sessionTimeout)],
  ['maxSessionTimeout', set('maxSessionTimeoutMs', sessionTimeout)],
  ['maxClientCnxns', set('maxClientCnxns', atLeast(0))], // ZooKeeper only limits when > 0
  ['4lw.commands.whitelist', set('fourLetterWordWhitelist', fourLetterWords)],
  // ZooKeeper reads jute.maxbuffer only as a JVM system property; in its zoo.cfg it has no effect.
  ['jute.maxbuffer', set('juteMaxBuffer', positiveInt)],
  ['extendedTypesEnabled', set('extendedTypesEnabled', bool)],
  // Not effective in ZooKeeper's zoo.cfg (it would become zookeeper.zookeeper.extendedTypesEnabled).
  ['zookeeper.extendedTypesEnabled', set('extendedTypesEnabled', bool)],
  ['initLimit', set('initLimit', positiveInt)],
  ['syncLimit', set('syncLimit', positiveInt)],
  ['snapCount', set('snapCount', atLeast(2))], // ZooKeeperServer.getSnapCount raises < 2 to 2
  ['autopurge.snapRetainCount', set('autopurgeSnapRetainCount', atLeast(3))], // as QuorumPeerConfig does
  ['autopurge.purgeInterval', set('autopurgePurgeIntervalHours', atLeast(0))], // <= 0 disables purging
  ['forceSync', set('forceSync', yesNo)],
  // ZooKeeper reads this only as a JVM system property; in its zoo.cfg it has no effect.
  ['znode.container.checkIntervalMs', set('containerCheckIntervalMs', positiveInt)],
  ['DigestAuthenticationProvider.superDigest', set('superDigest', digest)],
]);

const DEFAULT_TICK_TIME_MS = 3000; // ZooKeeperServer.DEFAULT_TICK_TIME

// ---------------------------------------------------------------------------------------------------

/** Parses zoo.cfg text. Pure apart from resolving relative directories against process.cwd(). */
export function parseZooCfg(text: string, configPath: string): ServerConfig {
  const file = path.resolve(configPath);
  const draft: Draft = {};
  const lineOf = new Map<string, number>();
  const servers = new Map<number, QuorumServerConfig>();
  const serverLines = new Map<number, number>();
  const unknownKeys: { key: string; line: number }[] = [];

  function fail(key: string | undefined, line: number | undefined, detail: string): never {
    throw new ConfigError(file, key, line, detail);
  }

  for (const { key, value, line } of readProperties(text, file)) {
    try {
      const apply = KEYS.get(key);
      if (apply) {
        apply(draft, value);
        lineOf.set(key, line);
      } else if (key.startsWith('server.')) {
        // QuorumMaj reads the id with Long.parseLong; we take 0..2^53-1.
        const idText = key.slice('server.'.length);
        const id = /^\+?[0-9]+$/.test(idText) ? Number(idText) : NaN;
        if (!Number.isSafeInteger(id)) fail(key, line, `invalid server id in "${key}" (expected server.N with N >= 0)`);
        const earlier = serverLines.get(id);
        if (earlier !== undefined) fail(key, line, `duplicate server id ${id} (also on line ${earlier})`);
        servers.set(id, quorumServer(value));
        serverLines.set(id, line);
      } else {
        unknownKeys.push({ key, line });
      }
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      fail(key, line, `invalid value for ${key}: ${JSON.stringify(value)} (expected ${err.expected})`);
    }
  }

  // Cross-key rules, in the order QuorumPeerConfig applies them.
  if (draft.dataDir === undefined) fail('dataDir', undefined, 'dataDir is not set');
  const dataDir = draft.dataDir;

  const clientPort = draft.clientPort ?? 0;
  if (clientPort === 0 && draft.clientPortAddress !== undefined) {
    fail('clientPortAddress', lineOf.get('clientPortAddress'), 'clientPortAddress is set but clientPort is not');
  }
  if (clientPort === 0 && ![...servers.values()].some((s) => s.clientPort !== undefined)) {
    fail('clientPort', lineOf.get('clientPort'), 'clientPort is not set (and no server.N line gives a client port)');
  }

  const tickTimeMs = draft.tickTimeMs ?? DEFAULT_TICK_TIME_MS;
  const minSessionTimeoutMs = draft.minSessionTimeoutMs ?? 2 * tickTimeMs;
  const maxSessionTimeoutMs = draft.maxSessionTimeoutMs ?? 20 * tickTimeMs;
  if (minSessionTimeoutMs > maxSessionTimeoutMs) {
    const key = draft.minSessionTimeoutMs !== undefined ? 'minSessionTimeout' : 'maxSessionTimeout';
    fail(
      key,
      lineOf.get(key),
      `minSessionTimeout (${minSessionTimeoutMs} ms) must not be larger than maxSessionTimeout (${maxSessionTimeoutMs} ms)`,
    );
  }

  return {
    configPath: file,
    tickTimeMs,
    dataDir,
    dataLogDir: draft.dataLogDir ?? dataDir,
    clientPort,
    clientPortAddress: draft.clientPortAddress ?? '0.0.0.0',
    minSessionTimeoutMs,
    maxSessionTimeoutMs,
    maxClientCnxns: draft.maxClientCnxns ?? 60,
    fourLetterWordWhitelist: draft.fourLetterWordWhitelist ?? new Set(['srvr']),
    juteMaxBuffer: draft.juteMaxBuffer ?? 0xfffff,
    extendedTypesEnabled: draft.extendedTypesEnabled ?? false,
    initLimit: draft.initLimit ?? 10,
    syncLimit: draft.syncLimit ?? 5,
    snapCount: draft.snapCount ?? 100_000,
    autopurgeSnapRetainCount: draft.autopurgeSnapRetainCount ?? 3,
    autopurgePurgeIntervalHours: draft.autopurgePurgeIntervalHours ?? 0,
    forceSync: draft.forceSync ?? true,
    containerCheckIntervalMs: draft.containerCheckIntervalMs ?? 60_000,
    ...(draft.superDigest !== undefined ? { superDigest: draft.superDigest } : {}),
    servers,
    unknownKeys,
  };
}

/** Reads and parses a zoo.cfg. The file is decoded as ISO-8859-1, like ZooKeeper's Properties.load. */
export async function readZooCfg(configPath: string): Promise<ServerConfig> {
  const file = path.resolve(configPath);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (code ?? String(err));
    throw new ConfigError(file, undefined, undefined, `cannot read ${file}: ${why}`);
  }
  return parseZooCfg(bytes.toString('latin1'), file);
}
