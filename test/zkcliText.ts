/**
 * Text helpers for comparing zkCli-style output (Apache ZooKeeper's CLI and `corral shell`) across
 * servers: zxids ranked within one output, times and session ids masked.
 */

/** Zxids ranked within one output (Z1 < Z2 ...), times and session ids masked, trailing newlines dropped. */
export function normalize(text: string): string {
  const zxids = [...text.matchAll(/^[cmp]Zxid = 0x([0-9a-f]+)$/gm)].map((m) => BigInt(`0x${m[1]}`));
  const ranked = [...new Set(zxids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return text
    .replace(/^([cmp]Zxid) = 0x([0-9a-f]+)$/gm, (_, key: string, hex: string) => `${key} = Z${ranked.indexOf(BigInt(`0x${hex}`)) + 1}`)
    .replace(/^(ctime|mtime) = .*$/gm, '$1 = <time>')
    .replace(/^ephemeralOwner = 0x(?!0$)[0-9a-f]+$/gm, 'ephemeralOwner = <session>')
    .replace(/\n+$/, '');
}

/** The `stat` block zkCli prints, as normalize() leaves it. */
export function expectedStat(f: {
  c: number;
  m: number;
  p: number;
  cversion?: number;
  dataVersion?: number;
  aclVersion?: number;
  ephemeral?: boolean;
  dataLength: number;
  numChildren?: number;
}): string {
  return [
    `cZxid = Z${f.c}`,
    'ctime = <time>',
    `mZxid = Z${f.m}`,
    'mtime = <time>',
    `pZxid = Z${f.p}`,
    `cversion = ${f.cversion ?? 0}`,
    `dataVersion = ${f.dataVersion ?? 0}`,
    `aclVersion = ${f.aclVersion ?? 0}`,
    `ephemeralOwner = ${f.ephemeral ? '<session>' : '0x0'}`,
    `dataLength = ${f.dataLength}`,
    `numChildren = ${f.numChildren ?? 0}`,
  ].join('\n');
}
