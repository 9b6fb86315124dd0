import { JuteReader, OpCode, RequestHeader, Xid, readConnectResponse, writeConnectRequest } from '@corral/protocol';
import type { Logger } from 'pino';
import type { ServerAddress } from './connectString.js';
import { Credentials } from './credentials.js';
import { ClientClosedError, ConnectionLossError, SessionExpiredError, type AuthFailedError } from './errors.js';
import { ConnectionMachine, isConnectedState, type ClientState, type LossReason, type MachineAction, type MachineConfig, type MachineInput, type Session } from './machine.js';
import type { Chroot } from './paths.js';
import { Call, RequestPipeline, type CallSpec } from './pipeline.js';
import { routeReply, type ReplyRouting } from './replies.js';
import { Transport } from './transport.js';
import type { AuthInfo } from './types.js';
import { removePersistentWatch, restoreWatches, type WatchLink } from './watchSync.js';
import type { PersistentKind, PersistentWatch, WatchRegistry } from './watches.js';

export interface SessionExecutorOptions {
  readonly machine: MachineConfig;
  readonly maxFrameLength: number;
  readonly authInfo: readonly AuthInfo[];
  readonly chroot: Chroot;
  readonly watches: WatchRegistry;
  readonly log: Logger;
  /** Where state changes and rejected credentials are reported (the client turns them into events). */
  readonly hooks: SessionHooks;
}

export interface SessionHooks {
  state(state: ClientState, previous: ClientState): void;
  authFailed(error: AuthFailedError, scheme: string): void;
}

/**
 * Runs the pure ConnectionMachine against the world: performs its actions on a Transport, feeds
 * socket events, frames and timer ticks back as inputs, and routes replies, notifications and
 * auth answers. It owns the request pipeline and the client's closing state.
 */
export class SessionExecutor {
  readonly #machine: ConnectionMachine;
  readonly #pipeline = new RequestPipeline();
  readonly #credentials: Credentials;
  readonly #watches: WatchRegistry;
  readonly #chroot: Chroot;
  readonly #log: Logger;
  readonly #hooks: SessionHooks;
  readonly #maxFrameLength: number;
  readonly #watchLink: WatchLink;
  readonly #replyRouting: ReplyRouting;
  #transport: Transport | undefined;
  #transportAttempt = 0;
  /** The transport's first frame (the ConnectResponse) has not arrived yet. */
  #awaitingHandshake = false;
  /** Requests may be written: session established and replay (auth, watches) queued. */
  #ready = false;
  /** close() was called: no new requests are accepted. */
  #closing = false;
  /** closeSession is being sent: requests still queued for a slot can no longer go out. */
  #sessionClosing = false;
  #closedError: Error | undefined;
  #resolveClosed!: () => void;
  /** Resolves when the client has closed (close(), destroy() or a fatal auth failure). */
  readonly closed: Promise<void>;
  #everConnected = false;
  #lossReason: LossReason = 'expired';
  #stepping = false;
  readonly #inputs: MachineInput[] = [];
  #timer: NodeJS.Timeout | undefined;
  #timerAtMs = 0;

