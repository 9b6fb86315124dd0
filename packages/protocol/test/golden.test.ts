import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACL,
  AuthPacket,
  CreateRequest,
  ErrorResponse,
  FrameReader,
  GetChildren2Response,
  GetDataRequest,
  GetDataResponse,
  JuteReader,
  JuteWriter,
  MultiHeader,
  OpCode,
  ReplyHeader,
  RequestHeader,
  SetDataRequest,
  SetWatches,
  Stat,
  WatcherEvent,
  Xid,
  encodeFrame,
  readConnectRequest,
  readConnectResponse,
  readMultiRequest,
  readMultiResponse,
  writeConnectRequest,
  writeConnectResponse,
  writeMultiRequest,
  writeMultiResponse,
  zeroStat,
  type Codec,
  type MultiOp,
  type MultiResult,
} from '../src/index.js';
import { allRecords, arbitraryFor, hex, int32, multiResultArb, unhex, writeOpArb, type AnyRecord } from './arbitraries.js';

const require = createRequire(import.meta.url);
/* eslint-disable @typescript-eslint/no-explicit-any */
const jute: any = require('node-zookeeper-client/lib/jute/index.js');
const NzcACL: any = require('node-zookeeper-client/lib/ACL.js');
const NzcId: any = require('node-zookeeper-client/lib/Id.js');

// ---------------------------------------------------------------------------------------------
// (a) Worked frames of fact sheet §1.3
// ---------------------------------------------------------------------------------------------

const SHEET = {
  connectRequest: '0000002d 00000000 00000000 00000000 00007530 00000000 00000000 00000010' + ' 00'.repeat(16) + ' 00',
  connectResponse: '00000025 00000000 00007530 01000001 a2b3c4d5 00000010 75f7b92f a39dd98d 12e9a0f4 71d573ff 00',
  pingRequest: '00000008 fffffffe 0000000b',
  pingReply: '00000010 fffffffe 00000001 00000005 00000000',
  getData: '0000000f 00000001 00000004 00000002 2f61 01',
  errorReply: '00000010 00000001 00000001 00000005 ffffff9b',
  notification: '0000001e ffffffff 00000001 00000006 00000000 00000003 00000003 00000002 2f61',
} as const;

const PASSWORD = unhex('75f7b92f a39dd98d 12e9a0f4 71d573ff');

function sheetHex(key: keyof typeof SHEET): string {
  return hex(unhex(SHEET[key]));
}

/** Splits frames with our FrameReader and checks exactly one payload comes out. */
function onlyFrame(bytes: Uint8Array): JuteReader {
  const frames = new FrameReader().push(bytes);
  expect(frames).toHaveLength(1);
  return new JuteReader(frames[0]!);
}

