/**
 * Running a host's notified handlers, at the end of its play or at meta: flush_handlers.
 */
import { recordUnknownTask } from './pipeline/task.js';
import type { Play, Task } from '../load/playbook.js';
import type { HostPlay, HostRunner, HostState } from './host-state.js';

/**
 * The play's handlers notified on this host (`maybe`: only by tasks unknown in check mode), in
 * definition order; a handler answers to its name and to its `listen` names. Handlers run once,
 * for this host, even after a failed task: so in check mode what the tasks after one that may
 * fail would change may not be there for a handler. Only stops at or after the first task that
 * notified it (or may have: an unknown one, which may also be the stop and notify as it fails)
 * matter: a stop before that means the handler is not notified at all (and the real run then
 * reports nothing for it). `mayNotRun`: check mode, why the host may not run its handlers at all
 * (each notified one is then unknown).
 */
export async function runHandlers(r: HostRunner, play: Play, h: HostState, hp: HostPlay, mayNotRun?: string): Promise<void> {
  const names = (handler: Task) => [handler.name, ...handler.listen];
  const uncertain = (handler: Task): (() => void) | undefined => {
    const first = Math.min(...names(handler).map((n) => hp.firstNotifier.get(n) ?? Infinity));
    const stop = hp.mayStop.find((s) => s.i >= first);
    return stop && r.prediction?.host(h.inv.name).uncertainSince(stop.at, `'${stop.task}' may fail (its outcome is unknown in check mode), and then the tasks after it do not run`, h.inv.name);
  };
  for (const handler of play.handlers) {
    if (h.unreachable) break;
    const notified = names(handler).some((n) => hp.notified.has(n));
    if ((!notified || mayNotRun) && names(handler).some((n) => hp.maybe.has(n) || hp.notified.has(n))) {
      recordUnknownTask(r.env(h), handler, r.scope(play, h, handler), `the handler '${handler.name}'`);
      r.report(play, handler, h, true, { status: 'unknown', changes: [], registerData: {} }, [mayNotRun ?? 'notified by a task whose outcome is unknown in check mode'], 0);
      if (!handler.ignoreErrors) r.mayStop(h, `the handler '${handler.name}'`, mayNotRun ?? 'it is notified only by tasks unknown in check mode');
      continue;
    }
    if (!notified) continue;
    const restore = uncertain(handler);
    try {
      const stoppedBefore = r.prediction?.mayHaveStopped(h.inv.name) !== undefined;
      const { status } = await r.runTask(play, handler, h, true);
      if (status === 'failed' && !handler.ignoreErrors) h.failed = true;
      if (handler.anyErrorsFatal) r.fatalOutcome(h, handler, status, { pos: [], caught: false }, stoppedBefore);
      if (status === 'unknown' && !handler.ignoreErrors) r.mayStop(h, `the handler '${handler.name}'`);
    } finally {
      restore?.();
    }
  }
}
