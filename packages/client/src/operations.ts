import {
  AddWatchMode,
  AddWatchRequest,
  Create2Response,
  CreateRequest,
  CreateResponse,
  CreateTTLRequest,
  DeleteRequest,
  ErrorCode,
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
  GetDataResponse,
  GetEphemeralsRequest,
  GetEphemeralsResponse,
  MAX_TTL_MS,
  OpCode,
  SetACLRequest,
  SetACLResponse,
  SetDataRequest,
  SetDataResponse,
  SyncRequest,
  SyncResponse,
  WhoAmIResponse,
  type ACL,
  type ClientInfo,
  type Stat,
} from '@corral/protocol';
import { OPEN_ACL_UNSAFE } from './acl.js';
import { BadArgumentsError } from './errors.js';
import { validatePath, type Chroot } from './paths.js';
import type { CallSpec } from './pipeline.js';
import type {
  CreateModeName,
  CreateOptions,
  Data,
  ExistsWatchResult,
  GetChildrenOptions,
  GetChildrenResult,
  GetDataResult,
  VersionOptions,
  WatchOptions,
} from './types.js';
import { callbackWatch, promiseWatch, type OneShotWatch, type PersistentKind, type PersistentSink, type WatchRegistry, type WatchedEvent } from './watches.js';

// Each function turns one operation's arguments into a CallSpec: validation, encoding, and the
// decoding of its reply. Invalid arguments throw (the client turns that into a rejection).

/** What the encoders need: path mapping, and the table a reply registers its watch in. */
export interface OpContext {
  readonly chroot: Chroot;
  readonly watches: WatchRegistry;
}

export type Created = string | { path: string; stat: Stat };

const CREATE_FLAGS: Record<CreateModeName, number> = {
  persistent: 0,
  ephemeral: 1,
  persistentSequential: 2,
  ephemeralSequential: 3,
  container: 4,
  ttl: 5,
  ttlSequential: 6,
};

const utf8 = new TextEncoder();

export function toBytes(data: string | Uint8Array): Uint8Array;
export function toBytes(data: Data): Uint8Array | null;
export function toBytes(data: Data): Uint8Array | null {
  if (data === null) return null;
  return typeof data === 'string' ? utf8.encode(data) : data;
}

export function isSequential(mode: CreateModeName): boolean {
  return mode === 'persistentSequential' || mode === 'ephemeralSequential' || mode === 'ttlSequential';
}

export function isTtl(mode: CreateModeName): boolean {
  return mode === 'ttl' || mode === 'ttlSequential';
}

/** The body shared by create, create2, createContainer and createTTL (plain and in a multi). */
export function createRequest(chroot: Chroot, path: string, data: Data, mode: CreateModeName, acl: readonly ACL[] | undefined): { path: string; data: Uint8Array | null; acl: ACL[]; flags: number } {
  return { path: chroot.toServer(path), data: toBytes(data), acl: [...(acl ?? OPEN_ACL_UNSAFE)], flags: CREATE_FLAGS[mode] };
}

/** The path is validated by the caller (a protected create sends a different name than it checks). */
export function create(ctx: OpContext, path: string, data: Data, options: CreateOptions): CallSpec<Created> {
  const mode = options.mode ?? 'persistent';
  if (CREATE_FLAGS[mode] === undefined) throw new BadArgumentsError({ path, message: `unknown create mode ${String(mode)}` });
  const request = createRequest(ctx.chroot, path, data, mode, options.acl);
  const ttlMode = isTtl(mode);
  if (ttlMode !== (options.ttlMs !== undefined)) {
    throw new BadArgumentsError({ path, message: ttlMode ? `mode ${mode} needs ttlMs` : `ttlMs is only valid with mode ttl or ttlSequential` });
  }
  const created = (response: { path: string; stat: Stat }): Created => {
    const createdPath = ctx.chroot.fromServer(response.path);
    return options.stat ? { path: createdPath, stat: response.stat } : createdPath;
  };
  if (ttlMode) {
    const ttl = BigInt(Math.trunc(options.ttlMs!));
    if (ttl <= 0n || ttl > MAX_TTL_MS) throw new BadArgumentsError({ path, message: `ttlMs ${options.ttlMs} outside 1..${MAX_TTL_MS}` });
    return { op: OpCode.createTTL, path, write: (w) => CreateTTLRequest.write(w, { ...request, ttl }), read: (r) => created(Create2Response.read(r)) };
  }
  if (mode === 'container' || options.stat) {
    return {
      op: mode === 'container' ? OpCode.createContainer : OpCode.create2,
      path,
      write: (w) => CreateRequest.write(w, request),
      read: (r) => created(Create2Response.read(r)),
    };
  }
  return { op: OpCode.create, path, write: (w) => CreateRequest.write(w, request), read: (r) => ctx.chroot.fromServer(CreateResponse.read(r).path) };
}

export function remove(ctx: OpContext, path: string, options: VersionOptions): CallSpec<void> {
  validatePath(path);
  return {
    op: OpCode.delete,
    path,
    write: (w) => DeleteRequest.write(w, { path: ctx.chroot.toServer(path), version: options.version ?? -1 }),
    read: () => undefined,
  };
}

/** The one-shot watch asked for by `watch` or `watcher`, if any. */
function oneShot(options: WatchOptions): { watch?: OneShotWatch; changed?: Promise<WatchedEvent> } {
  if (options.watcher) return { watch: callbackWatch(options.watcher) };
  if (options.watch) return promiseWatch();
  return {};
}

