import type { Availability } from './zookeeper.js';

/** CI is set (and not "false"/"0"): a missing ZooKeeper or kazoo is a broken environment there. */
export const inCI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/**
 * Whether tests needing `availability` should run: yes when it is there, and always in CI (where
 * they then fail rather than skip). Otherwise warns loudly that `what` is skipped and returns false.
 */
export function runsHere(availability: Availability, what: string): boolean {
  if (availability.ok || inCI) return true;
  console.warn(
    `\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n` +
      `!!! SKIPPING ${what}: ${availability.reason}\n` +
      `!!! (install with .ci/run; they fail instead of skipping when CI is set)\n` +
      `!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n`,
  );
  return false;
}
