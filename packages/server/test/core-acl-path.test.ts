/**
 * ACL rules (fact sheet §5.5, §5.7) through the pure ServerCore, and path validation (§5.6) as a property.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CreateMode, ErrorCode, Perms, Xid, invalidPathReason } from '@corral/protocol';
import { digestId, fixupAcl, hasPermission } from '../src/core/acl.js';
import { CREATOR_ALL, Harness, OPEN, digest, ip, world, type ACLEntry } from './coreDriver.js';

const { OK, NOAUTH, INVALIDACL, AUTHFAILED, BADARGUMENTS, NONODE, NODEEXISTS } = ErrorCode;
const ALICE = 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=';

describe('digest identities and the auth packet (§5.5, §5.7)', () => {
  it('digest id = user:base64(sha1(user:password))', () => {
    expect(digestId('alice:secret')).toBe(ALICE);
    expect(digestId('a:b:c')).toBe(`a:${digestId('a:b:c').split(':')[1]}`);
    expect(digestId('nocolon').startsWith('nocolon:')).toBe(true);
  });

  it('answers auth at once with xid -4, zxid 0 and no body; whoAmI shows the digest user and the ip', () => {
    const h = new Harness();
    const a = h.connect({ remoteAddress: '10.1.2.3' });
    expect(a.whoAmI().clientInfo).toEqual([{ authScheme: 'ip', user: '10.1.2.3' }]);
    const r = a.auth('digest', 'alice:secret');
    expect(r).toMatchObject({ xid: Xid.AUTH, zxid: 0n, err: OK });
    const info = a.whoAmI().clientInfo!;
    expect(info).toHaveLength(2);
    expect(info).toEqual(expect.arrayContaining([{ authScheme: 'digest', user: 'alice' }, { authScheme: 'ip', user: '10.1.2.3' }]));
    // The same identity twice is kept once.
    a.auth('digest', 'alice:secret');
    expect(a.whoAmI().clientInfo).toHaveLength(2);
  });

  it('auth replies overtake replies to earlier requests that still wait for their txn (§3.4)', () => {
    const h = new Harness();
    const a = h.connect();
    h.autoCommit = false;
    const x = a.send(0x1, (w) => {
      w.ustring('/n');
      w.buffer(null);
      w.int(1);
      w.int(Perms.ALL);
      w.ustring('world');
      w.ustring('anyone');
      w.int(0);
    });
    a.send(100, (w) => {
      w.int(0);
      w.ustring('digest');
      w.buffer(new TextEncoder().encode('alice:secret'));
    }, Xid.AUTH);
    expect(a.receive().map((f) => f.xid)).toEqual([Xid.AUTH]);
    h.commitPending();
    expect(a.receive().map((f) => f.xid)).toEqual([x]);
  });

  it('digest credentials without a colon are accepted (the whole string is the user)', () => {
    const h = new Harness();
    const a = h.connect();
    expect(a.auth('digest', 'nocolon').err).toBe(OK);
    expect(a.closed).toBe(false);
    expect(a.whoAmI().clientInfo).toEqual(expect.arrayContaining([{ authScheme: 'digest', user: 'nocolon' }]));
  });

  it('an unknown scheme fails with AUTHFAILED and closes the connection', () => {
    const h = new Harness();
    const a = h.connect();
    expect(a.auth('nope', 'x')).toMatchObject({ xid: Xid.AUTH, zxid: 0n, err: AUTHFAILED });
    expect(a.closed).toBe(true);
  });
});

describe('ACL checks (§5.5)', () => {
  it('auth ACL entries expand to the caller\'s digest identities; INVALIDACL without one', () => {
    const h = new Harness();
    const anon = h.connect();
    const alice = h.connect();
    alice.auth('digest', 'alice:secret');
    expect(anon.create('/c', null, { acl: CREATOR_ALL }).err).toBe(INVALIDACL);
    expect(anon.create('/c', null, { acl: [world(Perms.READ), ...CREATOR_ALL] }).err).toBe(INVALIDACL);
    expect(alice.create('/c', 'x', { acl: CREATOR_ALL }).err).toBe(OK);
    expect(alice.getACL('/c').acl).toEqual([digest(Perms.ALL, ALICE)]);
    expect(anon.getData('/c').err).toBe(NOAUTH);
    expect(anon.setData('/c', 'y').err).toBe(NOAUTH);
    const alice2 = h.connect();
    alice2.auth('digest', 'alice:secret');
    expect(alice2.getData('/c').err).toBe(OK);
    // The ip identity is not "authenticated": it never takes part in the expansion.
    alice.auth('digest', 'bob:pw');
    expect(alice.create('/d', null, { acl: [{ perms: Perms.READ, id: { scheme: 'auth', id: '' } }] }).err).toBe(OK);
    expect(alice.getACL('/d').acl!.map((e) => e.id.scheme)).toEqual(['digest', 'digest']);
  });

  it('removes duplicate entries before expanding auth, so an expansion may repeat an explicit entry (fixupACL)', () => {
    const identities = [
      { scheme: 'ip', id: '127.0.0.1' },
      { scheme: 'digest', id: ALICE },
    ];
    expect(fixupAcl([world(Perms.ALL), world(Perms.ALL)], identities)).toEqual([world(Perms.ALL)]);
    expect(fixupAcl([world(Perms.ALL), world(Perms.READ)], identities)).toEqual([world(Perms.ALL), world(Perms.READ)]);
    expect(fixupAcl([...CREATOR_ALL, digest(Perms.ALL, ALICE)], identities)).toEqual([digest(Perms.ALL, ALICE), digest(Perms.ALL, ALICE)]);
  });

  it('rejects invalid ACL lists with INVALIDACL and accepts the odd valid ones', () => {
    const h = new Harness();
    const a = h.connect();
    const invalid: ACLEntry[][] = [
      [],
      [{ perms: Perms.ALL, id: { scheme: 'world', id: 'bob' } }],
      [{ perms: Perms.ALL, id: { scheme: 'nope', id: 'x' } }],
      [{ perms: Perms.ALL, id: { scheme: 'super', id: '' } }],
      [digest(Perms.ALL, 'alice')],
      [digest(Perms.ALL, 'alice:')],
      [digest(Perms.ALL, 'a:b:c')],
      [ip(Perms.ALL, '1.2.3')],
      [ip(Perms.ALL, '1.2.3.4/33')],
      [ip(Perms.ALL, '1.2.3.4/')],
      [ip(Perms.ALL, '1.2.3.4/8/9')],
      [ip(Perms.ALL, '300.1.1.1')],
      [ip(Perms.ALL, '')],
      [world(Perms.ALL), { perms: Perms.ALL, id: { scheme: 'nope', id: '' } }],
    ];
    for (const acl of invalid) {
      expect(a.create('/x', null, { acl }).err, JSON.stringify(acl)).toBe(INVALIDACL);
      expect(a.setACL('/', acl).err, JSON.stringify(acl)).toBe(INVALIDACL);
    }
    const valid: ACLEntry[][] = [
      [ip(Perms.ALL, '1.2.3.4/0')],
      [ip(Perms.READ, '010.000.0.1/+8')],
      [ip(Perms.READ, '::1'), ip(Perms.READ, 'fe80::/10')],
      [digest(Perms.ALL, ':x')],
      [{ perms: 0, id: { scheme: 'world', id: 'anyone' } }],
    ];
    for (const [i, acl] of valid.entries()) expect(a.create(`/ok${i}`, null, { acl }).err, JSON.stringify(acl)).toBe(OK);
  });

  it('ip ACLs match the connection address, with CIDR masks (IPv4 and IPv6)', () => {
    const h = new Harness();
    const owner = h.connect();
    owner.create('/lo', 'x', { acl: [ip(Perms.ALL, '127.0.0.1')] });
    owner.create('/ten', 'x', { acl: [ip(Perms.READ, '10.0.0.0/8')] });
    owner.create('/host', 'x', { acl: [ip(Perms.READ, '10.1.2.3/32')] });
    owner.create('/any', 'x', { acl: [ip(Perms.READ, '99.99.99.99/0')] });
    owner.create('/v6', 'x', { acl: [ip(Perms.READ, 'fd00::/8')] });
    const local = h.connect({ remoteAddress: '127.0.0.1' });
    const inTen = h.connect({ remoteAddress: '10.1.2.3' });
    const other = h.connect({ remoteAddress: '11.0.0.1' });
    const v6 = h.connect({ remoteAddress: 'fd12:3456::1' });
    const read = (c: typeof local, path: string) => c.getData(path).err;
    expect([read(local, '/lo'), read(inTen, '/lo'), read(other, '/lo')]).toEqual([OK, NOAUTH, NOAUTH]);
    expect([read(local, '/ten'), read(inTen, '/ten'), read(other, '/ten')]).toEqual([NOAUTH, OK, NOAUTH]);
    expect([read(inTen, '/host'), read(other, '/host')]).toEqual([OK, NOAUTH]);
    expect([read(local, '/any'), read(other, '/any'), read(v6, '/any')]).toEqual([OK, OK, NOAUTH]);
    expect([read(v6, '/v6'), read(local, '/v6')]).toEqual([OK, NOAUTH]);
    expect(inTen.setData('/ten', 'w').err).toBe(NOAUTH); // READ only
    expect(hasPermission([ip(Perms.READ, '10.0.0.0/8')], [{ scheme: 'ip', id: '10.200.0.1' }], Perms.READ)).toBe(true);
    expect(hasPermission([ip(Perms.READ, '10.0.0.0/8')], [{ scheme: 'ip', id: '10.200.0.1' }], Perms.WRITE)).toBe(false);
  });

  it('getACL needs READ or ADMIN and masks digest hashes without ADMIN', () => {
    const h = new Harness();
    const owner = h.connect();
    const anon = h.connect();
    const alice = h.connect();
    alice.auth('digest', 'alice:secret');
    owner.create('/mixed', 'm', { acl: [world(Perms.READ), digest(Perms.ALL, ALICE)] });
    owner.create('/adminonly', 'a', { acl: [world(Perms.ADMIN), digest(Perms.READ, 'bob:xyz=')] });
    owner.create('/none', 'n', { acl: [digest(Perms.ALL, ALICE)] });
    expect(anon.getACL('/mixed').acl).toEqual([world(Perms.READ), digest(Perms.ALL, 'alice:x')]);
    expect(alice.getACL('/mixed').acl).toEqual([world(Perms.READ), digest(Perms.ALL, ALICE)]);
    expect(anon.getACL('/adminonly').acl).toEqual([world(Perms.ADMIN), digest(Perms.READ, 'bob:xyz=')]);
    expect(anon.getACL('/adminonly').stat!.dataLength).toBe(1);
    expect(anon.getData('/adminonly').err).toBe(NOAUTH);
    expect(anon.getACL('/none').err).toBe(NOAUTH);
    expect(alice.getACL('/none').acl).toEqual([digest(Perms.ALL, ALICE)]);
  });

  it('permission per operation: CREATE/DELETE on the parent, WRITE/ADMIN/READ on the node', () => {
    const h = new Harness();
    const owner = h.connect();
    const anon = h.connect();
    owner.create('/c', null, { acl: [world(Perms.CREATE | Perms.READ)] });
    expect(anon.create('/c/x').err).toBe(OK);
    expect(anon.delete('/c/x').err).toBe(NOAUTH);
    owner.create('/d', null, { acl: [world(Perms.DELETE)] });
    expect(anon.create('/d/x').err).toBe(NOAUTH);
    owner.create('/w', null, { acl: [world(Perms.WRITE)] });
    expect(anon.setData('/w', 'x').err).toBe(OK);
    expect(anon.getData('/w').err).toBe(NOAUTH);
    expect(anon.getChildren('/w').err).toBe(NOAUTH);
    expect(anon.setACL('/w', OPEN).err).toBe(NOAUTH);
    expect(anon.sync('/w').err).toBe(OK); // no permission needed
    expect(anon.getEphemerals('/w').err).toBe(OK);
    owner.create('/adm', null, { acl: [world(Perms.ADMIN)] });
    expect(anon.setACL('/adm', OPEN).err).toBe(OK);
    expect(anon.getData('/adm').err).toBe(OK);
  });

  it('a super digest identity bypasses every ACL check', () => {
    const h = new Harness({ superDigest: digestId('super:pw') });
    const owner = h.connect();
    owner.create('/locked', 'x', { acl: [digest(Perms.READ, ALICE)] });
    const root = h.connect();
    expect(root.getData('/locked').err).toBe(NOAUTH);
    expect(root.auth('digest', 'super:pw').err).toBe(OK);
    expect(root.getData('/locked').err).toBe(OK);
    expect(root.setData('/locked', 'y').err).toBe(OK);
    expect(root.create('/locked/kid').err).toBe(OK);
    expect(root.delete('/locked/kid').err).toBe(OK);
    expect(root.getACL('/locked').acl).toEqual([digest(Perms.READ, ALICE)]);
    expect(root.setACL('/locked', OPEN).err).toBe(OK);
    // `super` has no auth provider: an auth ACL expands to the digest identity only.
    root.create('/mine', null, { acl: CREATOR_ALL });
    expect(root.getACL('/mine').acl).toEqual([digest(Perms.ALL, digestId('super:pw'))]);
    // A wrong super password is just another digest identity.
    const wrong = h.connect();
    wrong.auth('digest', 'super:nope');
    owner.create('/locked2', 'x', { acl: [digest(Perms.READ, ALICE)] });
    expect(wrong.getData('/locked2').err).toBe(NOAUTH);
  });
});

// ---- path validation -----------------------------------------------------------------------

/** An independent formulation of ZooKeeper's PathUtils.validatePath rules (§5.6), segment by segment. */
function validByRules(path: string, isSequential = false): boolean {
  // As Java's validatePath(path, isSequential): a sequential path is checked with a suffix appended.
  const body = isSequential ? path + '1' : path;
  if (!body.startsWith('/')) return false;
  if (body === '/') return true;
  const segments = body.slice(1).split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') return false;
    for (let i = 0; i < segment.length; i++) {
      const c = segment.charCodeAt(i);
      if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0) return false;
    }
  }
  return true;
}

