/**
 * Bounded numbers for module arguments: every numeric setting has a range, so that a typo
 * (`timeout: 3000000`, `uid: -1`) is a load error with the range, not an overflowing timer or a
 * command that waits for days.
 */
import { z } from 'zod';

/** A whole number in [min, max]; `what` names the unit in the message ("seconds", "a TCP port"). */
export function int(min: number, max: number, what: string) {
  const msg = `${what}: a whole number from ${min} to ${max}`;
  return z.number({ error: msg }).int(msg).min(min, msg).max(max, msg);
}

/** A number in (0 or more, max]: seconds, fractions allowed. */
export function seconds(max: number, opts: { zero?: boolean } = {}) {
  const msg = `seconds: ${opts.zero ? 'from 0' : 'more than 0'} up to ${max}`;
  const n = z.number({ error: msg }).max(max, msg);
  return opts.zero ? n.min(0, msg) : n.positive(msg);
}

/** Longest wait any check may ask for (seconds). */
export const MAX_WAIT_S = 3600;
/** Most retries of a check. */
export const MAX_RETRIES = 1000;
/** Largest uid/gid Linux accepts ((uid_t)-1 is reserved). */
export const MAX_ID = 4294967294;
/** An HTTP status code. */
export const httpStatus = () => int(100, 599, 'an HTTP status');
