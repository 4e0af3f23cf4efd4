/**
 * One host's walk through a play's tree (load/tree.ts): tasks in order, blocks with their
 * rescue and always sections, includes expanded when they run. What a task does is the host's
 * (WalkHost, in the scheduler); what a block or an include means, in real runs and in check
 * mode, is here and nowhere else:
 *
 * - a task fails (errors not ignored): the rest of its block is skipped, the block's rescue
 *   runs (the host is rescued if it passes), then always runs; without a rescue the failure
 *   goes on up after always;
 * - check mode: a task of a block whose outcome is unknown may fail, so the rescue may run and
 *   the rest of the block may not: the rescue's tasks are unknown (what they may change is
 *   recorded), and what the block changed or registered after that task is unknown to the tasks
 *   that follow (always, and after the block); a rescue's task that may fail, likewise for
 *   the always after it; a block that fails for sure after a task that may fail, likewise for
 *   its rescue and always (the real run may have failed at the earlier task);
 * - an include whose condition, loop or file is unknown in check mode is unknown, and its tasks
 *   may have changed anything on the host.
 */
import { ConfigError } from '../load/yaml.js';
import { staticTasks, type Block, type Include, type Node, type Task } from '../load/tree.js';
import { UnknownValue, type Scope } from './expr.js';
import type { StartAt } from './start-at.js';
import type { Position } from './lockstep.js';

export type WalkResult = 'ok' | 'failed' | 'stopped';
export type Extra = Record<string, unknown>;

/** Where a task is: its place in the tree (lockstep.ts), and whether an enclosing block's rescue catches its failure. */
export interface Place {
  pos: Position;
  caught: boolean;
}

/** Check mode's view of the walk (undefined in real runs). */
export interface WalkPrediction {
  /** where the host's predictions and results stand now */
  mark(): unknown;
  /** whether a task that may fail (unknown, errors not ignored) ran since `mark` */
  mayHaveFailedSince(mark: unknown): boolean;
  /** what was predicted or registered since `mark` may not have happened: unknown from now on */
  uncertainSince(mark: unknown, reason: string): void;
  /** tasks that may or may not run: reported unknown, with what they may change recorded */
  notPredicted(tasks: Task[], extra: Extra, reason: string): void;
  /** an include that may run anything here */
  unknownInclude(inc: Include, reason: string): void;
}

export interface WalkHost {
  /** Run one task (unless tags deselect it): its status, or undefined when it was not selected. */
  task(task: Task, following: Task[], extra: Extra, place: Place): Promise<string | undefined>;
  /** An include is reached at `place` (any_errors_fatal keeps hosts in step: it may wait). */
  arrive(place: Place): Promise<void>;
  /** Run the handlers notified so far (meta: flush_handlers at `place`). */
  flush(place: Place): Promise<void>;
  /** The host is unreachable, or the run interrupted: nothing more starts. */
  stopped(): boolean;
  /** The failed task's name and result become ansible_failed_task / ansible_failed_result. */
  rescuing(): void;
  rescued(): void;
  selected(tags: string[]): boolean;
  scope(extra: Extra, task: Pick<Task, 'vars' | 'defaults'>): Scope;
  /** Record the include itself as a task result. */
  reportInclude(inc: Include, status: 'ok' | 'skipped' | 'failed' | 'unknown', note: string): void;
  /** Load an include's task file or role at run time (through the loader). */
  load(inc: Include, target: string): Node[];
  prediction?: WalkPrediction;
  /** --start-at-task in the play where the run starts: nodes before the first match are not run, nor reported */
  startAt?: StartAt;
}

/** The tasks that follow position `k` of a list, up to the first node that is not a task (checks run ahead). */
const following = (list: Node[], k: number): Task[] => {
  const out: Task[] = [];
  for (const n of list.slice(k + 1)) {
    if (n.kind !== 'task') break;
    out.push(n);
  }
  return out;
};

export async function walk(host: WalkHost, list: Node[], extra: Extra = {}, at: Position = [], caught = false): Promise<WalkResult> {
  for (const [k, n] of list.entries()) {
    const place: Place = { pos: [...at, k], caught };
    if (host.stopped()) return 'stopped';
    const s = host.startAt;
    // a block is entered: the start may be inside it (start-at.ts)
    if (s && !s.started && n.kind !== 'block') {
      if (!s.matches(n)) continue;
      s.started = true;
    }
    let r: WalkResult;
    if (n.kind === 'block') r = await walkBlock(host, n, extra, place);
    else if (n.kind === 'include') {
      await host.arrive(place);
      r = host.stopped() ? 'stopped' : await walkInclude(host, n, extra, place);
    }
    else if (n.module === 'meta' && n.args.action === 'flush_handlers') {
      if (!n.implicit && (await host.task(n, [], extra, place)) === undefined) continue;
      await host.flush(place);
      r = host.stopped() ? 'stopped' : 'ok';
    } else {
      const status = await host.task(n, following(list, k), extra, place);
      r = host.stopped() ? 'stopped' : status === 'failed' && !n.ignoreErrors ? 'failed' : 'ok';
    }
    if (r !== 'ok') return r;
  }
  return 'ok';
}

