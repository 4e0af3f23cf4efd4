/**
 * --shard K/N: one controller runs a deterministic slice of the run's hosts, so that N
 * controllers (a CI matrix, a Kubernetes Indexed Job) run the whole inventory between them,
 * like AWX's job slicing. The slices are dealt round-robin from the host names in sorted order:
 * stable across runs and controllers (no hash, no clock), balanced (sizes differ by at most
 * one), and every host is in exactly one slice. What cannot hold across controllers is refused
 * (shardRefusals); the slices' `--json` reports are joined by `provision report merge`.
 */
import type { Play, Task } from '../load/tree.js';
import { staticTasks } from '../load/tree.js';

export interface Shard {
  /** 1-based */
  index: number;
  count: number;
}

/** The most slices a run can be cut into (a typo such as 1/30000 is refused). */
export const MAX_SHARDS = 1000;

/** `K/N` with 1 ≤ K ≤ N ≤ MAX_SHARDS, or the reason it is not. */
export function parseShard(spec: string): Shard | string {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec);
  if (!m) return `--shard: expected K/N (this controller's slice K of N, e.g. 2/3), got '${spec}'`;
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS) return `--shard: N must be from 1 to ${MAX_SHARDS}, got '${spec}'`;
  if (index < 1 || index > count) return `--shard: K must be from 1 to N (${count}), got '${spec}'`;
  return { index, count };
}

/** Host names in the order slices are dealt from: by UTF-16 code units, independent of locale. */
export function sortedHosts(hosts: Iterable<string>): string[] {
  return [...new Set(hosts)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The slice (1-based) of every host: the i-th host in sorted order goes to slice (i mod N) + 1. */
export function sliceOf(hosts: Iterable<string>, count: number): Map<string, number> {
  return new Map(sortedHosts(hosts).map((h, i) => [h, (i % count) + 1]));
}

/** The hosts of slice `shard`, in sorted order. */
export function shardHosts(hosts: Iterable<string>, shard: Shard): string[] {
  return sortedHosts(hosts).filter((_, i) => (i % shard.count) + 1 === shard.index);
}

export const RUN_ONCE_SHARDED = 'run_once cannot run once per run with --shard: each controller would run it once for its own slice';

/**
 * What a sliced run cannot keep, refused at load: `serial` batches and `max_fail_percentage`
 * (they count the play's hosts, and each controller sees only its slice), and `run_once` (it
 * would run once per slice). A run_once in an include whose file is computed is only known
 * when it runs: that task fails on every host with RUN_ONCE_SHARDED.
 */
export function shardRefusals(plays: Play[]): string[] {
  const out: string[] = [];
  for (const play of plays) {
    if (play.serial) out.push(`${play.where}: serial: rolling batches cannot be kept with --shard (each controller would batch only its own slice, and the batches of the slices would run at once); run this play without --shard`);
    if (play.lockstep) out.push(`${play.where}: any_errors_fatal: a failure cannot stop the hosts of the other slices (each controller runs only its own); run this play without --shard`);
    if (play.maxFailPercentage !== undefined) out.push(`${play.where}: max_fail_percentage: the failed share of a play cannot be counted with --shard (each controller sees only its slice); run this play without --shard`);
    const tasks: Task[] = [...staticTasks(play.body), ...play.handlers];
    for (const t of tasks) if (t.runOnce) out.push(`${t.where}: ${RUN_ONCE_SHARDED} (drop run_once, or run this play without --shard)`);
  }
  return [...new Set(out)];
}
