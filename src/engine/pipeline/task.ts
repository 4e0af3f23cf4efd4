/**
 * One task on one host: when -> render arguments -> (loop) -> the module's stages:
 *   state modules: facts -> plan -> [check: predict] | [apply -> verify]
 *   check modules: run (read-only), or unknown in check mode when what they read is predicted to change.
 * Errors become the task's outcome here (classify); nothing a task does can throw past it.
 */
import { dirname } from 'node:path';
import { ExpressionError, hasTemplate, Scope, UndefinedVariable, UnknownValue } from '../expr.js';
import type { Task, Play } from '../../load/playbook.js';
import type { ChangeReport, TaskStatus } from '../report.js';
import type { Masker } from '../secrets.js';
import { maybe, unknownEverything, type HostPrediction, type Prediction } from '../prediction.js';
import { gatherFacts } from './facts.js';
import { applyPlan } from './apply.js';
import { FactCache } from './fact-cache.js';
import { remainingChanges } from './verify.js';
import { executeControlled } from './result-control.js';
import { runLink } from './link-task.js';
import { registeredOutput } from './command-output.js';
import { isAction, runAction } from '../actions.js';
import { sq } from '../shell.js';
import { prepareShown, redactOutcome, renderForDisplay, renderShownItems, type DisplayRender } from '../display.js';
import { ConnectionError, TaskError, Unknown, type Change, type CheckModule, type Connection, type Effect, type HostLink, type Module, type ModuleContext, type AnyStateModule } from '../../modules/contract.js';

export interface Outcome {
  status: TaskStatus;
  error?: string;
  changes: ChangeReport[];
  registerData: Record<string, unknown>;
  /** the module ran (check mode: would run), rather than stopping before it: result control applies */
  ran?: boolean;
  /** check mode: it would run, but whether it succeeds is known only when it runs */
  uncertainRun?: boolean;
  /** set_fact: the variables it sets */
  facts?: Record<string, unknown>;
  /**
   * check mode: its result is the real run's: it ran for real (check_mode: false), or it runs
   * in check mode in both runs (check_mode: true), so nothing ran in either
   */
  resultKnown?: boolean;
}

/** What a task needs from the scheduler. */
export interface TaskEnv {
  root: string;
  modules: Map<string, Module>;
  masker: Masker;
  /** Check mode's prediction; undefined in a real run. */
  prediction?: Prediction;
  /**
   * The connection a task runs on (its host, localhost or a delegate), traced, and the name
   * of the host whose resources it reads and changes.
   */
  connectionFor(task: Task, redact?: (s: string) => string): Promise<{ conn: Connection; target: string; toController: boolean }>;
  /** Check mode: whether the delegate `target` may change under this task (another host of the running play). */
  racing(target: string): boolean;
  /** The task's own host. */
  self: string;
  /** The user a host's (or the controller's: localhost) connection logs in as. */
  loginUser(host: string): string;
  /** A transport failure of `host`'s connection: mark it unreachable; returns whether it is this task's own host. */
  lostConnection(e: ConnectionError): boolean;
  /** The facts read ahead on a host (fact-cache.ts), which changes applied there must invalidate. */
  factCache(host: string): FactCache;
  /** A check wrote something no fact models (through an app): every host's read-ahead is void. */
  forgetAllFacts(): void;
  /** The task's own host's connection, to drop and open again (reboot); TaskError for a delegated or local task. */
  hostLink(task: Task, redact?: (s: string) => string): HostLink;
}

const none = (status: TaskStatus, error?: string): Outcome => ({ status, error, changes: [], registerData: {} });

