/**
 * What the tree walk (walk.ts) asks of one host in one play: run a task (read ahead again after
 * a change, checks ahead, throttle, run_once, notifications), flush handlers, rescue, and in
 * check mode the marks in the prediction and the registered results.
 */
import pLimit from 'p-limit';
import { partlyUnknown, UnknownVar } from './expr.js';
import { varsSetBy } from './actions.js';
import { recordUnknownTask } from './pipeline/task.js';
import { unknownEverything, type Prediction } from './prediction.js';
import { loadIncluded } from '../load/include.js';
import { usesAnyErrorsFatal } from '../load/tree.js';
import { RUN_ONCE_SHARDED } from './shard.js';
import { runHandlers } from './handlers.js';
import type { WalkHost, WalkPrediction } from './walk.js';
import type { Play } from '../load/playbook.js';
import type { HostPlay, HostRunner, HostState } from './host-state.js';
import { TaskError } from '../modules/contract.js';

/** What the tree walk (walk.ts) asks of this host in this play. */
export function walkHost(r: HostRunner, play: Play, h: HostState, hp: HostPlay): WalkHost {
  const name = h.inv.name;
  const prediction = r.prediction;
  return {
    task: async (task, following, extra, place) => {
      if (!r.selected(task)) return undefined;
      if (r.lockstep) {
        await r.lockstep.arrive(name, place.pos);
        if (r.lockstep.stops(name)) return undefined;
      }
      // a change voided what was read ahead: read the rest of the play ahead again, in one round trip
      const at = play.tasks.indexOf(task);
      const local = r.runsLocally(play, h);
      if (!local && h.cache.voided && r.readsOwnFacts(task) && at >= 0) await r.readAhead(play, h, play.tasks.slice(at));
      if (!local && !hp.ahead?.covers(task)) hp.ahead = await r.checksAhead(play, h, [task, ...following]);
      const i = hp.seq++;
      let run = () => r.runTask(play, task, h, false, hp.ahead?.has(task) ? hp.ahead : undefined, extra);
      if (task.throttle !== undefined) {
        const limit = r.throttles.get(task) ?? pLimit(task.throttle);
        r.throttles.set(task, limit);
        const inner = run;
        run = () => limit(inner);
      }
      // a run_once the load could not see (a computed include) fails in a sliced run (shard.ts)
      if (task.runOnce && r.opts.shard) run = async () => r.refused(play, task, h, RUN_ONCE_SHARDED);
      // check mode: whether this host may have stopped before this task (not by another host's outcome of it)
      const stoppedBefore = r.prediction?.mayHaveStopped(name) !== undefined;
      const result = task.runOnce && !r.opts.shard ? await r.runOnce.run(task, h, run, (first) => r.runOnceCopy(play, task, h, first)) : await run();
      hp.ahead?.finished(task, result.status);
      const status = result.status;
      if (status === 'failed' && !task.ignoreErrors) hp.lastFailure = result;
      if (task.anyErrorsFatal) r.fatalOutcome(h, task, status, place, stoppedBefore);
      // A task that failed after applying part of its changes changed the host too.
      // In check mode a failed task's changes are those of the loop items before the failing
      // one (a task whose plan fails has none): the real run applies them, and notifies.
      const partly = status === 'failed' && result.changes.some((c) => c.applied || (r.opts.check && c.applied === undefined));
      if (status === 'changed' || partly) task.notify.forEach((n) => hp.notified.add(n));
      if (status === 'unknown') task.notify.forEach((n) => hp.maybe.add(n));
      if (status === 'changed' || partly || status === 'unknown') task.notify.forEach((n) => hp.firstNotifier.set(n, hp.firstNotifier.get(n) ?? i));
      if (status === 'unknown' && prediction && !task.ignoreErrors) {
        hp.mayStop.push({ i, at: prediction.host(name).size, task: task.name, registered: { ...h.registered } });
        r.mayStop(h, `'${task.name}'`);
      }
      return status;
    },
    arrive: async (place) => {
      await r.lockstep?.arrive(name, place.pos);
    },
    flush: async (place) => {
      await r.lockstep?.arrive(name, place.pos);
      if (r.lockstep?.stops(name)) return;
      await runHandlers(r, play, h, hp);
      hp.notified.clear();
      hp.maybe.clear();
      hp.firstNotifier.clear();
    },
    stopped: () => Boolean(h.unreachable) || r.interrupted || Boolean(r.lockstep?.stops(name)),
    rescuing: () => {
      const f = hp.lastFailure;
      h.registered.ansible_failed_task = f ? { name: f.task, module: f.module } : {};
      h.registered.ansible_failed_result = f ? { failed: true, msg: f.error ?? '', status: 'failed' } : {};
    },
    rescued: () => {
      const f = hp.lastFailure;
      if (f && !f.rescued) {
        f.rescued = true;
        h.recap.failed--;
        h.recap.rescued = (h.recap.rescued ?? 0) + 1;
      }
    },
    selected: (tags) => r.selected({ tags }),
    scope: (extra, task) => r.scope(play, h, task, extra),
    reportInclude: (inc, status, note) => r.reportInclude(play, h, inc, status, note),
    load: (inc, target) => {
      const nodes = loadIncluded(inc, target, r.opts.modules, r.opts.root, r.opts.rolesPath);
      // hosts run in step only in a play that says so at load (lockstep.ts)
      if (!play.lockstep && usesAnyErrorsFatal(nodes)) throw new TaskError(`${target}: any_errors_fatal in a file included at run time: set it on the play, or on the include (${inc.where}), so that the play's hosts run in step`);
      return nodes;
    },
    ...(prediction ? { prediction: walkPrediction(r, play, h, hp, prediction) } : {}),
  };
}

