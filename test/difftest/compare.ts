/**
 * The contract of check mode, as a comparison of two JSON reports of the same playbook on the
 * same starting state: for every (host, task) pair, `--check` says exactly what the real run
 * says (changed / ok / skipped / failed), or `unknown`. Anything else is a mismatch.
 *
 * Pairs are matched by host + play + task name + handler flag + occurrence (a handler runs once
 * per play, a play may repeat a task name). A pair present in one report only is a mismatch,
 * unless:
 * - that report's host had stopped before it: a host stops at its first failed task that is
 *   neither ignored nor rescued (the other report must then have said `failed` or `unknown` for
 *   that task, or the pair is already a mismatch), and later pairs of that host exist only in the
 *   other report;
 * - it is check's and `unknown`: unknown is never a mismatch (a handler notified by an unknown
 *   task, a rescue that was not needed);
 * - (with the case's structure, structure.ts) it is check's, and a task before it that check
 *   called unknown failed for real, errors not ignored: the rest of the block section(s) that
 *   failure left did not run (up to the block whose rescue caught it);
 * - (with the structure) it is the real run's, inside a rescue section or a dynamic include that
 *   check called unknown as a whole (the rescue's tasks, the include itself): counted as unknown.
 */
import type { RunReport, TaskReport } from '../../src/engine/report.js';
import { structureKey, type Level, type Structure } from './structure.js';

export interface Mismatch {
  host: string;
  play: string;
  task: string;
  module: string;
  handler: boolean;
  /** 'unknown' never appears here; undefined: the pair is missing from that report. */
  check?: string;
  real?: string;
  /** The engine's notes/errors, for the reader. */
  checkNote?: string;
  realNote?: string;
}

export interface Comparison {
  /** (host, task) pairs present in both reports. */
  pairs: number;
  exact: number;
  unknown: number;
  /** Pairs the real run reported as changed, and how many of them check said unknown. */
  realChanged: number;
  unknownChanged: number;
  /** Tasks the real run reports as failed and rescued (the recap's rescued, summed over hosts). */
  rescued: number;
  mismatches: Mismatch[];
}

interface Pair {
  key: string;
  t: TaskReport;
  pos: number;
}

function pairsByHost(r: RunReport): Map<string, Pair[]> {
  const out = new Map<string, Pair[]>();
  const seen = new Map<string, number>();
  for (const t of r.tasks) {
    const base = `${t.host}\u0000${t.play}\u0000${t.handler ? 'H' : 'T'}\u0000${t.task}`;
    const occ = (seen.get(base) ?? 0) + 1;
    seen.set(base, occ);
    const list = out.get(t.host) ?? [];
    list.push({ key: `${base}\u0000${occ}`, t, pos: list.length });
    out.set(t.host, list);
  }
  return out;
}

const stops = (t: TaskReport) => t.status === 'failed' && !t.ignored && !t.rescued;
const noteOf = (t: TaskReport) => t.error ?? t.note;

/**
 * Pairs only in `have` are legitimate when `lack` stopped this host at a task that `have` lists
 * before them (or `lack` could not reach the host at all).
 */
function missingIsLegit(pair: Pair, have: Pair[], lack: Pair[], lackUnreachable: boolean, s?: Structure): boolean {
  if (lackUnreachable) return true;
  const stop = lack.find((p) => stops(p.t));
  if (!stop) return false;
  // the stop inside a dynamic include (or rescue) that `have` (check) reported unknown as a whole: it stopped there
  const at = have.find((p) => p.key === stop.key) ?? coveringUnknown(stop, have, s);
  if (at) return at.pos < pair.pos;
  // `have` lacks the stop itself (a mismatch of its own, e.g. a handler that only one run ran):
  // the host still leaves the later plays.
  const samePlay = have.filter((p) => p.t.play === stop.t.play);
  return pair.t.play !== stop.t.play && samePlay.length > 0 && samePlay[samePlay.length - 1].pos < pair.pos;
}

const chainOf = (s: Structure | undefined, t: TaskReport): Level[] | undefined => (t.handler ? undefined : (s?.get(structureKey(t.play, t.task)) ?? undefined));

/**
 * A pair only check has, left out of the real run by an earlier task of its block that failed
 * there (check: unknown or failed; errors not ignored): it lies later in a section that failure
 * left, at a level at or below the block whose rescue caught it.
 */
function skippedByFailure(p: Pair, cs: Pair[], rByKey: Map<string, Pair>, s: Structure | undefined): boolean {
  const pc = chainOf(s, p.t);
  if (!pc) return false;
  for (const x of cs) {
    if (x.pos >= p.pos) break;
    if (x.t.play !== p.t.play || (x.t.status !== 'unknown' && x.t.status !== 'failed')) continue;
    const rx = rByKey.get(x.key);
    if (!rx || rx.t.status !== 'failed' || rx.t.ignored) continue;
    const xc = chainOf(s, x.t);
    if (!xc) continue;
    for (let k = xc.length - 1; k >= 0; k--) {
      const l = xc[k];
      if (pc[k]?.id === l.id && pc[k].section === l.section) return true;
      if (l.section === 'block' && l.rescue) break;
    }
  }
  return false;
}

/** A pair only the real run has, inside a rescue section or a dynamic include that check reported unknown. */
function coveredByUnknown(p: Pair, cs: Pair[], s: Structure | undefined): boolean {
  return coveringUnknown(p, cs, s) !== undefined;
}