export async function executeTask(env: TaskEnv, play: Play, task: Task, become0: boolean | undefined, scope: Scope, notes: string[]): Promise<Outcome> {
  if (isAction(task.module)) return executeAction(env, task, scope, notes);
  if (env.prediction && task.checkMode === false) return runForRealInCheck(env, env.prediction, play, task, become0, scope, notes);
  const mod = env.modules.get(task.module)!;
  let footprint: (() => void) | undefined;
  let display: DisplayRender | undefined;
  try {
    if (conditionFalse(task, scope, notes)) return none('skipped');
    // delegate_to may be a template (e.g. "{{ item }}" in a loop over groups.loadbalancers)
    if (hasTemplate(task.delegateTo)) task = { ...task, delegateTo: String(scope.render(task.delegateTo)) };
    const rendered = scope.render(task.args);
    // rendered again with a placeholder per secret: what may be shown (display.ts)
    display = renderForDisplay(scope, task.args, rendered, env.masker);
    const redact = display.redactor.redact;
    const parsed = mod.schema.safeParse(declared(task, rendered));
    if (!parsed.success) {
      throw new TaskError(
        `invalid arguments for ${mod.name} (${task.where}): ` +
          parsed.error.issues.map((i) => `${i.path.join('.') || '(args)'}: ${i.message.replace(/^Invalid input: /, '')}`).join('; '),
      );
    }
    if (mod.type === 'state') for (const v of mod.secrets?.(parsed.data) ?? []) env.masker.add(v);
    const targeted = await env.connectionFor(task, redact);
    const { target, toController } = targeted;
    // the play's `become` is about the managed hosts, not the controller
    const become = task.become ?? (toController ? false : (become0 ?? false));
    const asUser = become && task.becomeUser !== undefined ? String(scope.render(task.becomeUser)) : undefined;
    if (asUser !== undefined && !/^[a-z_][a-z0-9_.-]*\$?$/i.test(asUser)) throw new TaskError(`become_user: '${asUser}' is not a user name (task at ${task.where})`);
    const becomeUser = asUser !== 'root' ? asUser : undefined;
    const environment = task.environment ? renderEnvironment(scope, task.environment) : undefined;
    const conn = asTaskRuns(targeted.conn, becomeUser, environment);
    const ctx: ModuleContext = {
      host: target,
      check: env.prediction !== undefined,
      become,
      user: becomeUser ?? (become ? 'root' : env.loginUser(target)),
      root: env.root,
      playbookDir: dirname(play.file),
      ...(task.role ? { roleDir: task.role.dir } : {}),
      mask: env.masker.mask,
      note: (s) => notes.push(redact(s)),
      render: (source, filename) => scope.template(source, filename),
    };
    const predicted = env.prediction?.host(target);
    footprint = () => predicted?.record(footprintOf(mod, parsed.data, ctx), recorder(env));
    // check_mode: true: the task only says what it would change, in a real run as in a dry run
    const dryOnly = task.checkMode === true;
    if (predicted && env.racing(target) && !dryOnly) {
      throw new Unknown(`delegated to ${target}, which runs this play at the same time: the order of its tasks and this one is not determined`);
    }
    if (mod.type === 'link') {
      const link = env.hostLink(task, redact);
      const own: HostLink = {
        host: link.host,
        conn: () => asTaskRuns(link.conn(), becomeUser, environment),
        reconnect: (ms) => link.reconnect(ms),
        forgetFacts: () => link.forgetFacts(),
        now: () => link.now(),
        sleep: (ms) => link.sleep(ms),
      };
      return redactOutcome(await runLink(env, mod, parsed.data, own, ctx, dryOnly), display.redactor);
    }
    if (mod.type === 'check') return redactOutcome({ changes: [], ...(await runCheck(env, mod, parsed.data, conn, ctx, dryOnly)) }, display.redactor);
    return redactOutcome(await runState(env, mod, parsed.data, conn, ctx, become, predicted, display, becomeUser !== undefined || environment !== undefined, dryOnly), display.redactor);
  } catch (e) {
    const outcome = classify(env, e, task);
    // check mode: a state task whose outcome is unknown may have changed what it manages;
    // with its arguments unknown too, it may have changed anything on its host
    if (outcome.status === 'unknown' && env.prediction && mod.type === 'state' && task.checkMode !== true) {
      if (footprint) footprint();
      else env.prediction.host(task.delegateTo ?? env.self).record([unknownEverything(`'${task.name}' (unknown in check mode) may have changed anything here`)], recorder(env));
    }
    return redactOutcome({ ...outcome, changes: [], registerData: {} }, display?.redactor);
  }
}

/**
 * check_mode: false in a dry run: the task runs for real. What it sees is what the real run sees
 * only while nothing is predicted to change; after that it is unknown, and what it may change
 * (its footprint) is recorded as for any unknown task.
 */
