// Output formatting exactly as Apache ZooKeeper's zkCli (3.8) prints things: StatPrinter, ACL ids
// (the Jute toString of org.apache.zookeeper.data.Id), permission strings, WatchedEvent.toString and
// the messages of KeeperException / CliWrapperException.

import { ErrorCode, type ACL, type Stat } from '@corral/protocol';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => String(n).padStart(2, '0');

// ICU's short zone names are locale dependent; Java's are English abbreviations (CET, EST, AEST,
// IST...). Take the first locale that has an abbreviation rather than a GMT offset.
const ZONE_LOCALES = ['en-US', 'en-GB', 'en-AU', 'en-IN'];
let zoneFormats: Intl.DateTimeFormat[] | undefined;

function timeZoneName(date: Date): string {
  zoneFormats ??= ZONE_LOCALES.map((locale) => new Intl.DateTimeFormat(locale, { timeZoneName: 'short' }));
  let fallback: string | undefined;
  for (const format of zoneFormats) {
    const name = format.formatToParts(date).find((p) => p.type === 'timeZoneName')?.value;
    if (name === undefined) continue;
    if (!/^GMT[+-]/.test(name)) return name;
    fallback ??= name;
  }
  return fallback ?? 'UTC';
}

/** java.util.Date#toString in the local time zone: `Thu Jan 01 00:00:00 UTC 1970`. */
export function javaDate(ms: bigint | number): string {
  const date = new Date(Number(ms));
  const time = `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  return `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${pad2(date.getDate())} ${time} ${timeZoneName(date)} ${date.getFullYear()}`;
}

/** Long.toHexString: two's complement for negative values. */
export function javaHex(value: bigint): string {
  return BigInt.asUintN(64, value).toString(16);
}

/** StatPrinter.print: eleven `name = value` lines. */
export function formatStat(stat: Stat): string {
  return [
    `cZxid = 0x${javaHex(stat.czxid)}`,
    `ctime = ${javaDate(stat.ctime)}`,
    `mZxid = 0x${javaHex(stat.mzxid)}`,
    `mtime = ${javaDate(stat.mtime)}`,
    `pZxid = 0x${javaHex(stat.pzxid)}`,
    `cversion = ${stat.cversion}`,
    `dataVersion = ${stat.version}`,
    `aclVersion = ${stat.aversion}`,
    `ephemeralOwner = 0x${javaHex(stat.ephemeralOwner)}`,
    `dataLength = ${stat.dataLength}`,
    `numChildren = ${stat.numChildren}`,
  ]
    .map((line) => `${line}\n`)
    .join('');
}

/** Jute's ToStringOutputArchive string escaping (null prints as nothing). */
function juteString(s: string | null | undefined): string {
  if (s === null || s === undefined) return '';
  return `'${s.replace(/[\0\n\r,}%]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}`;
}

/** Id#toString (a Jute record): `'world,'anyone` and a newline. */
export function formatId(id: { scheme: string | null; id: string | null }): string {
  return `${juteString(id.scheme)},${juteString(id.id)}\n`;
}

/** ZKUtil.getPermString: the letters of the granted permissions in cdrwa order. */
export function permString(perms: number): string {
  let s = '';
  if (perms & 4) s += 'c';
  if (perms & 8) s += 'd';
  if (perms & 1) s += 'r';
  if (perms & 2) s += 'w';
  if (perms & 16) s += 'a';
  return s;
}

/** getAcl's output: for each entry `'scheme,'id\n: perms\n`. */
export function formatAcl(acl: readonly ACL[]): string {
  return acl.map((entry) => `${formatId(entry.id)}: ${permString(entry.perms)}\n`).join('');
}

/** java.util.List#toString: `[a, b]`. */
export function javaList(items: readonly unknown[]): string {
  return `[${items.map(String).join(', ')}]`;
}

export type KeeperState = 'SyncConnected' | 'Disconnected' | 'Expired' | 'AuthFailed' | 'ConnectedReadOnly' | 'Closed';

/** WatchedEvent#toString (3.8: no zxid). */
export function formatWatchedEvent(state: KeeperState, type: string, path: string | null): string {
  return `WatchedEvent state:${state} type:${type} path:${path}`;
}