describe('fact sheet §1.3 worked frames', () => {
  it('ConnectRequest (45-byte payload, readOnly=false)', () => {
    const value = { protocolVersion: 0, lastZxidSeen: 0n, timeOut: 30000, sessionId: 0n, passwd: new Uint8Array(16), readOnly: false };
    const bytes = encodeFrame((w) => writeConnectRequest(w, value));
    expect(hex(bytes)).toBe(sheetHex('connectRequest'));
    expect(bytes.length).toBe(4 + 45);
    expect(readConnectRequest(onlyFrame(bytes))).toStrictEqual(value);
  });

  it('ConnectResponse (37-byte payload, readOnly=false)', () => {
    const value = { protocolVersion: 0, timeOut: 30000, sessionId: 0x01000001a2b3c4d5n, passwd: PASSWORD, readOnly: false };
    const bytes = encodeFrame((w) => writeConnectResponse(w, value));
    expect(hex(bytes)).toBe(sheetHex('connectResponse'));
    expect(readConnectResponse(onlyFrame(bytes))).toStrictEqual(value);
  });

  it('ping request and reply', () => {
    const request = encodeFrame((w) => RequestHeader.write(w, { xid: Xid.PING, type: OpCode.ping }));
    expect(hex(request)).toBe(sheetHex('pingRequest'));
    expect(RequestHeader.decode(onlyFrame(request).rest())).toStrictEqual({ xid: -2, type: 11 });

    const reply = encodeFrame((w) => ReplyHeader.write(w, { xid: Xid.PING, zxid: 0x100000005n, err: 0 }));
    expect(hex(reply)).toBe(sheetHex('pingReply'));
    expect(ReplyHeader.decode(onlyFrame(reply).rest())).toStrictEqual({ xid: -2, zxid: 0x100000005n, err: 0 });
  });

  it('getData("/a", watch=true), xid 1', () => {
    const bytes = encodeFrame((w) => {
      RequestHeader.write(w, { xid: 1, type: OpCode.getData });
      GetDataRequest.write(w, { path: '/a', watch: true });
    });
    expect(hex(bytes)).toBe(sheetHex('getData'));
    const r = onlyFrame(bytes);
    expect(RequestHeader.read(r)).toStrictEqual({ xid: 1, type: 4 });
    expect(GetDataRequest.decode(r.rest())).toStrictEqual({ path: '/a', watch: true });
  });

  it('error reply NONODE, header only', () => {
    const bytes = encodeFrame((w) => ReplyHeader.write(w, { xid: 1, zxid: 0x100000005n, err: -101 }));
    expect(hex(bytes)).toBe(sheetHex('errorReply'));
    expect(ReplyHeader.decode(onlyFrame(bytes).rest())).toStrictEqual({ xid: 1, zxid: 0x100000005n, err: -101 });
  });

  it('notification NodeDataChanged / SyncConnected on "/a"', () => {
    const bytes = encodeFrame((w) => {
      ReplyHeader.write(w, { xid: Xid.NOTIFICATION, zxid: 0x100000006n, err: 0 });
      WatcherEvent.write(w, { type: 3, state: 3, path: '/a' });
    });
    expect(hex(bytes)).toBe(sheetHex('notification'));
    const r = onlyFrame(bytes);
    expect(ReplyHeader.read(r)).toStrictEqual({ xid: -1, zxid: 0x100000006n, err: 0 });
    expect(WatcherEvent.decode(r.rest())).toStrictEqual({ type: 3, state: 3, path: '/a' });
  });

  it('all seven frames back to back in one chunk', () => {
    const keys = Object.keys(SHEET) as (keyof typeof SHEET)[];
    const stream = unhex(keys.map((k) => SHEET[k]).join(''));
    const frames = new FrameReader().push(stream);
    expect(frames.map((f) => f.length)).toStrictEqual([45, 37, 8, 16, 15, 16, 30]);
  });

  it('fixed sizes: Stat 68 bytes, MultiHeader 9, addWatch reply body 4', () => {
    expect(Stat.encode(zeroStat())).toHaveLength(68);
    expect(Stat.minBytes).toBe(68);
    expect(hex(MultiHeader.encode({ type: -1, done: true, err: -1 }))).toBe('ffffffff01ffffffff');
    expect(hex(ErrorResponse.encode({ err: 0 }))).toBe('00000000');
  });
});

// ---------------------------------------------------------------------------------------------
// (b) node-zookeeper-client's jute module as an independent implementation
// ---------------------------------------------------------------------------------------------

function longBuffer(value: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt.asIntN(64, value));
  return b;
}

/** Our value → the shape node-zookeeper-client keeps in its record objects. */
function toNzc(type: string, value: any): any {
  switch (type) {
    case 'int':
    case 'boolean':
      return value;
    case 'long':
      return longBuffer(value);
    case 'buffer':
      return value === null ? undefined : Buffer.from(value);
    case 'ustring':
      return value === null ? undefined : value;
  }
  const vector = /^vector<(.+)>$/.exec(type);
  if (vector) return (value as unknown[]).map((item) => toNzc(vector[1]!, item));
  const data = /^data\.(\w+)$/.exec(type);
  if (data) return fillNzc(new jute.data[data[1]!](), value);
  throw new Error(`unknown nzc type ${type}`);
}