async function runForRealInCheck(env: TaskEnv, prediction: Prediction, play: Play, task: Task, become0: boolean | undefined, scope: Scope, notes: string[]): Promise<Outcome> {
  if (prediction.changed) {
    try {
      if (conditionFalse(task, scope, notes)) return none('skipped');
    } catch (e) {
      const outcome = classify(env, e, task);
      if (outcome.status === 'unknown') recordUnknownTask(env, task, scope, `'${task.name}'`);
      return { ...outcome, changes: [], registerData: {} };
    }
    recordUnknownTask(env, task, scope, `'${task.name}'`);
    return none('unknown', 'check_mode: false runs it for real in a dry run, but earlier tasks are predicted to change the hosts: what it would see then is not known');
  }
  const o = await executeTask({ ...env, prediction: undefined }, play, { ...task, checkMode: undefined }, become0, scope, notes);
  notes.push('ran for real in check mode (check_mode: false)');
  return { ...o, resultKnown: true };
}

/** Whether the task's `when` is false (noted); throws what evaluating it throws (an unknown value in check mode). */
function conditionFalse(task: Task, scope: Scope, notes: string[]): boolean {
  if (task.when === undefined || scope.condition(task.when)) return false;
  notes.push(`condition is false: ${String(task.when)}`);
  return true;
}

/** The task's `environment:` rendered: names were checked at load; values are strings. */
function renderEnvironment(scope: Scope, env: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) out[k] = String(scope.render(v));
  return out;
}

/**
 * The task's connection as the task runs: every command with become as `becomeUser`, and with
 * `environment` exported first (in the script, which travels on stdin: never on an argv).
 */
function asTaskRuns(conn: Connection, becomeUser: string | undefined, environment: Record<string, string> | undefined): Connection {
  if (becomeUser === undefined && environment === undefined) return conn;
  const exports = environment ? Object.entries(environment).map(([k, v]) => `export ${k}=${sq(v)}\n`).join('') : '';
  return {
    host: conn.host,
    exec: (cmd, o = {}) => conn.exec(exports + cmd, becomeUser !== undefined ? { ...o, becomeUser } : o),
    close: () => conn.close(),
  };
}

/**
 * A command or shell task with `changed_when: false` (the literal) is declared to change
 * nothing: as `writes: []`, unless it says what it writes. Check mode then predicts what follows
 * it instead of making everything after it unknown (README: check mode).
 */
function declared(task: Task, args: unknown): unknown {
  if (task.changedWhen !== false || (task.module !== 'command' && task.module !== 'shell')) return args;
  if (args === null || typeof args !== 'object' || 'writes' in args) return args;
  return { ...args, writes: [] };
}

/** set_fact, debug, fail, meta (engine/actions.ts): on the controller, in check mode too. */
async function executeAction(env: TaskEnv, task: Task, scope: Scope, notes: string[]): Promise<Outcome> {
  try {
    if (conditionFalse(task, scope, notes)) return none('skipped');
    const r = runAction(task.module, task.args, scope);
    if (r.note !== undefined) notes.push(env.masker.mask(r.note));
    // a dry run does not wait
    if (r.pauseMs && !env.prediction) await new Promise((done) => setTimeout(done, r.pauseMs));
    return { status: r.status, ...(r.error ? { error: r.error } : {}), changes: [], registerData: {}, ran: true, ...(r.facts ? { facts: r.facts } : {}) };
  } catch (e) {
    return { ...classify(env, e, task), changes: [], registerData: {} };
  }
}

/** Check mode: whose task records effects, and whether that host may have stopped before it (prediction.ts). */
function recorder(env: TaskEnv): { host: string; mayHaveStopped?: string } {
  return { host: env.self, mayHaveStopped: env.prediction?.mayHaveStopped(env.self) };
}

/** Check mode: what a state task whose outcome is unknown may have changed. */
function footprintOf(mod: Module, args: unknown, ctx: ModuleContext): Effect[] {
  if (mod.type !== 'state') return [];
  return mod.footprint ? mod.footprint(args, ctx) : [unknownEverything(`the outcome of '${mod.name}' on ${ctx.host} is unknown in check mode`)];
}

/**
 * Check mode: a task that is not predicted but may run (a handler notified only by unknown
 * tasks, the items of a loop after an unknown one): record what it may change.
 */
