import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACL,
  CreateRequest,
  GetChildrenResponse,
  GetDataResponse,
  DecodeError,
  JuteReader,
  JuteWriter,
  OpCode,
  WatcherEvent,
  readConnectRequest,
  readConnectResponse,
  readMultiRequest,
  readMultiResponse,
  writeConnectRequest,
  writeConnectResponse,
  writeMultiRequest,
  writeMultiResponse,
  zeroStat,
  type ConnectRequest,
  type ConnectResponse,
  type MultiOp,
  type MultiResult,
} from '../src/index.js';
import {
  allRecords,
  arbitraryFor,
  hex,
  int32,
  int64,
  multiResultArb,
  nullableBytes,
  readOpArb,
  writeOpArb,
} from './arbitraries.js';

const RUNS = 60;
const TERMINATOR = 'ffffffff01ffffffff';

describe('record inventory', () => {
  it('finds every record of records.ts', () => {
    const names = allRecords.map(([name]) => name);
    // 49 record() declarations in records.ts; spot-check a few by export name.
    expect(names.length).toBe(49);
    for (const name of ['Stat', 'ACL', 'Id', 'ConnectRequestFields', 'SetWatches2', 'WhoAmIResponse', 'CreateTTLRequest', 'CreateSessionTxn']) {
      expect(names).toContain(name);
    }
  });
});

describe('every record round-trips', () => {
  for (const [exportName, codec] of allRecords) {
    it(`${exportName} (${codec.name})`, () => {
      fc.assert(
        fc.property(arbitraryFor(codec), fc.nat({ max: 7 }), (value, offset) => {
          const encoded = codec.encode(value);
          expect(encoded.length).toBeGreaterThanOrEqual(codec.minBytes);
          expect(codec.decode(encoded)).toStrictEqual(value);

          // Same bytes inside a larger buffer at an odd offset (DataView offsets must be honoured).
          const host = new Uint8Array(offset + encoded.length + 3).fill(0xee);
          host.set(encoded, offset);
          const view = host.subarray(offset, offset + encoded.length);
          const decoded = codec.decode(view);
          expect(decoded).toStrictEqual(value);
          // Canonical: re-encoding gives the same bytes.
          expect(hex(codec.encode(decoded))).toBe(hex(encoded));

          // Through the streaming API with trailing data left unread.
          const r = new JuteReader(host, { start: offset, end: offset + encoded.length + 3 });
          expect(codec.read(r)).toStrictEqual(value);
          expect(r.remaining).toBe(3);
        }),
        { numRuns: RUNS },
      );
    });
  }
});

