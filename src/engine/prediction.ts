/**
 * Check mode's prediction: for each host, the ordered log of effects that the tasks predicted
 * to change will have. A fact read in check mode is the live fact with every effect that
 * touches its resource folded over it, in order:
 *  - no effect touches the resource: the live value, which is exact (nothing will change it);
 *  - effects touch it: the predicted value, or "unknown" with the reason, never a guess.
 * Modules declare effects in `predict()` (see modules/contract.ts); this file knows nothing
 * of any module. One Prediction per run; real runs have none.
 */
import { Unknown, type Effect, type FactRequest } from '../modules/contract.js';

/** The value a resource will have: what an effect left there, or why it cannot be known. */
export class UnknownFact {
  constructor(public readonly reason: string) {}
}

/**
 * An effect of a task of host `by` after a task of `by` that may fail (unknown in check mode,
 * errors not ignored): it happens only if `by` did not stop there. For `by`'s own later tasks it
 * is as certain as any (they run only if `by` went on); for every other host's tasks (which run
 * either way) it may not have happened.
 */
interface Conditional {
  /** the effect as the other hosts see it: maybe(effect) */
  effect: Effect;
  by: string;
}

export class HostPrediction {
  private readonly effects: Effect[] = [];
  /** the host whose task recorded each effect (undefined: not said, e.g. a module fixture) */
  private readonly recordedBy: (string | undefined)[] = [];
  private readonly conditions = new Map<Effect, Conditional>();

  constructor(public readonly host: string) {}

  /**
   * Record the effects of a task predicted to change this host (in task order); `by` and
   * `mayHaveStopped`: the host whose task it is, and why it may have stopped before it.
   */
  record(effects: Effect[], by?: { host: string; mayHaveStopped?: string }): void {
    for (const e of effects) {
      if (by?.mayHaveStopped !== undefined) this.conditions.set(e, { effect: maybe(e, by.mayHaveStopped), by: by.host });
      this.effects.push(e);
      this.recordedBy.push(by?.host);
    }
  }

  /** The effect as a task of host `reader` sees it (see Conditional). */
  private seen(e: Effect, reader: string | undefined): Effect {
    const c = this.conditions.get(e);
    return c && c.by !== reader ? c.effect : e;
  }

  /** Whether anything on this host is predicted to change. */
  get changed(): boolean {
    return this.effects.length > 0;
  }

  get size(): number {
    return this.effects.length;
  }

  /**
   * The effects recorded from `index` on by tasks of host `by` may not happen (the tasks that made
   * them run only if an unknown task of `by` before them does not fail): until `restore()`, they
   * make unknown what they change. Effects of other hosts' tasks happen either way: hosts run
   * their tasks at the same time, so theirs may be recorded after `index` too.
   */
  uncertainSince(index: number, reason: string, by: string): () => void {
    const replaced: { at: number; certain: Effect; uncertain: Effect }[] = [];
    for (let at = index; at < this.effects.length; at++) {
      const recorder = this.recordedBy[at];
      if (recorder !== undefined && recorder !== by) continue;
      const certain = this.effects[at];
      const uncertain = maybe(certain, reason);
      // what another host's task sees of it stays conditional
      const c = this.conditions.get(certain);
      if (c) this.conditions.set(uncertain, c);
      this.effects[at] = uncertain;
      replaced.push({ at, certain, uncertain });
    }
    return () => {
      // an effect made uncertain again meanwhile (for good) stays so
      for (const { at, certain, uncertain } of replaced) if (this.effects[at] === uncertain) this.effects[at] = certain;
      for (const { uncertain } of replaced) this.conditions.delete(uncertain);
    };
  }

  /** Whether any recorded effect touches this resource (so its live value is not the answer). */
  touches(key: string): boolean {
    return this.effects.some((e) => e.touches(key));
  }

  /**
   * Why what lies under one of `dirs` (a tree read as one fact) cannot be known in check mode:
   * an earlier effect may change it (see Effect.within), or undefined when none may.
   */
  reachesUnder(dirs: string[], reader?: string): string | undefined {
    for (const recorded of this.effects) {
      const e = this.seen(recorded, reader);
      const dir = dirs.find((d) => reaches(e, d));
      if (dir !== undefined) return `what lies under ${dir} is changed by an earlier task, and the tree is read as a whole`;
    }
    return undefined;
  }

