import { connect } from 'node:net';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { CreateRequest, FrameReader, GetDataRequest, JuteWriter, OpCode, ReplyHeader, JuteReader, encodeFrame, writeConnectRequest } from '@corral/protocol';
import { RawClient, fourLetterWord, rawRequestFrame, startCorral, type ServerProcess } from '../packages/testing/src/index.js';

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

const NODE_BYTES = 50 * 1024;
const REQUESTS = 8000; // 400 MB of replies if the server buffered them all

describe('backpressure: a client that does not read its replies cannot make the server buffer them', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startCorral();
    const setup = await RawClient.connect('127.0.0.1', server.port);
    const reply = await setup.request(OpCode.create, CreateRequest, {
      path: '/big',
      data: new Uint8Array(NODE_BYTES).fill(7),
      acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }],
      flags: 0,
    });
    expect(reply.header.err).toBe(0);
    await setup.close();
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it('stops reading from that socket, keeps serving others, and delivers every reply once the client reads', async () => {
    const rssBefore = await rssBytes(server.pid!);
    const socket = connect(server.port, '127.0.0.1');
    // Kept, not thrown: if an assertion below fails, the server's cleanup resets this socket, and
    // an unhandled 'error' event would bury that assertion's message.
    let socketError: Error | undefined;
    socket.on('error', (error) => (socketError = error));
    onTestFinished(() => void socket.destroy());
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const hello = new JuteWriter();
    writeConnectRequest(hello, { protocolVersion: 0, lastZxidSeen: 0n, timeOut: 30000, sessionId: 0n, passwd: new Uint8Array(16) });
    socket.write(encodeFrame((w) => w.raw(hello.toBytes())));
    socket.pause(); // the slow reader: nothing is read until we say so
    const body = GetDataRequest.encode({ path: '/big', watch: false });
    for (let xid = 1; xid <= REQUESTS; xid++) {
      if (!socket.write(rawRequestFrame(xid, OpCode.getData, body))) await new Promise((r) => socket.once('drain', r));
      if (xid % 1000 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    // Wait until the server stops taking requests from this connection (its received count holds
    // still), which must happen well before all of them: it has stopped reading, not run out of work.
    const received = async () => Number(/^zk_packets_received\t(\d+)$/m.exec(await fourLetterWord('127.0.0.1', server.port, 'mntr'))![1]);
    let last = -1;
    for (let stable = 0, deadline = Date.now() + 20_000; stable < 3 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await received();
      stable = now === last ? stable + 1 : 0;
      last = now;
    }
    expect(last).toBeLessThan(REQUESTS / 2);
    const rssStalled = await rssBytes(server.pid!);

    // Another client is served normally meanwhile.
    const other = await RawClient.connect('127.0.0.1', server.port);
    const otherReply = await other.request(OpCode.getData, GetDataRequest, { path: '/big', watch: false });
    expect(otherReply.header.err).toBe(0);
    await other.close();

    // Now read everything: the connect response, then every reply in order.
    const frames = new FrameReader({ maxFrameLength: 2 * 1024 * 1024 });
    let handshakeSeen = false;
    let nextXid = 1;
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk) => {
        for (const frame of frames.push(chunk)) {
          if (!handshakeSeen) {
            handshakeSeen = true;
            continue;
          }
          const header = ReplyHeader.read(new JuteReader(frame, { end: 16 }));
          if (header.xid !== nextXid || header.err !== 0) reject(new Error(`reply ${JSON.stringify(header, (_, v) => (typeof v === 'bigint' ? v.toString() : v))} when xid ${nextXid} was due`));
          nextXid++;
          if (nextXid > REQUESTS) resolve();
        }
      });
    });
    socket.resume();
    await done;
    socket.destroy();
    expect(socketError).toBeUndefined();
    expect(nextXid - 1).toBe(REQUESTS);
    // Without backpressure the server would hold ~400 MB of replies for this socket.
    console.log(`server RSS grew by ${Math.round((rssStalled - rssBefore) / 1048576)} MiB while the reader stalled`);
    expect(rssStalled - rssBefore).toBeLessThan(100 * 1024 * 1024);
  }, 60_000);
});
