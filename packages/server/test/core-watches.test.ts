/**
 * ServerCore watch semantics (fact sheet §3.4, §7.3–7.6), driven through the pure core.
 */
import { describe, expect, it } from 'vitest';
import { AddWatchMode, CreateMode, ErrorCode, EventType, OpCode, Perms, Xid, WatcherType } from '@corral/protocol';
import { Harness, OPEN, digest, world, type Client } from './coreDriver.js';
import { digestId } from '../src/core/acl.js';

const { OK, NONODE, NOWATCHER, MARSHALLINGERROR } = ErrorCode;
const { NodeCreated, NodeDeleted, NodeDataChanged, NodeChildrenChanged } = EventType;

function setup() {
  const h = new Harness();
  const a = h.connect();
  const b = h.connect();
  return { h, a, b };
}

/** Events as [type, path] pairs, taken from the client. */
const events = (c: Client) => c.takeEvents().map((e) => [e.type, e.path]);

describe('standard watches (§7.3, §7.4)', () => {
  it('exists on a missing node sets a data watch: NodeCreated once, with the txn zxid (3.9)', () => {
    const { a, b } = setup();
    expect(b.exists('/n', true).err).toBe(NONODE);
    expect(b.exists('/n', true).err).toBe(NONODE); // same watch twice: still one event
    const created = a.create('/n', 'x');
    expect(b.takeEvents()).toEqual([{ type: NodeCreated, state: 3, path: '/n', zxid: created.zxid }]);
    a.delete('/n');
    a.create('/n');
    expect(events(b)).toEqual([]); // one-shot
  });

  it('getData sets a data watch (fires on setData even with identical bytes and on delete); not set on NONODE', () => {
    const { a, b } = setup();
    a.create('/d', 'same');
    b.getData('/d', true);
    b.getData('/d', true);
    a.setData('/d', 'same');
    expect(events(b)).toEqual([[NodeDataChanged, '/d']]);
    b.getData('/d', true);
    a.delete('/d');
    expect(events(b)).toEqual([[NodeDeleted, '/d']]);
    expect(b.getData('/d', true).err).toBe(NONODE);
    a.create('/d');
    expect(events(b)).toEqual([]);
  });

  it('getChildren sets a child watch: NodeChildrenChanged on child create and delete, not on the child data', () => {
    const { a, b } = setup();
    a.create('/p');
    b.getChildren('/p', true);
    a.setData('/p', 'x'); // data change of the watched node: not a child event
    a.create('/p/c');
    expect(events(b)).toEqual([[NodeChildrenChanged, '/p']]);
    b.getChildren2('/p', true);
    a.setData('/p/c', 'x');
    a.delete('/p/c');
    expect(events(b)).toEqual([[NodeChildrenChanged, '/p']]);
  });

  it('delete: one NodeDeleted per connection holding both data and child watches; the parent gets NodeChildrenChanged', () => {
    const { a, b } = setup();
    a.create('/p');
    a.create('/p/n');
    b.getData('/p/n', true);
    b.getChildren('/p/n', true);
    b.exists('/p/n', true);
    b.getChildren('/p', true);
    a.getChildren('/p/n', true);
    const del = a.delete('/p/n');
    expect(b.takeEvents()).toEqual([
      { type: NodeDeleted, state: 3, path: '/p/n', zxid: del.zxid },
      { type: NodeChildrenChanged, state: 3, path: '/p', zxid: del.zxid },
    ]);
    expect(a.events).toEqual([{ type: NodeDeleted, state: 3, path: '/p/n', zxid: del.zxid }]);
    // Both one-shot watches were consumed.
    expect(b.checkWatches('/p/n', WatcherType.Any).err).toBe(NOWATCHER);
  });

  it('setACL fires no watch (§7.4)', () => {
    const { a, b } = setup();
    a.create('/n');
    b.getData('/n', true);
    b.getChildren('/n', true);
    expect(a.setACL('/n', OPEN).err).toBe(OK);
    expect(events(b)).toEqual([]);
    expect(b.checkWatches('/n', WatcherType.Data).err).toBe(OK);
  });

  it('queues the notification before the reply to the write that caused it, on the same connection (§3.4)', () => {
    const { a } = setup();
    a.create('/n');
    a.getData('/n', true);
    a.receive();
    const from = a.log.length;
    const r = a.setData('/n', 'v');
    expect(a.log.slice(from).map((f) => f.xid)).toEqual([Xid.NOTIFICATION, r.xid]);
    expect(a.events).toEqual([{ type: NodeDataChanged, state: 3, path: '/n', zxid: r.zxid }]);
  });

  it('a closed connection loses its watches; watches belong to the connection, not the session', () => {
    const { h, a, b } = setup();
    a.create('/n');
    b.getData('/n', true);
    h.core.connectionClosed(b.conn);
    a.setData('/n', 'x');
    expect(h.take(b.conn)).toEqual([]);
    const b2 = h.connect({ sessionId: b.sessionId, passwd: b.passwd });
    a.setData('/n', 'y');
    expect(events(b2)).toEqual([]);
    expect(h.core.watches.stats().watches).toBe(0);
  });

  it('notifications of ephemerals deleted by a session close carry the closeSession zxid', () => {
    const { a, b } = setup();
    a.create('/e', null, { flags: CreateMode.EPHEMERAL });
    b.exists('/e', true);
    const close = a.closeSession();
    expect(b.takeEvents()).toEqual([{ type: NodeDeleted, state: 3, path: '/e', zxid: close.zxid }]);
  });
});

