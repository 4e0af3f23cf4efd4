/**
 * Facts read for a host's next play before that play starts (issue 8, across plays).
 *
 * Plays stay barriers: no task of play N+1 starts before play N has ended on every host. What
 * moves is the read-ahead (pipeline/read-ahead.ts): a host reads the facts of the next play it
 * is in as soon as it is free, i.e. right after its handshake (for its first play) or when it has
 * finished its part of a play, while the other hosts still run theirs; and while nothing is
 * written, the play after that, and so on (a no-op run reads every play ahead). At the play's start the
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

type Read = (play: Play, cache: FactCache) => Promise<boolean>;

/** How many coming plays a host holds read ahead at most. */
const MAX_AHEAD = 3;

export class NextPlayReads {
  private writes = 0;
  /** per host, the reads of its coming plays, in play order */
  private readonly ahead = new Map<string, Ahead[]>();
  /** per host, the read its chain began last */
  private readonly newest = new Map<string, Ahead>();

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
   * `host` is free: it has finished `after` (undefined: it has just connected). Read the facts of
   * the next play it is in, unless a read of it that still holds is already there; `read` fills
   * the cache given and says whether it succeeded. When a read ends, nothing was written since it
   * began and the host is still `idle` (waiting for its next play), it goes on with the play after
   * that one: in a run that changes nothing, a host reads its coming plays while the others run
   * theirs. It never reads while it runs a play of its own, whose commands come first.
   */
  start(host: string, after: Play | undefined, read: Read, idle: () => boolean): void {
    if (this.mode === 'off') return;
    const from = after === undefined ? 0 : this.indexOf(after) + 1;
    if (from === 0 && after !== undefined) return;
    const held = (this.ahead.get(host) ?? []).filter((a) => a.writes === this.writes && this.indexOf(a.play) >= from);
    this.ahead.set(host, held);
    // a chain that stopped because its host had a play of its own to run goes on from its last read
    if (held.length) this.next(host, held[held.length - 1], read, idle);
    else this.read(host, from, read, idle);
  }

  private indexOf(play: Play): number {
    return this.plays.findIndex((p) => p.play === play);
  }

  /** Read the first play from index `from` that `host` is in, then (nothing written) the next. */
  private read(host: string, from: number, read: Read, idle: () => boolean): void {
    const i = this.plays.findIndex((p, j) => j >= from && p.hosts.has(host));
    if (i < 0) return;
    const a: Ahead = { play: this.plays[i].play, writes: this.writes, cache: new FactCache(this.mode), done: Promise.resolve(false) };
    a.done = read(a.play, a.cache).catch(() => false);
    const list = this.ahead.get(host);
    if (list) list.push(a);
    else this.ahead.set(host, [a]);
    this.newest.set(host, a);
    this.next(host, a, read, idle);
  }

  /**
   * Once `a` is read: the play after it, if nothing was written since `a` began, `a` is still the
   * newest read of the host (a newer chain ends this one), the host is idle, and it holds fewer
   * than MAX_AHEAD reads (each holds a play's facts: file contents among them).
   */
  private next(host: string, a: Ahead, read: Read, idle: () => boolean): void {
    void a.done.then((ok) => {
      const held = this.ahead.get(host) ?? [];
      if (ok && a.writes === this.writes && this.newest.get(host) === a && idle() && held.length < MAX_AHEAD) this.read(host, this.indexOf(a.play) + 1, read, idle);
    });
  }

  /** At the start of `play` on `host`: what was read ahead for it, if nothing was written since. */
  take(host: string, play: Play): { cache: FactCache; done: Promise<boolean> } | undefined {
    const list = this.ahead.get(host) ?? [];
    const i = list.findIndex((a) => a.play === play);
    if (i < 0) return undefined;
    const [a] = list.splice(0, i + 1).slice(-1);
    return a.writes === this.writes ? { cache: a.cache, done: a.done } : undefined;
  }
}