function fillNzc(record: any, value: any): any {
  for (const { name, type } of record.specification) record[name] = toNzc(type, value[name]);
  return record;
}

/** node-zookeeper-client's value → ours (undefined buffers/strings are null, undefined vectors are empty). */
function fromNzc(type: string, value: any): any {
  switch (type) {
    case 'int':
    case 'boolean':
      return value;
    case 'long':
      return (value as Buffer).readBigInt64BE(0);
    case 'buffer':
      return value === undefined ? null : new Uint8Array(value as Buffer);
    case 'ustring':
      return value === undefined ? null : value;
  }
  const vector = /^vector<(.+)>$/.exec(type);
  if (vector) return value === undefined ? [] : (value as unknown[]).map((item) => fromNzc(vector[1]!, item));
  if (/^data\.\w+$/.test(type)) return readNzc(value);
  throw new Error(`unknown nzc type ${type}`);
}

function readNzc(record: any): any {
  const out: Record<string, unknown> = {};
  for (const { name, type } of record.specification) out[name] = fromNzc(type, record[name]);
  return out;
}

function nzcSerialize(record: any): Uint8Array {
  const buffer = Buffer.alloc(record.byteLength());
  expect(record.serialize(buffer, 0)).toBe(buffer.length);
  return new Uint8Array(buffer);
}

function nzcDeserialize(ctor: any, bytes: Uint8Array): any {
  const record = new ctor();
  expect(record.deserialize(Buffer.from(bytes), 0)).toBe(bytes.length);
  return readNzc(record);
}

/** The jute type name of one of our codecs, spelled as specification.json spells it. */
function nzcTypeOf(codec: Codec<any>): string {
  if ('fields' in codec) return `data.${codec.name}`;
  if (codec.name === 'string') return 'ustring';
  const vector = /^vector<(.+)>$/.exec(codec.name);
  if (vector) return `vector<${nzcTypeOf((codec as unknown as { element: Codec<any> }).element)}>`;
  return codec.name;
}

/** Our records that node-zookeeper-client also defines, by jute name. */
const shared = allRecords
  .map(([, codec]) => codec)
  .filter((codec) => jute.protocol[codec.name] !== undefined || jute.data[codec.name] !== undefined)
  .map((codec) => [codec, jute.protocol[codec.name] ?? jute.data[codec.name]] as [AnyRecord, any]);

describe('node-zookeeper-client cross-check: record layouts', () => {
  it('every record node-zookeeper-client defines is one of ours', () => {
    const theirs = [...Object.keys(jute.protocol), ...Object.keys(jute.data)].sort();
    expect(shared.map(([codec]) => codec.name).sort()).toStrictEqual(theirs);
  });

  for (const [codec, ctor] of shared) {
    it(`${codec.name}: same fields, order and types as specification.json`, () => {
      const theirs = new ctor().specification.map((a: { name: string; type: string }) => `${a.name}:${a.type}`);
      const ours = Object.entries(codec.fields).map(([name, field]) => `${name}:${nzcTypeOf(field)}`);
      expect(ours).toStrictEqual(theirs);
    });
  }
});

describe('node-zookeeper-client cross-check: bytes both ways', () => {
  for (const [codec, ctor] of shared) {
    it(`${codec.name}: equal bytes, each decodes the other`, () => {
      fc.assert(
        fc.property(arbitraryFor(codec), (value) => {
          const ours = codec.encode(value);
          const theirs = nzcSerialize(fillNzc(new ctor(), value));
          expect(hex(ours)).toBe(hex(theirs));
          expect(codec.decode(theirs)).toStrictEqual(value);
          expect(nzcDeserialize(ctor, ours)).toStrictEqual(value);
        }),
        { numRuns: 40 },
      );
    });
  }
});

