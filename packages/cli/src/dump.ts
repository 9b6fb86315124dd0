import { readFile } from 'node:fs/promises';
import type { ACL } from '@corral/protocol';
import { SnapshotError, scanSegment, visitSnapshot, type SnapshotNodeFields, type Txn, type TxnBody } from '@corral/server';

/**
 * `corral log dump` and `corral snapshot dump`: what ZooKeeper's TxnLogToolkit and SnapshotFormatter
 * print, for Corral's files. Text is one line per txn / node; --json is one JSON document in which
 * 64-bit ids (zxids, session ids, ephemeral owners) are hex strings and times are milliseconds.
 * Snapshots are streamed: a node is printed as soon as it is read.
 */

/** Where lines go; a returned promise means "wait before writing more" (stdout backpressure). */
export type Sink = (text: string) => void | Promise<void>;

/** Exit codes: 0 readable (a torn log tail is the normal result of a crash), 1 damaged, 2 unreadable. */
export const EXIT_OK = 0;
export const EXIT_DAMAGED = 1;
export const EXIT_UNREADABLE = 2;

const hex = (n: bigint) => `0x${BigInt.asUintN(64, n).toString(16)}`;
const iso = (ms: number | bigint) => {
  const date = new Date(Number(ms));
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
};

export function permString(perms: number): string {
  return [[4, 'c'], [8, 'd'], [1, 'r'], [2, 'w'], [16, 'a']].map(([bit, letter]) => (perms & (bit as number) ? letter : '')).join('');
}

function aclText(acl: ACL[]): string {
  return `[${acl.map((a) => `${a.id.scheme}:${a.id.id}:${permString(a.perms)}`).join(',')}]`;
}

function aclJson(acl: ACL[]) {
  return acl.map((a) => ({ scheme: a.id.scheme, id: a.id.id, perms: permString(a.perms) }));
}

const MAX_TEXT = 64;

/** Data as a quoted string when it is printable UTF-8, else base64; long values are shortened in text output. */
function dataText(data: Uint8Array | null): string {
  if (data === null) return 'null';
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = buffer.toString('utf8');
  const printable = Buffer.from(utf8, 'utf8').equals(buffer) && !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(utf8);
  const shown = printable ? JSON.stringify(utf8.slice(0, MAX_TEXT)) : `base64:${buffer.subarray(0, MAX_TEXT).toString('base64')}`;
  const cut = printable ? utf8.length > MAX_TEXT : buffer.length > MAX_TEXT;
  return `${shown}${cut ? '...' : ''}(${buffer.length}B)`;
}

/** Data as base64, from a txn's bytes or a node's byte string. */
function dataJson(data: Uint8Array | string | null): string | null {
  if (data === null) return null;
  return typeof data === 'string' ? Buffer.from(data, 'latin1').toString('base64') : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

function bodyText(body: TxnBody): string {
  switch (body.type) {
    case 'createSession':
      return `createSession timeout=${body.timeoutMs}`;
    case 'closeSession':
      return 'closeSession';
    case 'create':
      return `${body.op === 'create' ? 'create' : body.op} ${body.path} data=${dataText(body.data)} acl=${aclText(body.acl)} ephemeralOwner=${hex(body.ephemeralOwner)} parentCVersion=${body.parentCVersion}`;
    case 'delete':
      return `delete ${body.path}`;
    case 'setData':
      return `setData ${body.path} data=${dataText(body.data)} version=${body.version}`;
    case 'setACL':
      return `setACL ${body.path} acl=${aclText(body.acl)} version=${body.version}`;
    case 'check':
      return `check ${body.path}`;
    case 'multi':
      return `multi [${body.ops.map(bodyText).join('; ')}]`;
    case 'error':
      return `error err=${body.err}`;
  }
}

function bodyJson(body: TxnBody): Record<string, unknown> {
  switch (body.type) {
    case 'create':
      return { ...body, data: dataJson(body.data), acl: aclJson(body.acl), ephemeralOwner: hex(body.ephemeralOwner) };
    case 'setData':
      return { ...body, data: dataJson(body.data) };
    case 'setACL':
      return { ...body, acl: aclJson(body.acl) };
    case 'multi':
      return { type: 'multi', ops: body.ops.map(bodyJson) };
    default:
      return { ...body };
  }
}

/** One txn as a line, in the order TxnLogToolkit uses: time, session, cxid, zxid, type and fields. */
export function txnLine(txn: Txn): string {
  return `${iso(txn.timeMs)} session ${hex(txn.sessionId)} cxid 0x${(txn.cxid >>> 0).toString(16)} zxid ${hex(txn.zxid)} ${bodyText(txn.body)}`;
}

export function txnJson(txn: Txn): Record<string, unknown> {
  return { time: iso(txn.timeMs), timeMs: txn.timeMs, sessionId: hex(txn.sessionId), cxid: txn.cxid, zxid: hex(txn.zxid), ...bodyJson(txn.body) };
}

/** Prints every record of one log segment, then the damage if any. */
export async function dumpLog(file: string, options: { json?: boolean; out: Sink; err?: Sink }): Promise<number> {
  const { out } = options;
  const err = options.err ?? out;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    await err(`corral: cannot read ${file}: ${(error as Error).message}\n`);
    return EXIT_UNREADABLE;
  }
  const scan = scanSegment(bytes);
  const damage = scan.damage && {
    ...scan.damage,
    meaning:
      scan.damage.kind === 'torn'
        ? 'a record cut off by a crash mid-append; recovery truncates it (it was never acknowledged)'
        : 'valid records follow the damaged one; recovery refuses to start',
  };
  if (options.json) {
    await out('{"file":' + JSON.stringify(file) + ',"txns":[');
    for (let i = 0; i < scan.txns.length; i++) await out((i === 0 ? '\n' : ',\n') + JSON.stringify(txnJson(scan.txns[i]!)));
    await out(`\n],"count":${scan.txns.length},"validEnd":${scan.validEnd},"damage":${JSON.stringify(damage ?? null)}}\n`);
  } else {
    await out(`Corral txn log ${file}\n`);
    for (const txn of scan.txns) await out(txnLine(txn) + '\n');
    if (damage) {
      await out(`${damage.kind.toUpperCase()} record at offset ${damage.offset} after ${scan.txns.length} txns: ${damage.reason} (${damage.meaning})\n`);
    } else {
      await out(`EOF reached after ${scan.txns.length} txns.\n`);
    }
  }
  return damage?.kind === 'corrupt' ? EXIT_DAMAGED : EXIT_OK;
}

