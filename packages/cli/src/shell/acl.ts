import type { ACL } from '@corral/protocol';

const PERM_BITS: Readonly<Record<string, number>> = { r: 1, w: 2, c: 4, d: 8, a: 16 };

/**
 * zkCli's AclParser: `scheme:id:perms[,scheme:id:perms...]`, the id being everything between the
 * first and the last colon. Malformed entries and unknown permission letters are reported through
 * `warn` (zkCli prints them on stderr) and skipped.
 */
export function parseAcl(text: string, warn: (line: string) => void): ACL[] {
  const acl: ACL[] = [];
  // String.split(","): trailing empty strings are dropped.
  const parts = text.split(',');
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  for (const part of parts) {
    const first = part.indexOf(':');
    const last = part.lastIndexOf(':');
    if (first === -1 || first === last) {
      warn(`${part} does not have the form scheme:id:perm`);
      continue;
    }
    let perms = 0;
    for (const letter of part.slice(last + 1)) {
      const bit = PERM_BITS[letter];
      if (bit === undefined) warn(`Unknown perm type: ${letter}`);
      else perms |= bit;
    }
    acl.push({ perms, id: { scheme: part.slice(0, first), id: part.slice(first + 1, last) } });
  }
  return acl;
}