export function recordUnknownTask(env: TaskEnv, task: Task, scope: Scope, what: string): void {
  const mod = env.modules.get(task.module);
  if (!env.prediction || mod?.type !== 'state') return;
  const target = task.delegateTo ?? env.self;
  try {
    const parsed = mod.schema.safeParse(declared(task, scope.render(task.args)));
    if (parsed.success) {
      const ctx = { host: target, check: true, become: true, user: 'root', root: env.root, mask: env.masker.mask, note: () => {}, render: (s: string, f: string) => scope.template(s, f) };
      env.prediction.host(target).record(footprintOf(mod, parsed.data, ctx), recorder(env));
      return;
    }
  } catch {
    // arguments unknown too: below
  }
  env.prediction.host(target).record([unknownEverything(`${what} (unknown in check mode) may have changed anything here`)], recorder(env));
}

/**
 * `loop:` runs the task once per item (named by loop_control.loop_var, `item` by default); the
 * first failure stops the loop. Each item has its own result control (result-control.ts).
 */
export async function executeLoop(
  env: TaskEnv,
  play: Play,
  task: Task,
  become: boolean | undefined,
  scopeFor: (extra?: Record<string, unknown>, shownExtra?: Record<string, unknown>) => Scope,
  notes: string[],
  stopped: () => boolean,
): Promise<Outcome> {
  let items: unknown;
  try {
    items = scopeFor().render(task.loop);
  } catch (e) {
    return { ...classify(env, e, task), changes: [], registerData: {} };
  }
  if (!Array.isArray(items)) return none('failed', `loop: expected a list, got ${typeof items} (task at ${task.where})`);
  const lc = task.loopControl;
  const loopVar = lc?.loopVar ?? 'item';
  const vars = (item: unknown, i: number): Record<string, unknown> => ({ [loopVar]: item, ...(lc?.indexVar ? { [lc.indexVar]: i } : {}) });
  const results: Record<string, unknown>[] = [];
  const changes: ChangeReport[] = [];
  const statuses: TaskStatus[] = [];
  // the items as they may be shown: a loop over secrets has placeholders in display renders
  const shownItems = renderShownItems(scopeFor(), task.loop, items);
  for (const [i, item] of items.entries()) {
    if (i > 0 && lc?.pause) await new Promise((r) => setTimeout(r, lc.pause! * 1000));
    const shownItem = shownItems[i];
    const label = itemLabel(task, shownItem, () => scopeFor(vars(item, i), vars(shownItem, i)));
    const itemNotes: string[] = [];
    const itemScope = (extra: Record<string, unknown> = {}) => scopeFor({ ...vars(item, i), ...extra }, { ...vars(shownItem, i), ...extra });
    const o = await executeControlled(env, play, task, become, itemScope, itemScope(), itemNotes);
    statuses.push(o.status);
    changes.push(...o.changes.map((c) => ({ ...c, summary: `[${label}] ${c.summary}` })));
    itemNotes.forEach((n) => notes.push(`[${label}] ${n}`));
    results.push({ [loopVar]: item, ...(loopVar !== 'item' ? { item } : {}), status: o.status, changed: o.status === 'changed', ...o.registerData });
    if (o.status === 'failed') return { status: 'failed', error: `item ${label}: ${o.error}`, changes, registerData: { results } };
    // in check mode an unknown item makes the items after it unknown too (they may depend on
    // it): they are not predicted, but what they may change is recorded
    if (o.status === 'unknown' && env.prediction) {
      for (const [j, rest] of items.slice(i + 1).entries()) recordUnknownTask(env, task, scopeFor(vars(rest, i + 1 + j)), `an item of '${task.name}' after an unknown one`);
      return { status: 'unknown', error: `item ${label}: ${o.error}`, changes, registerData: { results } };
    }
    if (stopped()) break;
  }
  const status: TaskStatus = statuses.includes('changed')
    ? 'changed'
    : statuses.includes('unknown')
      ? 'unknown'
      : statuses.length > 0 && statuses.every((s) => s === 'skipped')
        ? 'skipped'
        : 'ok';
  return { status, changes, registerData: { results } };
}

/** How an item is shown: loop_control.label rendered for it, or the item itself. */
function itemLabel(task: Task, shownItem: unknown, scope: () => Scope): string {
  if (task.loopControl?.label !== undefined) {
    try {
      return String(scope().render(task.loopControl.label));
    } catch {
      // a label that cannot be rendered (a secret, an unknown value): the item as it may be shown
    }
  }
  return typeof shownItem === 'string' || typeof shownItem === 'number' ? String(shownItem) : JSON.stringify(shownItem);
}

