/** Default and quick settings of `corral bench compare` (kept free of heavy imports: the CLI loads this eagerly). */
import type { CompareOptions } from './compare.js';

export const DEFAULT_COMPARE: Omit<CompareOptions, 'workloads'> = {
  servers: 1,
  rounds: 3,
  durationS: 10,
  clients: 64,
  pipeline: 1,
  size: 100,
  serverWarmupS: 3,
  znodes: 1_000_000,
  recoveryTrials: 1,
  settleS: 30,
  expiryRounds: 3,
  expirySessions: 3,
  expirySessionTimeoutMs: 4000,
  failoverTrials: 5,
};

/** Settings of `npm run bench`: the whole comparison in under 5 minutes on a 2-core machine. */
export const QUICK_COMPARE: Partial<CompareOptions> = {
  rounds: 3,
  durationS: 3,
  serverWarmupS: 1.5,
  znodes: 100_000,
  settleS: 10,
  expiryRounds: 1,
};