/** Check mode's side of the walk: marks in the prediction and the registered results (walk.ts). */
function walkPrediction(r: HostRunner, play: Play, h: HostState, hp: HostPlay, prediction: Prediction): WalkPrediction {
  interface Mark {
    effects: Map<string, number>;
    stops: number;
    registered: Record<string, unknown>;
  }
  const env = r.env(h);
  return {
    mark: (): Mark => ({ effects: prediction.sizes(), stops: hp.mayStop.length, registered: { ...h.registered } }),
    mayHaveFailedSince: (m) => hp.mayStop.length > (m as Mark).stops,
    uncertainSince: (m, reason) => {
      const mark = m as Mark;
      // what this host did up to the first task that may fail happened either way
      const first = hp.mayStop[mark.stops];
      const effects = new Map(mark.effects);
      if (first) effects.set(h.inv.name, first.at);
      prediction.uncertainSinceAll(effects, reason, h.inv.name);
      const before = first?.registered ?? mark.registered;
      for (const [k, v] of Object.entries(h.registered)) if (before[k] !== v) h.registered[k] = partlyUnknown({}, `'${k}' may not have been set: ${reason}`);
    },
    notPredicted: (tasks, extra, reason) => {
      for (const task of tasks) {
        if (!r.selected(task) || task.implicit) continue;
        recordUnknownTask(env, task, r.scope(play, h, task, extra), `'${task.name}'`);
        r.report(play, task, h, false, { status: 'unknown', changes: [], registerData: {} }, [reason], 0);
        // it may run: what it sets may or may not be set, and what it notifies may be notified
        for (const k of varsSetBy(task.module, task.args)) h.registered[k] = new UnknownVar(`'${k}' may have been set by '${task.name}': ${reason}`);
        for (const n of task.notify) {
          hp.maybe.add(n);
          hp.firstNotifier.set(n, hp.firstNotifier.get(n) ?? hp.seq);
        }
        if (!task.ignoreErrors) {
          hp.mayStop.push({ i: hp.seq++, at: prediction.host(h.inv.name).size, task: task.name });
          r.mayStop(h, `'${task.name}'`, 'it runs only if a task before it fails');
        }
        // any_errors_fatal: if it runs and fails, every host of the batch stops (seed 28079)
        if (task.anyErrorsFatal) r.fatalOutcome(h, task, 'unknown', { pos: [], caught: false });
      }
    },
    unknownInclude: (inc, reason) => {
      prediction.host(h.inv.name).record([unknownEverything(`${inc.name} (unknown in check mode) may have run anything here`)], { host: h.inv.name, mayHaveStopped: prediction.mayHaveStopped(h.inv.name) });
      r.reportInclude(play, h, inc, 'unknown', reason);
      if (!inc.ignoreErrors) {
        hp.mayStop.push({ i: hp.seq++, at: prediction.host(h.inv.name).size, task: inc.name });
        r.mayStop(h, `'${inc.name}'`);
      }
    },
  };
}