export function nodeLine(path: string, n: SnapshotNodeFields): string {
  return (
    `${path} czxid=${hex(n.czxid)} mzxid=${hex(n.mzxid)} pzxid=${hex(n.pzxid)} ctime=${iso(n.ctime)} mtime=${iso(n.mtime)} ` +
    `version=${n.version} cversion=${n.cversion} aversion=${n.aversion} ephemeralOwner=${hex(n.ephemeralOwner)} ` +
    `dataLength=${n.data?.length ?? 0} acl=${aclText(n.acl)}`
  );
}

export function nodeJson(path: string, n: SnapshotNodeFields): Record<string, unknown> {
  return {
    path,
    czxid: hex(n.czxid),
    mzxid: hex(n.mzxid),
    pzxid: hex(n.pzxid),
    ctime: Number(n.ctime),
    mtime: Number(n.mtime),
    version: n.version,
    cversion: n.cversion,
    aversion: n.aversion,
    ephemeralOwner: hex(n.ephemeralOwner),
    dataLength: n.data?.length ?? 0,
    data: dataJson(n.data),
    acl: aclJson(n.acl),
  };
}

/**
 * Prints a snapshot while it is read: header, sessions, then one line per node. `cversion` is the
 * stored child-creation counter (clients see 2 * cversion - numChildren). An exact snapshot is the
 * tree at its zxid; a fuzzy one (older Corral) may list a path twice (deleted and re-created while
 * it was written); recovery keeps the later entry.
 */
export async function dumpSnapshot(file: string, options: { json?: boolean; out: Sink; err?: Sink }): Promise<number> {
  const { out, json } = options;
  const err = options.err ?? out;
  let started = false;
  let count = 0;
  try {
    const result = await visitSnapshot(file, {
      header: async ({ zxid, sessions, exact }) => {
        started = true;
        if (json) {
          const list = sessions.map((s) => ({ id: hex(s.id), timeoutMs: s.timeoutMs }));
          await out(`{"file":${JSON.stringify(file)},"zxid":"${hex(zxid)}","exact":${exact},"sessions":${JSON.stringify(list)},"nodes":[`);
          return;
        }
        await out(`Corral snapshot ${file}\nzxid ${hex(zxid)} (${exact ? 'exact' : 'fuzzy: the log after it completes it'})\nSessions (${sessions.length}):\n`);
        for (const s of sessions) await out(`  ${hex(s.id)} timeout=${s.timeoutMs}ms\n`);
        await out('Nodes:\n');
      },
      node: (path, node) => {
        const line = json ? `${count === 0 ? '\n' : ',\n'}${JSON.stringify(nodeJson(path, node))}` : `${nodeLine(path, node)}\n`;
        count++;
        return out(line);
      },
    });
    if (json) await out(`\n],"count":${result.nodes},"error":null}\n`);
    else await out(`${result.nodes} nodes, ${result.sessions} sessions; checksum ok.\n`);
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof SnapshotError)) {
      if ((error as NodeJS.ErrnoException).code === undefined) throw error;
      await err(`corral: cannot read ${file}: ${(error as Error).message}\n`);
      return EXIT_UNREADABLE;
    }
    if (json) {
      if (started) await out(`\n],"count":${count},"error":${JSON.stringify(error.message)}}\n`);
      else await out(`{"file":${JSON.stringify(file)},"error":${JSON.stringify(error.message)}}\n`);
    } else {
      await out(`DAMAGED after ${count} nodes: ${error.message}\n`);
    }
    return EXIT_DAMAGED;
  }
}

/** A sink on a writable stream that waits for 'drain' when the stream's buffer is full. */
export function streamSink(stream: NodeJS.WritableStream): Sink {
  return (text) => {
    if (stream.write(text)) return;
    return new Promise<void>((resolve) => stream.once('drain', () => resolve()));
  };
}
