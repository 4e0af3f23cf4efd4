/**
 * Result control on any task: `failed_when`, `changed_when` and `until` (with `retries` and
 * `delay`), evaluated over the task's result (bound to its `register` name), per loop item.
 *
 * Check mode: a condition is evaluated over the predicted result. Where it reads what only the
 * real run knows (a command's output), the task is unknown, with the reason. A command that
 * would run but whose success is unknown becomes known when `failed_when` settles its failure
 * without its output (`failed_when: false`): its status is then `changed_when`'s (or changed).
 * `until` over a predicted change is unknown unless it already holds (the real run may retry).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ExpressionError, UndefinedVariable, UnknownValue, partlyUnknown, type Scope } from '../expr.js';
import { executeTask, type Outcome, type TaskEnv } from './task.js';
import type { Play, Task } from '../../load/playbook.js';

/** What `register:` stores for an outcome (and what result control reads). */
export function resultValue(check: boolean, task: Pick<Task, 'register' | 'name'>, { status, changes, registerData }: Outcome, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const base = { status, changed: status === 'changed', failed: status === 'failed', skipped: status === 'skipped', changes: changes.map((c) => c.summary), ...extra };
  const who = task.register ? `'${task.register}'` : `the result of '${task.name}'`;
  if (check && status === 'unknown') return partlyUnknown({}, `${who} is the result of a task whose outcome is unknown in check mode`);
  if (check && status === 'changed') return partlyUnknown(base, `${who} is the result of a task that has not run (check mode)`);
  return { ...registerData, ...base };
}

type ScopeFor = (extra: Record<string, unknown>) => Scope;

/** A condition's value, or why it is unknown (check mode). */
function evaluate(scopeFor: ScopeFor, task: Task, result: Record<string, unknown>, cond: string | boolean): boolean | UnknownValue {
  try {
    return scopeFor(task.register ? { [task.register]: result } : {}).condition(cond);
  } catch (e) {
    if (e instanceof UnknownValue) return e;
    throw e;
  }
}

/**
 * Apply failed_when / changed_when to one attempt's outcome. `ran`: the module ran (or, in check
 * mode, would run) rather than stopping before it (an undefined variable, bad arguments).
 */
function control(check: boolean, scopeFor: ScopeFor, task: Task, o: Outcome): Outcome {
  if (task.failedWhen === undefined && task.changedWhen === undefined) return o;
  if (o.status === 'skipped' || !o.ran) return o;
  // check mode: a run whose success is unknown is settled only by a failed_when that needs no output
  const uncertainRun = check && o.status === 'unknown' && o.uncertainRun;
  if (o.status === 'unknown' && !uncertainRun) return o;
  check = check && !o.resultKnown;
  const result = resultValue(check, task, o);
  let status = o.status;
  let error = o.error;
  if (task.failedWhen !== undefined) {
    const failed = evaluate(scopeFor, task, result, task.failedWhen);
    if (failed instanceof UnknownValue) return { ...o, status: 'unknown', error: `failed_when: ${failed.reason}` };
    if (failed) return { ...o, status: 'failed', error: `failed_when holds: ${String(task.failedWhen)}${o.error ? ` (${o.error})` : ''}` };
    status = o.changes.length > 0 ? 'changed' : 'ok';
    error = undefined;
  } else if (uncertainRun) return o;
  if (status === 'failed') return o;
  if (task.changedWhen !== undefined) {
    const changed = evaluate(scopeFor, task, resultValue(check, task, { ...o, status }), task.changedWhen);
    if (changed instanceof UnknownValue) return { ...o, status: 'unknown', error: `changed_when: ${changed.reason}` };
    status = changed ? 'changed' : 'ok';
  }
  return { ...o, status, error };
}

/**
 * One task (or one loop item) with its result control: attempts until `until` holds (real runs,
 * and checks, which run in check mode too), each with failed_when / changed_when applied.
 */
export async function executeControlled(
  env: TaskEnv,
  play: Play,
  task: Task,
  become: boolean | undefined,
  scopeFor: ScopeFor,
  scope: Scope,
  notes: string[],
): Promise<Outcome> {
  const check = env.prediction !== undefined;
  const attempts = task.until ? Math.max(1, task.until.retries + 1) : 1;
  for (let attempt = 1; ; attempt++) {
    let o: Outcome;
    try {
      const raw = await executeTask(env, play, task, become, scope, notes);
      o = control(check, scopeFor, task, raw);
      // what failed_when set aside is still said
      if (raw.status === 'failed' && o.status !== 'failed' && raw.error) notes.push(`failed_when does not hold, so this failure is not the task's: ${raw.error}`);
      if (!task.until || o.status === 'skipped' || o.status === 'unknown') return o;
      const holds = evaluate(scopeFor, task, resultValue(check && !o.resultKnown, task, o, { attempts: attempt }), task.until.condition);
      if (holds instanceof UnknownValue) return { ...o, status: 'unknown', error: `until: ${holds.reason}` };
      if (holds) return { ...o, registerData: { ...o.registerData, attempts: attempt } };
      // check mode: a predicted change is not applied, so retrying it predicts nothing new
      if (check && !o.resultKnown && env.modules.get(task.module)?.type === 'state') {
        return { ...o, status: 'unknown', error: `until does not hold on the predicted result (${String(task.until.condition)}): the real run retries up to ${attempts} times` };
      }
    } catch (e) {
      if (e instanceof UndefinedVariable || e instanceof ExpressionError) return { status: 'failed', error: `${e.message} (task at ${task.where})`, changes: [], registerData: {} };
      throw e;
    }
    if (attempt >= attempts) {
      return { ...o, status: 'failed', error: `until did not hold after ${attempts} attempt${attempts > 1 ? 's' : ''}: ${String(task.until.condition)}${o.error ? ` (last attempt: ${o.error})` : ''}`, registerData: { ...o.registerData, attempts: attempt } };
    }
    notes.push(`attempt ${attempt} of ${attempts}: until does not hold yet; retrying in ${task.until.delay} s`);
    await sleep(task.until.delay * 1000);
  }
}
