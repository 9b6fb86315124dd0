import pRetry from 'p-retry';
import { isRetryable } from './errors.js';

/**
 * Retry policies are plain values (serialisable, comparable, loggable); `runWithRetry` executes
 * them with p-retry. Delays are in milliseconds.
 */
export type RetryPolicy =
  | { readonly kind: 'exponentialBackoff'; readonly baseDelayMs: number; readonly maxDelayMs: number; readonly maxRetries: number; readonly jitter: boolean }
  | { readonly kind: 'nTimes'; readonly retries: number; readonly delayMs: number }
  | { readonly kind: 'untilElapsed'; readonly maxElapsedMs: number; readonly delayMs: number }
  | { readonly kind: 'forever'; readonly baseDelayMs: number; readonly maxDelayMs: number; readonly jitter: boolean }
  | { readonly kind: 'never' };

export const RetryPolicies = {
  /** base·2^n (n = retries so far), capped at maxDelayMs; with jitter each delay is multiplied by a random 1..2. */
  exponentialBackoff(options: { baseDelayMs?: number; maxDelayMs?: number; maxRetries?: number; jitter?: boolean } = {}): RetryPolicy {
    return {
      kind: 'exponentialBackoff',
      baseDelayMs: options.baseDelayMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      maxRetries: options.maxRetries ?? 10,
      jitter: options.jitter ?? true,
    };
  },
  /** At most `retries` retries, `delayMs` apart. */
  nTimes(retries: number, delayMs = 100): RetryPolicy {
    return { kind: 'nTimes', retries, delayMs };
  },
  /** Retry every `delayMs` until `maxElapsedMs` have passed since the first attempt. */
  untilElapsed(maxElapsedMs: number, delayMs = 100): RetryPolicy {
    return { kind: 'untilElapsed', maxElapsedMs, delayMs };
  },
  /** Retry without limit, backing off exponentially up to the cap `maxDelayMs`. */
  forever(options: { baseDelayMs?: number; maxDelayMs?: number; jitter?: boolean } = {}): RetryPolicy {
    return { kind: 'forever', baseDelayMs: options.baseDelayMs ?? 100, maxDelayMs: options.maxDelayMs ?? 5_000, jitter: options.jitter ?? true };
  },
  never(): RetryPolicy {
    return { kind: 'never' };
  },
} as const;

/** The default: exponential backoff from 100 ms to 10 s, 10 retries, with jitter. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = RetryPolicies.exponentialBackoff();

type PRetryOptions = NonNullable<Parameters<typeof pRetry>[1]>;

/** p-retry options for a policy (exported for tests). */
export function pRetryOptions(policy: RetryPolicy): PRetryOptions {
  switch (policy.kind) {
    case 'exponentialBackoff':
      return { retries: policy.maxRetries, minTimeout: policy.baseDelayMs, maxTimeout: policy.maxDelayMs, factor: 2, randomize: policy.jitter };
    case 'nTimes':
      return { retries: policy.retries, minTimeout: policy.delayMs, factor: 1 };
    case 'untilElapsed':
      return { retries: Number.POSITIVE_INFINITY, minTimeout: policy.delayMs, factor: 1, maxRetryTime: policy.maxElapsedMs };
    case 'forever':
      return { retries: Number.POSITIVE_INFINITY, minTimeout: policy.baseDelayMs, maxTimeout: policy.maxDelayMs, factor: 2, randomize: policy.jitter };
    case 'never':
      return { retries: 0 };
  }
}

export interface RetryOptions {
  signal?: AbortSignal;
  /** Called before each retry (after a retryable failure). */
  onRetry?: (error: Error, attempt: number) => void;
  /** Which errors are retried; default: ConnectionLossError and OperationTimeoutError only. */
  shouldRetry?: (error: Error) => boolean;
}

/**
 * Runs `fn` until it succeeds, fails with a non-retryable error (SessionExpiredError never is),
 * or the policy gives up; then the last error is thrown unchanged.
 */
export function runWithRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, options: RetryOptions = {}): Promise<T> {
  const shouldRetry = options.shouldRetry ?? isRetryable;
  return pRetry(fn, {
    ...pRetryOptions(policy),
    signal: options.signal,
    unref: true,
    // p-retry treats TypeErrors as fatal already; everything else goes through this predicate.
    shouldRetry: ({ error }) => shouldRetry(error),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft > 0 && shouldRetry(error)) options.onRetry?.(error, attemptNumber);
    },
  });
}