describe('persistent and recursive watches (§7.6)', () => {
  it('addWatch answers a 4-byte ErrorResponse; an unknown mode is a MARSHALLINGERROR', () => {
    const { a } = setup();
    const ok = a.call(OpCode.addWatch, (w) => {
      w.ustring('/x');
      w.int(AddWatchMode.PERSISTENT);
    });
    expect(ok.err).toBe(OK);
    expect([...ok.body]).toEqual([0, 0, 0, 0]);
    expect(a.addWatch('/x', 2).err).toBe(MARSHALLINGERROR);
    expect(a.addWatch('/x', -1).err).toBe(MARSHALLINGERROR);
  });

  it('a persistent watch sees all four event types on its path and stays', () => {
    const { a, b } = setup();
    b.addWatch('/p', AddWatchMode.PERSISTENT);
    a.create('/p');
    a.setData('/p', '1');
    a.setData('/p', '2');
    a.create('/p/c');
    a.create('/p/c/deep'); // not on its path
    a.setData('/p/c', 'x'); // not on its path
    a.delete('/p/c/deep');
    a.delete('/p/c');
    a.delete('/p');
    a.create('/p');
    expect(events(b)).toEqual([
      [NodeCreated, '/p'],
      [NodeDataChanged, '/p'],
      [NodeDataChanged, '/p'],
      [NodeChildrenChanged, '/p'],
      [NodeChildrenChanged, '/p'],
      [NodeDeleted, '/p'],
      [NodeCreated, '/p'],
    ]);
  });

  it('a recursive watch sees the path and every descendant, with the changed path, and never NodeChildrenChanged', () => {
    const { a, b } = setup();
    b.addWatch('/r', AddWatchMode.PERSISTENT_RECURSIVE);
    a.create('/r');
    a.create('/r/x');
    a.create('/r/x/y', 'v');
    a.setData('/r/x/y', 'w');
    a.create('/rx'); // a sibling with the same prefix is not a descendant
    a.delete('/r/x/y');
    a.setData('/r', 'top');
    expect(events(b)).toEqual([
      [NodeCreated, '/r'],
      [NodeCreated, '/r/x'],
      [NodeCreated, '/r/x/y'],
      [NodeDataChanged, '/r/x/y'],
      [NodeDeleted, '/r/x/y'],
      [NodeDataChanged, '/r'],
    ]);
  });

  it('a recursive watch on / sees everything', () => {
    const { a, b } = setup();
    b.addWatch('/', AddWatchMode.PERSISTENT_RECURSIVE);
    a.create('/a');
    a.create('/a/b');
    expect(events(b)).toEqual([
      [NodeCreated, '/a'],
      [NodeCreated, '/a/b'],
    ]);
  });

  it('one change gives one event per connection even when standard, persistent and recursive watches overlap', () => {
    const { a, b } = setup();
    a.create('/o');
    a.create('/o/n');
    b.addWatch('/o', AddWatchMode.PERSISTENT_RECURSIVE);
    b.addWatch('/o/n', AddWatchMode.PERSISTENT);
    b.addWatch('/o/n', AddWatchMode.PERSISTENT_RECURSIVE);
    b.getData('/o/n', true);
    b.getChildren('/o/n', true);
    a.setData('/o/n', 'x');
    expect(events(b)).toEqual([[NodeDataChanged, '/o/n']]);
    a.delete('/o/n');
    expect(events(b)).toEqual([[NodeDeleted, '/o/n']]);
  });
});