export function exists(ctx: OpContext, path: string, options: WatchOptions): CallSpec<Stat | null | ExistsWatchResult> {
  validatePath(path);
  const { watch, changed } = oneShot(options);
  const wrap = (stat: Stat | null): Stat | null | ExistsWatchResult => (changed ? { stat, changed } : stat);
  return {
    op: OpCode.exists,
    path,
    write: (w) => ExistsRequest.write(w, { path: ctx.chroot.toServer(path), watch: watch !== undefined }),
    read: (r) => {
      const { stat } = ExistsResponse.read(r);
      if (watch) ctx.watches.addOneShot('data', path, watch);
      return wrap(stat);
    },
    // The watch is left on a missing node too: NodeCreated fires it.
    onError: (errno) => {
      if (errno !== ErrorCode.NONODE) return undefined;
      if (watch) ctx.watches.addOneShot('exist', path, watch);
      return { value: wrap(null) };
    },
  };
}

export function getData(ctx: OpContext, path: string, options: WatchOptions): CallSpec<GetDataResult> {
  validatePath(path);
  const { watch, changed } = oneShot(options);
  return {
    op: OpCode.getData,
    path,
    write: (w) => GetDataRequest.write(w, { path: ctx.chroot.toServer(path), watch: watch !== undefined }),
    read: (r) => {
      const { data, stat } = GetDataResponse.read(r);
      if (watch) ctx.watches.addOneShot('data', path, watch);
      return changed ? { data, stat, changed } : { data, stat };
    },
  };
}

export function setData(ctx: OpContext, path: string, data: Data, options: VersionOptions): CallSpec<Stat> {
  validatePath(path);
  return {
    op: OpCode.setData,
    path,
    write: (w) => SetDataRequest.write(w, { path: ctx.chroot.toServer(path), data: toBytes(data), version: options.version ?? -1 }),
    read: (r) => SetDataResponse.read(r).stat,
  };
}

export function getACL(ctx: OpContext, path: string): CallSpec<{ acl: ACL[]; stat: Stat }> {
  validatePath(path);
  return { op: OpCode.getACL, path, write: (w) => GetACLRequest.write(w, { path: ctx.chroot.toServer(path) }), read: (r) => GetACLResponse.read(r) };
}

export function setACL(ctx: OpContext, path: string, acl: readonly ACL[], options: VersionOptions): CallSpec<Stat> {
  validatePath(path);
  return {
    op: OpCode.setACL,
    path,
    write: (w) => SetACLRequest.write(w, { path: ctx.chroot.toServer(path), acl: [...acl], version: options.version ?? -1 }),
    read: (r) => SetACLResponse.read(r).stat,
  };
}

export function getChildren(ctx: OpContext, path: string, options: GetChildrenOptions): CallSpec<GetChildrenResult> {
  validatePath(path);
  const { watch, changed } = oneShot(options);
  const request = { path: ctx.chroot.toServer(path), watch: watch !== undefined };
  const done = (result: GetChildrenResult): GetChildrenResult => {
    if (watch) ctx.watches.addOneShot('child', path, watch);
    if (changed) result.changed = changed;
    return result;
  };
  if (options.stat) {
    return { op: OpCode.getChildren2, path, write: (w) => GetChildren2Request.write(w, request), read: (r) => done(GetChildren2Response.read(r)) };
  }
  return { op: OpCode.getChildren, path, write: (w) => GetChildrenRequest.write(w, request), read: (r) => done(GetChildrenResponse.read(r)) };
}

export function sync(ctx: OpContext, path: string): CallSpec<string> {
  validatePath(path);
  return {
    op: OpCode.sync,
    path,
    write: (w) => SyncRequest.write(w, { path: ctx.chroot.toServer(path) }),
    read: (r) => ctx.chroot.fromServer(SyncResponse.read(r).path),
  };
}

/** `prefix` is a plain string prefix, so it is not validated as a path. */
export function getEphemerals(ctx: OpContext, prefix: string): CallSpec<string[]> {
  return {
    op: OpCode.getEphemerals,
    path: prefix,
    write: (w) => GetEphemeralsRequest.write(w, { prefixPath: ctx.chroot.toServer(prefix) }),
    read: (r) => GetEphemeralsResponse.read(r).ephemerals.map((p) => ctx.chroot.fromServer(p)),
  };
}

export function getAllChildrenNumber(ctx: OpContext, path: string): CallSpec<number> {
  validatePath(path);
  return {
    op: OpCode.getAllChildrenNumber,
    path,
    write: (w) => GetAllChildrenNumberRequest.write(w, { path: ctx.chroot.toServer(path) }),
    read: (r) => GetAllChildrenNumberResponse.read(r).totalNumber,
  };
}

export function whoAmI(): CallSpec<ClientInfo[]> {
  return { op: OpCode.whoAmI, read: (r) => WhoAmIResponse.read(r).clientInfo };
}

/** The sink joins the local table only once the server has the watch. */
export function addWatch(ctx: OpContext, path: string, kind: PersistentKind, sink: PersistentSink): CallSpec<void> {
  validatePath(path);
  return {
    op: OpCode.addWatch,
    path,
    write: (w) => AddWatchRequest.write(w, { path: ctx.chroot.toServer(path), mode: kind === 'recursive' ? AddWatchMode.PERSISTENT_RECURSIVE : AddWatchMode.PERSISTENT }),
    read: () => ctx.watches.addPersistent(kind, path, sink),
  };
}
