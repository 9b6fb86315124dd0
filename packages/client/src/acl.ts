import { createHash } from 'node:crypto';
import { Perms, type ACL } from '@corral/protocol';

export { Perms };
export type { ACL };

/** `[ALL world:anyone]` */
export const OPEN_ACL_UNSAFE: readonly ACL[] = Object.freeze([{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }]);
/** `[ALL auth:]`: every identity the caller authenticated with (needs addAuth first). */
export const CREATOR_ALL_ACL: readonly ACL[] = Object.freeze([{ perms: Perms.ALL, id: { scheme: 'auth', id: '' } }]);
/** `[READ world:anyone]` */
export const READ_ACL_UNSAFE: readonly ACL[] = Object.freeze([{ perms: Perms.READ, id: { scheme: 'world', id: 'anyone' } }]);

/** The digest ACL id of `user:password`: `user:BASE64(SHA1("user:password"))`. */
export function digestId(user: string, password: string): string {
  const hash = createHash('sha1').update(`${user}:${password}`, 'utf8').digest('base64');
  return `${user}:${hash}`;
}

/** One ACL entry granting `perms` to the digest identity `user:password`. */
export function digestAcl(user: string, password: string, perms: number = Perms.ALL): ACL {
  return { perms, id: { scheme: 'digest', id: digestId(user, password) } };
}