/** The unknown pair of check (the include, or a task of the rescue) that covers real's pair `p`. */
function coveringUnknown(p: Pair, cs: Pair[], s: Structure | undefined): Pair | undefined {
  const pc = chainOf(s, p.t);
  if (!pc) return undefined;
  const unknown = cs.filter((c) => c.t.play === p.t.play && c.t.status === 'unknown' && !c.t.handler);
  for (const l of pc) {
    const cover =
      l.section === 'include'
        ? unknown.find((c) => c.t.task === l.include)
        : l.section === 'rescue'
          ? unknown.find((c) => chainOf(s, c.t)?.some((m) => m.id === l.id && m.section === 'rescue'))
          : undefined;
    if (cover) return cover;
  }
  return undefined;
}

export function compareReports(check: RunReport, real: RunReport, structure?: Structure): Comparison {
  const c = pairsByHost(check);
  const r = pairsByHost(real);
  const out: Comparison = { pairs: 0, exact: 0, unknown: 0, realChanged: 0, unknownChanged: 0, rescued: 0, mismatches: [] };
  for (const h of Object.values(real.recap)) out.rescued += h.rescued ?? 0;
  const hosts = [...new Set([...c.keys(), ...r.keys()])];
  for (const host of hosts) {
    const cs = c.get(host) ?? [];
    const rs = r.get(host) ?? [];
    const cByKey = new Map(cs.map((p) => [p.key, p]));
    const rByKey = new Map(rs.map((p) => [p.key, p]));
    const mismatch = (t: TaskReport, ct?: TaskReport, rt?: TaskReport) =>
      out.mismatches.push({
        host,
        play: t.play,
        task: t.task,
        module: t.module,
        handler: t.handler === true,
        check: ct?.status,
        real: rt?.status,
        checkNote: ct ? noteOf(ct) : undefined,
        realNote: rt ? noteOf(rt) : undefined,
      });
    for (const rp of rs) {
      const cp = cByKey.get(rp.key);
      if (!cp) {
        if (coveredByUnknown(rp, cs, structure)) {
          out.pairs++;
          out.unknown++;
          if (rp.t.status === 'changed') {
            out.realChanged++;
            out.unknownChanged++;
          }
        } else if (!missingIsLegit(rp, rs, cs, check.recap[host]?.unreachable === true)) mismatch(rp.t, undefined, rp.t);
        continue;
      }
      out.pairs++;
      if (rp.t.status === 'changed') out.realChanged++;
      if (cp.t.status === 'unknown') {
        out.unknown++;
        if (rp.t.status === 'changed') out.unknownChanged++;
      } else if (cp.t.status === rp.t.status) {
        out.exact++;
      } else {
        mismatch(rp.t, cp.t, rp.t);
      }
    }
    for (const cp of cs) {
      if (rByKey.has(cp.key)) continue;
      // A handler check could not predict the notification of, and that did not run: unknown is allowed.
      if (cp.t.handler && cp.t.status === 'unknown') {
        out.pairs++;
        out.unknown++;
        continue;
      }
      // after the real run's stop, or left by a failure in its block: not compared
      if (missingIsLegit(cp, cs, rs, real.recap[host]?.unreachable === true, structure) || skippedByFailure(cp, cs, rByKey, structure)) continue;
      // Unknown is never a mismatch (a rescue that was not needed): a compared pair, unknown.
      if (cp.t.status === 'unknown') {
        out.pairs++;
        out.unknown++;
        continue;
      }
      mismatch(cp.t, cp.t, undefined);
    }
  }
  return out;
}

export function formatMismatch(m: Mismatch): string {
  const what = `${m.host} | ${m.play} | ${m.handler ? 'handler: ' : ''}${m.task}`;
  const side = (s: string | undefined, note: string | undefined) => `${s ?? '(missing)'}${note ? ` (${note.split('\n')[0].slice(0, 160)})` : ''}`;
  return `${what}: check ${side(m.check, m.checkNote)}, real ${side(m.real, m.realNote)}`;
}

/**
 * A coarse class of a mismatch, to group many failing seeds: module, the two statuses, and the
 * engine's message with paths, names and numbers blurred.
 */
export function mismatchClass(m: Mismatch): string {
  const blur = (s: string | undefined) =>
    (/applied, but verification failed/.test(s ?? '') ? 'applied, but verification failed' : (s ?? '').split('\n')[0])
      .replace(/^item [^:]*: /, '')
      .replace(/^run: .*?: command failed with exit code \d+.*/, 'run: CMD: command failed')
      .replace(/: command failed with exit code \d+.*/, ': command failed')
      .replace(/\/[\w./{}-]*/g, 'PATH')
      .replace(/\b(dt-sleep|dt-missing|cron|atd|dtuser2?|dtgrp2?|deploy|nobody|nogroup)\b/g, 'NAME')
      .replace(/\d+/g, 'N')
      .slice(0, 90);
  const note = m.real === 'failed' ? blur(m.realNote) : m.check === 'failed' ? blur(m.checkNote) : '';
  return `${m.handler ? 'handler ' : ''}${m.module}: check ${m.check ?? 'missing'}, real ${m.real ?? 'missing'}${note ? ` [${note}]` : ''}`;
}
