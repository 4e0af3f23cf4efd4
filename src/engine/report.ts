/** The run report (`--json`), defined with zod so that it is validated and documented in one place. */
import { z } from 'zod';

export const taskStatus = z.enum(['ok', 'changed', 'failed', 'skipped', 'unknown']);
export type TaskStatus = z.infer<typeof taskStatus>;

export const changeReport = z.object({
  action: z.string(),
  target: z.string(),
  summary: z.string(),
  diff: z.string().optional(),
  /** Real runs: whether this change was applied (false after an earlier change of the task failed). */
  applied: z.boolean().optional(),
});
export type ChangeReport = z.infer<typeof changeReport>;

export const taskReport = z.object({
  host: z.string(),
  play: z.string(),
  /** the task's name as written: its identity (--start-at-task, comparing reports) */
  task: z.string(),
  /** the name as shown on this host: its {{ }} rendered (only when that differs from `task`) */
  title: z.string().optional(),
  module: z.string(),
  status: taskStatus,
  changes: z.array(changeReport),
  durationMs: z.number(),
  error: z.string().optional(),
  /** Why a task did nothing, was skipped or is unknown ("not run: /x exists"). */
  note: z.string().optional(),
  handler: z.boolean().optional(),
  ignored: z.boolean().optional(),
  /** Failed inside a block whose rescue then passed (counted in the recap's rescued, not failed). */
  rescued: z.boolean().optional(),
});
export type TaskReport = z.infer<typeof taskReport>;

export const hostRecap = z.object({
  ok: z.number(),
  changed: z.number(),
  failed: z.number(),
  skipped: z.number(),
  unknown: z.number(),
  /** Failed tasks with ignore_errors: true (not counted in failed). */
  ignored: z.number(),
  /** Failed tasks whose block's rescue passed (not counted in failed). */
  rescued: z.number().optional(),
  unreachable: z.boolean(),
  error: z.string().optional(),
});
export type HostRecap = z.infer<typeof hostRecap>;

/** What the run was: the same for every slice of a sharded run (`provision report merge` compares them). */
export const runIdentity = z.object({
  /** the playbooks as given (relative to the project when inside it), with the sha256 of each file */
  playbooks: z.array(z.object({ file: z.string(), sha256: z.string() })),
  inventory: z.string(),
  limit: z.string().optional(),
  tags: z.array(z.string()).optional(),
  skipTags: z.array(z.string()).optional(),
  /** --shard K/N: this slice, its hosts, and how many hosts all the slices have between them */
  shard: z.object({ index: z.number().int().min(1), count: z.number().int().min(1), hosts: z.array(z.string()), total: z.number().int().min(0) }).optional(),
  /** a report made by `provision report merge`: how many slices it joined */
  merged: z.number().int().min(1).optional(),
});
export type RunIdentity = z.infer<typeof runIdentity>;

export const runReport = z.object({
  check: z.boolean(),
  run: runIdentity.optional(),
  durationMs: z.number(),
  recap: z.record(z.string(), hostRecap),
  tasks: z.array(taskReport),
  /** The run was interrupted (Ctrl-C): tasks after the ones listed did not run. */
  interrupted: z.boolean().optional(),
  /** A `serial:` play stopped the run after a batch (max_fail_percentage, or the whole batch failed). */
  stopped: z
    .object({ play: z.string(), batch: z.number(), batches: z.number(), hosts: z.array(z.string()), failed: z.array(z.string()), reason: z.string(), notRun: z.array(z.string()) })
    .optional(),
});
export type RunReport = z.infer<typeof runReport>;

/** The exit code of a run from its report: 130 interrupted, 1 a host failed or was unreachable, 0 otherwise. */
export function reportExitCode(report: RunReport): number {
  if (report.interrupted) return 130;
  return Object.values(report.recap).some((r) => r.unreachable || r.failed > 0) ? 1 : 0;
}