/** KeeperException.getCodeMessage. */
const CODE_MESSAGES = new Map<number, string>([
  [ErrorCode.SYSTEMERROR, 'SystemError'],
  [ErrorCode.RUNTIMEINCONSISTENCY, 'RuntimeInconsistency'],
  [ErrorCode.DATAINCONSISTENCY, 'DataInconsistency'],
  [ErrorCode.CONNECTIONLOSS, 'ConnectionLoss'],
  [ErrorCode.MARSHALLINGERROR, 'MarshallingError'],
  [ErrorCode.NEWCONFIGNOQUORUM, 'NewConfigNoQuorum'],
  [ErrorCode.RECONFIGINPROGRESS, 'ReconfigInProgress'],
  [ErrorCode.UNIMPLEMENTED, 'Unimplemented'],
  [ErrorCode.OPERATIONTIMEOUT, 'OperationTimeout'],
  [ErrorCode.BADARGUMENTS, 'BadArguments'],
  [ErrorCode.APIERROR, 'APIError'],
  [ErrorCode.NONODE, 'NoNode'],
  [ErrorCode.NOAUTH, 'NoAuth'],
  [ErrorCode.BADVERSION, 'BadVersion'],
  [ErrorCode.NOCHILDRENFOREPHEMERALS, 'NoChildrenForEphemerals'],
  [ErrorCode.NODEEXISTS, 'NodeExists'],
  [ErrorCode.INVALIDACL, 'InvalidACL'],
  [ErrorCode.AUTHFAILED, 'AuthFailed'],
  [ErrorCode.NOTEMPTY, 'Directory not empty'],
  [ErrorCode.SESSIONEXPIRED, 'Session expired'],
  [ErrorCode.INVALIDCALLBACK, 'Invalid callback'],
  [ErrorCode.SESSIONMOVED, 'Session moved'],
  [ErrorCode.NOTREADONLY, 'Not a read-only call'],
  [ErrorCode.EPHEMERALONLOCALSESSION, 'Ephemeral node on local session'],
  [ErrorCode.NOWATCHER, 'No such watcher'],
  [ErrorCode.REQUESTTIMEOUT, 'RequestTimeout'],
  [ErrorCode.RECONFIGDISABLED, 'Reconfig is disabled'],
  [ErrorCode.SESSIONCLOSEDREQUIRESASLAUTH, 'Session closed because client failed to authenticate'],
  [ErrorCode.QUOTAEXCEEDED, 'Quota has exceeded'],
  [ErrorCode.THROTTLEDOP, 'Op throttled due to high load'],
]);

/** KeeperException#getMessage: `KeeperErrorCode = NoNode for /a` (no " for" part without a path). */
export function keeperMessage(errno: number, path: string | null | undefined): string {
  const text = CODE_MESSAGES.get(errno) ?? `Unknown error ${errno}`;
  return path ? `KeeperErrorCode = ${text} for ${path}` : `KeeperErrorCode = ${text}`;
}

/** CliWrapperException's message for a KeeperException of code `errno` on `path` (Java prints a missing path as "null"). */
export function cliErrorMessage(errno: number, path: string | null | undefined): string {
  const p = path ?? 'null';
  switch (errno) {
    case ErrorCode.NONODE:
      return `Node does not exist: ${p}`;
    case ErrorCode.NOCHILDRENFOREPHEMERALS:
      return `Ephemerals cannot have children: ${p}`;
    case ErrorCode.NODEEXISTS:
      return `Node already exists: ${p}`;
    case ErrorCode.NOTEMPTY:
      return `Node not empty: ${p}`;
    case ErrorCode.NOTREADONLY:
      return `Not a read-only call: ${p}`;
    case ErrorCode.INVALIDACL:
      return `Acl is not valid : ${p}`;
    case ErrorCode.NOAUTH:
      return `Insufficient permission : ${p}`;
    case ErrorCode.BADARGUMENTS:
      return `Arguments are not valid : ${p}`;
    case ErrorCode.BADVERSION:
      return `version No is not valid : ${p}`;
    case ErrorCode.RECONFIGINPROGRESS:
      return 'Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)';
    case ErrorCode.NEWCONFIGNOQUORUM:
      return 'No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced';
    case ErrorCode.QUOTAEXCEEDED:
      return `Quota has exceeded : ${p}`;
    default:
      return keeperMessage(errno, path);
  }
}
