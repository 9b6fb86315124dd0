/**
 * Property tests of the pure ServerCore: random create/delete/setData/multi/close sequences against a
 * small reference model of ZooKeeper's rules, determinism (tree digests of cores fed the same txns),
 * and pipelining (proposals committed late give the same answers as proposals committed at once).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CreateMode, ErrorCode, JuteWriter, OpCode, writeConnectRequest, type MultiOp, type MultiResult } from '@corral/protocol';
import { DataTree } from '../src/core/tree.js';
import { childPath } from '../src/core/path.js';
import { sequenceSuffix } from '../src/core/path.js';
import { Harness, OPEN, bytes, decodeReply, text, type Client } from './coreDriver.js';

const { OK, NONODE, NODEEXISTS, BADVERSION, NOTEMPTY, NOCHILDRENFOREPHEMERALS, BADARGUMENTS, RUNTIMEINCONSISTENCY } = ErrorCode;

// ---- commands --------------------------------------------------------------------------------------

const PATHS = ['/a', '/b', '/a/x', '/a/y', '/b/x', '/a/x/z', '/a/', '/a/s-', '/b/s-'];
type Slot = 0 | 1;

type Sub =
  | { kind: 'create'; path: string; flags: number; data: string | null }
  | { kind: 'delete'; path: string; version: number }
  | { kind: 'setData'; path: string; version: number; data: string | null }
  | { kind: 'check'; path: string; version: number };
type Cmd = (Sub & { slot: Slot }) | { kind: 'multi'; slot: Slot; ops: Sub[] } | { kind: 'close'; slot: Slot };

const pathArb = fc.constantFrom(...PATHS);
const versionArb = fc.constantFrom(-1, -1, 0, 1, 2);
const dataArb = fc.option(fc.constantFrom('', 'x', 'hello'), { nil: null });
const subArb: fc.Arbitrary<Sub> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('create' as const), path: pathArb, flags: fc.constantFrom(0, 0, 1, 2, 3), data: dataArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), path: pathArb, version: versionArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('setData' as const), path: pathArb, version: versionArb, data: dataArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('check' as const), path: pathArb, version: versionArb }) },
);
const slotArb = fc.constantFrom<Slot>(0, 1);
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(subArb.filter((s) => s.kind !== 'check'), slotArb).map(([s, slot]) => ({ ...s, slot })) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('multi' as const), slot: slotArb, ops: fc.array(subArb, { maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), slot: slotArb }) },
);
const cmdsArb = fc.array(cmdArb, { minLength: 1, maxLength: 40 });

function toMultiOp(sub: Sub): MultiOp {
  switch (sub.kind) {
    case 'create':
      return { type: OpCode.create, request: { path: sub.path, data: sub.data === null ? null : bytes(sub.data), acl: OPEN, flags: sub.flags } };
    case 'delete':
      return { type: OpCode.delete, request: { path: sub.path, version: sub.version } };
    case 'setData':
      return { type: OpCode.setData, request: { path: sub.path, data: sub.data === null ? null : bytes(sub.data), version: sub.version } };
    case 'check':
      return { type: OpCode.check, request: { path: sub.path, version: sub.version } };
  }
}

// ---- reference model --------------------------------------------------------------------------------

interface MNode {
  data: string | null;
  version: number;
  owner: bigint;
  /** Child-creation counter (the next sequential suffix). */
  counter: number;
  children: Set<string>;
}

class Model {
  nodes = new Map<string, MNode>();

  constructor() {
    this.nodes.set('/', { data: '', version: 0, owner: 0n, counter: 0, children: new Set(['zookeeper']) });
  }

  clone(): Model {
    const m = new Model();
    m.nodes = new Map([...this.nodes].map(([k, v]) => [k, { ...v, children: new Set(v.children) }]));
    return m;
  }