  constructor(options: SessionExecutorOptions) {
    this.#machine = new ConnectionMachine(options.machine);
    this.#credentials = new Credentials(options.authInfo);
    this.#watches = options.watches;
    this.#chroot = options.chroot;
    this.#log = options.log;
    this.#hooks = options.hooks;
    this.#maxFrameLength = options.maxFrameLength;
    this.#watchLink = {
      chroot: this.#chroot,
      watches: this.#watches,
      log: this.#log,
      canSend: () => this.#ready && !this.#closing,
      internal: (spec) => this.internal(spec),
    };
    this.#replyRouting = {
      pipeline: this.#pipeline,
      watches: this.#watches,
      chroot: this.#chroot,
      log: this.#log,
      observeZxid: (zxid) => this.#machine.observeZxid(zxid),
      onAuthAnswer: (err) => this.#onAuthAnswer(err),
      // Frames are routed only while their connection is the current one.
      protocolError: (reason) => this.#dropConnection(reason),
    };
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  get state(): ClientState {
    return this.#machine.state;
  }

  get session(): Session | undefined {
    return this.#machine.session;
  }

  get lastZxidSeen(): bigint {
    return this.#machine.lastZxidSeen;
  }

  /** A session was established at least once (an abort before that closes the client). */
  get everConnected(): boolean {
    return this.#everConnected;
  }

  /** Why the session was last lost. */
  get lossReason(): LossReason {
    return this.#lossReason;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Set once the client is closed or being destroyed: what pending work fails with. */
  get closedError(): Error | undefined {
    return this.#closedError;
  }

  // ---------------------------------------------------------------- lifecycle

  connect(): void {
    this.#step({ type: 'connect' });
  }

  /** After 'lost': a new session. */
  newSession(): void {
    this.#step({ type: 'newSession' });
  }

  /** close() began: new requests are refused, those already admitted still go out. */
  stopAdmitting(): void {
    this.#closing = true;
  }

  /** Sends closeSession (when connected) and closes; requests not yet sent fail. */
  closeSession(): void {
    this.#sessionClosing = true;
    this.#step({ type: 'close' });
  }

  /** Abortive close; idempotent. */
  destroy(error?: Error): void {
    if (this.#closedError) return;
    this.#closing = true;
    this.#closedError = error ?? new ClientClosedError();
    this.#step({ type: 'destroy' });
  }

  // ---------------------------------------------------------------- requests

  refusal(path: string | undefined): Error | undefined {
    return this.#refusal(path, this.#closing);
  }

  #refusal(path: string | undefined, closing: boolean): Error | undefined {
    if (closing || this.#closedError) return this.#closedError ?? new ClientClosedError({ path });
    if (this.state === 'lost') return new SessionExpiredError({ path });
    return undefined;
  }

  /** A user request got its slot. */
  submit(call: Call): void {
    if (call.settled) return call.leave();
    const refused = this.#refusal(call.spec.path, this.#sessionClosing);
    if (refused) return call.fail(refused);
    if (this.#ready) return this.#pipeline.write(call, this.#transport!);
    this.#pipeline.hold(call);
  }

  withdraw(call: Call): void {
    this.#pipeline.withdraw(call);
  }

  /** A request of the client's own (setWatches, removeWatches, closeSession): not gated, no abort. */
  internal<T>(spec: CallSpec<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call = new Call<T>(spec, resolve, reject);
      if (this.#ready) this.#pipeline.write(call, this.#transport!);
      else call.fail(new ConnectionLossError({ path: spec.path }));
    });
  }

  addAuth(scheme: string, auth: string | Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    if (this.#closedError || this.#closing) return Promise.reject(this.#closedError ?? new ClientClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { entry, accepted } = this.#credentials.add(scheme, auth, signal);
    if (this.#ready) this.#credentials.send(entry, this.#transport!);
    return accepted;
  }

  removePersistentWatch(kind: PersistentKind, watch: PersistentWatch): void {
    removePersistentWatch(this.#watchLink, kind, watch);
  }

  // ---------------------------------------------------------------- machine

  #step(input: MachineInput): void {
    this.#inputs.push(input);
    if (this.#stepping) return;
    this.#stepping = true;
    try {
      for (let next = this.#inputs.shift(); next; next = this.#inputs.shift()) {
        const actions = this.#machine.step(next, Date.now());
        for (const action of actions) this.#perform(action);
      }
    } finally {
      this.#stepping = false;
    }
    this.#armTimer();
  }

  #perform(action: MachineAction): void {
    switch (action.type) {
      case 'openSocket':
        this.#openSocket(action.attempt, action.server);
        return;
      case 'sendConnectRequest':
        if (action.attempt !== this.#transportAttempt) return;
        this.#log.debug({ attempt: action.attempt, sessionId: action.request.sessionId.toString(16), lastZxidSeen: action.request.lastZxidSeen.toString(16) }, 'sending ConnectRequest');
        this.#transport?.send((w) => writeConnectRequest(w, action.request));
        return;
      case 'closeSocket':
        if (action.attempt !== this.#transportAttempt || !this.#transport) return;
        this.#log.debug({ attempt: action.attempt, reason: action.reason }, 'closing connection');
        if (action.reason === 'session closed') this.#transport.end();
        else this.#transport.destroy(action.reason);
        this.#ready = false;
        return;
      case 'connectionLost':
        this.#connectionLost(action.reason);
        return;
      case 'sessionEstablished':
        this.#sessionEstablished(action.newSession, action.session);
        return;
      case 'sendPing':
        if (action.attempt !== this.#transportAttempt) return;
        this.#transport?.send((w) => RequestHeader.write(w, { xid: Xid.PING, type: OpCode.ping }));
        return;
      case 'sendCloseSession': {
        const done = (): void => this.#step({ type: 'closeSessionDone' });
        this.internal({ op: OpCode.closeSession, read: () => undefined }).then(done, done);
        return;
      }
      case 'sessionLost': {
        this.#lossReason = action.reason;
        this.#log.warn({ reason: action.reason }, 'session lost');
        const error = new SessionExpiredError({ message: action.reason === 'expired' ? 'the session expired' : 'no server reachable for the session timeout; session presumed expired' });
        this.#pipeline.failHeld(error);
        this.#watches.failAll(error);
        return;
      }
      case 'state':
        this.#onState(action.state, action.previous);
        return;
      case 'closed':
        this.#onClosed();
        return;
    }
  }

  #onState(state: ClientState, previous: ClientState): void {
    this.#log.info({ state, previous, sessionId: this.session?.sessionId.toString(16) }, 'connection state');
    if (isConnectedState(state)) this.#everConnected = true;
    this.#hooks.state(state, previous);
  }

  #openSocket(attempt: number, server: ServerAddress): void {
    this.#transport?.destroy('superseded');
    this.#transportAttempt = attempt;
    this.#awaitingHandshake = true;
    this.#ready = false;
    this.#log.debug({ attempt, host: server.host, port: server.port }, 'connecting');
    this.#transport = new Transport(
      server.host,
      server.port,
      {
        onOpen: () => this.#step({ type: 'socketOpened', attempt }),
        onFrames: (frames) => this.#onFrames(attempt, frames),
        onProtocolError: (reason) => this.#step({ type: 'protocolError', attempt, reason }),
        onClose: (reason) => {
          if (attempt === this.#transportAttempt) this.#ready = false;
          this.#step({ type: 'socketClosed', attempt, reason });
        },
        onFlush: () => {
          if (attempt === this.#transportAttempt) this.#machine.noteSent(Date.now());
        },
      },
      { maxFrameLength: this.#maxFrameLength },
    );
  }

  #sessionEstablished(newSession: boolean, session: Session): void {
    this.#log.info({ sessionId: session.sessionId.toString(16), timeoutMs: session.negotiatedTimeoutMs, newSession }, 'session established');
    this.#ready = true;
    const transport = this.#transport!;
    // Java's order: auth packets, then watches, then whatever requests waited for the connection.
    this.#credentials.sendAll(transport);
    if (!newSession) restoreWatches(this.#watchLink, this.#machine.lastZxidSeen);
    this.#pipeline.release(transport);
  }

  #connectionLost(reason: string): void {
    this.#ready = false;
    this.#credentials.forgetInFlight();
    const calls = this.#pipeline.drainSent();
    if (calls.length > 0) this.#log.info({ inFlight: calls.length, reason }, 'connection lost with requests in flight');
    for (const call of calls) call.fail(new ConnectionLossError({ path: call.spec.path, message: `connection lost (${reason})${call.spec.path ? ` (path ${call.spec.path})` : ''}` }));
  }

  #onClosed(): void {
    this.#closing = true;
    this.#sessionClosing = true;
    this.#ready = false;
    const error = this.#closedError ?? new ClientClosedError();
    this.#closedError = error;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const call of this.#pipeline.drainSent()) call.fail(error);
    this.#pipeline.failHeld(error);
    this.#credentials.rejectAll(error);
    this.#watches.closeAll(error);
    this.#resolveClosed();
  }

  #armTimer(): void {
    const wake = this.#machine.nextWakeMs();
    if (wake === undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (this.#timer && this.#timerAtMs <= wake) return;
    clearTimeout(this.#timer);
    this.#timerAtMs = wake;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#step({ type: 'tick' });
    }, Math.max(0, wake - Date.now()));
  }

  // ---------------------------------------------------------------- frames from the server

  #onFrames(attempt: number, frames: Uint8Array[]): void {
    if (attempt !== this.#transportAttempt) return;
    this.#machine.noteReceived(Date.now());
    for (const frame of frames) {
      if (attempt !== this.#transportAttempt || this.#transport?.closed) return;
      if (this.#awaitingHandshake) {
        this.#awaitingHandshake = false;
        let response;
        try {
          response = readConnectResponse(new JuteReader(frame));
        } catch (error) {
          this.#step({ type: 'protocolError', attempt, reason: `bad ConnectResponse: ${String(error)}` });
          return;
        }
        this.#step({ type: 'connectResponse', attempt, response });
        continue;
      }
      if (!routeReply(this.#replyRouting, frame)) return;
    }
  }

  #onAuthAnswer(err: number): void {
    const answer = this.#credentials.settle(err);
    if (!answer) {
      this.#log.warn({ err }, 'auth reply without an auth request');
      return;
    }
    const { scheme, fatal, error } = answer;
    if (!error) return;
    this.#log.warn({ scheme }, 'authentication failed');
    this.#hooks.authFailed(error, scheme);
    // Credentials given at construction are part of the client's identity: without them it must not go on.
    if (fatal) return this.destroy(error);
    // The server closes the connection after AUTHFAILED: stop writing to it now, so requests issued
    // from here on wait for the reconnect instead of being lost with it.
    this.#dropConnection('credentials rejected; the server closes the connection');
  }

  #dropConnection(reason: string): void {
    this.#step({ type: 'protocolError', attempt: this.#transportAttempt, reason });
  }
}