  /**
   * The predicted fact of a resource known under several keys (aliases), as a task of host
   * `reader` sees it: effects on any of the keys apply.
   */
  foldAll<T>(keys: string[], live: T, reader?: string): T {
    let value: unknown = live;
    for (const recorded of this.effects) {
      const e = this.seen(recorded, reader);
      const key = keys.find((k) => e.touches(k));
      if (key === undefined) continue;
      value = e.apply(value, key);
      if (value instanceof UnknownFact) throw new Unknown(value.reason);
    }
    return value as T;
  }
}

export class Prediction {
  private readonly hosts = new Map<string, HostPrediction>();
  private readonly stops = new Map<string, string>();

  /** A task of `host` may fail and stop it (unknown, errors not ignored): its later effects are conditional. */
  mayStop(host: string, reason: string): void {
    if (!this.stops.has(host)) this.stops.set(host, reason);
  }

  /** Why `host` may have stopped before now, if it may have. */
  mayHaveStopped(host: string): string | undefined {
    return this.stops.get(host);
  }

  host(name: string): HostPrediction {
    let h = this.hosts.get(name);
    if (!h) this.hosts.set(name, (h = new HostPrediction(name)));
    return h;
  }

  /** Whether any host is predicted to change (read-only checks then cannot be run for real). */
  get changed(): boolean {
    return [...this.hosts.values()].some((h) => h.changed);
  }

  /** How many effects each host has recorded so far (a mark for uncertainSinceAll). */
  sizes(): Map<string, number> {
    return new Map([...this.hosts].map(([name, h]) => [name, h.size]));
  }

  /** The effects that tasks of host `by` recorded on every host since `marks` (sizes()) may not happen, for `reason`: for good. */
  uncertainSinceAll(marks: Map<string, number>, reason: string, by: string): void {
    for (const [name, h] of this.hosts) if (h.size > (marks.get(name) ?? 0)) h.uncertainSince(marks.get(name) ?? 0, reason, by);
  }

  /** Total effects recorded so far (a cheap version stamp for snapshots). */
  get size(): number {
    let n = 0;
    for (const h of this.hosts.values()) n += h.size;
    return n;
  }
}

// ---------------------------------------------------------------------------------------------
// Effects every module can use
// ---------------------------------------------------------------------------------------------

/** The resource `key` will hold exactly `value`. */
export function setsTo(key: string, value: unknown): Effect {
  return { touches: (k) => k === key, apply: () => value, within: (dir) => keyUnder(key, dir) };
}

/** Whether `key` is a file key at or under `dir`. */
const keyUnder = (key: string, dir: string) => {
  if (!key.startsWith('file:')) return false;
  const p = key.slice(5).replace(/\/+$/, '') || '/';
  return p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);
};

/** Effect.within, else a probe: the directory itself, or a name no task makes under it. */
function reaches(e: Effect, dir: string): boolean {
  if (e.within) return e.within(dir);
  return e.touches(`file:${dir}`) || e.touches(`file:${dir === '/' ? '' : dir}/.provision-probe-\u0001`);
}

/** An effect that may or may not happen: what it would change becomes unknown (what it leaves as is stays). */
export function maybe(e: Effect, reason: string): Effect {
  return {
    touches: (k) => e.touches(k),
    apply: (before, k) => {
      const after = e.apply(before, k);
      return after === before ? before : after instanceof UnknownFact ? after : new UnknownFact(reason);
    },
    ...(e.within ? { within: (dir: string) => e.within!(dir) } : {}),
  };
}

/** Resources whose keys start with `prefix` become unknown, for `reason`. */
export function unknownUnder(prefix: string, reason: string): Effect {
  return { touches: (k) => k.startsWith(prefix), apply: () => new UnknownFact(reason), within: (dir) => `file:${dir}/`.startsWith(prefix) || keyUnder(prefix, dir) };
}

/** Every resource of the host becomes unknown (an effect nobody can describe). */
export function unknownEverything(reason: string): Effect {
  return { touches: () => true, apply: () => new UnknownFact(reason) };
}

/** Effects that set named facts (as a module's facts() names them) to predicted values. */
export function factEffects(requests: Record<string, FactRequest>, predicted: Record<string, unknown>): Effect[] {
  return Object.entries(predicted)
    .filter(([name, v]) => v !== undefined && requests[name])
    .map(([name, v]) => setsTo(requests[name].kind.key(requests[name].params), v));
}
