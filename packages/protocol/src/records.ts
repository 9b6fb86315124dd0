import { boolean, buffer, int, long, record, string, ustring, vector, type Infer } from './codec.js';

// Data records (org.apache.zookeeper.data)
export const Id = record('Id', { scheme: string, id: string });
export const ACL = record('ACL', { perms: int, id: Id });
export const Stat = record('Stat', {
  czxid: long,
  mzxid: long,
  ctime: long,
  mtime: long,
  version: int,
  cversion: int,
  aversion: int,
  ephemeralOwner: long,
  dataLength: int,
  numChildren: int,
  pzxid: long,
});
export const ClientInfo = record('ClientInfo', { authScheme: ustring, user: ustring });

// Handshake. The trailing readOnly byte is optional on the wire: see handshake.ts.
export const ConnectRequestFields = record('ConnectRequest', {
  protocolVersion: int,
  lastZxidSeen: long,
  timeOut: int,
  sessionId: long,
  passwd: buffer,
});
export const ConnectResponseFields = record('ConnectResponse', {
  protocolVersion: int,
  timeOut: int,
  sessionId: long,
  passwd: buffer,
});

// Headers
export const RequestHeader = record('RequestHeader', { xid: int, type: int });
export const ReplyHeader = record('ReplyHeader', { xid: int, zxid: long, err: int });
export const MultiHeader = record('MultiHeader', { type: int, done: boolean, err: int });

// Requests and responses (org.apache.zookeeper.proto)
export const AuthPacket = record('AuthPacket', { type: int, scheme: string, auth: buffer });
export const WatcherEvent = record('WatcherEvent', { type: int, state: int, path: ustring });
export const ErrorResponse = record('ErrorResponse', { err: int });
export const CreateRequest = record('CreateRequest', { path: string, data: buffer, acl: vector(ACL), flags: int });
export const CreateTTLRequest = record('CreateTTLRequest', {
  path: string,
  data: buffer,
  acl: vector(ACL),
  flags: int,
  ttl: long,
});
export const CreateResponse = record('CreateResponse', { path: string });
export const Create2Response = record('Create2Response', { path: string, stat: Stat });
export const DeleteRequest = record('DeleteRequest', { path: string, version: int });
export const DeleteContainerRequest = record('DeleteContainerRequest', { path: buffer });
export const ExistsRequest = record('ExistsRequest', { path: string, watch: boolean });
export const ExistsResponse = record('ExistsResponse', { stat: Stat });
export const GetDataRequest = record('GetDataRequest', { path: string, watch: boolean });
export const GetDataResponse = record('GetDataResponse', { data: buffer, stat: Stat });
export const SetDataRequest = record('SetDataRequest', { path: string, data: buffer, version: int });
export const SetDataResponse = record('SetDataResponse', { stat: Stat });
export const GetACLRequest = record('GetACLRequest', { path: string });
export const GetACLResponse = record('GetACLResponse', { acl: vector(ACL), stat: Stat });
export const SetACLRequest = record('SetACLRequest', { path: string, acl: vector(ACL), version: int });
export const SetACLResponse = record('SetACLResponse', { stat: Stat });
export const GetChildrenRequest = record('GetChildrenRequest', { path: string, watch: boolean });
export const GetChildrenResponse = record('GetChildrenResponse', { children: vector(string) });
export const GetChildren2Request = record('GetChildren2Request', { path: string, watch: boolean });
export const GetChildren2Response = record('GetChildren2Response', { children: vector(string), stat: Stat });
export const CheckVersionRequest = record('CheckVersionRequest', { path: string, version: int });
export const SyncRequest = record('SyncRequest', { path: string });
export const SyncResponse = record('SyncResponse', { path: string });
export const ReconfigRequest = record('ReconfigRequest', {
  joiningServers: ustring,
  leavingServers: ustring,
  newMembers: ustring,
  curConfigId: long,
});
export const SetWatches = record('SetWatches', {
  relativeZxid: long,
  dataWatches: vector(string),
  existWatches: vector(string),
  childWatches: vector(string),
});
export const SetWatches2 = record('SetWatches2', {
  relativeZxid: long,
  dataWatches: vector(string),
  existWatches: vector(string),
  childWatches: vector(string),
  persistentWatches: vector(string),
  persistentRecursiveWatches: vector(string),
});
export const AddWatchRequest = record('AddWatchRequest', { path: string, mode: int });
export const CheckWatchesRequest = record('CheckWatchesRequest', { path: string, type: int });
export const RemoveWatchesRequest = record('RemoveWatchesRequest', { path: string, type: int });
export const GetEphemeralsRequest = record('GetEphemeralsRequest', { prefixPath: string });
export const GetEphemeralsResponse = record('GetEphemeralsResponse', { ephemerals: vector(string) });
export const GetAllChildrenNumberRequest = record('GetAllChildrenNumberRequest', { path: string });
export const GetAllChildrenNumberResponse = record('GetAllChildrenNumberResponse', { totalNumber: int });
export const WhoAmIResponse = record('WhoAmIResponse', { clientInfo: vector(ClientInfo) });
export const GetSASLRequest = record('GetSASLRequest', { token: buffer });
export const SetSASLResponse = record('SetSASLResponse', { token: buffer });
export const CreateSessionTxn = record('CreateSessionTxn', { timeOut: int });

export type Id = Infer<typeof Id>;
export type ACL = Infer<typeof ACL>;
export type Stat = Infer<typeof Stat>;
export type ClientInfo = Infer<typeof ClientInfo>;
export type RequestHeader = Infer<typeof RequestHeader>;
export type ReplyHeader = Infer<typeof ReplyHeader>;
export type MultiHeader = Infer<typeof MultiHeader>;
export type AuthPacket = Infer<typeof AuthPacket>;
export type WatcherEvent = Infer<typeof WatcherEvent>;
export type CreateRequest = Infer<typeof CreateRequest>;
export type CreateTTLRequest = Infer<typeof CreateTTLRequest>;
export type DeleteRequest = Infer<typeof DeleteRequest>;
export type SetDataRequest = Infer<typeof SetDataRequest>;
export type SetACLRequest = Infer<typeof SetACLRequest>;
export type CheckVersionRequest = Infer<typeof CheckVersionRequest>;
export type SetWatches2 = Infer<typeof SetWatches2>;
export type GetDataResponse = Infer<typeof GetDataResponse>;

/** A Stat of all zeros, as the root and /zookeeper nodes have. */
export function zeroStat(): Stat {
  return {
    czxid: 0n,
    mzxid: 0n,
    ctime: 0n,
    mtime: 0n,
    version: 0,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: 0n,
    dataLength: 0,
    numChildren: 0,
    pzxid: 0n,
  };
}
