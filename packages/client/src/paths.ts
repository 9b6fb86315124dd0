import { invalidPathReason } from '@corral/protocol';
import { BadArgumentsError } from './errors.js';

/**
 * Client-side path check (as the Java client does before sending): absolute, no trailing slash
 * (except the root, or a sequential create's prefix), no empty, `.` or `..` segment, no
 * forbidden character.
 */
export function validatePath(path: string, what = 'path', options?: { sequential?: boolean }): void {
  const reason = typeof path === 'string' ? invalidPathReason(path, options?.sequential === true) : 'not a string';
  if (reason !== undefined) throw new BadArgumentsError({ path, message: `invalid ${what} ${JSON.stringify(path)}: ${reason}` });
}

/** Maps between the paths the application uses and the server paths under a chroot. */
export class Chroot {
  constructor(readonly prefix: string) {}

  /** Application path → server path. */
  toServer(path: string): string {
    if (this.prefix === '') return path;
    return path === '/' ? this.prefix : this.prefix + path;
  }

  /** Server path → application path (paths outside the chroot are returned unchanged). */
  fromServer(path: string): string {
    if (this.prefix === '') return path;
    if (path === this.prefix) return '/';
    if (path.startsWith(this.prefix + '/')) return path.slice(this.prefix.length);
    return path;
  }
}

/** Parent of an absolute path ('/' for top-level nodes). */
export function parentOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at <= 0 ? '/' : path.slice(0, at);
}

/** Last segment of a path. */
export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}