  /** Applies one sub-op; returns its error code and the created path. */
  apply(sub: Sub, session: bigint): { err: number; path?: string } {
    const parentOf = (p: string) => (p.lastIndexOf('/') === 0 ? '/' : p.slice(0, p.lastIndexOf('/')));
    switch (sub.kind) {
      case 'create': {
        const parentPath = parentOf(sub.path);
        const parent = this.nodes.get(parentPath);
        if (!parent) return { err: NONODE };
        const sequential = sub.flags === CreateMode.PERSISTENT_SEQUENTIAL || sub.flags === CreateMode.EPHEMERAL_SEQUENTIAL;
        const path = sequential ? sub.path + sequenceSuffix(parent.counter) : sub.path;
        if (path.endsWith('/')) return { err: BADARGUMENTS };
        if (this.nodes.has(path)) return { err: NODEEXISTS };
        if (parent.owner !== 0n) return { err: NOCHILDRENFOREPHEMERALS };
        const ephemeral = sub.flags === CreateMode.EPHEMERAL || sub.flags === CreateMode.EPHEMERAL_SEQUENTIAL;
        this.nodes.set(path, { data: sub.data, version: 0, owner: ephemeral ? session : 0n, counter: 0, children: new Set() });
        parent.children.add(path.slice(parentPath === '/' ? 1 : parentPath.length + 1));
        parent.counter++;
        return { err: OK, path };
      }
      case 'delete': {
        // delete validates only slash/NUL/special paths: "/a/" is just a missing node.
        const parentPath = parentOf(sub.path);
        if (!this.nodes.has(parentPath)) return { err: NONODE };
        const node = this.nodes.get(sub.path);
        if (!node) return { err: NONODE };
        if (sub.version !== -1 && sub.version !== node.version) return { err: BADVERSION };
        if (node.children.size > 0) return { err: NOTEMPTY };
        this.nodes.delete(sub.path);
        this.nodes.get(parentPath)!.children.delete(sub.path.slice(parentPath === '/' ? 1 : parentPath.length + 1));
        return { err: OK };
      }
      case 'setData':
      case 'check': {
        if (sub.path.endsWith('/')) return { err: BADARGUMENTS };
        const node = this.nodes.get(sub.path);
        if (!node) return { err: NONODE };
        if (sub.version !== -1 && sub.version !== node.version) return { err: BADVERSION };
        if (sub.kind === 'setData') {
          node.data = sub.data;
          node.version++;
        }
        return { err: OK };
      }
    }
  }

  closeSession(session: bigint): void {
    for (const [path, node] of [...this.nodes]) {
      if (node.owner !== session) continue;
      this.nodes.delete(path);
      const parentPath = path.lastIndexOf('/') === 0 ? '/' : path.slice(0, path.lastIndexOf('/'));
      this.nodes.get(parentPath)?.children.delete(path.slice(parentPath === '/' ? 1 : parentPath.length + 1));
    }
  }
}

// ---- running commands against a core ---------------------------------------------------------------

interface Outcome {
  /** Per command: what the server answered, decoded to compare with the model. */
  answers: { err: number; path?: string; results?: MultiResult[] }[];
  harness: Harness;
}

function runCommands(cmds: Cmd[], model?: Model): Outcome {
  const h = new Harness({ maxSessionTimeoutMs: 1_000_000 });
  const slots: Client[] = [h.connect({ timeoutMs: 1_000_000 }), h.connect({ timeoutMs: 1_000_000 })];
  const answers: Outcome['answers'] = [];
  for (const cmd of cmds) {
    const c = slots[cmd.slot]!;
    switch (cmd.kind) {
      case 'close': {
        const r = c.closeSession();
        expect(r.err).toBe(OK);
        expect(c.closed).toBe(true);
        model?.closeSession(c.sessionId);
        slots[cmd.slot] = h.connect({ timeoutMs: 1_000_000 });
        answers.push({ err: r.err });
        break;
      }
      case 'multi': {
        const r = c.multi(cmd.ops.map(toMultiOp));
        answers.push({ err: r.err, results: r.results });
        if (model) {
          const trial = model.clone();
          const expected: { err: number; path?: string }[] = [];
          let failed = -1;
          for (const [i, sub] of cmd.ops.entries()) {
            const e = trial.apply(sub, c.sessionId);
            expected.push(e);
            if (e.err !== OK) {
              failed = i;
              break;
            }
          }
          expect(r.err).toBe(OK);
          if (failed >= 0) {
            expect(r.results).toEqual(
              cmd.ops.map((_, j) => ({ type: -1, err: j < failed ? OK : j === failed ? expected[failed]!.err : RUNTIMEINCONSISTENCY })),
            );
          } else {
            model.nodes = trial.nodes;
            expect(r.results!.map((x) => x.type)).toEqual(cmd.ops.map((o) => toMultiOp(o).type));
            r.results!.forEach((x, i) => {
              if (x.type === OpCode.create) expect(x.path).toBe(expected[i]!.path);
            });
          }
        }
        break;
      }
      default: {
        const r =
          cmd.kind === 'create'
            ? c.create(cmd.path, cmd.data, { flags: cmd.flags })
            : cmd.kind === 'delete'
              ? c.delete(cmd.path, cmd.version)
              : cmd.kind === 'setData'
                ? c.setData(cmd.path, cmd.data, cmd.version)
                : c.multi([toMultiOp(cmd)]); // never generated: stand-alone check is not a client op
        answers.push({ err: r.err, path: (r as { path?: string }).path });
        if (model) {
          const e = model.apply(cmd as Sub, c.sessionId);
          expect({ err: r.err, path: (r as { path?: string }).path }).toEqual(e.err === OK ? e : { err: e.err, path: undefined });
        }
      }
    }
    // Every write reply carries the zxid of the latest txn.
    expect(c.closed ? h.core.lastZxid : c.log.at(-1)!.zxid).toBe(h.core.lastZxid);
  }
  return { answers, harness: h };
}