describe('node-zookeeper-client cross-check: representative values', () => {
  const stat = {
    czxid: 0x100000002n,
    mzxid: 0x100000007n,
    ctime: 1_700_000_000_123n,
    mtime: 1_700_000_999_456n,
    version: 3,
    cversion: -1,
    aversion: 2,
    ephemeralOwner: 0x0100000e33760002n,
    dataLength: 5,
    numChildren: 2,
    pzxid: 0x100000009n,
  };
  const acl = [
    { perms: 31, id: { scheme: 'world', id: 'anyone' } },
    { perms: 1, id: { scheme: 'digest', id: 'bob:ZMl7sPl+JXbCqITO1wyELr7ZKb0=' } },
    { perms: 3, id: { scheme: 'ip', id: '10.0.0.0/8' } },
  ];
  const cases: [AnyRecord, Record<string, unknown>][] = [
    [RequestHeader, { xid: 7, type: OpCode.create }],
    [RequestHeader, { xid: Xid.AUTH, type: OpCode.auth }],
    [ReplyHeader, { xid: 7, zxid: 0x100000005n, err: -110 }],
    [Stat, stat],
    [CreateRequest, { path: '/app/lock-', data: new Uint8Array([1, 2, 3]), acl, flags: 3 }],
    [CreateRequest, { path: '/empty', data: new Uint8Array(0), acl: [acl[0]], flags: 0 }],
    [CreateRequest, { path: '/null', data: null, acl: [acl[0]], flags: 0 }],
    [SetDataRequest, { path: '/a', data: new TextEncoder().encode('héllo'), version: -1 }],
    [GetDataResponse, { data: new Uint8Array([0, 255]), stat }],
    [GetDataResponse, { data: null, stat: zeroStat() }],
    [GetChildren2Response, { children: ['b', 'a', 'lock-0000000001', 'ünï'], stat }],
    [SetWatches, { relativeZxid: 0x100000009n, dataWatches: ['/a', '/b'], existWatches: ['/missing'], childWatches: [] }],
    [WatcherEvent, { type: 4, state: 3, path: '/parent' }],
    [WatcherEvent, { type: -1, state: 3, path: null }],
    [AuthPacket, { type: 0, scheme: 'digest', auth: new TextEncoder().encode('bob:secret') }],
    [MultiHeader, { type: OpCode.create, done: false, err: -1 }],
    [MultiHeader, { type: -1, done: true, err: -1 }],
  ];
  for (const [codec, value] of cases) {
    it(`${codec.name} ${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)).slice(0, 60)}`, () => {
      const ctor = jute.protocol[codec.name] ?? jute.data[codec.name];
      const ours = codec.encode(value);
      const theirs = nzcSerialize(fillNzc(new ctor(), value));
      expect(hex(ours)).toBe(hex(theirs));
      expect(codec.decode(theirs)).toStrictEqual(value);
      expect(nzcDeserialize(ctor, ours)).toStrictEqual(value);
    });
  }

  it('getData request frame as node-zookeeper-client builds it equals the fact sheet frame', () => {
    const header = new jute.protocol.RequestHeader(1, jute.OP_CODES.GET_DATA);
    const payload = new jute.protocol.GetDataRequest('/a', true);
    const theirs = new Uint8Array(new jute.Request(header, payload).toBuffer());
    expect(hex(theirs)).toBe(sheetHex('getData'));
  });

  it('ping frame as node-zookeeper-client builds it equals ours', () => {
    const header = new jute.protocol.RequestHeader(jute.XID_PING, jute.OP_CODES.PING);
    const theirs = new Uint8Array(new jute.Request(header, null).toBuffer());
    expect(hex(theirs)).toBe(sheetHex('pingRequest'));
  });

  it('ConnectRequest: node-zookeeper-client sends no readOnly byte (44 bytes); we read it as absent', () => {
    const value = { protocolVersion: 0, lastZxidSeen: 0x100000003n, timeOut: 30000, sessionId: 0x01000001a2b3c4d5n, passwd: PASSWORD };
    const theirs = new Uint8Array(
      new jute.Request(null, new jute.protocol.ConnectRequest(0, longBuffer(value.lastZxidSeen), 30000, longBuffer(value.sessionId), Buffer.from(PASSWORD))).toBuffer(),
    );
    expect(theirs.length).toBe(4 + 44);
    const ours = encodeFrame((w) => writeConnectRequest(w, value));
    expect(hex(ours)).toBe(hex(theirs));
    const decoded = readConnectRequest(onlyFrame(theirs));
    expect(decoded).toStrictEqual(value);
    expect('readOnly' in decoded).toBe(false);
  });

  it('ConnectResponse: our 36-byte answer for an old client is what node-zookeeper-client parses', () => {
    const value = { protocolVersion: 0, timeOut: 4000, sessionId: 0x0100000e33760002n, passwd: unhex('62ed77de3507fbeabcdb73529fee7fa9') };
    const w = new JuteWriter();
    writeConnectResponse(w, value);
    const ours = w.toBytes();
    expect(ours.length).toBe(36);
    expect(nzcDeserialize(jute.protocol.ConnectResponse, ours)).toStrictEqual(value);
    const theirs = nzcSerialize(fillNzc(new jute.protocol.ConnectResponse(), value));
    expect(readConnectResponse(new JuteReader(theirs))).toStrictEqual(value);
  });
});