function classify(env: TaskEnv, e: unknown, task: Task): { status: TaskStatus; error: string } {
  if (e instanceof Unknown) return { status: 'unknown', error: e.message };
  if (e instanceof UnknownValue) return { status: 'unknown', error: `depends on a value known only after the real run: ${e.reason}` };
  if (e instanceof ConnectionError) {
    const own = env.lostConnection(e);
    return { status: 'failed', error: own ? `host unreachable: ${e.message}` : `connection to ${e.host} failed: ${e.message}` };
  }
  if (e instanceof UndefinedVariable || e instanceof ExpressionError) return { status: 'failed', error: `${e.message} (task at ${task.where})` };
  if (e instanceof TaskError) return { status: 'failed', error: e.message };
  return { status: 'failed', error: `internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` };
}

async function runCheck(env: TaskEnv, mod: CheckModule, args: unknown, conn: Connection, ctx: ModuleContext, dryOnly: boolean): Promise<Omit<Outcome, 'changes'>> {
  const writes = mod.writes?.(args) ?? false;
  // check_mode: true: a check that writes is not run, in a real run as in a dry run
  if (dryOnly && writes) {
    ctx.note('not run: this check writes, and check_mode: true runs the task in check mode');
    return { status: 'skipped', registerData: {}, resultKnown: true };
  }
  if (!env.prediction) {
    // what it writes (through an app, into a database) is not modelled: no fact read before it is kept
    if (writes) env.forgetAllFacts();
  } else {
    if (writes) {
      // ... nor predicted: later checks cannot be run for real
      env.prediction.host(ctx.host).record([unknownEverything(`a check that writes ('${ctx.host}') runs in the real run only`)], recorder(env));
      return { status: 'unknown', error: 'not run in check mode: this check writes', registerData: {} };
    }
    // A check reads whatever it reads, on any host (through a load balancer, say): it can be run
    // for real only while nothing anywhere is predicted to change.
    if (env.prediction.changed) return { status: 'unknown', error: 'not run in check mode: earlier tasks are predicted to change the hosts', registerData: {} };
  }
  let r;
  try {
    r = await mod.run(args, conn, ctx);
  } finally {
    // and again once it has written: nothing read while it ran is kept either
    if (writes && !env.prediction) env.forgetAllFacts();
  }
  ctx.note(r.message);
  return { status: r.ok ? 'ok' : 'failed', error: r.ok ? undefined : r.message, registerData: registeredOutput(r.data ?? {}), ran: true };
}

/** The facts a state task reads: as the task's user, or read ahead (fact-cache.ts). */
async function readFacts(env: TaskEnv, mod: AnyStateModule, args: unknown, conn: Connection, ctx: ModuleContext, become: boolean, predicted: HostPrediction | undefined, ownFacts: boolean, cache: FactCache) {
  try {
    return await gatherFacts(conn, mod.facts(args, ctx), { become, prediction: predicted, cache, reader: ctx.user, readerHost: env.self });
  } catch (e) {
    // check mode, as another user (become_user) or with an environment: that user may not exist
    // yet (an earlier task, predicted, creates it) or may not read this yet
    if (predicted && ownFacts && e instanceof TaskError) throw new Unknown(`its facts cannot be read as ${ctx.user} before the real run (${e.message.split('\n')[0]})`);
    throw e;
  }
}

const reportsOf = (changes: Change[]): ChangeReport[] => changes.map((c) => ({ action: c.action, target: c.target, summary: c.summary, ...(c.diff ? { diff: c.diff } : {}) }));

/**
 * check_mode: true: the plan against the host as it is then (in a dry run: as predicted), shown
 * and never applied, in either run; nothing is recorded, since nothing changes. A command without
 * creates/removes/unless is skipped, as Ansible's command module does in check mode.
 */
function dryOnlyOutcome(mod: AnyStateModule, args: unknown, changes: Change[], ctx: ModuleContext, own: Record<string, unknown>): Outcome {
  if (changes.length === 0) return { status: 'ok', changes: [], registerData: own, ran: true, resultKnown: true };
  const a = args as { creates?: string; removes?: string; unless?: string };
  if ((mod.name === 'command' || mod.name === 'shell') && !a.creates && !a.removes && !a.unless) {
    ctx.note('not run: check_mode: true, and a command without creates/removes/unless is skipped in check mode');
    return { status: 'skipped', changes: [], registerData: {}, resultKnown: true };
  }
  ctx.note('not applied: check_mode: true');
  return { status: 'changed', changes: reportsOf(changes), registerData: own, ran: true, resultKnown: true };
}

