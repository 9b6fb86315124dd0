import { JuteReader, ReplyHeader, WatcherEvent, Xid, pooledCopy } from '@corral/protocol';
import type { Logger } from 'pino';
import type { Chroot } from './paths.js';
import type { RequestPipeline } from './pipeline.js';
import { eventTypeName, type WatchRegistry } from './watches.js';

export interface ReplyRouting {
  readonly pipeline: RequestPipeline;
  readonly watches: WatchRegistry;
  readonly chroot: Chroot;
  readonly log: Logger;
  observeZxid(zxid: bigint): void;
  onAuthAnswer(err: number): void;
  /** The frame breaks the protocol: the connection must be dropped. */
  protocolError(reason: string): void;
}

/**
 * Routes one frame received after the handshake: a watch notification, a ping reply, an auth
 * answer, or the reply to the oldest request in flight. False if the connection had to be dropped.
 */
export function routeReply(routing: ReplyRouting, frame: Uint8Array): boolean {
  // Node's small Buffers share a pool; so do small znode data decoded here (getData, multi reads).
  const r = new JuteReader(frame, { copyBytes: pooledCopy });
  let header: ReplyHeader;
  try {
    header = ReplyHeader.read(r);
  } catch (error) {
    routing.protocolError(`bad reply header: ${String(error)}`);
    return false;
  }
  switch (header.xid) {
    case Xid.NOTIFICATION:
      onNotification(routing, header, r);
      return true;
    case Xid.PING:
      return true;
    case Xid.AUTH:
      routing.onAuthAnswer(header.err);
      return true;
  }
  const call = routing.pipeline.peek();
  if (!call || call.xid !== header.xid) {
    routing.protocolError(`reply xid ${header.xid} but expected ${call ? call.xid : 'none'}`);
    return false;
  }
  routing.pipeline.shift();
  // Pings, auth answers and notifications carry no zxid of ours: only replies move lastZxidSeen.
  if (header.zxid > 0n) routing.observeZxid(header.zxid);
  call.complete(header, r);
  return true;
}

function onNotification(routing: ReplyRouting, header: ReplyHeader, r: JuteReader): void {
  let event;
  try {
    event = WatcherEvent.read(r);
  } catch (error) {
    routing.log.warn({ err: String(error) }, 'undecodable watch notification');
    return;
  }
  const type = eventTypeName(event.type);
  if (!type || event.path === null) {
    routing.log.warn({ type: event.type, path: event.path }, 'ignoring a notification of unknown type');
    return;
  }
  routing.watches.dispatch({ type, path: routing.chroot.fromServer(event.path), zxid: header.zxid });
}