async function walkBlock(host: WalkHost, b: Block, extra: Extra, { pos, caught }: Place): Promise<WalkResult> {
  const p = host.prediction;
  const mark = p?.mark();
  const r = await walk(host, b.block, extra, [...pos, 0], caught || b.rescue.length > 0);
  let result = r;
  // the block failed for sure, but a task before the failing one may have failed first: the
  // tasks between may not have run, so what they changed or registered is unknown to the rescue
  // and always (and ansible_failed_task may name either)
  const earlier = r === 'failed' && p && p.mayHaveFailedSince(mark) ? `a task of the block at ${b.where} before the one that fails may fail first (its outcome is unknown in check mode), and then the tasks between do not run` : undefined;
  if (r === 'failed' && b.rescue.length) {
    host.rescuing();
    if (earlier) p?.uncertainSince(mark, earlier);
    const rescueMark = p?.mark();
    result = await walk(host, b.rescue, extra, [...pos, 1], caught);
    if (result === 'ok') host.rescued();
    // a task of the rescue that may fail leaves the rest of the rescue unrun: always may see either
    if (result === 'ok' && p && b.always.length && p.mayHaveFailedSince(rescueMark)) {
      p.uncertainSince(rescueMark, `a task of the rescue at ${b.where} may fail (its outcome is unknown in check mode), and then the rest of the rescue does not run`);
    }
  } else if (r === 'ok' && p && (b.rescue.length || b.always.length) && p.mayHaveFailedSince(mark)) {
    const why = `a task of the block at ${b.where} may fail (its outcome is unknown in check mode)`;
    p.uncertainSince(mark, `${why}, and then the rest of the block does not run`);
    if (b.rescue.length) p.notPredicted(staticTasks(b.rescue), extra, `the rescue of the block at ${b.where} runs only if a task of the block fails: ${why}`);
  }
  if (earlier && !b.rescue.length) p?.uncertainSince(mark, earlier);
  if (r === 'stopped' || host.stopped()) return 'stopped';
  const a = await walk(host, b.always, extra, [...pos, 2], caught);
  return a === 'ok' ? result : a;
}

async function walkInclude(host: WalkHost, inc: Include, extra: Extra, { pos, caught }: Place): Promise<WalkResult> {
  if (!host.selected(inc.tags)) return 'ok';
  const scope = host.scope(extra, inc.inherited);
  let items: unknown[];
  let targets: string[];
  const lc = inc.loopControl;
  const itemVars = (item: unknown, i: number): Extra => (inc.loop === undefined ? {} : { [lc?.loopVar ?? 'item']: item, ...(lc?.indexVar ? { [lc.indexVar]: i } : {}) });
  try {
    if (inc.when !== undefined && !scope.condition(inc.when)) {
      host.reportInclude(inc, 'skipped', `condition is false: ${String(inc.when)}`);
      return 'ok';
    }
    const loop = inc.loop === undefined ? [undefined] : scope.render(inc.loop);
    if (!Array.isArray(loop)) throw new ConfigError(`loop: expected a list, got ${typeof loop}`);
    items = loop;
    targets = items.map((item, i) => String(host.scope({ ...extra, ...itemVars(item, i) }, inc.inherited).render(inc.target)));
  } catch (e) {
    if (e instanceof UnknownValue && host.prediction) {
      host.prediction.unknownInclude(inc, `what ${inc.name} includes depends on a value known only after the real run: ${e.reason}`);
      return 'ok';
    }
    host.reportInclude(inc, 'failed', `${(e as Error).message} (at ${inc.where})`);
    return inc.ignoreErrors ? 'ok' : 'failed';
  }
  const runs: { nodes: Node[]; extra: Extra }[] = [];
  try {
    for (const [i, item] of items.entries()) runs.push({ nodes: inc.loaded ?? host.load(inc, targets[i]), extra: { ...extra, ...itemVars(item, i) } });
  } catch (e) {
    host.reportInclude(inc, 'failed', (e as Error).message);
    return inc.ignoreErrors ? 'ok' : 'failed';
  }
  host.reportInclude(inc, 'ok', `included: ${[...new Set(targets)].join(', ')}${inc.loop !== undefined ? ` (${items.length} item${items.length === 1 ? '' : 's'})` : ''}`);
  for (const [i, run] of runs.entries()) {
    const r = await walk(host, run.nodes, run.extra, [...pos, i], caught);
    if (r !== 'ok') return r;
  }
  return 'ok';
}
