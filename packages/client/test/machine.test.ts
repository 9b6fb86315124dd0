import { describe, expect, it } from 'vitest';
import type { ConnectResponse } from '@corral/protocol';
import { ConnectionMachine, type MachineAction, type MachineConfig } from '../src/index.js';

const servers = [
  { host: 'a', port: 1 },
  { host: 'b', port: 2 },
];

function machine(overrides: Partial<MachineConfig> = {}): ConnectionMachine {
  return new ConnectionMachine({
    servers,
    sessionTimeoutMs: 3000,
    connectTimeoutMs: 1000,
    canBeReadOnly: false,
    autoReconnectAfterLoss: false,
    reconnectBaseDelayMs: 100,
    reconnectMaxDelayMs: 400,
    closeTimeoutMs: 500,
    random: () => 1, // jitter factor 1
    ...overrides,
  });
}

const response = (sessionId: bigint, timeOut = 3000, readOnly?: boolean): ConnectResponse => ({
  protocolVersion: 0,
  timeOut,
  sessionId,
  passwd: new Uint8Array(16).fill(7),
  readOnly,
});

/** A compact transcript of actions, for readable expectations. */
function t(actions: MachineAction[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case 'openSocket':
        return `open#${a.attempt} ${a.server.host}`;
      case 'sendConnectRequest':
        return `hello#${a.attempt} sid=${a.request.sessionId} zxid=${a.request.lastZxidSeen}`;
      case 'closeSocket':
        return `close#${a.attempt} (${a.reason})`;
      case 'connectionLost':
        return `lost#${a.attempt}`;
      case 'sessionEstablished':
        return `established#${a.attempt} new=${a.newSession}`;
      case 'sendPing':
        return `ping#${a.attempt}`;
      case 'sendCloseSession':
        return `closeSession#${a.attempt}`;
      case 'sessionLost':
        return `sessionLost ${a.reason}`;
      case 'state':
        return `state ${a.state}`;
      case 'closed':
        return 'closed';
    }
  });
}

/** Connects to the first server and establishes session 5 at time 0. */
function established(m = machine()): ConnectionMachine {
  m.step({ type: 'connect' }, 0);
  m.step({ type: 'socketOpened', attempt: 1 }, 0);
  m.step({ type: 'connectResponse', attempt: 1, response: response(5n) }, 0);
  return m;
}

