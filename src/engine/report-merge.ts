/**
 * `provision report merge`: the --json reports of the slices of one --shard run (shard.ts)
 * joined into the run's report. Refused, with the reason: a report that is not a slice, slices
 * of different runs (playbooks, their contents, inventory, --limit, --tags, check mode, N),
 * two reports of one slice, a host in two slices, a missing slice.
 */
import { sortedHosts } from './shard.js';
import type { HostRecap, RunIdentity, RunReport } from './report.js';

export interface SliceReport {
  /** where it was read from, for messages */
  file: string;
  report: RunReport;
}

export class MergeError extends Error {}

/** The parts of a slice's identity that every slice of the run shares. */
function sameRun(r: RunReport): Record<string, unknown> {
  const id = r.run as RunIdentity;
  return { playbooks: id.playbooks, inventory: id.inventory, limit: id.limit, tags: id.tags, skipTags: id.skipTags, check: r.check, slices: id.shard?.count, hosts: id.shard?.total };
}

const FIELD_NAMES: Record<string, string> = {
  playbooks: 'playbooks (files or their contents)',
  inventory: 'inventory',
  limit: '--limit',
  tags: '--tags',
  skipTags: '--skip-tags',
  check: 'check mode',
  slices: 'number of slices (N of --shard K/N)',
  hosts: 'number of hosts the run targets',
};

export function mergeReports(slices: SliceReport[]): RunReport {
  if (slices.length === 0) throw new MergeError('report merge: no report given');
  for (const { file, report } of slices) {
    if (report.run?.merged) throw new MergeError(`${file}: already a merged report (of ${report.run.merged} slices); give the slices' own reports`);
    if (!report.run?.shard) throw new MergeError(`${file}: not the report of a --shard run (it has no run.shard); report merge joins the slices of one sharded run`);
  }
  const first = slices[0];
  const base = sameRun(first.report);
  for (const s of slices.slice(1)) {
    const other = sameRun(s.report);
    const differ = Object.keys(base).filter((k) => JSON.stringify(base[k]) !== JSON.stringify(other[k]));
    if (differ.length)
      throw new MergeError(`${s.file} is a slice of a different run than ${first.file}: ${differ.map((k) => `${FIELD_NAMES[k]} ${JSON.stringify(other[k] ?? null)} ≠ ${JSON.stringify(base[k] ?? null)}`).join('; ')}`);
  }
  const count = first.report.run!.shard!.count;
  const bySlice = new Map<number, SliceReport>();
  const hostIn = new Map<string, SliceReport>();
  for (const s of slices) {
    const shard = s.report.run!.shard!;
    const dup = bySlice.get(shard.index);
    if (dup) throw new MergeError(`${dup.file} and ${s.file} are both slice ${shard.index}/${count}`);
    bySlice.set(shard.index, s);
    const own = new Set(shard.hosts);
    for (const h of new Set([...shard.hosts, ...Object.keys(s.report.recap)])) {
      if (!own.has(h)) throw new MergeError(`${s.file}: host ${h} is in its recap but not in its slice ${shard.index}/${count}`);
      const seen = hostIn.get(h);
      if (seen) throw new MergeError(`host ${h} is in two slices: ${seen.file} (slice ${seen.report.run!.shard!.index}/${count}) and ${s.file} (slice ${shard.index}/${count})`);
      hostIn.set(h, s);
    }
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((k) => !bySlice.has(k));
  if (missing.length) throw new MergeError(`slice${missing.length > 1 ? 's' : ''} ${missing.map((k) => `${k}/${count}`).join(', ')} missing: give the report of every slice (the merged recap would silently lack their hosts)`);
  const total = first.report.run!.shard!.total;
  if (hostIn.size !== total) throw new MergeError(`the slices have ${hostIn.size} hosts between them, but the run targets ${total}`);

  const ordered = [...bySlice.keys()].sort((a, b) => a - b).map((k) => bySlice.get(k)!.report);
  const recap: Record<string, HostRecap> = {};
  for (const h of sortedHosts(hostIn.keys())) {
    const r = hostIn.get(h)!.report.recap[h];
    if (r) recap[h] = r;
  }
  const { shard: _slice, ...identity } = first.report.run!;
  const stopped = ordered.find((r) => r.stopped)?.stopped;
  return {
    check: first.report.check,
    run: { ...identity, merged: count },
    durationMs: Math.max(...ordered.map((r) => r.durationMs)),
    recap,
    tasks: ordered.flatMap((r) => r.tasks),
    ...(ordered.some((r) => r.interrupted) ? { interrupted: true } : {}),
    ...(stopped ? { stopped } : {}),
  };
}
