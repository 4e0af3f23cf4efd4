/**
 * Facts read for a host's next play before that play starts (issue 8, across plays).
 *
 * Plays stay barriers: no task of play N+1 starts before play N has ended on every host. What
 * moves is the read-ahead (pipeline/read-ahead.ts): a host reads the facts of the next play it
 * is in as soon as it is free, i.e. right after its handshake (for its first play) or when it has
 * finished its part of a play, while the other hosts still run theirs. At the play's start the
 * read is used only if nothing was written anywhere since it began: no apply, no check that
 * writes, on any host or on the controller. Otherwise it is dropped and the play reads its
 * facts at its start, as before.
 *
 * Why that is the same as reading at the play's start: between the two moments the run itself
 * changed nothing, so the values can differ only by what changes on its own (time, other
 * processes, replication), which is no different from the run having been faster. Facts that
 * other hosts or time change are never read ahead (FactKind.volatile). The arguments are
 * rendered with the variables known when the read begins; facts are keyed by what they read, so
 * a task whose arguments render differently at its start (a result registered meanwhile) finds
 * nothing for it and reads its own. In check mode the host is never written: the cache holds the
 * live values, and the prediction of earlier tasks is folded over them when they are served.
 */
import type { Play } from '../load/playbook.js';
import { FactCache, type FactCacheMode } from './pipeline/fact-cache.js';

interface Ahead {
  play: Play;
  /** the write count when the read began */
  writes: number;
  cache: FactCache;
  /** whether the read succeeded (on failure the play reads its facts itself) */
  done: Promise<boolean>;
}

export class NextPlayReads {
  private writes = 0;
  private readonly ahead = new Map<string, Ahead>();

  /** `plays` in run order, each with the hosts it targets in this run. */
  constructor(
    private readonly plays: { play: Play; hosts: ReadonlySet<string> }[],
    private readonly mode: FactCacheMode,
  ) {}

  /** Something is written (called when an apply or a writing check starts and again when it ends). */
  wrote(): void {
    this.writes++;
  }

  /**
   * Begin reading `host`'s facts for the first play after `after` that it is in (`after`
   * undefined: its first play). `read` fills the cache given and says whether it succeeded.
   */
  start(host: string, after: Play | undefined, read: (play: Play, cache: FactCache) => Promise<boolean>): void {
    this.ahead.delete(host);
    if (this.mode === 'off') return;
    const from = after === undefined ? 0 : this.plays.findIndex((p) => p.play === after) + 1;
    if (from === 0 && after !== undefined) return;
    const next = this.plays.slice(from).find((p) => p.hosts.has(host));
    if (!next) return;
    const cache = new FactCache(this.mode);
    const writes = this.writes;
    const done = read(next.play, cache).catch(() => false);
    this.ahead.set(host, { play: next.play, writes, cache, done });
  }

  /** At the start of `play` on `host`: what was read ahead for it, if nothing was written since. */
  take(host: string, play: Play): { cache: FactCache; done: Promise<boolean> } | undefined {
    const a = this.ahead.get(host);
    if (!a || a.play !== play) return undefined;
    this.ahead.delete(host);
    return a.writes === this.writes ? { cache: a.cache, done: a.done } : undefined;
  }
}
