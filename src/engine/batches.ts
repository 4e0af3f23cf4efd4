/**
 * Rolling plays: `serial:` splits a play's hosts into batches, and each batch runs the whole
 * play (tasks, then handlers) before the next one starts. With Ansible's meaning:
 *
 *  - `serial: N` (N hosts per batch), `serial: "30%"` (of the play's hosts, rounded down, at
 *    least 1), or a list such as `[1, "50%"]` whose last value repeats. 0 = all the remaining
 *    hosts in one batch.
 *  - After a batch: when `max_fail_percentage` is set and the batch's failed share is ABOVE it
 *    (strictly), or when every host of the batch failed, the remaining batches and the
 *    remaining plays do not run (Ansible's PlaybookExecutor breaks out of the playbook).
 *    A host that fails or becomes unreachable during the batch counts as failed.
 *
 * One difference to Ansible's default (linear) strategy: Ansible checks max_fail_percentage
 * after every task, so the other hosts of a batch stop at the task where the threshold was
 * crossed; provision's hosts run their tasks independently, so they finish the play for
 * their batch. With `serial: 1` (the usual rolling deploy) both are the same.
 */

export type SerialValue = number | string;

/** `"25%"` of `total` hosts: rounded down, at least 1 (Ansible's pct_to_int); a number as is. */
export function serialSize(value: SerialValue, total: number): number {
  if (typeof value === 'number') return value;
  const pct = /^(\d+)%$/.exec(value.trim());
  if (pct) return Math.floor((Number(pct[1]) / 100) * total) || 1;
  return Number(value);
}

/** The batches of a play, in inventory order. No serial (or an empty list): one batch of all. */
export function computeBatches(hosts: string[], serial: SerialValue[] | undefined): string[][] {
  if (hosts.length === 0) return [];
  const list = serial && serial.length ? serial : [0];
  const rest = [...hosts];
  const batches: string[][] = [];
  let i = 0;
  while (rest.length > 0) {
    const size = serialSize(list[Math.min(i, list.length - 1)], hosts.length);
    if (!(size > 0)) {
      batches.push(rest.splice(0));
      break;
    }
    batches.push(rest.splice(0, size));
    i++;
  }
  return batches;
}

export interface BatchStop {
  play: string;
  /** 1-based number of the batch that stopped the run, and how many the play had. */
  batch: number;
  batches: number;
  hosts: string[];
  failed: string[];
  reason: string;
  /** Hosts of the play that were never run because of the stop (later batches). */
  notRun: string[];
}

/**
 * The stop decision after a batch: a reason, or undefined to go on. `failed` are the batch's
 * hosts that failed or became unreachable during the batch.
 */
export function stopReason(batch: string[], failed: string[], maxFailPercentage: number | undefined): string | undefined {
  if (batch.length === 0 || failed.length === 0) return undefined;
  const share = (failed.length * 100) / batch.length;
  if (maxFailPercentage !== undefined && share > maxFailPercentage) {
    return `${failed.length} of ${batch.length} host(s) of the batch failed (${fmtPct(share)}), above max_fail_percentage ${maxFailPercentage}%`;
  }
  if (failed.length === batch.length) return `every host of the batch failed (${failed.length} of ${batch.length})`;
  return undefined;
}

const fmtPct = (n: number) => `${Number.isInteger(n) ? n : n.toFixed(1)}%`;

/** One line for the recap. */
export function describeStop(s: BatchStop): string {
  const which = s.batches > 1 ? `batch ${s.batch} of ${s.batches} [${s.hosts.join(', ')}]` : `[${s.hosts.join(', ')}]`;
  const rest = s.notRun.length ? `; not run: ${s.notRun.join(', ')}` : '';
  return `play '${s.play}' stopped at ${which}: ${s.reason}; failed: ${s.failed.join(', ')}${rest}; the remaining batches and plays did not run`;
}

/**
 * Run a play batch by batch (the runner's hook): `run` runs the whole play on one batch.
 * Returns why the run must stop, or undefined. Plays without serial and max_fail_percentage
 * run as one batch and never stop the run here (provision's behaviour: failed hosts drop out).
 */
export async function runInBatches(
  play: { name: string; serial?: SerialValue[]; maxFailPercentage?: number },
  hosts: string[],
  o: {
    run: (batch: string[], label?: string) => Promise<void>;
    failed: (host: string) => boolean;
    interrupted: () => boolean;
    /** any_errors_fatal stopped the batch (engine/lockstep.ts): the run stops whatever the counts */
    fatal?: () => { failed: string[]; reason: string } | undefined;
  },
): Promise<BatchStop | undefined> {
  const rolling = play.serial !== undefined || play.maxFailPercentage !== undefined;
  const batches = play.serial && hosts.length ? computeBatches(hosts, play.serial) : [hosts];
  for (const [b, batch] of batches.entries()) {
    if (o.interrupted()) return undefined;
    await o.run(batch, batches.length > 1 ? `${b + 1}/${batches.length}` : undefined);
    const fatal = o.fatal?.();
    if (fatal) return { play: play.name, batch: b + 1, batches: batches.length, hosts: batch, ...fatal, notRun: batches.slice(b + 1).flat() };
    if (!rolling) continue;
    const failed = batch.filter(o.failed);
    const reason = stopReason(batch, failed, play.maxFailPercentage);
    if (reason) return { play: play.name, batch: b + 1, batches: batches.length, hosts: batch, failed, reason, notRun: batches.slice(b + 1).flat() };
  }
  return undefined;
}
