import {
  CreateMode,
  DecodeError,
  ErrorCode,
  MAX_TTL_MS,
  OpCode,
  Perms,
  invalidPathReason,
  type ACL,
  type CheckVersionRequest,
  type CreateTTLRequest,
  type DeleteRequest,
  type MultiOp,
  type SetACLRequest,
  type SetDataRequest,
} from '@corral/protocol';
import { fixupAcl, hasPermission, type Identity } from './acl.js';
import { parentOf, sequenceSuffix } from './path.js';
import type { DataTree } from './tree.js';
import { CONTAINER_OWNER, TTL_OWNER_BASE, ownerKind, type TxnBody } from './txn.js';

/** A request check failed with this ZooKeeper error code; becomes an error txn, as in ZooKeeper. */
export class PrepError extends Error {
  constructor(readonly err: number, message?: string) {
    super(message ?? `error ${err}`);
    this.name = 'PrepError';
  }
}

/** The fields of a node that request checks look at. */
interface NodeView {
  version: number;
  aversion: number;
  /** Internal child-creation counter (the next sequential suffix). */
  cversion: number;
  numChildren: number;
  ephemeralOwner: bigint;
  acl: ACL[];
}

/**
 * Nodes as they will be once every prepared-but-not-yet-applied txn is applied (ZooKeeper's
 * outstanding ChangeRecords). Requests are checked against this view, so a write prepared while
 * earlier writes wait for the disk sees their effects, and so do later sub-ops of one multi.
 */
export class PendingChanges {
  readonly #records = new Map<string, { view: NodeView | null; zxid: bigint }>();
  readonly #order: { zxid: bigint; path: string }[] = [];
  readonly #tree: DataTree;

  constructor(tree: DataTree) {
    this.#tree = tree;
  }

  get size(): number {
    return this.#records.size;
  }

  lookup(path: string): NodeView | null {
    const pending = this.#records.get(path);
    if (pending) return pending.view;
    const node = this.#tree.get(path);
    if (!node) return null;
    return {
      version: node.version,
      aversion: node.aversion,
      cversion: node.cversion,
      numChildren: node.children.size,
      ephemeralOwner: node.ephemeralOwner,
      acl: node.acl,
    };
  }