async function runState(
  env: TaskEnv,
  mod: AnyStateModule,
  args: unknown,
  conn: Connection,
  ctx: ModuleContext,
  become: boolean,
  predicted: HostPrediction | undefined,
  display?: DisplayRender,
  /** run as another user or with an environment: facts read ahead (as root, without it) do not apply */
  ownFacts = false,
  /** check_mode: true (dryOnlyOutcome) */
  dryOnly = false,
): Promise<Outcome> {
  const local = mod.prepare ? await mod.prepare(args, ctx) : undefined;
  ctx.shown = await prepareShown(mod, display, ctx, local);
  const hostCache = env.factCache(ctx.host);
  const cache = ownFacts ? new FactCache('off') : hostCache;
  const facts = await readFacts(env, mod, args, conn, ctx, become, predicted, ownFacts, cache);
  const changes = mod.plan(args, facts, ctx, local);
  const reports = reportsOf(changes);
  // the module's own registered values (git's before/after, stat's stat)
  const own = mod.registerData?.(args, facts, changes, local, ctx) ?? {};
  if (dryOnly) return dryOnlyOutcome(mod, args, changes, ctx, own);
  if (changes.length === 0) return { status: 'ok', changes: [], registerData: own, ran: true };

  if (predicted) {
    const effects = mod.predict ? mod.predict(args, facts, changes, ctx, local) : [unknownEverything(`the effects of '${mod.name}' on ${ctx.host} are not modelled`)];
    const uncertain =
      changes.find((c) => c.uncertain)?.uncertain ??
      (ctx.user !== 'root' && !mod.permissionsModelled ? `it runs as ${ctx.user} without become: whether ${ctx.user} may do this is known only when it runs` : undefined);
    if (uncertain === undefined) {
      predicted.record(effects, recorder(env));
      return { status: 'changed', changes: reports, registerData: own, ran: true };
    }
    // it may fail: whatever it would change may as well stay as it is
    predicted.record(effects.map((e) => maybe(e, uncertain)), recorder(env));
    return { status: 'unknown', error: `would run, but ${uncertain}`, changes: reports, registerData: own, ran: true, uncertainRun: true };
  }

  const applied = await applyPlan(conn, changes, reports, become, env.masker.mask);
  forgetChanged(hostCache, applied.ok && !ownFacts ? changes : undefined, () => (mod.exactEffects ? mod.predict?.(args, facts, changes, ctx, local) : undefined));
  const last = applied.last;
  const registerData = { ...(last ? registeredOutput({ rc: last.code, stdout: last.stdout, stderr: last.stderr, ...(applied.ok ? mod.appliedData?.(args, last) : {}) }) : {}), ...own };
  if (!applied.ok) return { status: 'failed', error: applied.error, changes: reports, registerData, ran: true };

  let remaining;
  try {
    remaining = await remainingChanges(mod, args, local, conn, ctx, become, cache);
  } catch (e) {
    const why = e instanceof ConnectionError ? `connection lost: ${e.message}` : e instanceof Error ? e.message : String(e);
    if (e instanceof ConnectionError) env.lostConnection(e);
    return { status: 'failed', error: `applied, but verification could not run: ${why}`, changes: reports, registerData };
  }
  if (remaining.length) {
    return {
      status: 'failed',
      error: `applied, but verification failed: the host still differs: ${remaining.map((c) => c.summary).join('; ')}`,
      changes: reports,
      registerData,
      // failed_when settles this failure too (result-control.ts), as Ansible's failed_when does any
      ran: true,
    };
  }
  return { status: 'changed', changes: reports, registerData, ran: true };
}

/**
 * After an apply: drop the read-ahead facts its changes touch, by the same effects check mode
 * predicts, when the module names them all (exactEffects). A failed apply (`changes` undefined),
 * a change whose outcome is uncertain (a user's command), a package install or a service start
 * (they touch what no effect names) void them all.
 */
function forgetChanged(cache: FactCache, changes: Change[] | undefined, effects: () => Effect[] | undefined): void {
  let known: Effect[] | undefined;
  try {
    known = changes && !changes.some((c) => c.uncertain) ? effects() : undefined;
  } catch {
    known = undefined;
  }
  if (known) cache.invalidate(known);
  else cache.clear();
}
