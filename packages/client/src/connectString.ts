import { validatePath } from './paths.js';

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

export interface ParsedConnectString {
  readonly servers: readonly ServerAddress[];
  /** Chroot prefix without a trailing slash, or '' for none. */
  readonly chroot: string;
}

const DEFAULT_PORT = 2181;

/**
 * Parses `host:port[,host:port...][/chroot]`. IPv6 hosts are written in brackets (`[::1]:2181`);
 * a missing port means 2181, as in ZooKeeper.
 */
export function parseConnectString(connectString: string): ParsedConnectString {
  const trimmed = connectString.trim();
  if (trimmed === '') throw new TypeError('connect string is empty');
  const slash = trimmed.indexOf('/');
  const hostPart = slash === -1 ? trimmed : trimmed.slice(0, slash);
  let chroot = slash === -1 ? '' : trimmed.slice(slash);
  if (chroot === '/') chroot = '';
  if (chroot !== '') validatePath(chroot, 'chroot');
  const servers = hostPart
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map(parseHostPort);
  if (servers.length === 0) throw new TypeError(`connect string ${JSON.stringify(connectString)} names no server`);
  return { servers, chroot };
}

function parseHostPort(entry: string): ServerAddress {
  let host: string;
  let portText: string | undefined;
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close === -1) throw new TypeError(`bad IPv6 address in connect string: ${entry}`);
    host = entry.slice(1, close);
    const rest = entry.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw new TypeError(`bad server entry in connect string: ${entry}`);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = entry.lastIndexOf(':');
    host = colon === -1 ? entry : entry.slice(0, colon);
    portText = colon === -1 ? undefined : entry.slice(colon + 1);
  }
  const port = portText === undefined ? DEFAULT_PORT : Number(portText);
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`bad server entry in connect string: ${entry}`);
  }
  return { host, port };
}

/** Fisher–Yates shuffle with an injected random source (tests pass a seeded one). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