  /** Ephemerals of a session that exist only in pending txns (created, not yet applied). */
  pendingEphemeralsOf(sessionId: bigint): string[] {
    const paths: string[] = [];
    for (const [path, { view }] of this.#records) if (view?.ephemeralOwner === sessionId) paths.push(path);
    return paths;
  }

  record(path: string, view: NodeView | null, zxid: bigint): void {
    this.#records.set(path, { view, zxid });
    this.#order.push({ zxid, path });
  }

  /** Snapshot for a multi, so a failed multi leaves no trace. */
  checkpoint(): () => void {
    const saved = new Map(this.#records);
    const orderLength = this.#order.length;
    return () => {
      this.#records.clear();
      for (const [k, v] of saved) this.#records.set(k, v);
      this.#order.length = orderLength;
    };
  }

  /** Drops records that the tree now reflects (txns up to zxid are applied). */
  applied(zxid: bigint): void {
    while (this.#order.length > 0 && this.#order[0]!.zxid <= zxid) {
      const { path, zxid: recordZxid } = this.#order.shift()!;
      if (this.#records.get(path)?.zxid === recordZxid) this.#records.delete(path);
    }
  }
}

export interface PrepContext {
  sessionId: bigint;
  identities: readonly Identity[];
  zxid: bigint;
  nowMs: number;
  extendedTypesEnabled: boolean;
}

const SPECIAL_PATHS = new Set(['/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config']);

function validPath(path: string, isSequential = false): void {
  const reason = invalidPathReason(path, isSequential);
  if (reason) throw new PrepError(ErrorCode.BADARGUMENTS, `invalid path ${JSON.stringify(path)}: ${reason}`);
}

function requireNode(view: PendingChanges, path: string): NodeView {
  const node = view.lookup(path);
  if (!node) throw new PrepError(ErrorCode.NONODE);
  return node;
}

function requirePermission(node: NodeView, ctx: PrepContext, perm: number): void {
  if (!hasPermission(node.acl, ctx.identities, perm)) throw new PrepError(ErrorCode.NOAUTH);
}

function checkVersion(expected: number, actual: number): void {
  if (expected !== -1 && expected !== actual) throw new PrepError(ErrorCode.BADVERSION);
}

export type CreateOp = 'create' | 'create2' | 'createContainer' | 'createTTL';

/** Prepares a create of any kind; check order follows ZooKeeper's PrepRequestProcessor. */
export function prepareCreate(view: PendingChanges, ctx: PrepContext, op: CreateOp, request: Omit<CreateTTLRequest, 'ttl'> & { ttl?: bigint }): TxnBody {
  const { flags } = request;
  if (flags < CreateMode.PERSISTENT || flags > CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL) throw new PrepError(ErrorCode.BADARGUMENTS, `invalid create mode ${flags}`);
  const isTtl = flags === CreateMode.PERSISTENT_WITH_TTL || flags === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
  if (isTtl && !ctx.extendedTypesEnabled) throw new PrepError(ErrorCode.UNIMPLEMENTED);
  if (op === 'createTTL') {
    if (!isTtl || request.ttl === undefined || request.ttl <= 0n || request.ttl > MAX_TTL_MS) throw new PrepError(ErrorCode.BADARGUMENTS, 'invalid TTL');
  } else if (isTtl) {
    throw new PrepError(ErrorCode.BADARGUMENTS, 'TTL mode without a TTL');
  }
  const isSequential = flags === CreateMode.PERSISTENT_SEQUENTIAL || flags === CreateMode.EPHEMERAL_SEQUENTIAL || flags === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
  const isEphemeral = flags === CreateMode.EPHEMERAL || flags === CreateMode.EPHEMERAL_SEQUENTIAL;

  const requested = request.path;
  const lastSlash = requested.lastIndexOf('/');
  if (lastSlash < 0 || requested.includes('\0')) throw new PrepError(ErrorCode.BADARGUMENTS, `invalid path ${JSON.stringify(requested)}`);
  const acl = fixupAcl(request.acl, ctx.identities);
  if (!acl) throw new PrepError(ErrorCode.INVALIDACL);
  const parentPath = lastSlash === 0 ? '/' : requested.slice(0, lastSlash);
  const parent = requireNode(view, parentPath);
  requirePermission(parent, ctx, Perms.CREATE);
  const path = isSequential ? requested + sequenceSuffix(parent.cversion) : requested;
  validPath(path);
  if (view.lookup(path)) throw new PrepError(ErrorCode.NODEEXISTS);
  if (ownerKind(parent.ephemeralOwner) === 'ephemeral') throw new PrepError(ErrorCode.NOCHILDRENFOREPHEMERALS);

  // As in ZooKeeper the op, not the flags, makes a container: createContainer writes a CreateContainerTxn
  // whatever its flags; create/create2 with the container flag write a plain CreateTxn (a persistent node).
  let ephemeralOwner = 0n;
  if (op === 'createContainer') ephemeralOwner = CONTAINER_OWNER;
  else if (isEphemeral) ephemeralOwner = ctx.sessionId;
  else if (isTtl) ephemeralOwner = TTL_OWNER_BASE | request.ttl!;

  const parentCVersion = (parent.cversion + 1) | 0;
  view.record(parentPath, { ...parent, cversion: parentCVersion, numChildren: parent.numChildren + 1 }, ctx.zxid);
  view.record(path, { version: 0, aversion: 0, cversion: 0, numChildren: 0, ephemeralOwner, acl }, ctx.zxid);
  return { type: 'create', path, data: request.data, acl, ephemeralOwner, parentCVersion, op };
}

export function prepareDelete(view: PendingChanges, ctx: PrepContext, request: DeleteRequest): TxnBody {
  const { path } = request;
  // Like ZooKeeper's getParentPathAndValidate: no full path validation, so an otherwise invalid path just does not exist.
  if (!path.includes('/') || path.includes('\0')) throw new PrepError(ErrorCode.BADARGUMENTS, `invalid path ${JSON.stringify(path)}`);
  if (SPECIAL_PATHS.has(path)) throw new PrepError(ErrorCode.BADARGUMENTS, `cannot delete ${path}`);
  const parentPath = parentOf(path);
  const parent = requireNode(view, parentPath);
  requirePermission(parent, ctx, Perms.DELETE);
  const node = requireNode(view, path);
  checkVersion(request.version, node.version);
  if (node.numChildren > 0) throw new PrepError(ErrorCode.NOTEMPTY);
  recordDeletion(view, path, parent, ctx.zxid);
  return { type: 'delete', path };
}

function recordDeletion(view: PendingChanges, path: string, parent: NodeView, zxid: bigint): void {
  view.record(parentOf(path), { ...parent, numChildren: parent.numChildren - 1 }, zxid);
  view.record(path, null, zxid);
}

/** The server's own reaper deletes empty containers and expired TTL nodes this way; no ACL check. */
export function prepareDeleteContainer(view: PendingChanges, ctx: PrepContext, path: string): TxnBody {
  validPath(path);
  const node = requireNode(view, path);
  if (node.numChildren > 0) throw new PrepError(ErrorCode.NOTEMPTY);
  if (ownerKind(node.ephemeralOwner) === 'ephemeral') throw new PrepError(ErrorCode.BADVERSION);
  recordDeletion(view, path, requireNode(view, parentOf(path)), ctx.zxid);
  return { type: 'delete', path };
}

export function prepareSetData(view: PendingChanges, ctx: PrepContext, request: SetDataRequest): TxnBody {
  validPath(request.path);
  const node = requireNode(view, request.path);
  requirePermission(node, ctx, Perms.WRITE);
  checkVersion(request.version, node.version);
  const version = (node.version + 1) | 0;
  view.record(request.path, { ...node, version }, ctx.zxid);
  return { type: 'setData', path: request.path, data: request.data, version };
}

export function prepareSetAcl(view: PendingChanges, ctx: PrepContext, request: SetACLRequest): TxnBody {
  validPath(request.path);
  const acl = fixupAcl(request.acl, ctx.identities);
  if (!acl) throw new PrepError(ErrorCode.INVALIDACL);
  const node = requireNode(view, request.path);
  requirePermission(node, ctx, Perms.ADMIN);
  checkVersion(request.version, node.aversion);
  const version = (node.aversion + 1) | 0;
  view.record(request.path, { ...node, aversion: version, acl }, ctx.zxid);
  return { type: 'setACL', path: request.path, acl, version };
}

export function prepareCheck(view: PendingChanges, ctx: PrepContext, request: CheckVersionRequest): TxnBody {
  validPath(request.path);
  const node = requireNode(view, request.path);
  requirePermission(node, ctx, Perms.READ);
  checkVersion(request.version, node.version);
  return { type: 'check', path: request.path };
}

/** Every ephemeral of a closing session is gone for the requests prepared after it. */
export function prepareCloseSession(view: PendingChanges, tree: DataTree, ctx: PrepContext): TxnBody {
  // Both the applied ephemerals and those still pending: closeSession will find all of them applied.
  const paths = new Set([...tree.ephemeralsOf(ctx.sessionId), ...view.pendingEphemeralsOf(ctx.sessionId)]);
  for (const path of paths) {
    if (view.lookup(path)?.ephemeralOwner !== ctx.sessionId) continue;
    const parent = view.lookup(parentOf(path));
    if (parent) recordDeletion(view, path, parent, ctx.zxid);
  }
  return { type: 'closeSession' };
}

const MULTI_CREATE_OPS: Record<number, CreateOp> = {
  [OpCode.create]: 'create',
  [OpCode.create2]: 'create2',
  [OpCode.createContainer]: 'createContainer',
  [OpCode.createTTL]: 'createTTL',
};

function prepareSubOp(view: PendingChanges, ctx: PrepContext, op: MultiOp): TxnBody {
  switch (op.type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
    case OpCode.createTTL: {
      // ZooKeeper's Op.create picks the sub-op from the flags: TTL modes make a createTTL (which cannot be
      // built from a CreateRequest: the whole multi fails with MARSHALLINGERROR), the container mode a
      // createContainer, anything else a create2 (for a create2 header) or a plain create; a ttl is then ignored.
      const { flags } = op.request;
      const ttlMode = flags === CreateMode.PERSISTENT_WITH_TTL || flags === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
      if (ttlMode && op.type !== OpCode.createTTL) throw new DecodeError(`create sub-op ${op.type} with TTL mode ${flags}`);
      if (ttlMode) return prepareCreate(view, ctx, 'createTTL', op.request);
      const { ttl: _ignored, ...request } = op.request as typeof op.request & { ttl?: bigint };
      const kind = flags === CreateMode.CONTAINER ? 'createContainer' : MULTI_CREATE_OPS[op.type === OpCode.create2 ? OpCode.create2 : OpCode.create]!;
      return prepareCreate(view, ctx, kind, request);
    }
    case OpCode.delete:
      return prepareDelete(view, ctx, op.request);
    case OpCode.setData:
      return prepareSetData(view, ctx, op.request);
    case OpCode.check:
      return prepareCheck(view, ctx, op.request);
    default:
      throw new PrepError(ErrorCode.MARSHALLINGERROR, 'read op inside multi');
  }
}

/**
 * All-or-nothing: sub-ops are checked in order against the state the earlier ones leave. On the first
 * failure nothing is recorded and the txn carries ZooKeeper's per-op errors: 0 before, the code at,
 * RUNTIMEINCONSISTENCY after the failing op.
 */
export function prepareMulti(view: PendingChanges, ctx: PrepContext, ops: readonly MultiOp[]): TxnBody {
  const rollback = view.checkpoint();
  const bodies: TxnBody[] = [];
  for (let i = 0; i < ops.length; i++) {
    try {
      bodies.push(prepareSubOp(view, ctx, ops[i]!));
    } catch (error) {
      rollback();
      if (!(error instanceof PrepError)) throw error;
      const errors: TxnBody[] = ops.map((_, j) => ({
        type: 'error' as const,
        err: j < i ? ErrorCode.OK : j === i ? error.err : ErrorCode.RUNTIMEINCONSISTENCY,
      }));
      return { type: 'multi', ops: errors };
    }
  }
  return { type: 'multi', ops: bodies };
}