/** Characters that make path validation interesting: separators, dots, boundaries of the forbidden ranges. */
const pathChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('/', '.', 'a', 'b', '-', '_', '0') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '\u0000', '\u0001', '\u001f', ' ', '~', '\u007f', '\u009f', '\u00a0', '\ud7ff', '\ud800', '\udfff', '\ue000', '\uf8ff',
      '\uf900', '\uffef', '\ufff0', '\uffff', 'é', '中', '😀',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
const pathLike = fc.array(pathChar, { maxLength: 14 }).map((chars) => chars.join(''));
const segment = fc
  .array(fc.constantFrom('a', 'b', '.', '-', 'é', '中', '\uf900', '0'), { minLength: 1, maxLength: 5 })
  .map((c) => c.join(''))
  .filter((s) => s !== '.' && s !== '..');

describe('path validation (§5.6) as properties', () => {
  it('agrees with the segment rules on arbitrary strings, with and without the sequential flag', () => {
    fc.assert(
      fc.property(fc.oneof(pathLike, pathLike.map((p) => '/' + p)), fc.boolean(), (path, seq) => {
        expect(invalidPathReason(path, seq) === undefined, JSON.stringify(path)).toBe(validByRules(path, seq));
      }),
      { numRuns: 3000 },
    );
  });

  it('paths built from valid segments are valid; one forbidden character anywhere makes them invalid', () => {
    const forbidden = fc.constantFrom('\u0000', '\u0005', '\u001f', '\u007f', '\u0085', '\u009f', '\ud800', '\udbff', '\uf8ff', '\ufff0', '\ufffe', '\uffff');
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), forbidden, fc.nat(), (segments, bad, at) => {
        const path = '/' + segments.join('/');
        expect(invalidPathReason(path)).toBeUndefined();
        const i = 1 + (at % path.length);
        expect(invalidPathReason(path.slice(0, i) + bad + path.slice(i))).toBeDefined();
        expect(invalidPathReason(path + '/')).toBeDefined();
        expect(invalidPathReason(path + '/', true)).toBeUndefined();
        expect(invalidPathReason(path + '//x')).toBeDefined();
        expect(invalidPathReason(path + '/./x')).toBeDefined();
        expect(invalidPathReason(path + '/..')).toBeDefined();
        expect(invalidPathReason(path.slice(1))).toBeDefined();
      }),
    );
    expect(invalidPathReason('')).toBeDefined();
    expect(invalidPathReason('/')).toBeUndefined();
    expect(invalidPathReason('/...')).toBeUndefined();
    expect(invalidPathReason('/.a/a./..b')).toBeUndefined();
    // Astral characters are surrogate pairs in UTF-16, inside the forbidden U+D800–U+F8FF range.
    expect(invalidPathReason('/😀')).toBeDefined();
  });

  it('create answers BADARGUMENTS exactly for the names path validation rejects', () => {
    const h = new Harness();
    const a = h.connect();
    a.create('/p');
    const name = fc.array(pathChar.filter((c) => c !== '/'), { minLength: 0, maxLength: 6 }).map((c) => c.join(''));
    fc.assert(
      fc.property(name, fc.boolean(), (n, seq) => {
        const path = `/p/${n}`;
        const r = a.create(path, null, { flags: seq ? CreateMode.PERSISTENT_SEQUENTIAL : CreateMode.PERSISTENT });
        const full = seq ? path + r.path?.slice(path.length) : path;
        if (n.includes('\u0000')) expect(r.err).toBe(BADARGUMENTS);
        else if (invalidPathReason(seq ? path + '0000000000' : path) !== undefined) expect(r.err).toBe(BADARGUMENTS);
        else expect([OK, NODEEXISTS]).toContain(r.err);
        if (r.err === OK) expect(a.exists(full).err).toBe(OK);
        // Reads do not validate beyond exists' NUL check: an invalid path simply does not exist.
        if (r.err === BADARGUMENTS && !n.includes('\u0000')) expect(a.getData(path).err).toBe(NONODE);
      }),
      { numRuns: 400 },
    );
  });
});
