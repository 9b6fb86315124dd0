import { closeSync, fsyncSync, openSync } from 'node:fs';
import { open, readdir, rename } from 'node:fs/promises';
import path from 'node:path';

/** ZooKeeper keeps its files under <dir>/version-2; so do we, so the same dataDir layout is recognisable. */
export function versionDir(dir: string): string {
  return path.join(dir, 'version-2');
}

export function zxidHex(zxid: bigint): string {
  return zxid.toString(16);
}

/** Files named `<prefix>.<hex zxid>` in a directory, oldest first. */
export async function listByZxid(dir: string, prefix: 'log' | 'snapshot'): Promise<{ file: string; zxid: bigint }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const pattern = new RegExp(`^${prefix}\\.([0-9a-f]+)$`);
  return names
    .map((name) => ({ name, match: pattern.exec(name) }))
    .filter((e) => e.match)
    .map((e) => ({ file: path.join(dir, e.name), zxid: BigInt(`0x${e.match![1]}`) }))
    .sort((a, b) => (a.zxid < b.zxid ? -1 : a.zxid > b.zxid ? 1 : 0));
}

/** fsync a directory so a rename or a new file in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** syncDir for a thread that may block (the snapshot worker). */
export function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes a small file atomically: temp file, fsync, rename, fsync the directory. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await syncDir(path.dirname(file));
}
