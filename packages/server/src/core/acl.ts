import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { Perms, type ACL, type Id } from '@corral/protocol';

/** An identity a connection holds: ip from its socket, digest or super from auth packets. */
export interface Identity {
  scheme: string;
  id: string;
}

export const OPEN_ACL_UNSAFE: ACL[] = [{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }];
export const READ_ACL_UNSAFE: ACL[] = [{ perms: Perms.READ, id: { scheme: 'world', id: 'anyone' } }];

/** user:password -> user:base64(sha1(user:password)), as DigestAuthenticationProvider does. */
export function digestId(userAndPassword: string): string {
  const colon = userAndPassword.indexOf(':');
  const user = colon < 0 ? userAndPassword : userAndPassword.slice(0, colon);
  return `${user}:${createHash('sha1').update(userAndPassword, 'utf8').digest('base64')}`;
}

/**
 * Adds an identity to a connection's list as ZooKeeper's ServerCnxn.addAuthInfo does. Its authInfo is a set backed
 * by a ConcurrentHashMap: a duplicate is dropped, and whoAmI and `auth` ACL expansion see the map's iteration order,
 * i.e. by the bucket of the Id's Java hashCode (default table of 16, doubled at 3/4 full), then insertion order.
 */
export function addIdentity(identities: Identity[], identity: Identity): void {
  if (identities.some((i) => i.scheme === identity.scheme && i.id === identity.id)) return;
  identities.push(identity);
  let tableSize = 16;
  while (identities.length >= tableSize * 0.75) tableSize *= 2;
  const javaHash = (s: string) => {
    let h = 0;
    for (let k = 0; k < s.length; k++) h = (Math.imul(h, 31) + s.charCodeAt(k)) | 0; // String.hashCode over UTF-16
    return h;
  };
  const bucket = ({ scheme, id }: Identity) => {
    const h = (Math.imul(37, Math.imul(37, 17) + javaHash(scheme)) + javaHash(id)) | 0; // jute Id.hashCode
    return (h ^ (h >>> 16)) & (tableSize - 1);
  };
  identities.sort((a, b) => bucket(a) - bucket(b)); // stable: same bucket keeps insertion order
}

/** Whether the caller's identities grant any of the requested permission bits on a node with this ACL. */
export function hasPermission(acl: readonly ACL[], identities: readonly Identity[], perm: number): boolean {
  if (acl.length === 0) return true;
  if (identities.some((i) => i.scheme === 'super')) return true;
  for (const entry of acl) {
    if ((entry.perms & perm) === 0) continue;
    const { scheme, id } = entry.id;
    if (scheme === 'world' && id === 'anyone') return true;
    for (const identity of identities) {
      if (identity.scheme !== scheme) continue;
      if (scheme === 'ip' ? ipMatches(id, identity.id) : identity.id === id) return true;
    }
  }
  return false;
}

/** Validates a create/setACL ACL list and expands `auth` entries; returns undefined for INVALIDACL. */
export function fixupAcl(acl: readonly ACL[], identities: readonly Identity[]): ACL[] | undefined {
  if (acl.length === 0) return undefined;
  // The common case (one explicit entry, e.g. world:anyone) needs no copy.
  if (acl.length === 1 && acl[0]!.id.scheme !== 'auth') return isValidId(acl[0]!.id) ? (acl as ACL[]) : undefined;
  // ZooKeeper removes duplicate entries before expanding `auth`, so an expansion may repeat an explicit entry.
  const unique: ACL[] = [];
  for (const entry of acl) {
    if (!unique.some((e) => e.perms === entry.perms && e.id.scheme === entry.id.scheme && e.id.id === entry.id.id)) unique.push(entry);
  }
  const out: ACL[] = [];
  const add = (entry: ACL) => out.push(entry);
  for (const entry of unique) {
    if (entry.id.scheme === 'auth') {
      // Only providers that say isAuthenticated() count (digest); `super` has no provider in ZooKeeper.
      const authenticated = identities.filter((i) => i.scheme === 'digest');
      if (authenticated.length === 0) return undefined;
      for (const identity of authenticated) add({ perms: entry.perms, id: { scheme: identity.scheme, id: identity.id } });
    } else if (isValidId(entry.id)) {
      add(entry);
    } else {
      return undefined;
    }
  }
  return out;
}

function isValidId({ scheme, id }: Id): boolean {
  switch (scheme) {
    case 'world':
      return id === 'anyone';
    case 'digest': {
      // Java's String.split drops trailing empty strings: "alice:" is one part, so invalid.
      const parts = id.split(':');
      while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
      return parts.length === 2;
    }
    case 'ip':
      return parseIpPattern(id) !== undefined;
    default: // includes `super`: ZooKeeper has no auth provider for it, so an ACL naming it is invalid
      return false;
  }
}

interface IpPattern {
  bytes: Uint8Array;
  bits: number;
}

function ipBytes(address: string): Uint8Array | undefined {
  const mapped = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  if (!mapped.includes(':')) {
    // IPv4 as ZooKeeper parses it: four dot-separated Integer.parseInt values in 0..255 (so "010" is 10).
    const octets = mapped.split('.').map(javaInt);
    if (octets.length !== 4 || octets.some((o) => o === undefined || o < 0 || o > 255)) return undefined;
    return Uint8Array.from(octets as number[]);
  }
  if (isIP(mapped) !== 6) return undefined;
  const [head, tail] = mapped.split('::') as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const left = groups(head);
  const right = groups(tail);
  const all = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** Java's Integer.parseInt: an optional sign and decimal digits, nothing else. */
function javaInt(text: string): number | undefined {
  return /^[+-]?[0-9]+$/.test(text) ? Number(text) : undefined;
}

function parseIpPattern(pattern: string): IpPattern | undefined {
  // Split at the first '/' only, as Java's split("/", 2).
  const slash = pattern.indexOf('/');
  const address = slash < 0 ? pattern : pattern.slice(0, slash);
  const bitsText = slash < 0 ? undefined : pattern.slice(slash + 1);
  const bytes = ipBytes(address);
  if (!bytes) return undefined;
  const bits = bitsText === undefined ? bytes.length * 8 : javaInt(bitsText);
  if (bits === undefined || bits < 0 || bits > bytes.length * 8) return undefined;
  return { bytes, bits };
}

function ipMatches(pattern: string, address: string): boolean {
  const p = parseIpPattern(pattern);
  const a = ipBytes(address);
  if (!p || !a || a.length !== p.bytes.length) return false;
  for (let bit = 0; bit < p.bits; bit++) {
    const mask = 0x80 >> bit % 8;
    if ((p.bytes[bit >> 3]! & mask) !== (a[bit >> 3]! & mask)) return false;
  }
  return true;
}
