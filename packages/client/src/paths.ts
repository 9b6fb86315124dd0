import { BadArgumentsError } from './errors.js';

/**
 * Client-side path check (as the Java client does before sending): absolute, no trailing slash
 * (except the root, or a sequential create's prefix), no empty, `.` or `..` segment, no
 * forbidden character.
 */
export function validatePath(path: string, what = 'path', options: { sequential?: boolean } = {}): void {
  const fail = (reason: string): never => {
    throw new BadArgumentsError({ path, message: `invalid ${what} ${JSON.stringify(path)}: ${reason}` });
  };
  if (typeof path !== 'string' || path.length === 0) fail('empty');
  if (path[0] !== '/') fail('must start with /');
  if (path.length === 1) return;
  if (path.endsWith('/') && !options.sequential) fail('must not end with /');
  const segments = path.slice(1).split('/');
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '' && !(last && options.sequential)) fail('empty segment');
    if (segment === '.' || segment === '..') fail('relative segment');
  });
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0 || (c > 0 && c < 0x20) || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || (c >= 0xfff0 && c <= 0xffff)) {
      fail(`forbidden character U+${c.toString(16).padStart(4, '0')} at ${i}`);
    }
  }
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