describe('node-zookeeper-client cross-check: multi', () => {
  /** An op as node-zookeeper-client's Transaction records it (before TransactionRequest turns it into records). */
  function nzcOp(op: MultiOp): any {
    const r = op.request as any;
    switch (op.type) {
      case OpCode.create:
        return {
          type: op.type,
          path: r.path,
          data: r.data === null ? undefined : Buffer.from(r.data),
          acls: r.acl.map((a: unknown) => ({ toRecord: () => toNzc('data.ACL', a) })),
          mode: r.flags,
        };
      case OpCode.setData:
        return { type: op.type, path: r.path, data: r.data === null ? undefined : Buffer.from(r.data), version: r.version };
      default:
        return { type: op.type, path: r.path, version: r.version };
    }
  }
  /** Sub-ops node-zookeeper-client knows: create (1), delete, setData, check. */
  const nzcWriteOp = writeOpArb.filter((op) => op.type !== OpCode.create2 && op.type !== OpCode.createContainer && op.type !== OpCode.createTTL);

  it('a full multi request frame built by node-zookeeper-client (Transaction-style ops with ACL objects)', () => {
    const ops = [
      { type: jute.OP_CODES.CREATE, path: '/tx', data: Buffer.from('v1'), acls: NzcACL.OPEN_ACL_UNSAFE, mode: 0 },
      { type: jute.OP_CODES.CREATE, path: '/tx/e-', data: undefined, acls: [new NzcACL(5, new NzcId('digest', 'u:h'))], mode: 3 },
      { type: jute.OP_CODES.SET_DATA, path: '/tx', data: Buffer.alloc(0), version: 0 },
      { type: jute.OP_CODES.CHECK, path: '/tx', version: 1 },
      { type: jute.OP_CODES.DELETE, path: '/old', version: -1 },
    ];
    const header = new jute.protocol.RequestHeader(42, jute.OP_CODES.MULTI);
    const theirs = new Uint8Array(new jute.Request(header, new jute.TransactionRequest(ops)).toBuffer());

    const ourOps: MultiOp[] = [
      { type: OpCode.create, request: { path: '/tx', data: new TextEncoder().encode('v1'), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], flags: 0 } },
      { type: OpCode.create, request: { path: '/tx/e-', data: null, acl: [{ perms: 5, id: { scheme: 'digest', id: 'u:h' } }], flags: 3 } },
      { type: OpCode.setData, request: { path: '/tx', data: new Uint8Array(0), version: 0 } },
      { type: OpCode.check, request: { path: '/tx', version: 1 } },
      { type: OpCode.delete, request: { path: '/old', version: -1 } },
    ];
    const ours = encodeFrame((w) => {
      RequestHeader.write(w, { xid: 42, type: OpCode.multi });
      writeMultiRequest(w, ourOps);
    });
    expect(hex(ours)).toBe(hex(theirs));
    expect(hex(theirs.subarray(theirs.length - 9))).toBe('ffffffff01ffffffff');

    const r = onlyFrame(theirs);
    expect(RequestHeader.read(r)).toStrictEqual({ xid: 42, type: 14 });
    expect(readMultiRequest(r)).toStrictEqual({ kind: 'write', ops: ourOps });
    expect(r.remaining).toBe(0);
  });

  it('random multi requests: same bytes as TransactionRequest, and we decode its bytes', () => {
    fc.assert(
      fc.property(fc.array(nzcWriteOp, { minLength: 1, maxLength: 5 }), (ops) => {
        const payload = new jute.TransactionRequest(ops.map(nzcOp));
        const theirs = nzcSerialize(payload);
        const w = new JuteWriter();
        writeMultiRequest(w, ops);
        expect(hex(w.toBytes())).toBe(hex(theirs));
        expect(readMultiRequest(new JuteReader(theirs))).toStrictEqual({ kind: 'write', ops });
      }),
      { numRuns: 40 },
    );
  });

  it('random multi responses: TransactionResponse parses ours', () => {
    const nzcResult = multiResultArb.filter((r) => ([OpCode.create, OpCode.delete, OpCode.setData, OpCode.check, OpCode.error] as number[]).includes(r.type));
    fc.assert(
      fc.property(fc.array(nzcResult, { maxLength: 6 }), int32, (results, xid) => {
        const w = new JuteWriter();
        ReplyHeader.write(w, { xid, zxid: 0x100000010n, err: 0 });
        writeMultiResponse(w, results);
        const bytes = w.toBytes();

        const header = new jute.protocol.ReplyHeader();
        const headerBytes = header.deserialize(Buffer.from(bytes), 0);
        expect(headerBytes).toBe(16);
        expect(header.xid).toBe(xid);
        const response = new jute.TransactionResponse();
        // node-zookeeper-client asserts offset < length, so it cannot parse an empty body; ours is never empty.
        expect(response.deserialize(Buffer.from(bytes), headerBytes)).toBe(bytes.length - 16);
        const parsed = response.results.map((res: any) => (res.stat ? { ...res, stat: readNzc(res.stat) } : res));
        expect(parsed).toStrictEqual(results);
      }),
      { numRuns: 40 },
    );
  });

  it('a multi response built from node-zookeeper-client records decodes with ours', () => {
    const stat = { ...zeroStat(), version: 1, mzxid: 0x100000011n };
    const records = [
      new jute.protocol.MultiHeader(OpCode.create, false, 0),
      new jute.protocol.CreateResponse('/tx'),
      new jute.protocol.MultiHeader(OpCode.setData, false, 0),
      fillNzc(new jute.protocol.SetDataResponse(), { stat }),
      new jute.protocol.MultiHeader(OpCode.error, false, -103),
      new jute.protocol.ErrorResponse(-103),
      new jute.protocol.MultiHeader(OpCode.delete, false, 0),
      new jute.protocol.MultiHeader(-1, true, -1),
    ];
    const theirs = Buffer.concat(records.map((rec: any) => Buffer.from(nzcSerialize(rec))));
    const expected: MultiResult[] = [
      { type: OpCode.create, path: '/tx' },
      { type: OpCode.setData, stat },
      { type: OpCode.error, err: -103 },
      { type: OpCode.delete },
    ];
    expect(readMultiResponse(new JuteReader(theirs))).toStrictEqual(expected);
    const w = new JuteWriter();
    writeMultiResponse(w, expected);
    // Our error header carries the code in MultiHeader.err, exactly as built above.
    expect(hex(w.toBytes())).toBe(hex(theirs));
  });

  it('ACL objects built by node-zookeeper-client match our ACL codec', () => {
    const theirs = nzcSerialize(new NzcACL(31, new NzcId('world', 'anyone')).toRecord());
    expect(hex(theirs)).toBe(hex(ACL.encode({ perms: 31, id: { scheme: 'world', id: 'anyone' } })));
    expect(hex(theirs)).toBe('0000001f00000005776f726c6400000006616e796f6e65');
  });
});
