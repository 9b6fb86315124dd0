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
 * Session liveness, pure: time arrives as arguments. Deadlines round up to the next multiple of the
 * tick and sessions sit in one bucket per deadline, as in ZooKeeper's ExpiryQueue: a tick looks only
 * at the buckets that came due, not at every session.
 */
export class SessionTracker {
  readonly #sessions = new Map<bigint, TrackedSession>();
  readonly #buckets = new Map<number, Set<bigint>>();
  readonly #tickMs: number;
  /** The earliest deadline whose bucket has not been looked at yet. */
  #nextDueMs = 0;

  constructor(tickMs: number) {
    this.#tickMs = tickMs;
  }

  get size(): number {
    return this.#sessions.size;
  }

  #deadline(nowMs: number, timeoutMs: number): number {
    return Math.ceil((nowMs + timeoutMs) / this.#tickMs) * this.#tickMs;
  }

  #place(sessionId: bigint, s: TrackedSession, deadline: number): void {
    if (s.expiresAtMs === deadline && this.#buckets.get(deadline)?.has(sessionId)) return;
    this.#buckets.get(s.expiresAtMs)?.delete(sessionId);
    s.expiresAtMs = deadline;
    let bucket = this.#buckets.get(deadline);
    if (!bucket) this.#buckets.set(deadline, (bucket = new Set()));
    bucket.add(sessionId);
    if (this.#nextDueMs === 0 || deadline < this.#nextDueMs) this.#nextDueMs = deadline;
  }

  add(sessionId: bigint, timeoutMs: number, nowMs: number): void {
    const s: TrackedSession = { timeoutMs, expiresAtMs: 0, closing: false };
    this.#sessions.set(sessionId, s);
    this.#place(sessionId, s, this.#deadline(nowMs, timeoutMs));
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
      // A reconnect negotiated a new timeout: the deadline follows it, even if that is sooner.
      const updated: TrackedSession = { timeoutMs, expiresAtMs: s.expiresAtMs, closing: false };
      this.#sessions.set(sessionId, updated);
      this.#place(sessionId, updated, this.#deadline(nowMs, timeoutMs));
      return true;
    }
    this.#place(sessionId, s, Math.max(s.expiresAtMs, this.#deadline(nowMs, s.timeoutMs)));
    return true;
  }

  setClosing(sessionId: bigint): void {
    const s = this.#sessions.get(sessionId);
    if (s) s.closing = true;
  }

  remove(sessionId: bigint): void {
    const s = this.#sessions.get(sessionId);
    if (!s) return;
    this.#buckets.get(s.expiresAtMs)?.delete(sessionId);
    this.#sessions.delete(sessionId);
  }

  /** Sessions whose deadline has passed and that are not already closing; marks them closing. */
  expire(nowMs: number): bigint[] {
    const expired: bigint[] = [];
    if (this.#nextDueMs === 0) return expired;
    for (; this.#nextDueMs <= nowMs; this.#nextDueMs += this.#tickMs) {
      const bucket = this.#buckets.get(this.#nextDueMs);
      if (!bucket) continue;
      this.#buckets.delete(this.#nextDueMs);
      for (const id of bucket) {
        const s = this.#sessions.get(id);
        if (s && !s.closing) {
          s.closing = true;
          expired.push(id);
        }
      }
    }
    return expired;
  }

  entries(): IterableIterator<[bigint, { timeoutMs: number; expiresAtMs: number }]> {
    return this.#sessions.entries();
  }
}