describe('null vs empty', () => {
  it('buffer: null (-1) and empty (0) stay distinct', () => {
    const nul = GetDataResponse.encode({ data: null, stat: zeroStat() });
    const empty = GetDataResponse.encode({ data: new Uint8Array(0), stat: zeroStat() });
    expect(hex(nul.subarray(0, 4))).toBe('ffffffff');
    expect(hex(empty.subarray(0, 4))).toBe('00000000');
    expect(nul.length).toBe(4 + 68);
    expect(GetDataResponse.decode(nul).data).toBeNull();
    const decodedEmpty = GetDataResponse.decode(empty).data;
    expect(decodedEmpty).toBeInstanceOf(Uint8Array);
    expect(decodedEmpty).toHaveLength(0);
  });

  it('ustring: null (-1) and empty (0) stay distinct', () => {
    const nul = WatcherEvent.encode({ type: -1, state: 3, path: null });
    const empty = WatcherEvent.encode({ type: -1, state: 3, path: '' });
    expect(hex(nul)).toBe('ffffffff00000003ffffffff');
    expect(hex(empty)).toBe('ffffffff0000000300000000');
    expect(WatcherEvent.decode(nul).path).toBeNull();
    expect(WatcherEvent.decode(empty).path).toBe('');
  });

  it('string (non-null ustring): empty round-trips, null on the wire is a DecodeError', () => {
    expect(GetChildrenResponse.decode(GetChildrenResponse.encode({ children: ['', 'a', ''] }))).toEqual({ children: ['', 'a', ''] });
    expect(() => GetChildrenResponse.decode(new Uint8Array([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]))).toThrow(/null string/);
  });

  it('vector: a null vector (-1) decodes as empty', () => {
    expect(GetChildrenResponse.decode(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toEqual({ children: [] });
    expect(hex(GetChildrenResponse.encode({ children: [] }))).toBe('00000000');
  });

  it('strings: astral characters are 4-byte UTF-8 and survive', () => {
    const path = '/😀/𝄞/é/\u0000/\uffff';
    const encoded = WatcherEvent.encode({ type: 1, state: 3, path });
    const byteLength = Buffer.byteLength(path, 'utf8');
    expect(new DataView(encoded.buffer).getInt32(8)).toBe(byteLength);
    expect(WatcherEvent.decode(encoded).path).toBe(path);
  });

  it('strings: a leading U+FEFF (BOM) is data, not stripped', () => {
    for (const text of ['\ufeff', '\ufeffabc', '\ufeff\ufeff']) {
      const encoded = WatcherEvent.encode({ type: 1, state: 3, path: text });
      expect(WatcherEvent.decode(encoded).path).toBe(text);
    }
  });

  it('decoded buffers are copies, also when the input is a Node Buffer', () => {
    const source = Buffer.from(GetDataResponse.encode({ data: new Uint8Array([1, 2, 3]), stat: zeroStat() }));
    const decoded = GetDataResponse.decode(source);
    source.fill(0);
    expect(decoded.data).toStrictEqual(new Uint8Array([1, 2, 3]));
  });

  it('longs cover the full signed range and accept unsigned input', () => {
    for (const value of [0n, -1n, (1n << 63n) - 1n, -(1n << 63n), 0x01000001a2b3c4d5n]) {
      const stat = { ...zeroStat(), czxid: value };
      expect(GetDataResponse.decode(GetDataResponse.encode({ data: null, stat })).stat.czxid).toBe(value);
    }
    // Values in 2^63..2^64-1 wrap like Java longs.
    const wrapped = GetDataResponse.encode({ data: null, stat: { ...zeroStat(), czxid: 0xffffffffffffffffn } });
    expect(GetDataResponse.decode(wrapped).stat.czxid).toBe(-1n);
  });

  it('JuteWriter grows from any initial capacity, including 0 and 1', () => {
    for (const capacity of [0, 1, 3]) {
      const w = new JuteWriter(capacity);
      CreateRequest.write(w, { path: '/x', data: new Uint8Array(300), acl: [], flags: 0 });
      w.long(5n);
      expect(w.length).toBe(6 + 304 + 4 + 4 + 8);
    }
  });
});

describe('handshake', () => {
  const password = fc.uint8Array({ minLength: 16, maxLength: 16 });
  const readOnly = fc.option(fc.boolean(), { nil: undefined });

  function requestBytes(value: ConnectRequest): Uint8Array {
    const w = new JuteWriter();
    writeConnectRequest(w, value);
    return w.toBytes();
  }
  function responseBytes(value: ConnectResponse): Uint8Array {
    const w = new JuteWriter();
    writeConnectResponse(w, value);
    return w.toBytes();
  }
  function withoutUndefined<T extends { readOnly?: boolean }>(value: T): T {
    const copy = { ...value };
    if (copy.readOnly === undefined) delete copy.readOnly;
    return copy;
  }

  it('ConnectRequest with and without readOnly (45 / 44 bytes)', () => {
    fc.assert(
      fc.property(int32, int64, int32, int64, password, readOnly, (protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, ro) => {
        const value: ConnectRequest = { protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly: ro };
        const bytes = requestBytes(value);
        expect(bytes.length).toBe(ro === undefined ? 44 : 45);
        const decoded = readConnectRequest(new JuteReader(bytes));
        expect(decoded).toStrictEqual(withoutUndefined(value));
        expect('readOnly' in decoded).toBe(ro !== undefined);
      }),
      { numRuns: RUNS },
    );
  });

  it('ConnectResponse with and without readOnly (37 / 36 bytes)', () => {
    fc.assert(
      fc.property(int32, int32, int64, password, readOnly, (protocolVersion, timeOut, sessionId, passwd, ro) => {
        const value: ConnectResponse = { protocolVersion, timeOut, sessionId, passwd, readOnly: ro };
        const bytes = responseBytes(value);
        expect(bytes.length).toBe(ro === undefined ? 36 : 37);
        expect(readConnectResponse(new JuteReader(bytes))).toStrictEqual(withoutUndefined(value));
      }),
      { numRuns: RUNS },
    );
  });

  it('handshake records keep arbitrary / null passwords', () => {
    fc.assert(
      fc.property(nullableBytes, readOnly, (passwd, ro) => {
        const req: ConnectRequest = { protocolVersion: 0, lastZxidSeen: 0n, timeOut: 30000, sessionId: 0n, passwd, readOnly: ro };
        expect(readConnectRequest(new JuteReader(requestBytes(req)))).toStrictEqual(withoutUndefined(req));
        const res: ConnectResponse = { protocolVersion: 0, timeOut: 30000, sessionId: 1n, passwd, readOnly: ro };
        expect(readConnectResponse(new JuteReader(responseBytes(res)))).toStrictEqual(withoutUndefined(res));
      }),
      { numRuns: RUNS },
    );
  });

  it('readOnly byte: any non-zero is true, like the Java reader', () => {
    const bytes = requestBytes({ protocolVersion: 0, lastZxidSeen: 0n, timeOut: 1, sessionId: 0n, passwd: new Uint8Array(16), readOnly: true });
    bytes[44] = 0x7f;
    expect(readConnectRequest(new JuteReader(bytes)).readOnly).toBe(true);
  });
});

describe('multi', () => {
  function requestBytes(ops: readonly MultiOp[]): Uint8Array {
    const w = new JuteWriter();
    writeMultiRequest(w, ops);
    return w.toBytes();
  }
  function responseBytes(results: readonly MultiResult[]): Uint8Array {
    const w = new JuteWriter();
    writeMultiResponse(w, results);
    return w.toBytes();
  }

  it('write multi (create, create2, createContainer, createTTL, delete, setData, check) round-trips', () => {
    fc.assert(
      fc.property(fc.array(writeOpArb, { minLength: 1, maxLength: 6 }), (ops) => {
        const bytes = requestBytes(ops);
        expect(hex(bytes.subarray(bytes.length - 9))).toBe(TERMINATOR);
        const r = new JuteReader(bytes);
        expect(readMultiRequest(r)).toStrictEqual({ kind: 'write', ops });
        expect(r.remaining).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('multiRead (getData, getChildren) round-trips', () => {
    fc.assert(
      fc.property(fc.array(readOpArb, { minLength: 1, maxLength: 6 }), (ops) => {
        const bytes = requestBytes(ops);
        expect(hex(bytes.subarray(bytes.length - 9))).toBe(TERMINATOR);
        expect(readMultiRequest(new JuteReader(bytes))).toStrictEqual({ kind: 'read', ops });
      }),
      { numRuns: RUNS },
    );
  });

  it('every sub-op header is {type, false, -1}', () => {
    const ops: MultiOp[] = [
      { type: OpCode.delete, request: { path: '/a', version: -1 } },
      { type: OpCode.check, request: { path: '/b', version: 3 } },
    ];
    expect(hex(requestBytes(ops))).toBe(
      ['00000002', '00', 'ffffffff', '000000022f61', 'ffffffff', '0000000d', '00', 'ffffffff', '000000022f62', '00000003', TERMINATOR].join(''),
    );
  });

  it('empty multi is just the terminator and decodes with no kind', () => {
    const bytes = requestBytes([]);
    expect(hex(bytes)).toBe(TERMINATOR);
    expect(readMultiRequest(new JuteReader(bytes))).toStrictEqual({ kind: undefined, ops: [] });
    expect(hex(responseBytes([]))).toBe(TERMINATOR);
    expect(readMultiResponse(new JuteReader(responseBytes([])))).toStrictEqual([]);
  });

  it('mixing read and write sub-ops is a DecodeError', () => {
    const bytes = requestBytes([
      { type: OpCode.delete, request: { path: '/a', version: -1 } },
      { type: OpCode.getData, request: { path: '/a', watch: false } },
    ]);
    expect(() => readMultiRequest(new JuteReader(bytes))).toThrow(/mixing/);
  });

  it('responses with every result type round-trip', () => {
    fc.assert(
      fc.property(fc.array(multiResultArb, { maxLength: 8 }), (results) => {
        const bytes = responseBytes(results);
        expect(hex(bytes.subarray(bytes.length - 9))).toBe(TERMINATOR);
        const r = new JuteReader(bytes);
        expect(readMultiResponse(r)).toStrictEqual(results);
        expect(r.remaining).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('result headers carry err 0, or the error code for type -1', () => {
    const bytes = responseBytes([
      { type: OpCode.delete },
      { type: OpCode.error, err: -101 },
      { type: OpCode.create, path: '/p' },
    ]);
    expect(hex(bytes)).toBe(
      ['00000002', '00', '00000000', 'ffffffff', '00', 'ffffff9b', 'ffffff9b', '00000001', '00', '00000000', '000000022f70', TERMINATOR].join(''),
    );
  });

  it('ACLs nest inside CreateRequest sub-ops', () => {
    const acl = [
      { perms: 31, id: { scheme: 'world', id: 'anyone' } },
      { perms: 1, id: { scheme: 'digest', id: 'u:😀' } },
    ];
    expect(ACL.decode(ACL.encode(acl[1]!))).toStrictEqual(acl[1]);
    const ops: MultiOp[] = [{ type: OpCode.create2, request: { path: '/n', data: null, acl, flags: 3 } }];
    expect(readMultiRequest(new JuteReader(requestBytes(ops))).ops).toStrictEqual(ops);
  });
});

describe('JuteReader positioning', () => {
  it('reposition reads another range of the same bytes, bounds-checked; skipSized moves past a buffer or a null', () => {
    const w = new JuteWriter();
    w.int(7);
    w.buffer(new Uint8Array([1, 2, 3]));
    w.buffer(null);
    w.int(9);
    const bytes = w.toBytes();
    const r = new JuteReader(bytes);
    r.reposition(4, bytes.length);
    r.skipSized();
    r.skipSized();
    expect([r.int(), r.remaining]).toEqual([9, 0]);
    r.reposition(0, 4);
    expect(r.int()).toBe(7);
    expect(() => r.int()).toThrow(DecodeError); // the range ends at 4
    expect(() => r.reposition(0, bytes.length + 1)).toThrow(RangeError);
    r.reposition(4, 8); // a buffer length with its bytes cut off
    expect(() => r.skipSized()).toThrow(DecodeError);
  });
});
