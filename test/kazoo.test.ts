// kazoo (Python, Debian python3-kazoo 2.8) against Corral.
//
// The scripts print JSON; the single-process ones print only deterministic facts (no zxids, times or
// session ids), so their output must be byte-for-byte the same against Apache ZooKeeper, which they are
// also run against when it is installed. The recipe tests run two separate Python processes (two
// sessions) that coordinate through marker files in a temp dir and record wall-clock timestamps, and
// check mutual exclusion, leader hand-over and barrier release from those records.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kazooAvailable, runPython, startCorral, startZooKeeper, runsHere, zookeeperAvailable, type ServerProcess } from '@corral/testing';

// In CI a missing dependency is a broken environment, not a reason to skip.
const kazooRuns = runsHere(kazooAvailable(), 'kazoo tests');
const withZooKeeper = runsHere(zookeeperAvailable(), 'kazoo-vs-Apache-ZooKeeper comparisons');

async function python(script: string, env: NodeJS.ProcessEnv, what: string): Promise<unknown> {
  const r = await runPython(script, env, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${what}: python exited with ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last);
  } catch {
    throw new Error(`${what}: no JSON on the last stdout line\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Single process: the basic API, one-shot watches and the DataWatch / ChildrenWatch helpers.

const BASICS = String.raw`
import json, os, threading, time
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl, make_acl

out = {}
def err(fn):
    try:
        r = fn()
        return {"ok": repr(r)}
    except Exception as e:
        return {"error": type(e).__name__}

def st(s):
    return {k: getattr(s, k) for k in ("version", "cversion", "aversion", "dataLength", "numChildren")}

def res(r):
    if isinstance(r, Exception):
        return type(r).__name__
    if r is None or isinstance(r, (str, bool)):
        return r
    return st(r)

zk = KazooClient(hosts=os.environ["ZK_HOSTS"], timeout=10)
zk.start(timeout=15)
sid = zk.client_id[0]
out["ruok"] = zk.command(b"ruok")
v = zk.server_version()
out["server_version_ok"] = isinstance(v, tuple) and len(v) >= 3 and all(isinstance(x, int) for x in v)
out["ensure_path"] = zk.ensure_path("/k/a/b")
out["ensure_path_again"] = zk.ensure_path("/k/a/b")
out["create"] = zk.create("/k/node", b"v1")
out["create_exists"] = err(lambda: zk.create("/k/node", b"x"))
out["create_no_parent"] = err(lambda: zk.create("/k/missing/child"))
out["create_makepath"] = zk.create("/k/deep/er/node", b"d", makepath=True)
p, s = zk.create("/k/withstat", b"12345", include_data=True)
out["create2"] = [p, st(s), s.czxid == s.mzxid == s.pzxid]
data, s = zk.get("/k/node")
out["get"] = [data.decode(), st(s)]
s2 = zk.set("/k/node", b"v2", version=0)
out["set"] = [st(s2), s2.mzxid > s2.czxid, s2.czxid == s.czxid]
out["set_bad_version"] = err(lambda: zk.set("/k/node", b"v3", version=0))
out["set_missing"] = err(lambda: zk.set("/k/nope", b"x"))
out["get_missing"] = err(lambda: zk.get("/k/nope"))
out["exists_missing"] = zk.exists("/k/nope")
out["exists"] = st(zk.exists("/k/node"))
out["children"] = sorted(zk.get_children("/k"))
ch, s = zk.get_children("/k", include_data=True)
out["children_stat"] = [sorted(ch), st(s)]
e = zk.create("/k/eph", b"e", ephemeral=True)
out["ephemeral_owner_is_me"] = zk.exists(e).ephemeralOwner == sid
out["ephemeral_child"] = err(lambda: zk.create("/k/eph/c"))
s1 = zk.create("/k/seq-", b"", ephemeral=True, sequence=True)
s2 = zk.create("/k/seq-", b"", sequence=True)
out["sequence"] = [s1, s2]
out["delete_not_empty"] = err(lambda: zk.delete("/k/deep"))
out["delete_bad_version"] = err(lambda: zk.delete("/k/node", version=7))
zk.delete("/k/deep", recursive=True)
out["after_recursive_delete"] = zk.exists("/k/deep")
out["delete_missing"] = err(lambda: zk.delete("/k/deep"))
zk.create("/k/empty", b"")
out["unicode"] = zk.create("/k/ünï", "ü€😀".encode()) and zk.get("/k/ünï")[0].decode()

# transactions
t = zk.transaction()
t.create("/k/tx", b"t")
t.check("/k/node", 1)
t.set_data("/k/node", b"v3")
t.delete("/k/empty")
out["txn_ok"] = [res(r) for r in t.commit()]
t = zk.transaction()
t.create("/k/tx2", b"t")
t.check("/k/node", 99)
t.delete("/k/a")
out["txn_fail"] = [res(r) for r in t.commit()]
out["txn_fail_rolled_back"] = zk.exists("/k/tx2")

# acls
acl = make_digest_acl("user", "pw", all=True)
zk.create("/k/secure", b"s", acl=[acl])
out["noauth_get"] = err(lambda: zk.get("/k/secure"))
out["get_acls_noauth"] = err(lambda: zk.get_acls("/k/secure"))
zk.add_auth("digest", "user:pw")
out["auth_get"] = zk.get("/k/secure")[0].decode()
acls, s = zk.get_acls("/k/secure")
out["get_acls"] = [[a.perms, a.id.scheme, a.id.id] for a in acls]
out["set_acls"] = st(zk.set_acls("/k/secure", [make_acl("world", "anyone", read=True)]))
out["after_set_acls"] = [[a.perms, a.id.scheme, a.id.id] for a in zk.get_acls("/k/secure")[0]]
out["invalid_acl"] = err(lambda: zk.create("/k/bad", acl=[make_acl("nope", "x", read=True)]))
out["sync"] = zk.sync("/k")

# one-shot watches via get/exists/get_children(watch=...)
events = []
cond = threading.Condition()
def w(ev):
    with cond:
        events.append([ev.type, ev.path])
        cond.notify_all()
def wait_events(n):
    with cond:
        cond.wait_for(lambda: len(events) >= n, timeout=10)
zk.get("/k/node", watch=w)
zk.exists("/k/new", watch=w)
zk.get_children("/k/a", watch=w)
zk.set("/k/node", b"changed")
zk.create("/k/new")
zk.create("/k/a/kid")
zk.set("/k/node", b"again")  # get watch already fired: no second event
zk.delete("/k/a/kid")        # child watch already fired
wait_events(3)
time.sleep(0.3)
out["oneshot_events"] = sorted(events)

# DataWatch and ChildrenWatch recipes
dw, cw = [], []
@zk.DataWatch("/k/dw")
def on_data(data, stat, event=None):
    dw.append([None if data is None else data.decode(), None if stat is None else stat.version, None if event is None else event.type])
zk.create("/k/dw", b"one")
zk.ensure_path("/k/cw")
@zk.ChildrenWatch("/k/cw")
def on_children(children):
    cw.append(sorted(children))
zk.set("/k/dw", b"two")
zk.create("/k/cw/x")
zk.create("/k/cw/y")
zk.delete("/k/cw/x")
zk.delete("/k/dw")
deadline = time.time() + 10
while time.time() < deadline and (len(dw) < 4 or cw[-1:] != [["y"]]):
    time.sleep(0.05)
out["data_watch"] = dw
out["children_watch_last"] = cw[-1]
out["children_watch_first"] = cw[0]
zk.stop()
zk.close()
print(json.dumps(out, sort_keys=True, default=repr))
`;

const st = (version: number, dataLength: number, extra: { cversion?: number; aversion?: number; numChildren?: number } = {}) => ({
  version,
  cversion: extra.cversion ?? 0,
  aversion: extra.aversion ?? 0,
  dataLength,
  numChildren: extra.numChildren ?? 0,
});

const EXPECTED_BASICS = {
  ruok: 'imok',
  server_version_ok: true, // kazoo parses zookeeper.version from the envi four-letter word
  ensure_path: '/k/a/b',
  ensure_path_again: true,
  create: '/k/node',
  create_exists: { error: 'NodeExistsError' },
  create_no_parent: { error: 'NoNodeError' },
  create_makepath: '/k/deep/er/node',
  create2: ['/k/withstat', st(0, 5), true],
  get: ['v1', st(0, 2)],
  set: [st(1, 2), true, true],
  set_bad_version: { error: 'BadVersionError' },
  set_missing: { error: 'NoNodeError' },
  get_missing: { error: 'NoNodeError' },
  exists_missing: null,
  exists: st(1, 2),
  children: ['a', 'deep', 'node', 'withstat'],
  children_stat: [['a', 'deep', 'node', 'withstat'], st(0, 0, { cversion: 4, numChildren: 4 })],
  ephemeral_owner_is_me: true,
  ephemeral_child: { error: 'NoChildrenForEphemeralsError' },
  // /k's cversion counts the children created so far (a, node, deep, withstat, eph).
  sequence: ['/k/seq-0000000005', '/k/seq-0000000006'],
  delete_not_empty: { error: 'NotEmptyError' },
  delete_bad_version: { error: 'BadVersionError' },
  after_recursive_delete: null,
  delete_missing: { error: 'NoNodeError' },
  unicode: 'ü€😀',
  txn_ok: ['/k/tx', true, st(2, 2), true],
  txn_fail: ['RolledBackError', 'BadVersionError', 'RuntimeInconsistency'],
  txn_fail_rolled_back: null,
  noauth_get: { error: 'NoAuthError' },
  get_acls_noauth: { error: 'NoAuthError' },
  auth_get: 's',
  get_acls: [[31, 'digest', 'user:2Om+GBbT2q/tS6pdvACZbbm7/1A=']],
  set_acls: st(0, 1, { aversion: 1 }),
  after_set_acls: [[1, 'world', 'anyone']],
  invalid_acl: { error: 'InvalidACLError' },
  sync: '/k',
  oneshot_events: [
    ['CHANGED', '/k/node'],
    ['CHILD', '/k/a'],
    ['CREATED', '/k/new'],
  ],
  data_watch: [
    [null, null, null],
    ['one', 0, 'CREATED'],
    ['two', 1, 'CHANGED'],
    [null, null, 'DELETED'],
  ],
  children_watch_first: [],
  children_watch_last: ['y'],
};

// ---------------------------------------------------------------------------------------------------
// Single process, two KazooClient sessions: recipes whose result does not depend on timing.

const MORE_RECIPES = String.raw`
import json, os, threading, time
from kazoo.client import KazooClient
from kazoo.recipe.cache import TreeCache, TreeEvent
out = {}
def client():
    c = KazooClient(hosts=os.environ["ZK_HOSTS"], timeout=10); c.start(timeout=15); return c
a, b = client(), client()
# Semaphore with two leases, three holders
s1 = a.Semaphore("/more/sem", "a1", max_leases=2)
s2 = b.Semaphore("/more/sem", "b1", max_leases=2)
s3 = b.Semaphore("/more/sem", "b2", max_leases=2)
out["sem"] = [s1.acquire(timeout=5), s2.acquire(timeout=5), s3.acquire(blocking=False), sorted(s1.lease_holders())]
s1.release()
out["sem_after_release"] = [s3.acquire(timeout=5), sorted(s2.lease_holders())]
# Read/write locks
r1 = a.ReadLock("/more/rw", "r1"); r2 = b.ReadLock("/more/rw", "r2"); w = b.WriteLock("/more/rw", "w")
out["rw"] = [r1.acquire(timeout=5), r2.acquire(timeout=5), w.acquire(blocking=False)]
r1.release(); r2.release()
out["rw_after"] = [w.acquire(timeout=5), a.ReadLock("/more/rw", "r3").acquire(blocking=False)]
w.release()
# Party
p1 = a.Party("/more/party", "alice"); p2 = b.Party("/more/party", "bob")
p1.join(); p2.join()
out["party"] = [sorted(p1), len(p2)]
p2.leave()
out["party_after"] = sorted(p1)
# Queues
q = a.Queue("/more/queue")
for x in [b"1", b"2", b"3"]: q.put(x)
q.put(b"urgent", priority=1)
q2 = b.Queue("/more/queue")
out["queue"] = [q2.get().decode() for _ in range(4)] + [q2.get()]
lq = a.LockingQueue("/more/lq")
lq.put(b"job1"); lq.put(b"job2")
lq2 = b.LockingQueue("/more/lq")
got = lq2.get(timeout=5)
out["lockingqueue"] = [got.decode(), lq2.consume(), len(lq), lq.get(timeout=5).decode(), lq.holds_lock(), lq.release(), len(lq)]
# TreeCache
events = []
cond = threading.Condition()
cache = TreeCache(a, "/more/tree")
def listener(ev):
    with cond:
        events.append([ev.event_type, None if ev.event_data is None else ev.event_data.path])
        cond.notify_all()
cache.listen(listener)
b.ensure_path("/more/tree")
cache.start()
def wait(pred):
    with cond: cond.wait_for(pred, timeout=10)
wait(lambda: any(e[0] == TreeEvent.INITIALIZED for e in events))
b.create("/more/tree/x", b"1")
b.create("/more/tree/x/y", b"2")
wait(lambda: any(e == [TreeEvent.NODE_ADDED, "/more/tree/x/y"] for e in events))
b.set("/more/tree/x", b"1b")
wait(lambda: any(e[0] == TreeEvent.NODE_UPDATED for e in events))
out["tree_data"] = cache.get_data("/more/tree/x").data.decode()
b.delete("/more/tree/x", recursive=True)
wait(lambda: any(e == [TreeEvent.NODE_REMOVED, "/more/tree/x"] for e in events))
cache.close()
names = {v: k for k, v in vars(TreeEvent).items() if k.isupper()}
out["tree_events"] = [[names.get(t, t), p] for t, p in events]
a.stop(); b.stop()
print(json.dumps(out, sort_keys=True))
`;

const EXPECTED_MORE_RECIPES = {
  sem: [true, true, false, ['a1', 'b1']],
  sem_after_release: [true, ['b1', 'b2']],
  rw: [true, true, false],
  rw_after: [true, false],
  party: [['alice', 'bob'], 2],
  party_after: ['alice'],
  queue: ['urgent', '1', '2', '3', null],
  lockingqueue: ['job1', true, 1, 'job2', true, true, 1],
  tree_data: '1b',
  tree_events: [
    ['NODE_ADDED', '/more/tree'],
    ['INITIALIZED', null],
    ['NODE_ADDED', '/more/tree/x'],
    ['NODE_ADDED', '/more/tree/x/y'],
    ['NODE_UPDATED', '/more/tree/x'],
    ['NODE_REMOVED', '/more/tree/x/y'],
    ['NODE_REMOVED', '/more/tree/x'],
  ],
};

// ---------------------------------------------------------------------------------------------------
// Two processes (ROLE A and B, one session each), coordinating through marker files in SIGNAL_DIR.

const RECIPES = String.raw`
import json, os, sys, time
from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout

ROLE = os.environ["ROLE"]
SCENARIO = os.environ["SCENARIO"]
SIG = os.environ["SIGNAL_DIR"]
log = []
def mark(what, **kw):
    log.append(dict(what=what, t=time.time(), **kw))
def touch(name):
    open(os.path.join(SIG, name), "w").close()
def wait_for(name, timeout=30):
    deadline = time.time() + timeout
    while not os.path.exists(os.path.join(SIG, name)):
        if time.time() > deadline:
            raise Exception(ROLE + " timed out waiting for " + name)
        time.sleep(0.02)
def done():
    print(json.dumps(log))
    sys.stdout.flush()

zk = KazooClient(hosts=os.environ["ZK_HOSTS"], timeout=float(os.environ.get("SESSION_TIMEOUT", "10")))
zk.start(timeout=15)

if SCENARIO == "lock":
    lock = zk.Lock("/recipes/lock", ROLE)
    if ROLE == "A":
        lock.acquire(timeout=10); mark("acquired"); touch("A-has-lock")
        wait_for("B-waiting"); time.sleep(1.0)
        mark("contenders", value=lock.contenders())
        mark("releasing"); lock.release()
    else:
        wait_for("A-has-lock")
        mark("nonblocking", value=lock.acquire(blocking=False))
        try:
            lock.acquire(timeout=0.5); mark("timeout", value="acquired!")
        except LockTimeout:
            mark("timeout", value="LockTimeout")
        touch("B-waiting")
        mark("trying"); lock.acquire(timeout=20); mark("acquired")
        mark("contenders", value=lock.contenders())
        lock.release()
    touch(ROLE + "-phase1")
    wait_for("A-phase1"); wait_for("B-phase1")
    # Phase 2: both hammer the lock; the critical sections must not overlap.
    shared = os.path.join(SIG, "critical.log")
    for i in range(8):
        with lock:
            with open(shared, "a") as f: f.write("enter %s\n" % ROLE)
            time.sleep(0.03)
            with open(shared, "a") as f: f.write("exit %s\n" % ROLE)
    mark("hammered")
elif SCENARIO == "election":
    el = zk.Election("/recipes/election", ROLE)
    if ROLE == "A":
        def lead():
            mark("leader"); touch("A-leader")
            wait_for("B-contending"); time.sleep(0.5)
            mark("contenders", value=el.contenders())
            mark("crash"); done()
            os._exit(0)  # no session close: the server must expire the session
        el.run(lead)
    else:
        wait_for("A-leader")
        def lead():
            mark("leader"); mark("contenders", value=el.contenders())
        touch("B-contending")
        mark("waiting")
        el.run(lead)
elif SCENARIO == "barrier":
    b = zk.Barrier("/recipes/barrier")
    if ROLE == "A":
        mark("create", value=b.create()); touch("A-created")
        wait_for("B-waiting"); time.sleep(1.0)
        mark("removing"); mark("remove", value=b.remove())
    else:
        wait_for("A-created")
        mark("wait-timeout", value=b.wait(timeout=0.3))
        touch("B-waiting")
        mark("waiting"); ok = b.wait(timeout=20); mark("passed", value=ok)
        mark("wait-again", value=b.wait(timeout=0.1))
elif SCENARIO == "counter":
    c = zk.Counter("/recipes/counter")
    touch(ROLE + "-ready"); wait_for("A-ready"); wait_for("B-ready")
    for i in range(25):
        c += 1
    touch(ROLE + "-done"); wait_for("A-done"); wait_for("B-done")
    mark("final", value=c.value)
zk.stop(); zk.close()
done()
`;

interface Mark {
  what: string;
  t: number;
  value?: unknown;
}

/** Run roles A and B of a scenario concurrently against one server; returns their marks. */
async function twoProcesses(
  server: ServerProcess,
  scenario: string,
  sessionTimeoutSeconds = 10,
): Promise<{ a: Mark[]; b: Mark[]; signalDir: string }> {
  const signalDir = await mkdtemp(join(tmpdir(), `corral-kazoo-${scenario}-`));
  const env = (role: string) => ({
    ZK_HOSTS: server.connectString,
    ROLE: role,
    SCENARIO: scenario,
    SIGNAL_DIR: signalDir,
    SESSION_TIMEOUT: String(sessionTimeoutSeconds),
  });
  const [a, b] = await Promise.all(
    ['A', 'B'].map((role) => python(RECIPES, env(role), `${scenario} role ${role} on ${server.name}`) as Promise<Mark[]>),
  );
  return { a: a!, b: b!, signalDir };
}

function mark(marks: Mark[], what: string): Mark {
  const found = marks.find((m) => m.what === what);
  if (!found) throw new Error(`no "${what}" mark in ${JSON.stringify(marks)}`);
  return found;
}

describe.skipIf(!kazooRuns)('kazoo against Corral', () => {
  const servers: ServerProcess[] = [];
  const tmpDirs: string[] = [];
  let zookeeper: ServerProcess | undefined;
  /** Corral, and Apache ZooKeeper when installed: every scenario runs on each and must pass on each. */
  let targets: ServerProcess[];

  beforeAll(async () => {
    const started = await Promise.all([startCorral(), ...(withZooKeeper ? [startZooKeeper()] : [])]);
    servers.push(...started);
    zookeeper = started[1];
    targets = started;
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.cleanup()));
    await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('basic operations, transactions, ACLs and watches give the same results as on ZooKeeper', async () => {
    const [onCorral, onZooKeeper] = await Promise.all(
      targets.map((s) => python(BASICS, { ZK_HOSTS: s.connectString }, `basics on ${s.name}`)),
    );
    expect(onCorral).toEqual(EXPECTED_BASICS);
    if (zookeeper) expect(onZooKeeper, 'the same script against Apache ZooKeeper').toEqual(onCorral);
  });

  it('Semaphore, ReadLock/WriteLock, Party, Queue, LockingQueue and TreeCache across two sessions', async () => {
    const [onCorral, onZooKeeper] = await Promise.all(
      targets.map((s) => python(MORE_RECIPES, { ZK_HOSTS: s.connectString }, `more recipes on ${s.name}`)),
    );
    expect(onCorral).toEqual(EXPECTED_MORE_RECIPES);
    if (zookeeper) expect(onZooKeeper, 'the same script against Apache ZooKeeper').toEqual(onCorral);
  });

  it('Lock: the second process blocks until the first releases; critical sections never overlap', async () => {
    await Promise.all(
      targets.map(async (server) => {
        const { a, b, signalDir } = await twoProcesses(server, 'lock');
        tmpDirs.push(signalDir);
        const label = `${server.name}: A=${JSON.stringify(a)} B=${JSON.stringify(b)}`;
        expect(mark(b, 'nonblocking').value, label).toBe(false);
        expect(mark(b, 'timeout').value, label).toBe('LockTimeout');
        // While B waits, both are contenders, A first; B gets the lock only after A released it.
        expect(mark(a, 'contenders').value, label).toEqual(['A', 'B']);
        expect(mark(b, 'acquired').t, label).toBeGreaterThanOrEqual(mark(a, 'releasing').t);
        expect(mark(b, 'acquired').t - mark(b, 'trying').t, label).toBeGreaterThan(0.5); // A held it ~1 s longer
        expect(mark(b, 'contenders').value, label).toEqual(['B']);
        // Phase 2: 8 + 8 critical sections from the two processes, strictly enter/exit alternating.
        const lines = (await readFile(join(signalDir, 'critical.log'), 'utf8')).trim().split('\n');
        expect(lines, label).toHaveLength(32);
        for (let i = 0; i < lines.length; i += 2) {
          expect(lines[i], `${label}\n${lines.join('\n')}`).toMatch(/^enter [AB]$/);
          expect(lines[i + 1], `${label}\n${lines.join('\n')}`).toBe(lines[i]!.replace('enter', 'exit'));
        }
        expect(lines.filter((l) => l === 'enter A')).toHaveLength(8);
        expect(lines.filter((l) => l === 'enter B')).toHaveLength(8);
      }),
    );
  });

  it('Election: one leader; when its process dies, the other becomes leader once the session expires', async () => {
    await Promise.all(
      targets.map(async (server) => {
        // 4 s sessions (the minimum with tickTime 2000); A exits without closing its session.
        const { a, b, signalDir } = await twoProcesses(server, 'election', 4);
        tmpDirs.push(signalDir);
        const label = `${server.name}: A=${JSON.stringify(a)} B=${JSON.stringify(b)}`;
        expect(a.map((m) => m.what), label).toEqual(['leader', 'contenders', 'crash']);
        expect(mark(a, 'contenders').value, label).toEqual(['A', 'B']);
        expect(b.map((m) => m.what), label).toEqual(['waiting', 'leader', 'contenders']);
        expect(mark(b, 'contenders').value, label).toEqual(['B']);
        // B leads only after A's session expired: about the session timeout after A's death.
        const handover = mark(b, 'leader').t - mark(a, 'crash').t;
        expect(handover, label).toBeGreaterThan(2.5);
        expect(handover, label).toBeLessThan(15);
      }),
    );
  });

  it('Barrier: a waiter blocks until another process removes the barrier', async () => {
    await Promise.all(
      targets.map(async (server) => {
        const { a, b, signalDir } = await twoProcesses(server, 'barrier');
        tmpDirs.push(signalDir);
        const label = `${server.name}: A=${JSON.stringify(a)} B=${JSON.stringify(b)}`;
        expect(mark(b, 'wait-timeout').value, label).toBe(false);
        expect(mark(a, 'remove').value, label).toBe(true);
        expect(mark(b, 'passed').value, label).toBe(true);
        expect(mark(b, 'passed').t, label).toBeGreaterThanOrEqual(mark(a, 'removing').t);
        expect(mark(b, 'passed').t - mark(b, 'waiting').t, label).toBeGreaterThan(0.5); // A waited ~1 s
        expect(mark(b, 'wait-again').value, label).toBe(true);
      }),
    );
  });

  it('Counter: concurrent increments from two processes are not lost (versioned set)', async () => {
    await Promise.all(
      targets.map(async (server) => {
        const { a, b, signalDir } = await twoProcesses(server, 'counter');
        tmpDirs.push(signalDir);
        expect(mark(a, 'final').value, server.name).toBe(50);
        expect(mark(b, 'final').value, server.name).toBe(50);
      }),
    );
  });
});
