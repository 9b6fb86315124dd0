import type { ConnectRequest, ConnectResponse } from '@corral/protocol';
import type { ServerAddress } from './connectString.js';

/**
 * Connection states as the application sees them (Curator's vocabulary):
 * - `idle`: created, connect() not called yet
 * - `connecting`: looking for a server to start a new session
 * - `connected`: a new session is established
 * - `suspended`: the connection was lost; the session may still live, the client is reconnecting
 * - `reconnected`: the same session was re-established on a (possibly different) server
 * - `readOnly`: connected to a read-only server (writes fail with NotReadOnlyError)
 * - `lost`: the session expired (server said so, or no server was reachable for the session timeout)
 * - `closed`: close() or destroy(); final
 */
export type ClientState = 'idle' | 'connecting' | 'connected' | 'suspended' | 'reconnected' | 'readOnly' | 'lost' | 'closed';

/** States in which a session is established on a connection: 'connected', 'reconnected', 'readOnly'. */
export function isConnectedState(state: ClientState): boolean {
  return state === 'connected' || state === 'reconnected' || state === 'readOnly';
}

export interface MachineConfig {
  /** Servers in the order to try them (shuffle before passing them in). */
  readonly servers: readonly ServerAddress[];
  /** Requested session timeout, re-sent unchanged on every reconnect (as the Java client does). */
  readonly sessionTimeoutMs: number;
  /** Budget for one attempt: TCP connect plus handshake. */
  readonly connectTimeoutMs: number;
  readonly canBeReadOnly: boolean;
  /** After `lost`, start a new session at once instead of waiting for reconnect(). */
  readonly autoReconnectAfterLoss: boolean;
  /** Pause after every server failed once: base·2^round, capped, times a random 0.5..1. */
  readonly reconnectBaseDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  /** How long close() waits for the closeSession reply. */
  readonly closeTimeoutMs: number;
  /** Injected randomness (jitter); tests pass a seeded generator. */
  readonly random: () => number;
  /** Resume this session instead of creating one (like Java's ZooKeeper(…, sessionId, passwd)). */
  readonly initialSession?: Session;
}

export interface Session {
  readonly sessionId: bigint;
  readonly passwd: Uint8Array;
  readonly negotiatedTimeoutMs: number;
}

export type MachineInput =
  | { type: 'connect' }
  | { type: 'socketOpened'; attempt: number }
  | { type: 'connectResponse'; attempt: number; response: ConnectResponse }
  | { type: 'socketClosed'; attempt: number; reason: string }
  /** Bytes that break the protocol (bad frame, xid out of order): the connection is unusable. */
  | { type: 'protocolError'; attempt: number; reason: string }
  | { type: 'tick' }
  | { type: 'close' }
  | { type: 'closeSessionDone' }
  | { type: 'destroy' }
  /** reconnect(): start a new session after `lost`. */
  | { type: 'newSession' };

export type LossReason = 'expired' | 'timeout';

export type MachineAction =
  | { type: 'openSocket'; attempt: number; server: ServerAddress }
  | { type: 'sendConnectRequest'; attempt: number; request: ConnectRequest }
  | { type: 'closeSocket'; attempt: number; reason: string }
  /** An established connection ended: fail what was in flight on it with ConnectionLossError. */
  | { type: 'connectionLost'; attempt: number; reason: string }
  /** Handshake done: replay auth (and watches unless the session is new), then flush queued requests. */
  | { type: 'sessionEstablished'; attempt: number; newSession: boolean; readOnly: boolean; session: Session }
  | { type: 'sendPing'; attempt: number }
  | { type: 'sendCloseSession'; attempt: number }
  /** The session is gone: fail queued requests and watches with SessionExpiredError. */
  | { type: 'sessionLost'; reason: LossReason }
  | { type: 'state'; state: ClientState; previous: ClientState }
  /** Final: fail everything still pending with ClientClosedError. */
  | { type: 'closed' };

type Phase =
  | { name: 'idle' }
  | { name: 'connecting'; attempt: number; server: ServerAddress; startedMs: number; tcpOpen: boolean }
  | { name: 'backoff'; untilMs: number }
  | { name: 'open'; attempt: number; server: ServerAddress; lastRecvMs: number; lastSendMs: number }
  | { name: 'closing'; attempt: number; deadlineMs: number }
  | { name: 'lost' }
  | { name: 'closed' };

