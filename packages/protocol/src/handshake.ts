import { JuteReader, JuteWriter } from './jute.js';
import { ConnectRequestFields, ConnectResponseFields } from './records.js';
import type { RecordOf } from './codec.js';

/**
 * The handshake records end in an optional readOnly byte: clients that do not send it ("old" clients
 * such as node-zookeeper-client) must get a response without it. `readOnly: undefined` means absent.
 */
export type ConnectRequest = RecordOf<(typeof ConnectRequestFields)['fields']> & { readOnly?: boolean };
export type ConnectResponse = RecordOf<(typeof ConnectResponseFields)['fields']> & { readOnly?: boolean };

export function writeConnectRequest(w: JuteWriter, value: ConnectRequest): void {
  ConnectRequestFields.write(w, value);
  if (value.readOnly !== undefined) w.bool(value.readOnly);
}

/** As ZooKeeper reads it: the mandatory fields, an optional readOnly byte, anything after that ignored. */
export function readConnectRequest(r: JuteReader): ConnectRequest {
  const value: ConnectRequest = ConnectRequestFields.read(r);
  if (r.remaining > 0) value.readOnly = r.bool();
  return value;
}

export function writeConnectResponse(w: JuteWriter, value: ConnectResponse): void {
  ConnectResponseFields.write(w, value);
  if (value.readOnly !== undefined) w.bool(value.readOnly);
}

export function readConnectResponse(r: JuteReader): ConnectResponse {
  const value: ConnectResponse = ConnectResponseFields.read(r);
  if (r.remaining > 0) value.readOnly = r.bool();
  return value;
}
