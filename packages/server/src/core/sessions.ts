const MASK_48 = (1n << 48n) - 1n;
const MULTIPLIER = 0x5deece66dn;

/**
 * The session password ZooKeeper derives from the id: java.util.Random seeded with id ^ 0xB3415C00,
 * 16 bytes of nextBytes. Derived rather than stored, so every server can check it, and identical to
 * Apache ZooKeeper's so sessions behave the same for clients that compare.
 */
export function sessionPassword(sessionId: bigint): Uint8Array {
  let seed = (BigInt.asUintN(64, sessionId ^ 0xb3415c00n) ^ MULTIPLIER) & MASK_48;
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; ) {
    seed = (seed * MULTIPLIER + 0xbn) & MASK_48;
    let value = Number(seed >> 16n) | 0;
    for (let n = 0; n < 4 && i < 16; n++) {
      out[i++] = value & 0xff;
      value >>= 8;
    }
  }
  return out;
}

export function passwordMatches(sessionId: bigint, password: Uint8Array | null): boolean {
  if (!password || password.length !== 16) return false;
  const expected = sessionPassword(sessionId);
  return expected.every((b, i) => b === password[i]);
}

/** First session id of a server: top byte = server id, low 56 bits from the start time, as ZooKeeper does. */
export function initialSessionId(serverId: number, nowMs: number): bigint {
  const fromTime = BigInt.asUintN(64, BigInt(nowMs) << 24n) >> 8n;
  return BigInt.asUintN(64, (BigInt(serverId) << 56n) | fromTime);
}

interface TrackedSession {
  readonly timeoutMs: number;
  expiresAtMs: number;
  closing: boolean;
}

/**
 * Session liveness, pure: time arrives as arguments. Deadlines round up to the next multiple of
 * the tick so expiry is checked once per tick for a whole bucket, as ZooKeeper's ExpiryQueue does.
 */
export class SessionTracker {
  readonly #sessions = new Map<bigint, TrackedSession>();
  readonly #tickMs: number;

  constructor(tickMs: number) {
    this.#tickMs = tickMs;
  }

  get size(): number {
    return this.#sessions.size;
  }

  #deadline(nowMs: number, timeoutMs: number): number {
    return Math.ceil((nowMs + timeoutMs) / this.#tickMs) * this.#tickMs;
  }

  add(sessionId: bigint, timeoutMs: number, nowMs: number): void {
    this.#sessions.set(sessionId, { timeoutMs, expiresAtMs: this.#deadline(nowMs, timeoutMs), closing: false });
  }

  has(sessionId: bigint): boolean {
    return this.#sessions.has(sessionId);
  }

  /** Alive means known and not closing: requests of a closing session get SESSIONEXPIRED. */
  isAlive(sessionId: bigint): boolean {
    const s = this.#sessions.get(sessionId);
    return s !== undefined && !s.closing;
  }

  timeoutOf(sessionId: bigint): number | undefined {
    return this.#sessions.get(sessionId)?.timeoutMs;
  }

  /** Any request of the session pushes its deadline out. Returns false for unknown or closing sessions. */
  touch(sessionId: bigint, nowMs: number, timeoutMs?: number): boolean {
    const s = this.#sessions.get(sessionId);
    if (!s || s.closing) return false;
    if (timeoutMs !== undefined && timeoutMs !== s.timeoutMs) {
      this.#sessions.set(sessionId, { timeoutMs, expiresAtMs: this.#deadline(nowMs, timeoutMs), closing: false });
      return true;
    }
    s.expiresAtMs = Math.max(s.expiresAtMs, this.#deadline(nowMs, s.timeoutMs));
    return true;
  }

  setClosing(sessionId: bigint): void {
    const s = this.#sessions.get(sessionId);
    if (s) s.closing = true;
  }

  remove(sessionId: bigint): void {
    this.#sessions.delete(sessionId);
  }

  /** Sessions whose deadline has passed and that are not already closing; marks them closing. */
  expire(nowMs: number): bigint[] {
    const expired: bigint[] = [];
    for (const [id, s] of this.#sessions) {
      if (!s.closing && s.expiresAtMs <= nowMs) {
        s.closing = true;
        expired.push(id);
      }
    }
    return expired;
  }

  entries(): IterableIterator<[bigint, { timeoutMs: number; expiresAtMs: number }]> {
    return this.#sessions.entries();
  }
}
