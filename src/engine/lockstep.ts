/**
 * any_errors_fatal: the hosts of a batch run the play in step, and the first failure of a task
 * that has it stops every host at the end of that task (Ansible's linear strategy).
 *
 * Hosts otherwise run their tasks independently (README: "hosts run their tasks independently").
 * A play where any_errors_fatal is set anywhere keeps them in step instead: a host starts a task
 * only once every other host of the batch has reached it or passed it, by the task's place in
 * the play's tree (its path of indexes, walk.ts; the tasks of a dynamic include are placed under
 * the include, in order). So when a task fails on one host, no other host has started a later
 * task, and none does: each ends the task it is running, then stops.
 *
 * Check mode: a task with any_errors_fatal whose outcome is unknown may fail, and then every
 * other host stops after it: their later tasks may not run (unknown), and neither may their
 * handlers.
 */
export type Position = readonly number[];

/** After every task of the play: where a host waits before its handlers. */
export const END_OF_PLAY: Position = [Number.MAX_SAFE_INTEGER];

/** Order of two places in the tree: negative when `a` comes first (a path before its children). */
export function comparePositions(a: Position, b: Position): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export interface FatalFailure {
  host: string;
  task: string;
  /** every host that failed a task with any_errors_fatal (they are failed, not stopped) */
  failed: Set<string>;
}

export interface MaybeFatal {
  host: string;
  task: string;
  at: Position;
}

export class Lockstep {
  /** each host's place: the task it runs or waits to run; undefined once its walk ended */
  private readonly at = new Map<string, Position | undefined>();
  private waiting: { host: string; pos: Position; go: () => void }[] = [];
  fatal?: FatalFailure;
  /** check mode: the first task with any_errors_fatal that may fail */
  maybe?: MaybeFatal;
  /** check mode: each host's first task with any_errors_fatal that may fail */
  private readonly maybes = new Map<string, MaybeFatal>();
  /** check mode: hosts with a task with any_errors_fatal that may fail (its first such task) */
  readonly mayHaveFailed = new Map<string, string>();

  constructor(hosts: readonly string[]) {
    for (const h of hosts) this.at.set(h, []);
  }

  /** `host` is about to run the task at `pos`: wait until no other host is still before it. */
  async arrive(host: string, pos: Position): Promise<void> {
    this.at.set(host, pos);
    this.wake();
    if (this.behind(host, pos)) await new Promise<void>((go) => this.waiting.push({ host, pos, go }));
  }

  /** `host` ran its last task of the play (or never started): nobody waits for it any more. */
  leave(host: string): void {
    this.at.set(host, undefined);
    this.wake();
  }

  position(host: string): Position | undefined {
    return this.at.get(host);
  }

  /** A task with any_errors_fatal failed on `host` (errors not ignored, no rescue catching it). */
  fail(host: string, task: string): void {
    this.fatal ??= { host, task, failed: new Set() };
    this.fatal.failed.add(host);
  }

  /** Whether `host` must stop: another host failed a task with any_errors_fatal. */
  stops(host: string): boolean {
    return this.fatal !== undefined && !this.fatal.failed.has(host);
  }

  /** Check mode: a task with any_errors_fatal may fail on `host`; the first such one counts. */
  mayFail(host: string, task: string): MaybeFatal | undefined {
    if (this.maybes.has(host)) return undefined;
    const m = { host, task, at: this.at.get(host) ?? [] };
    this.maybes.set(host, m);
    this.maybe ??= m;
    return m;
  }

  /** Check mode: why `host`'s task at its current place may not run, if it may not. */
  mayNotRun(host: string): string | undefined {
    // the earliest task that may fail on another host, before this host's place
    const pos = this.at.get(host);
    let m: MaybeFatal | undefined;
    for (const o of this.maybes.values()) {
      if (o.host === host || (pos !== undefined && comparePositions(pos, o.at) <= 0)) continue;
      if (!m || comparePositions(o.at, m.at) < 0) m = o;
    }
    if (!m) return undefined;
    return `it runs only if '${m.task}' does not fail on ${m.host} (any_errors_fatal; its outcome is unknown in check mode)`;
  }

  /** Whether another host of the batch is still at a task before `pos`. */
  private behind(host: string, pos: Position): boolean {
    for (const [other, p] of this.at) if (other !== host && p !== undefined && comparePositions(p, pos) < 0) return true;
    return false;
  }

  private wake(): void {
    const ready = this.waiting.filter((w) => !this.behind(w.host, w.pos));
    if (!ready.length) return;
    this.waiting = this.waiting.filter((w) => !ready.includes(w));
    for (const w of ready) w.go();
  }
}
