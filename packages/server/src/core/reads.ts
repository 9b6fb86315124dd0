import {
  AddWatchMode,
  AddWatchRequest,
  CheckWatchesRequest,
  ErrorCode,
  ErrorResponse,
  EventType,
  ExistsRequest,
  ExistsResponse,
  GetACLRequest,
  GetACLResponse,
  GetAllChildrenNumberRequest,
  GetAllChildrenNumberResponse,
  GetChildren2Request,
  GetChildren2Response,
  GetChildrenRequest,
  GetChildrenResponse,
  GetDataRequest,
  GetEphemeralsRequest,
  GetEphemeralsResponse,
  JuteReader,
  OpCode,
  Perms,
  RemoveWatchesRequest,
  SetWatches,
  SetWatches2,
  Stat,
  SyncRequest,
  SyncResponse,
  WatcherType,
  WhoAmIResponse,
  byteString,
  bytesOf,
  readMultiRequest,
  record,
  writeMultiResponse,
  type JuteWriter,
  type MultiResult,
  type Codec,
  type Infer,
} from '@corral/protocol';
import { hasPermission, type Identity } from './acl.js';
import type { DataTree } from './tree.js';
import { WatchMode, type WatchDelivery, type WatchRegistry } from './watches.js';

/** GetDataResponse as the server sends it: the node's data is a byte string, not a Uint8Array. */
const GetDataReply = record('GetDataResponse', { data: byteString, stat: Stat });

/** Who is reading: the connection (watcher), its session and its identities. */
export interface Reader {
  watcher: number;
  sessionId: bigint;
  identities: readonly Identity[];
}

/** Outcome of a read: an error code, or a body writer; plus catch-up events that must precede the reply. */
export interface ReadOutcome {
  err: number;
  body?: (w: JuteWriter) => void;
  events?: WatchDelivery[];
}

function ok<C extends Codec<any>>(codec: C, value: Infer<C>): ReadOutcome {
  return { err: ErrorCode.OK, body: (w) => codec.write(w, value) };
}

const fail = (err: number): ReadOutcome => ({ err });

/** Local reads of one server: answered from its tree, registering watches as ZooKeeper does. */
export class ReadHandler {
  constructor(
    private readonly tree: DataTree,
    private readonly watches: WatchRegistry,
  ) {}