/**
 * The connection and session lifecycle as a pure state machine: no sockets, timers or clock.
 * Inputs arrive with the current time; each step returns the actions to perform, in order.
 * Socket events carry the attempt number they belong to, so events of a connection that was
 * already abandoned are ignored. The caller arms one timer for nextWakeMs() and calls
 * step({type:'tick'}) when it fires.
 */
export class ConnectionMachine {
  readonly #config: MachineConfig;
  #phase: Phase = { name: 'idle' };
  #state: ClientState = 'idle';
  #session: Session | undefined;
  #lastZxidSeen = 0n;
  /** Last time any frame arrived from a server while we held a session (local expiry clock). */
  #lastHeardMs = 0;
  #attempt = 0;
  #nextServer = 0;
  /** Attempts that failed since the last established session; a full round triggers backoff. */
  #failedInRound = 0;
  #round = 0;
  /** This client has had a connection on the current session (so the next one is a reattach). */
  #establishedOnce = false;
  #out: MachineAction[] = [];

  constructor(config: MachineConfig) {
    if (config.servers.length === 0) throw new TypeError('no servers to connect to');
    this.#config = config;
    this.#session = config.initialSession;
  }

  get state(): ClientState {
    return this.#state;
  }

  get session(): Session | undefined {
    return this.#session;
  }

  get lastZxidSeen(): bigint {
    return this.#lastZxidSeen;
  }

  /** The attempt whose socket is established with a session (requests may be written to it). */
  get openAttempt(): number | undefined {
    return this.#phase.name === 'open' || this.#phase.name === 'closing' ? this.#phase.attempt : undefined;
  }