describe('checkWatches and removeWatches (§7.6)', () => {
  it('match by WatcherType; checkWatches does not remove; NOWATCHER when nothing matches', () => {
    const { a, b } = setup();
    a.create('/n');
    expect(b.checkWatches('/n', WatcherType.Any).err).toBe(NOWATCHER);
    b.getData('/n', true);
    expect(b.checkWatches('/n', WatcherType.Data).err).toBe(OK);
    expect(b.checkWatches('/n', WatcherType.Children).err).toBe(NOWATCHER);
    expect(b.checkWatches('/n', WatcherType.Any).err).toBe(OK);
    expect(b.checkWatches('/n', WatcherType.Persistent).err).toBe(NOWATCHER);
    expect(a.checkWatches('/n', WatcherType.Any).err).toBe(NOWATCHER); // watches are per connection
    b.getChildren('/n', true);
    expect(b.removeWatches('/n', WatcherType.Data).err).toBe(OK);
    expect(b.removeWatches('/n', WatcherType.Data).err).toBe(NOWATCHER);
    expect(b.checkWatches('/n', WatcherType.Children).err).toBe(OK);
    a.setData('/n', 'x');
    expect(events(b)).toEqual([]);
    a.create('/n/c');
    expect(events(b)).toEqual([[NodeChildrenChanged, '/n']]);
  });

  it('Persistent (4) and PersistentRecursive (5) types; Any removes persistent ones too', () => {
    const { a, b } = setup();
    b.addWatch('/p', AddWatchMode.PERSISTENT);
    b.addWatch('/r', AddWatchMode.PERSISTENT_RECURSIVE);
    expect(b.checkWatches('/p', WatcherType.Persistent).err).toBe(OK);
    expect(b.checkWatches('/p', WatcherType.PersistentRecursive).err).toBe(NOWATCHER);
    expect(b.checkWatches('/p', WatcherType.Data).err).toBe(NOWATCHER); // standard only
    expect(b.checkWatches('/r', WatcherType.PersistentRecursive).err).toBe(OK);
    expect(b.checkWatches('/r', WatcherType.Persistent).err).toBe(NOWATCHER);
    expect(b.removeWatches('/r', WatcherType.PersistentRecursive).err).toBe(OK);
    expect(b.removeWatches('/p', WatcherType.Any).err).toBe(OK);
    a.create('/p');
    a.create('/r');
    a.create('/r/x');
    expect(events(b)).toEqual([]);
    expect(h0(b)).toBe(0);
  });

  it('an unknown WatcherType is a MARSHALLINGERROR (WatcherType.fromInt throws)', () => {
    const { b } = setup();
    for (const type of [0, 6, 9, -1]) {
      expect(b.checkWatches('/n', type).err).toBe(MARSHALLINGERROR);
      expect(b.removeWatches('/n', type).err).toBe(MARSHALLINGERROR);
    }
  });
});

function h0(c: Client): number {
  return c.harness.core.watches.stats().watches;
}

