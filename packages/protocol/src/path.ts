/** ZooKeeper's path rules (PathUtils.validatePath), shared by the server and the client. Returns why a path is invalid, or undefined when it is valid. */
export function invalidPathReason(path: string, isSequential = false): string | undefined {
  // As PathUtils.validatePath(path, isSequential): a sequential path is checked with its suffix's first digit.
  if (isSequential) return invalidPathReason(path + '1');
  if (path.length === 0) return 'path length must be > 0';
  if (path[0] !== '/') return 'path must start with / character';
  if (path.length === 1) return undefined;
  if (path[path.length - 1] === '/' && !isSequential) return 'path must not end with / character';
  let previous = '/';
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    const ch = path[i];
    if (c === 0) return `null character not allowed @${i}`;
    if (ch === '/' && previous === '/') return `empty node name specified @${i}`;
    if (ch === '.' && previous === '.') {
      if (path[i - 2] === '/' && (i + 1 === path.length || path[i + 1] === '/')) return `relative paths not allowed @${i}`;
    } else if (ch === '.') {
      if (previous === '/' && (i + 1 === path.length || path[i + 1] === '/')) return `relative paths not allowed @${i}`;
    } else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || (c >= 0xfff0 && c <= 0xffff)) {
      return `invalid character @${i}`;
    }
    previous = ch!;
  }
  return undefined;
}