describe('ConnectionMachine', () => {
  it('connects: open socket, ConnectRequest, session established, connected', () => {
    const m = machine();
    expect(t(m.step({ type: 'connect' }, 0))).toEqual(['state connecting', 'open#1 a']);
    expect(t(m.step({ type: 'socketOpened', attempt: 1 }, 5))).toEqual(['hello#1 sid=0 zxid=0']);
    expect(t(m.step({ type: 'connectResponse', attempt: 1, response: response(5n) }, 10))).toEqual(['established#1 new=true', 'state connected']);
    expect(m.session?.sessionId).toBe(5n);
    expect(m.openAttempt).toBe(1);
  });

  it('pings after 1/3 of the timeout of send-idleness and drops the connection after 2/3 without receiving', () => {
    const m = established();
    expect(m.pingIntervalMs).toBe(1000);
    expect(m.readTimeoutMs).toBe(2000);
    expect(m.nextWakeMs()).toBe(1000);
    expect(t(m.step({ type: 'tick' }, 999))).toEqual([]);
    expect(t(m.step({ type: 'tick' }, 1000))).toEqual(['ping#1']);
    m.noteReceived(1500);
    expect(m.nextWakeMs()).toBe(2000);
    expect(t(m.step({ type: 'tick' }, 2000))).toEqual(['ping#1']);
    expect(t(m.step({ type: 'tick' }, 3500))).toEqual(['close#1 (nothing received for 2000 ms)', 'lost#1', 'state suspended', 'open#2 b']);
  });

  it('reattaches the same session with the highest zxid seen: reconnected, watches restored', () => {
    const m = established();
    m.observeZxid(0x10n);
    m.observeZxid(0x08n);
    expect(t(m.step({ type: 'socketClosed', attempt: 1, reason: 'reset' }, 100))).toEqual(['lost#1', 'state suspended', 'open#2 b']);
    // A late event of the old connection is ignored.
    expect(t(m.step({ type: 'socketClosed', attempt: 1, reason: 'late' }, 101))).toEqual([]);
    expect(t(m.step({ type: 'socketOpened', attempt: 2 }, 110))).toEqual(['hello#2 sid=5 zxid=16']);
    expect(t(m.step({ type: 'connectResponse', attempt: 2, response: response(5n) }, 120))).toEqual(['established#2 new=false', 'state reconnected']);
  });

  it('skips a server that closes without a ConnectResponse, then backs off after a full round', () => {
    const m = established();
    m.step({ type: 'socketClosed', attempt: 1, reason: 'reset' }, 100); // -> open#2 b
    m.step({ type: 'socketOpened', attempt: 2 }, 100);
    // b is behind our zxid: it closes without answering. Next server, no pause yet.
    expect(t(m.step({ type: 'socketClosed', attempt: 2, reason: 'closed' }, 110))).toEqual(['open#3 a']);
    // a refuses too: every server failed once -> pause 100 ms (base, jitter factor 1).
    expect(t(m.step({ type: 'socketClosed', attempt: 3, reason: 'ECONNREFUSED' }, 120))).toEqual([]);
    expect(m.nextWakeMs()).toBe(220);
    expect(t(m.step({ type: 'tick' }, 220))).toEqual(['open#4 b']);
    m.step({ type: 'socketClosed', attempt: 4, reason: 'x' }, 230);
    m.step({ type: 'socketClosed', attempt: 5, reason: 'x' }, 240);
    expect(m.nextWakeMs()).toBe(440); // second round: 200 ms
    expect(m.state).toBe('suspended');
  });

  it('gives up an attempt after the connect timeout', () => {
    const m = machine();
    m.step({ type: 'connect' }, 0);
    m.step({ type: 'socketOpened', attempt: 1 }, 0);
    expect(m.nextWakeMs()).toBe(1000);
    expect(t(m.step({ type: 'tick' }, 1000))).toEqual(['close#1 (connect timeout)', 'open#2 b']);
  });

  it("declares the session lost exactly once when no server answers for the session timeout", () => {
    const m = established();
    m.noteReceived(500);
    m.step({ type: 'socketClosed', attempt: 1, reason: 'reset' }, 600);
    let now = 600;
    const transcript: string[] = [];
    for (let attempt = 2; now < 5000; attempt++) {
      transcript.push(...t(m.step({ type: 'socketClosed', attempt, reason: 'ECONNREFUSED' }, now)));
      const wake = m.nextWakeMs();
      if (wake === undefined) break;
      now = wake;
      transcript.push(...t(m.step({ type: 'tick' }, now)));
    }
    expect(transcript.filter((x) => x.startsWith('sessionLost'))).toEqual(['sessionLost timeout']);
    expect(transcript.filter((x) => x === 'state lost')).toHaveLength(1);
    expect(m.state).toBe('lost');
    expect(now).toBeLessThanOrEqual(3500); // 500 (last heard) + 3000
    expect(m.nextWakeMs()).toBeUndefined();
    // Nothing more happens until reconnect(): a new session, lastZxidSeen reset.
    expect(t(m.step({ type: 'tick' }, 10_000))).toEqual([]);
    m.observeZxid(99n);
    expect(t(m.step({ type: 'newSession' }, 10_000))).toEqual(['state connecting', expect.stringMatching(/^open#\d+ /)]);
    expect(m.lastZxidSeen).toBe(0n);
  });

  it('a ConnectResponse with timeOut 0 means the session expired', () => {
    const m = established();
    m.step({ type: 'socketClosed', attempt: 1, reason: 'reset' }, 100);
    m.step({ type: 'socketOpened', attempt: 2 }, 100);
    expect(t(m.step({ type: 'connectResponse', attempt: 2, response: response(0n, 0) }, 110))).toEqual([
      'close#2 (session expired)',
      'sessionLost expired',
      'state lost',
    ]);
  });

  it('autoReconnectAfterLoss starts a new session right after reporting lost', () => {
    const m = established(machine({ autoReconnectAfterLoss: true }));
    m.step({ type: 'socketClosed', attempt: 1, reason: 'reset' }, 100);
    m.step({ type: 'socketOpened', attempt: 2 }, 100);
    expect(t(m.step({ type: 'connectResponse', attempt: 2, response: response(0n, 0) }, 110))).toEqual([
      'close#2 (session expired)',
      'sessionLost expired',
      'state lost',
      'state connecting',
      'open#3 a',
    ]);
    m.step({ type: 'socketOpened', attempt: 3 }, 120);
    expect(t(m.step({ type: 'connectResponse', attempt: 3, response: response(6n) }, 130))).toEqual(['established#3 new=true', 'state connected']);
  });

  it('a read-only server gives readOnly', () => {
    const m = machine({ canBeReadOnly: true });
    m.step({ type: 'connect' }, 0);
    const hello = m.step({ type: 'socketOpened', attempt: 1 }, 0)[0];
    expect(hello).toMatchObject({ type: 'sendConnectRequest', request: { readOnly: true } });
    expect(t(m.step({ type: 'connectResponse', attempt: 1, response: response(5n, 3000, true) }, 0))).toEqual(['established#1 new=true', 'state readOnly']);
  });

  it('close: closeSession when connected, closed on the reply or its timeout; idempotent', () => {
    const m = established();
    expect(t(m.step({ type: 'close' }, 100))).toEqual(['closeSession#1']);
    expect(t(m.step({ type: 'close' }, 101))).toEqual([]);
    expect(t(m.step({ type: 'closeSessionDone' }, 150))).toEqual(['close#1 (session closed)', 'closed', 'state closed']);
    expect(t(m.step({ type: 'destroy' }, 200))).toEqual([]);

    const slow = established();
    slow.step({ type: 'close' }, 100);
    expect(slow.nextWakeMs()).toBe(600);
    expect(t(slow.step({ type: 'tick' }, 600))).toEqual(['close#1 (closeSession not answered in time)', 'closed', 'state closed']);

    const idle = machine();
    expect(t(idle.step({ type: 'close' }, 0))).toEqual(['closed', 'state closed']);
    expect(t(idle.step({ type: 'connect' }, 0))).toEqual([]);
  });

  it('destroy drops the connection at once', () => {
    const m = established();
    expect(t(m.step({ type: 'destroy' }, 5))).toEqual(['close#1 (destroyed)', 'closed', 'state closed']);
  });

  it('resumes a given session: first connection is connected, not reconnected', () => {
    const m = machine({ initialSession: { sessionId: 9n, passwd: new Uint8Array(16), negotiatedTimeoutMs: 3000 } });
    m.step({ type: 'connect' }, 0);
    expect(t(m.step({ type: 'socketOpened', attempt: 1 }, 0))).toEqual(['hello#1 sid=9 zxid=0']);
    expect(t(m.step({ type: 'connectResponse', attempt: 1, response: response(9n) }, 0))).toEqual(['established#1 new=true', 'state connected']);
  });
});