describe('setWatches / setWatches2 catch-up (§7.5)', () => {
  function prepared() {
    const s = setup();
    const { a } = s;
    a.create('/same', 'x');
    a.create('/changed', 'x');
    a.create('/gone', 'x');
    a.create('/kids');
    a.create('/quiet');
    const mark = a.ping().zxid;
    a.setData('/changed', 'y');
    a.delete('/gone');
    a.create('/kids/k');
    a.create('/born');
    return { ...s, mark };
  }

  it('fires catch-up events with zxid -1, in list order, before the reply; registers the rest', () => {
    const { a, b, mark } = prepared();
    b.receive();
    const from = b.log.length;
    const reply = b.setWatches(
      mark,
      { data: ['/same', '/changed', '/gone'], exist: ['/born', '/unborn'], child: ['/kids', '/quiet', '/gone'] },
      Xid.SET_WATCHES,
    );
    expect(reply).toMatchObject({ xid: Xid.SET_WATCHES, err: OK });
    const frames = b.log.slice(from);
    expect(frames.map((f) => f.xid)).toEqual([-1, -1, -1, -1, -1, Xid.SET_WATCHES]);
    expect(b.takeEvents()).toEqual([
      { type: NodeDataChanged, state: 3, path: '/changed', zxid: -1n },
      { type: NodeDeleted, state: 3, path: '/gone', zxid: -1n },
      { type: NodeCreated, state: 3, path: '/born', zxid: -1n },
      { type: NodeChildrenChanged, state: 3, path: '/kids', zxid: -1n },
      { type: NodeDeleted, state: 3, path: '/gone', zxid: -1n },
    ]);
    // The registered ones fire later, with the txn zxid.
    const s = a.setData('/same', 'z');
    const u = a.create('/unborn');
    const q = a.create('/quiet/q');
    expect(b.takeEvents()).toEqual([
      { type: NodeDataChanged, state: 3, path: '/same', zxid: s.zxid },
      { type: NodeCreated, state: 3, path: '/unborn', zxid: u.zxid },
      { type: NodeChildrenChanged, state: 3, path: '/quiet', zxid: q.zxid },
    ]);
  });

  it('relativeZxid at the latest zxid means nothing to catch up', () => {
    const { a, b } = prepared();
    const now = a.ping().zxid;
    b.setWatches(now, { data: ['/same', '/changed'], child: ['/kids'] });
    expect(events(b)).toEqual([]);
    expect(b.checkWatches('/changed', WatcherType.Data).err).toBe(OK);
  });

  it('setWatches2 registers persistent and recursive watches without catch-up events', () => {
    const { a, b, mark } = prepared();
    b.setWatches2(mark, { persistent: ['/changed', '/gone'], recursive: ['/kids'] });
    expect(events(b)).toEqual([]);
    a.setData('/changed', 'again');
    a.create('/gone');
    a.create('/kids/k2');
    expect(events(b)).toEqual([
      [NodeDataChanged, '/changed'],
      [NodeCreated, '/gone'],
      [NodeCreated, '/kids/k2'],
    ]);
  });
});

describe('watch delivery is filtered by READ permission at event time (3.8.4+ / 3.9.2+)', () => {
  it('a watcher that lost READ on the node hears nothing; one that kept it does', () => {
    const h = new Harness();
    const owner = h.connect();
    const stranger = h.connect();
    const friend = h.connect();
    owner.auth('digest', 'alice:secret');
    friend.auth('digest', 'alice:secret');
    owner.create('/guarded', 'v');
    stranger.getData('/guarded', true);
    friend.getData('/guarded', true);
    owner.setACL('/guarded', [digest(Perms.ALL, digestId('alice:secret'))]);
    owner.setData('/guarded', 'w');
    expect(events(stranger)).toEqual([]);
    expect(events(friend)).toEqual([[NodeDataChanged, '/guarded']]);
  });

  it('NodeChildrenChanged is filtered by the parent ACL; setWatches catch-up events are not filtered', () => {
    const h = new Harness();
    const owner = h.connect();
    const stranger = h.connect();
    owner.auth('digest', 'alice:secret');
    owner.create('/p', null, { acl: [digest(Perms.ALL, digestId('alice:secret')), world(Perms.CREATE)] });
    stranger.create('/p/own'); // CREATE is open, so the child can be made by anyone
    stranger.setWatches(0n, { child: ['/p'] });
    expect(events(stranger)).toEqual([[NodeChildrenChanged, '/p']]);
    stranger.setWatches(h.core.lastZxid, { child: ['/p'] });
    owner.create('/p/other');
    expect(events(stranger)).toEqual([]);
  });
});
