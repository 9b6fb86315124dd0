import { AuthPacket, OpCode, RequestHeader, Xid, errorName } from '@corral/protocol';
import { AuthFailedError } from './errors.js';
import { toBytes } from './operations.js';
import type { Transport } from './transport.js';
import type { AuthInfo } from './types.js';

export interface AuthEntry {
  readonly scheme: string;
  readonly auth: Uint8Array;
  /** Given at construction: part of the client's identity, so a rejection is fatal. */
  readonly fromOptions: boolean;
  waiters: { resolve(): void; reject(error: Error): void }[];
}

/**
 * The credentials of a session: sent first on every connection, answered in order by the server
 * (auth replies carry a fixed xid, so the oldest unanswered packet is the one being answered).
 */
export class Credentials {
  readonly #entries: AuthEntry[] = [];
  #inFlight: AuthEntry[] = [];

  constructor(authInfo: readonly AuthInfo[]) {
    for (const info of authInfo) this.#entries.push({ scheme: info.scheme, auth: toBytes(info.auth), fromOptions: true, waiters: [] });
  }

  /**
   * Remembers a credential for every later connection. The promise settles with the server's
   * answer (or the signal); the credential stays remembered even if the caller stops waiting.
   */
  add(scheme: string, auth: string | Uint8Array, signal: AbortSignal | undefined): { entry: AuthEntry; accepted: Promise<void> } {
    const entry: AuthEntry = { scheme, auth: toBytes(auth), fromOptions: false, waiters: [] };
    const accepted = new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.waiters.push({
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
    });
    this.#entries.push(entry);
    return { entry, accepted };
  }

  send(entry: AuthEntry, transport: Transport): void {
    this.#inFlight.push(entry);
    transport.send((w) => {
      RequestHeader.write(w, { xid: Xid.AUTH, type: OpCode.auth });
      AuthPacket.write(w, { type: 0, scheme: entry.scheme, auth: entry.auth });
    });
  }

  /** A new connection: replays every credential on it. */
  sendAll(transport: Transport): void {
    this.#inFlight = [];
    for (const entry of this.#entries) this.send(entry, transport);
  }

  /** The connection ended: its unanswered auth packets will never be answered. */
  forgetInFlight(): void {
    this.#inFlight = [];
  }

  /**
   * Applies the server's answer to the oldest unanswered credential (undefined if there is none).
   * A rejected credential is forgotten and its waiters fail with the returned error.
   */
  settle(err: number): { scheme: string; fatal: boolean; error?: AuthFailedError } | undefined {
    const entry = this.#inFlight.shift();
    if (!entry) return undefined;
    if (err === 0) {
      for (const waiter of entry.waiters.splice(0)) waiter.resolve();
      return { scheme: entry.scheme, fatal: false };
    }
    const error = new AuthFailedError({ message: `the server rejected credentials of scheme ${entry.scheme} (${errorName(err) ?? err})` });
    const index = this.#entries.indexOf(entry);
    if (index !== -1) this.#entries.splice(index, 1);
    for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
    return { scheme: entry.scheme, fatal: entry.fromOptions, error };
  }

  rejectAll(error: Error): void {
    for (const entry of this.#entries) for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
  }
}