  handle(op: number, body: Uint8Array, reader: Reader): ReadOutcome {
    const r = new JuteReader(body);
    switch (op) {
      case OpCode.exists:
        return this.exists(ExistsRequest.read(r), reader);
      case OpCode.getData:
        return this.getData(GetDataRequest.read(r), reader);
      case OpCode.getChildren:
      case OpCode.getChildren2:
        return this.getChildren(op, (op === OpCode.getChildren ? GetChildrenRequest : GetChildren2Request).read(r), reader);
      case OpCode.getACL:
        return this.getAcl(GetACLRequest.read(r).path, reader);
      case OpCode.getAllChildrenNumber: {
        const { path } = GetAllChildrenNumberRequest.read(r);
        const node = this.tree.get(path);
        if (!node) return fail(ErrorCode.NONODE);
        if (!hasPermission(node.acl, reader.identities, Perms.READ)) return fail(ErrorCode.NOAUTH);
        return ok(GetAllChildrenNumberResponse, { totalNumber: this.tree.countDescendants(path) });
      }
      case OpCode.getEphemerals: {
        const { prefixPath } = GetEphemeralsRequest.read(r);
        const all = [...this.tree.ephemeralsOf(reader.sessionId)];
        // As ZooKeeper: a prefix that is blank or "/" once Java-trimmed (chars <= U+0020) means all of them.
        const trimmed = prefixPath.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '');
        const ephemerals = trimmed === '/' || trimmed === '' ? all : all.filter((p) => p.startsWith(prefixPath));
        return ok(GetEphemeralsResponse, { ephemerals });
      }
      case OpCode.sync:
        return ok(SyncResponse, { path: SyncRequest.read(r).path });
      case OpCode.whoAmI:
        return ok(WhoAmIResponse, { clientInfo: whoAmI(reader.identities) });
      case OpCode.setWatches:
        return this.setWatches({ ...SetWatches.read(r), persistentWatches: [], persistentRecursiveWatches: [] }, reader);
      case OpCode.setWatches2:
        return this.setWatches(SetWatches2.read(r), reader);
      case OpCode.addWatch: {
        const { path, mode } = AddWatchRequest.read(r);
        if (mode !== AddWatchMode.PERSISTENT && mode !== AddWatchMode.PERSISTENT_RECURSIVE) return fail(ErrorCode.MARSHALLINGERROR);
        this.watches.addPersistent(path, reader.watcher, mode === AddWatchMode.PERSISTENT_RECURSIVE);
        return ok(ErrorResponse, { err: 0 });
      }
      case OpCode.checkWatches:
      case OpCode.removeWatches: {
        const { path, type } = (op === OpCode.checkWatches ? CheckWatchesRequest : RemoveWatchesRequest).read(r);
        // ZooKeeper's WatcherType.fromInt throws on an unknown type: the request fails with MARSHALLINGERROR.
        if (type < WatcherType.Children || type > WatcherType.PersistentRecursive) return fail(ErrorCode.MARSHALLINGERROR);
        const matched = this.watches.matchByType(path, reader.watcher, type, op === OpCode.removeWatches);
        return matched ? { err: ErrorCode.OK } : fail(ErrorCode.NOWATCHER);
      }
      case OpCode.multiRead:
        return this.multiRead(r, reader);
      default:
        return fail(ErrorCode.UNIMPLEMENTED);
    }
  }

  private exists({ path, watch }: { path: string; watch: boolean }, reader: Reader): ReadOutcome {
    if (path.includes('\0')) return fail(ErrorCode.BADARGUMENTS);
    const node = this.tree.get(path);
    if (node && !hasPermission(node.acl, reader.identities, Perms.READ)) return fail(ErrorCode.NOAUTH);
    if (watch) this.watches.add('data', path, reader.watcher, WatchMode.standard);
    if (!node) return fail(ErrorCode.NONODE);
    return ok(ExistsResponse, { stat: this.tree.statOf(node) });
  }

  private getData({ path, watch }: { path: string; watch: boolean }, reader: Reader): ReadOutcome {
    const node = this.tree.get(path);
    if (!node) return fail(ErrorCode.NONODE);
    if (!hasPermission(node.acl, reader.identities, Perms.READ)) return fail(ErrorCode.NOAUTH);
    if (watch) this.watches.add('data', path, reader.watcher, WatchMode.standard);
    return ok(GetDataReply, { data: node.data, stat: this.tree.statOf(node) });
  }

  private getChildren(op: number, { path, watch }: { path: string; watch: boolean }, reader: Reader): ReadOutcome {
    const node = this.tree.get(path);
    if (!node) return fail(ErrorCode.NONODE);
    if (!hasPermission(node.acl, reader.identities, Perms.READ)) return fail(ErrorCode.NOAUTH);
    if (watch) this.watches.add('child', path, reader.watcher, WatchMode.standard);
    const children = [...node.children];
    return op === OpCode.getChildren
      ? ok(GetChildrenResponse, { children })
      : ok(GetChildren2Response, { children, stat: this.tree.statOf(node) });
  }

  private getAcl(path: string, reader: Reader): ReadOutcome {
    const node = this.tree.get(path);
    if (!node) return fail(ErrorCode.NONODE);
    if (!hasPermission(node.acl, reader.identities, Perms.READ | Perms.ADMIN)) return fail(ErrorCode.NOAUTH);
    const isAdmin = hasPermission(node.acl, reader.identities, Perms.ADMIN);
    // Without ADMIN the digest hashes stay secret: ZooKeeper shows them as user:x.
    const acl = isAdmin
      ? node.acl
      : node.acl.map((e) => (e.id.scheme === 'digest' ? { perms: e.perms, id: { scheme: 'digest', id: `${e.id.id.split(':')[0]}:x` } } : e));
    return ok(GetACLResponse, { acl, stat: this.tree.statOf(node) });
  }

  /** Re-arms watches after a reconnect; changes after relativeZxid fire at once (zxid -1), before the reply. */
  private setWatches(request: ReturnType<typeof SetWatches2.read>, reader: Reader): ReadOutcome {
    const events: WatchDelivery[] = [];
    const { relativeZxid } = request;
    const fire = (type: EventType, path: string) => events.push({ watcher: reader.watcher, type, path });
    for (const path of request.dataWatches) {
      const node = this.tree.get(path);
      if (!node) fire(EventType.NodeDeleted, path);
      else if (node.mzxid > relativeZxid) fire(EventType.NodeDataChanged, path);
      else this.watches.add('data', path, reader.watcher, WatchMode.standard);
    }
    for (const path of request.existWatches) {
      if (this.tree.get(path)) fire(EventType.NodeCreated, path);
      else this.watches.add('data', path, reader.watcher, WatchMode.standard);
    }
    for (const path of request.childWatches) {
      const node = this.tree.get(path);
      if (!node) fire(EventType.NodeDeleted, path);
      else if (node.pzxid > relativeZxid) fire(EventType.NodeChildrenChanged, path);
      else this.watches.add('child', path, reader.watcher, WatchMode.standard);
    }
    for (const path of request.persistentWatches) this.watches.addPersistent(path, reader.watcher, false);
    for (const path of request.persistentRecursiveWatches) this.watches.addPersistent(path, reader.watcher, true);
    return { err: ErrorCode.OK, events };
  }

  /** Each sub-read runs on its own; failures are per-op results and the header says OK. */
  private multiRead(r: JuteReader, reader: Reader): ReadOutcome {
    const { kind, ops } = readMultiRequest(r);
    if (kind === 'write') return fail(ErrorCode.MARSHALLINGERROR);
    const results: MultiResult[] = ops.map((op) => {
      const node = this.tree.get(op.request.path);
      if (!node) return { type: OpCode.error, err: ErrorCode.NONODE };
      if (!hasPermission(node.acl, reader.identities, Perms.READ)) return { type: OpCode.error, err: ErrorCode.NOAUTH };
      return op.type === OpCode.getData
        ? { type: OpCode.getData, data: bytesOf(node.data), stat: this.tree.statOf(node) }
        : { type: OpCode.getChildren, children: [...node.children] };
    });
    return { err: ErrorCode.OK, body: (w) => writeMultiResponse(w, results) };
  }
}

/** whoAmI lists identities in the connection's order (see addIdentity); digest shows the user part only. */
function whoAmI(identities: readonly Identity[]): { authScheme: string; user: string }[] {
  return identities.map((i) => ({ authScheme: i.scheme, user: i.scheme === 'digest' ? i.id.split(':')[0]! : i.id }));
}
