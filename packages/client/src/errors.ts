import { ErrorCode, errorName, type ErrorName } from '@corral/protocol';

/** One result of a transaction (multi), attached to the error a failed transaction throws. */
export interface ErrorOpResult {
  readonly type: string;
  readonly error?: ZooKeeperError;
}

export interface ZooKeeperErrorOptions {
  path?: string;
  cause?: unknown;
  message?: string;
}

/**
 * Base of every error the client raises for a ZooKeeper condition. `code` is a stable string
 * (ZooKeeper's KeeperException.Code name, e.g. 'NONODE'), `errno` the numeric code on the wire.
 */
export class ZooKeeperError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly path: string | undefined;
  /** For a failed transaction: every op's result, in request order (see Transaction.commit). */
  results: readonly unknown[] | undefined;
  /** For a failed transaction: index of the op this error belongs to. */
  opIndex: number | undefined;

  constructor(code: string, errno: number, options: ZooKeeperErrorOptions = {}) {
    const where = options.path === undefined ? '' : ` (path ${options.path})`;
    super(options.message ?? `${code} [${errno}]${where}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.errno = errno;
    this.path = options.path;
    this.results = undefined;
    this.opIndex = undefined;
  }
}

type ErrorClass = new (options?: ZooKeeperErrorOptions) => ZooKeeperError;

function define(name: ErrorName): ErrorClass {
  const errno = ErrorCode[name];
  return class extends ZooKeeperError {
    constructor(options: ZooKeeperErrorOptions = {}) {
      super(name, errno, options);
    }
  };
}

// One class per KeeperException.Code (OK excluded). Declared as classes so `instanceof` and
// `err.name` work; the names follow Java's KeeperException subclasses.
export class SystemError extends define('SYSTEMERROR') {}
export class RuntimeInconsistencyError extends define('RUNTIMEINCONSISTENCY') {}
export class DataInconsistencyError extends define('DATAINCONSISTENCY') {}
/** The connection to the server was lost while the request was in flight; the session may live on. */
export class ConnectionLossError extends define('CONNECTIONLOSS') {}
export class MarshallingError extends define('MARSHALLINGERROR') {}
export class UnimplementedError extends define('UNIMPLEMENTED') {}
/** The request did not complete within its own timeout (client-side). */
export class OperationTimeoutError extends define('OPERATIONTIMEOUT') {}
export class BadArgumentsError extends define('BADARGUMENTS') {}
export class UnknownSessionError extends define('UNKNOWNSESSION') {}
export class NewConfigNoQuorumError extends define('NEWCONFIGNOQUORUM') {}
export class ReconfigInProgressError extends define('RECONFIGINPROGRESS') {}
export class APIError extends define('APIERROR') {}
export class NoNodeError extends define('NONODE') {}
export class NoAuthError extends define('NOAUTH') {}
export class BadVersionError extends define('BADVERSION') {}
export class NoChildrenForEphemeralsError extends define('NOCHILDRENFOREPHEMERALS') {}
export class NodeExistsError extends define('NODEEXISTS') {}
export class NotEmptyError extends define('NOTEMPTY') {}
/** The session is gone (expired on the server, or declared lost by the client). Never retried. */
export class SessionExpiredError extends define('SESSIONEXPIRED') {}
export class InvalidCallbackError extends define('INVALIDCALLBACK') {}
export class InvalidACLError extends define('INVALIDACL') {}
export class AuthFailedError extends define('AUTHFAILED') {}
export class SessionMovedError extends define('SESSIONMOVED') {}
export class NotReadOnlyError extends define('NOTREADONLY') {}
export class EphemeralOnLocalSessionError extends define('EPHEMERALONLOCALSESSION') {}
export class NoWatcherError extends define('NOWATCHER') {}
export class RequestTimeoutError extends define('REQUESTTIMEOUT') {}
export class ReconfigDisabledError extends define('RECONFIGDISABLED') {}
export class SessionClosedRequireAuthError extends define('SESSIONCLOSEDREQUIRESASLAUTH') {}
export class QuotaExceededError extends define('QUOTAEXCEEDED') {}
export class ThrottledOpError extends define('THROTTLEDOP') {}

/** A code this client does not know (a newer server?): never silently ignored. */
export class UnknownErrorCodeError extends ZooKeeperError {
  constructor(errno: number, options: ZooKeeperErrorOptions = {}) {
    super('UNKNOWN', errno, { ...options, message: options.message ?? `unknown ZooKeeper error code ${errno}${options.path === undefined ? '' : ` (path ${options.path})`}` });
  }
}

/**
 * The client was closed (close() or destroy()) before the request completed. Like the Java client,
 * its errno is CONNECTIONLOSS, but it is not a ConnectionLossError: retrying cannot help.
 */
export class ClientClosedError extends ZooKeeperError {
  constructor(options: ZooKeeperErrorOptions = {}) {
    super('CLOSED', ErrorCode.CONNECTIONLOSS, { ...options, message: options.message ?? 'the client is closed' });
  }
}

/** Every error class by its server code, for codes ZooKeeper defines (OK excluded). */
export const errorClasses: ReadonlyMap<number, ErrorClass> = new Map<number, ErrorClass>([
  [ErrorCode.SYSTEMERROR, SystemError],
  [ErrorCode.RUNTIMEINCONSISTENCY, RuntimeInconsistencyError],
  [ErrorCode.DATAINCONSISTENCY, DataInconsistencyError],
  [ErrorCode.CONNECTIONLOSS, ConnectionLossError],
  [ErrorCode.MARSHALLINGERROR, MarshallingError],
  [ErrorCode.UNIMPLEMENTED, UnimplementedError],
  [ErrorCode.OPERATIONTIMEOUT, OperationTimeoutError],
  [ErrorCode.BADARGUMENTS, BadArgumentsError],
  [ErrorCode.UNKNOWNSESSION, UnknownSessionError],
  [ErrorCode.NEWCONFIGNOQUORUM, NewConfigNoQuorumError],
  [ErrorCode.RECONFIGINPROGRESS, ReconfigInProgressError],
  [ErrorCode.APIERROR, APIError],
  [ErrorCode.NONODE, NoNodeError],
  [ErrorCode.NOAUTH, NoAuthError],
  [ErrorCode.BADVERSION, BadVersionError],
  [ErrorCode.NOCHILDRENFOREPHEMERALS, NoChildrenForEphemeralsError],
  [ErrorCode.NODEEXISTS, NodeExistsError],
  [ErrorCode.NOTEMPTY, NotEmptyError],
  [ErrorCode.SESSIONEXPIRED, SessionExpiredError],
  [ErrorCode.INVALIDCALLBACK, InvalidCallbackError],
  [ErrorCode.INVALIDACL, InvalidACLError],
  [ErrorCode.AUTHFAILED, AuthFailedError],
  [ErrorCode.SESSIONMOVED, SessionMovedError],
  [ErrorCode.NOTREADONLY, NotReadOnlyError],
  [ErrorCode.EPHEMERALONLOCALSESSION, EphemeralOnLocalSessionError],
  [ErrorCode.NOWATCHER, NoWatcherError],
  [ErrorCode.REQUESTTIMEOUT, RequestTimeoutError],
  [ErrorCode.RECONFIGDISABLED, ReconfigDisabledError],
  [ErrorCode.SESSIONCLOSEDREQUIRESASLAUTH, SessionClosedRequireAuthError],
  [ErrorCode.QUOTAEXCEEDED, QuotaExceededError],
  [ErrorCode.THROTTLEDOP, ThrottledOpError],
]);

/** The error for a non-zero code from the server; unknown codes give UnknownErrorCodeError. */
export function errorFromCode(errno: number, options: ZooKeeperErrorOptions = {}): ZooKeeperError {
  const Class = errorClasses.get(errno);
  if (Class) return new Class(options);
  // errorName() knows every code the protocol package declares; all of them are mapped above.
  return new UnknownErrorCodeError(errno, { ...options, message: options.message ?? (errorName(errno) ? `unmapped code ${errorName(errno)}` : undefined) });
}

/** Errors after which the same request may succeed once the connection is back. */
export function isRetryable(error: unknown): boolean {
  return error instanceof ConnectionLossError || error instanceof OperationTimeoutError;
}