  /** Negotiated timeout × 2/3: no frame received for this long means the connection is dead. */
  get readTimeoutMs(): number {
    return Math.floor(((this.#session?.negotiatedTimeoutMs ?? this.#config.sessionTimeoutMs) * 2) / 3);
  }

  /** Negotiated timeout / 3: send a ping after this much send-idleness. */
  get pingIntervalMs(): number {
    return Math.floor((this.#session?.negotiatedTimeoutMs ?? this.#config.sessionTimeoutMs) / 3);
  }

  /** Highest zxid seen in replies (not pings, auth replies or notifications: the caller filters). */
  observeZxid(zxid: bigint): void {
    if (zxid > this.#lastZxidSeen) this.#lastZxidSeen = zxid;
  }

  noteReceived(nowMs: number): void {
    if (this.#phase.name === 'open') this.#phase.lastRecvMs = nowMs;
    if (this.#session) this.#lastHeardMs = nowMs;
  }

  noteSent(nowMs: number): void {
    if (this.#phase.name === 'open') this.#phase.lastSendMs = nowMs;
  }

  /** When the caller must deliver the next tick, or undefined if no timer is needed. */
  nextWakeMs(): number | undefined {
    const phase = this.#phase;
    switch (phase.name) {
      case 'connecting':
        return Math.min(phase.startedMs + this.#config.connectTimeoutMs, this.#localExpiryMs());
      case 'backoff':
        return Math.min(phase.untilMs, this.#localExpiryMs());
      case 'open':
        return Math.min(phase.lastSendMs + this.pingIntervalMs, phase.lastRecvMs + this.readTimeoutMs);
      case 'closing':
        return phase.deadlineMs;
      default:
        return undefined;
    }
  }

  step(input: MachineInput, nowMs: number): MachineAction[] {
    this.#out = [];
    this.#dispatch(input, nowMs);
    this.#assertInvariants();
    return this.#out;
  }

  #dispatch(input: MachineInput, nowMs: number): void {
    const phase = this.#phase;
    switch (input.type) {
      case 'connect':
        if (phase.name !== 'idle') return;
        this.#lastHeardMs = nowMs;
        this.#setState('connecting');
        this.#openNext(nowMs);
        return;
      case 'socketOpened':
        if (phase.name !== 'connecting' || phase.attempt !== input.attempt) return;
        phase.tcpOpen = true;
        this.#emit({
          type: 'sendConnectRequest',
          attempt: phase.attempt,
          request: {
            protocolVersion: 0,
            lastZxidSeen: this.#lastZxidSeen,
            timeOut: this.#config.sessionTimeoutMs,
            sessionId: this.#session?.sessionId ?? 0n,
            passwd: this.#session?.passwd ?? new Uint8Array(16),
            readOnly: this.#config.canBeReadOnly,
          },
        });
        return;
      case 'connectResponse':
        if (phase.name !== 'connecting' || phase.attempt !== input.attempt) return;
        this.#onConnectResponse(phase, input.response, nowMs);
        return;
      case 'socketClosed':
      case 'protocolError':
        this.#onConnectionEnded(input.attempt, input.reason, input.type === 'protocolError', nowMs);
        return;
      case 'tick':
        this.#onTick(nowMs);
        return;
      case 'close':
        if (phase.name === 'open') {
          this.#phase = { name: 'closing', attempt: phase.attempt, deadlineMs: nowMs + this.#config.closeTimeoutMs };
          this.#emit({ type: 'sendCloseSession', attempt: phase.attempt });
          return;
        }
        if (phase.name === 'closing' || phase.name === 'closed') return;
        this.#finish('close() while not connected');
        return;
      case 'closeSessionDone':
        if (phase.name === 'closing') this.#finish('session closed');
        return;
      case 'destroy':
        if (phase.name !== 'closed') this.#finish('destroyed');
        return;
      case 'newSession':
        if (phase.name !== 'lost') return;
        this.#startNewSession(nowMs);
        return;
    }
  }

  #onConnectResponse(phase: Extract<Phase, { name: 'connecting' }>, response: ConnectResponse, nowMs: number): void {
    if (response.timeOut <= 0) {
      // The server does not know our session (expired, or the wrong password): it is dead for good.
      this.#emit({ type: 'closeSocket', attempt: phase.attempt, reason: 'session expired' });
      this.#loseSession('expired', nowMs);
      return;
    }
    const reattached = this.#establishedOnce && this.#session !== undefined && this.#session.sessionId === response.sessionId;
    this.#establishedOnce = true;
    this.#session = {
      sessionId: response.sessionId,
      passwd: response.passwd ?? new Uint8Array(16),
      negotiatedTimeoutMs: response.timeOut,
    };
    this.#lastHeardMs = nowMs;
    this.#failedInRound = 0;
    this.#round = 0;
    this.#phase = { name: 'open', attempt: phase.attempt, server: phase.server, lastRecvMs: nowMs, lastSendMs: nowMs };
    const readOnly = response.readOnly === true;
    this.#emit({ type: 'sessionEstablished', attempt: phase.attempt, newSession: !reattached, readOnly, session: this.#session });
    this.#setState(readOnly ? 'readOnly' : reattached ? 'reconnected' : 'connected');
  }

  #onConnectionEnded(attempt: number, reason: string, mustClose: boolean, nowMs: number): void {
    const phase = this.#phase;
    if (phase.name === 'connecting' && phase.attempt === attempt) {
      if (mustClose) this.#emit({ type: 'closeSocket', attempt, reason });
      this.#attemptFailed(nowMs);
      return;
    }
    if (phase.name === 'open' && phase.attempt === attempt) {
      if (mustClose) this.#emit({ type: 'closeSocket', attempt, reason });
      this.#dropOpenConnection(attempt, reason, nowMs);
      return;
    }
    if (phase.name === 'closing' && phase.attempt === attempt) {
      this.#finish(reason);
    }
  }

  #onTick(nowMs: number): void {
    const phase = this.#phase;
    switch (phase.name) {
      case 'connecting':
        if (this.#locallyExpired(nowMs)) {
          this.#emit({ type: 'closeSocket', attempt: phase.attempt, reason: 'session timeout passed without a server' });
          this.#loseSession('timeout', nowMs);
        } else if (nowMs >= phase.startedMs + this.#config.connectTimeoutMs) {
          this.#emit({ type: 'closeSocket', attempt: phase.attempt, reason: 'connect timeout' });
          this.#attemptFailed(nowMs);
        }
        return;
      case 'backoff':
        if (this.#locallyExpired(nowMs)) this.#loseSession('timeout', nowMs);
        else if (nowMs >= phase.untilMs) this.#openNext(nowMs);
        return;
      case 'open':
        if (nowMs - phase.lastRecvMs >= this.readTimeoutMs) {
          const reason = `nothing received for ${nowMs - phase.lastRecvMs} ms`;
          this.#emit({ type: 'closeSocket', attempt: phase.attempt, reason });
          this.#dropOpenConnection(phase.attempt, reason, nowMs);
        } else if (nowMs - phase.lastSendMs >= this.pingIntervalMs) {
          phase.lastSendMs = nowMs;
          this.#emit({ type: 'sendPing', attempt: phase.attempt });
        }
        return;
      case 'closing':
        if (nowMs >= phase.deadlineMs) this.#finish('closeSession not answered in time');
        return;
      default:
        return;
    }
  }

  #dropOpenConnection(attempt: number, reason: string, nowMs: number): void {
    this.#emit({ type: 'connectionLost', attempt, reason });
    this.#setState('suspended');
    // The first retry after losing a working connection is immediate (next server in the list).
    this.#openNext(nowMs);
  }

  #attemptFailed(nowMs: number): void {
    this.#failedInRound++;
    if (this.#locallyExpired(nowMs)) {
      this.#loseSession('timeout', nowMs);
      return;
    }
    if (this.#failedInRound < this.#config.servers.length) {
      this.#openNext(nowMs);
      return;
    }
    // Every server failed once: pause before the next round, growing exponentially with jitter.
    this.#failedInRound = 0;
    const base = Math.min(this.#config.reconnectMaxDelayMs, this.#config.reconnectBaseDelayMs * 2 ** this.#round);
    this.#round = Math.min(this.#round + 1, 30);
    const delay = Math.max(1, Math.round(base * (0.5 + this.#config.random() / 2)));
    this.#phase = { name: 'backoff', untilMs: nowMs + delay };
  }

  #openNext(nowMs: number): void {
    const servers = this.#config.servers;
    const server = servers[this.#nextServer % servers.length]!;
    this.#nextServer = (this.#nextServer + 1) % servers.length;
    const attempt = ++this.#attempt;
    this.#phase = { name: 'connecting', attempt, server, startedMs: nowMs, tcpOpen: false };
    this.#emit({ type: 'openSocket', attempt, server });
  }

  #localExpiryMs(): number {
    return this.#session && this.#establishedOnce ? this.#lastHeardMs + this.#session.negotiatedTimeoutMs : Number.POSITIVE_INFINITY;
  }

  #locallyExpired(nowMs: number): boolean {
    return nowMs >= this.#localExpiryMs();
  }

  #loseSession(reason: LossReason, nowMs: number): void {
    this.#session = undefined;
    this.#establishedOnce = false;
    this.#phase = { name: 'lost' };
    this.#emit({ type: 'sessionLost', reason });
    this.#setState('lost');
    if (this.#config.autoReconnectAfterLoss) this.#startNewSession(nowMs);
  }

  #startNewSession(nowMs: number): void {
    // A new session is a new client as far as ordering goes (like a new ZooKeeper handle): the
    // zxid floor of the old session would make servers that restarted without our history refuse us.
    this.#lastZxidSeen = 0n;
    this.#failedInRound = 0;
    this.#round = 0;
    this.#setState('connecting');
    this.#openNext(nowMs);
  }

  #finish(reason: string): void {
    const phase = this.#phase;
    if (phase.name === 'connecting' || phase.name === 'open' || phase.name === 'closing') {
      this.#emit({ type: 'closeSocket', attempt: phase.attempt, reason });
    }
    this.#phase = { name: 'closed' };
    this.#emit({ type: 'closed' });
    this.#setState('closed');
  }

  #setState(state: ClientState): void {
    if (state === this.#state) return;
    const previous = this.#state;
    this.#state = state;
    this.#emit({ type: 'state', state, previous });
  }

  #emit(action: MachineAction): void {
    this.#out.push(action);
  }

  #assertInvariants(): void {
    const phase = this.#phase.name;
    const state = this.#state;
    const ok =
      (phase === 'idle' && state === 'idle') ||
      (phase === 'closed' && state === 'closed') ||
      (phase === 'lost' && state === 'lost') ||
      ((phase === 'connecting' || phase === 'backoff') && (state === 'connecting' || state === 'suspended')) ||
      ((phase === 'open' || phase === 'closing') && isConnectedState(state));
    if (!ok) throw new Error(`connection machine invariant broken: phase ${phase} with state ${state}`);
    if ((state === 'suspended' || phase === 'open') && this.#session === undefined) {
      throw new Error(`connection machine invariant broken: ${state}/${phase} without a session`);
    }
  }
}
