// The server core's own CPU per create and per getData, in process: no sockets, no txn log, no disk.
// ServerCore.receive -> propose -> commit over 64 connections, frames encoded beforehand, after a
// warm-up. Set beside `server CPU µs/op` of `corral bench compare` it shows how much of a request's
// cost is the core and how much the I/O around it. After `npm run build`, from the repository root:
//   node packages/bench/scripts/core-cost.mjs
import { ServerCore } from '@corral/server';
import { CreateRequest, GetDataRequest, JuteWriter, OpCode, RequestHeader, writeConnectRequest } from '@corral/protocol';

const CONNECTIONS = 64;
const WARMUP_ROUNDS = 300;
const ROUNDS = 3000;
const core = new ServerCore({
  serverId: 1, tickTimeMs: 2000, minSessionTimeoutMs: 4000, maxSessionTimeoutMs: 40000, extendedTypesEnabled: false,
  containerCheckIntervalMs: 60000, epoch: 1, startTimeMs: Date.now(),
});
const writer = new JuteWriter(4096);
function frame(write) {
  writer.reset();
  write(writer);
  return writer.toBytes();
}
function commitAll(actions) {
  for (const action of actions) if (action.type === 'propose') core.commit(action.txn.zxid, Date.now());
}

for (let conn = 1; conn <= CONNECTIONS; conn++) {
  core.openConnection(conn, '127.0.0.1', Date.now());
  const connect = { protocolVersion: 0, lastZxidSeen: 0n, timeOutMs: 30000, sessionId: 0n, passwd: new Uint8Array(16), readOnly: false };
  commitAll(core.receive(conn, frame((w) => writeConnectRequest(w, connect)), Date.now()));
}

const acl = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
const data = new Uint8Array(100).fill(0x61);
let xid = 1;
const createFrames = (round) =>
  Array.from({ length: CONNECTIONS }, (_, i) =>
    frame((w) => {
      RequestHeader.write(w, { xid: xid++, type: OpCode.create });
      CreateRequest.write(w, { path: `/n${round}-${i}`, data, acl, flags: 0 });
    }),
  );
const getFrames = Array.from({ length: CONNECTIONS }, (_, i) =>
  frame((w) => {
    RequestHeader.write(w, { xid: xid++, type: OpCode.getData });
    GetDataRequest.write(w, { path: `/n0-${i}`, watch: false });
  }),
);

/** One round: every connection sends a create, then the batch commits (as after one group commit). */
function createRound(frames) {
  const zxids = [];
  frames.forEach((f, i) => {
    for (const action of core.receive(i + 1, f, Date.now())) if (action.type === 'propose') zxids.push(action.txn.zxid);
  });
  for (const zxid of zxids) core.commit(zxid, Date.now());
}
function getRound() {
  getFrames.forEach((f, i) => core.receive(i + 1, f, Date.now()));
}

function microsPerOp(rounds, run) {
  const started = performance.now();
  for (const round of rounds) run(round);
  return ((performance.now() - started) * 1000) / (rounds.length * CONNECTIONS);
}

const range = (from, count) => Array.from({ length: count }, (_, i) => from + i);
for (const round of range(0, WARMUP_ROUNDS)) createRound(createFrames(round));
const prepared = range(WARMUP_ROUNDS, ROUNDS).map(createFrames);
const create = microsPerOp(prepared, createRound);
for (let i = 0; i < WARMUP_ROUNDS; i++) getRound();
const get = microsPerOp(range(0, ROUNDS), getRound);
console.log(`server core CPU per op (in process, ${CONNECTIONS} connections): create ${create.toFixed(2)} µs, getData ${get.toFixed(2)} µs`);