/** Every path in the core's tree below / (except /zookeeper), walked through the tree itself. */
function treePaths(tree: DataTree): Map<string, { data: string | null; version: number; owner: bigint }> {
  const out = new Map<string, { data: string | null; version: number; owner: bigint }>();
  const walk = (path: string) => {
    const node = tree.get(path)!;
    if (path !== '/') out.set(path, { data: text(node.data) ?? null, version: node.version, owner: node.ephemeralOwner });
    for (const name of node.children) if (!(path === '/' && name === 'zookeeper')) walk(childPath(path, name));
  };
  walk('/');
  return out;
}

describe('random write sequences against a reference model', () => {
  it('replies follow ZooKeeper\'s rules, the tree matches the model, and nothing throws', () => {
    fc.assert(
      fc.property(cmdsArb, (cmds) => {
        const model = new Model();
        const { harness } = runCommands(cmds, model);
        const expected = new Map(
          [...model.nodes].filter(([p]) => p !== '/').map(([p, n]) => [p, { data: n.data, version: n.version, owner: n.owner }]),
        );
        expect(treePaths(harness.core.tree)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('two cores fed the same txns reach the same tree digest; so does a bare DataTree replaying them', () => {
    fc.assert(
      fc.property(cmdsArb, (cmds) => {
        const one = runCommands(cmds).harness;
        const two = runCommands(cmds).harness;
        expect(two.txns).toEqual(one.txns);
        expect(two.core.tree.digest()).toBe(one.core.tree.digest());
        const bare = new DataTree();
        for (const txn of one.txns) bare.apply(txn);
        expect(bare.digest()).toBe(one.core.tree.digest());
        expect(bare.lastZxid).toBe(one.core.lastZxid);
      }),
      { numRuns: 150 },
    );
  });
});

describe('pipelined proposals (commits arrive late)', () => {
  it('give the same replies, in the same order, and the same tree as immediate commits', () => {
    const stepArb = fc.tuple(cmdArb, fc.nat({ max: 3 }));
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), (steps) => {
        const reference = runRaw(steps.map(([c]) => c), () => 0, true);
        const delayed = runRaw(steps.map(([c]) => c), (i) => steps[i]![1], false);
        expect(delayed.frames).toEqual(reference.frames);
        expect(delayed.digest).toBe(reference.digest);
      }),
      { numRuns: 200 },
    );
  });

  it('a delete prepared while an expiry closeSession is pending sees the ephemeral gone', () => {
    const h = new Harness();
    const a = h.connect({ timeoutMs: 4000 });
    const b = h.connect({ timeoutMs: 40000 });
    a.create('/e', null, { flags: CreateMode.EPHEMERAL });
    h.autoCommit = false;
    h.tick(8001);
    b.ping();
    expect(h.uncommitted.map((t) => t.body.type)).toEqual(['closeSession']);
    b.send(OpCode.delete, (w) => {
      w.ustring('/e');
      w.int(-1);
    });
    b.send(OpCode.create, (w) => {
      w.ustring('/e');
      w.buffer(null);
      w.int(1);
      w.int(31);
      w.ustring('world');
      w.ustring('anyone');
      w.int(0);
    });
    expect(() => h.commitPending()).not.toThrow();
    const replies = b.receive().filter((r) => r.xid > 0);
    expect(replies.map((r) => r.err)).toEqual([NONODE, OK]);
    expect(h.core.tree.get('/e')!.ephemeralOwner).toBe(0n);
  });

  it('sequential creates pipelined before their parent commits get consecutive suffixes', () => {
    const h = new Harness();
    const a = h.connect();
    h.autoCommit = false;
    const create = (path: string, flags: number) =>
      a.send(OpCode.create, (w) => {
        w.ustring(path);
        w.buffer(null);
        w.int(1);
        w.int(31);
        w.ustring('world');
        w.ustring('anyone');
        w.int(flags);
      });
    create('/q', 0);
    for (let i = 0; i < 3; i++) create('/q/s-', CreateMode.PERSISTENT_SEQUENTIAL);
    expect(a.receive()).toEqual([]);
    h.commitPending();
    const paths = a.receive().map((r) => new TextDecoder().decode(r.body.subarray(4)));
    expect(paths).toEqual(['/q', '/q/s-0000000000', '/q/s-0000000001', '/q/s-0000000002']);
  });
});

/** Runs commands sending raw frames; after command i, commits `commitsAfter(i)` pending txns (or all, when auto). */
function runRaw(cmds: Cmd[], commitsAfter: (i: number) => number, auto: boolean): { frames: Record<number, string[]>; digest: string } {
  const h = new Harness({ maxSessionTimeoutMs: 1_000_000 });
  const slots: Client[] = [h.connect({ timeoutMs: 1_000_000 }), h.connect({ timeoutMs: 1_000_000 })];
  h.autoCommit = auto;
  const frames: Record<number, string[]> = {};
  const collect = () => {
    for (const [conn, list] of h.outbox) {
      for (const f of list) {
        const r = decodeReply(f);
        (frames[conn] ??= []).push(`${r.xid} ${r.zxid} ${r.err} ${Buffer.from(r.body).toString('hex')}`);
      }
      list.length = 0;
    }
  };
  cmds.forEach((cmd, i) => {
    const c = slots[cmd.slot]!;
    switch (cmd.kind) {
      case 'close': {
        c.send(OpCode.closeSession);
        // A new session on a new connection; its ConnectResponse is collected like any frame.
        const next = h.connect({ timeoutMs: 1_000_000, handshake: false });
        const w = new JuteWriter();
        writeConnectRequest(w, { protocolVersion: 0, lastZxidSeen: 0n, timeOut: 1_000_000, sessionId: 0n, passwd: new Uint8Array(16), readOnly: false });
        next.raw(w.toBytes());
        slots[cmd.slot] = next;
        break;
      }
      case 'multi':
        c.send(OpCode.multi, (w) => {
          for (const op of cmd.ops.map(toMultiOp)) {
            w.int(op.type);
            w.bool(false);
            w.int(-1);
            writeSub(w, op);
          }
          w.int(-1);
          w.bool(true);
          w.int(-1);
        });
        break;
      default:
        c.send(toMultiOp(cmd as Sub).type, (w) => writeSub(w, toMultiOp(cmd as Sub)));
    }
    if (!auto) h.commitPending(Math.min(commitsAfter(i), h.uncommitted.length));
    collect();
  });
  h.commitPending();
  collect();
  return { frames, digest: h.core.tree.digest() };
}

function writeSub(w: JuteWriter, op: MultiOp): void {
  const r = op.request as Record<string, unknown>;
  w.ustring(r.path as string);
  switch (op.type) {
    case OpCode.create:
      w.buffer(r.data as Uint8Array | null);
      w.int(1);
      w.int(31);
      w.ustring('world');
      w.ustring('anyone');
      w.int(r.flags as number);
      break;
    case OpCode.setData:
      w.buffer(r.data as Uint8Array | null);
      w.int(r.version as number);
      break;
    default:
      w.int(r.version as number);
  }
}
