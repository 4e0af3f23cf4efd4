/**
 * The engine's own actions: tasks that touch no host (set_fact, debug, fail, meta). Their
 * arguments are checked at load (ACTION_SCHEMAS) and they run on the controller, in check mode
 * as in a real run: a value that is unknown in check mode makes set_fact's variable unknown
 * (reading it makes the reader unknown) and set_fact's and debug's outcome unknown.
 */
import { z } from 'zod';
import { UnknownValue, UnknownVar, type Scope } from './expr.js';
import { TaskError } from '../modules/contract.js';

const varName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name: letters, digits, _');

export const META_ACTIONS = ['flush_handlers', 'noop'] as const;

export const ACTION_SCHEMAS: Record<string, z.ZodType> = {
  set_fact: z
    .record(z.string(), z.unknown())
    .superRefine((o, ctx) => {
      const names = Object.keys(o).filter((k) => k !== 'cacheable');
      if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'set_fact sets at least one variable' });
      for (const k of names) if (!varName.safeParse(k).success) ctx.addIssue({ code: 'custom', path: [k], message: `'${k}' is not a variable name (letters, digits, _)` });
    }),
  debug: z
    .object({ msg: z.unknown().optional(), var: z.string().min(1).optional(), verbosity: z.number().int().min(0).optional() })
    .strict()
    .refine((o) => !(o.msg !== undefined && o.var !== undefined), 'debug takes msg or var, not both'),
  fail: z.object({ msg: z.string().optional() }).strict(),
  // `file` is read at load (load/tasks.ts), its variables kept in `data`
  include_vars: z.object({ file: z.string().min(1), name: varName.optional() }).strict(),
  pause: z
    .object({ seconds: z.number().int().min(0).max(3600).optional(), minutes: z.number().int().min(0).max(60).optional() })
    .strict()
    .refine((o) => (o.seconds === undefined) !== (o.minutes === undefined), 'pause takes seconds or minutes (one of them; provision never waits for input, so prompt is not supported)'),
  meta: z
    .object({ action: z.string() })
    .strict()
    .superRefine((o, ctx) => {
      if (!(META_ACTIONS as readonly string[]).includes(o.action)) ctx.addIssue({ code: 'custom', message: `meta: '${o.action}' is not supported (supported: ${META_ACTIONS.join(', ')})` });
    }),
};

/**
 * Ansible's `assert: { that: [...] }`: conditions evaluated on the controller, as `when:` is.
 * The loader gives such a task this internal name (and checks its arguments, with the other
 * conditions' schema); `assert` with `cmd` is the host check (modules/checks/assert.ts).
 */
export const ASSERT_THAT = 'assert_that';

/** The module's name as the playbook wrote it (reports, output): `assert` for either form. */
export const writtenModule = (module: string): string => (module === ASSERT_THAT ? 'assert' : module);

export const isAction = (module: string): boolean => Object.hasOwn(ACTION_SCHEMAS, module) || module === ASSERT_THAT;

export interface ActionResult {
  status: 'ok' | 'failed' | 'unknown';
  error?: string;
  note?: string;
  /** set_fact, include_vars: the variables it sets */
  facts?: Record<string, unknown>;
  /** pause: how long to wait (a real run only) */
  pauseMs?: number;
}

/** The variables a set_fact or include_vars task sets (check mode: what may be set when it may run). */
export function varsSetBy(module: string, args: Record<string, unknown>): string[] {
  if (module === 'set_fact') return Object.keys(args).filter((k) => k !== 'cacheable');
  if (module === 'include_vars') return typeof args.name === 'string' ? [args.name] : Object.keys((args.data ?? {}) as object);
  return [];
}

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v, null, 2) ?? 'undefined');

export function runAction(module: string, args: Record<string, unknown>, scope: Scope): ActionResult {
  switch (module) {
    case 'set_fact':
      return setVars(Object.keys(args).filter((k) => k !== 'cacheable'), (k) => scope.render(args[k]));
    case 'include_vars': {
      // from the file read at load; its values may refer to each other
      const data = (args.data ?? {}) as Record<string, unknown>;
      const inner = scope.over(data);
      if (typeof args.name !== 'string') return setVars(Object.keys(data), (k) => inner.get(k));
      return setVars([args.name], () => Object.fromEntries(Object.keys(data).map((k) => [k, inner.get(k)])));
    }
    case 'debug': {
      if (args.var !== undefined) return { status: 'ok', note: `${String(args.var)}: ${show(scope.eval(String(args.var)))}` };
      return { status: 'ok', note: show(args.msg === undefined ? 'Hello world!' : scope.render(args.msg)) };
    }
    case 'fail':
      return { status: 'failed', error: args.msg === undefined ? 'Failed as requested from task' : String(scope.render(args.msg)) };
    case 'meta':
      return { status: 'ok' };
    case 'pause': {
      const s = Number(args.seconds ?? 0) + 60 * Number(args.minutes ?? 0);
      return { status: 'ok', note: `pause ${s} s`, pauseMs: s * 1000 };
    }
    case ASSERT_THAT:
      return assertThat(args, scope);
    default:
      throw new TaskError(`unknown action ${module}`);
  }
}

/** Each condition in turn, as Ansible does: the first false one fails, with the message. */
function assertThat(args: Record<string, unknown>, scope: Scope): ActionResult {
  for (const cond of [args.that].flat() as (string | boolean)[]) {
    let holds: boolean;
    try {
      holds = scope.condition(cond);
    } catch (e) {
      if (!(e instanceof UnknownValue)) throw e;
      return { status: 'unknown', note: `assertion ${JSON.stringify(cond)} reads a value known only after the real run: ${e.reason}` };
    }
    if (!holds) {
      const msg = args.fail_msg ?? args.msg;
      return { status: 'failed', error: `${msg === undefined ? 'Assertion failed' : String(scope.render(msg))} (assertion: ${String(cond)}, evaluated to false)` };
    }
  }
  if (args.quiet === true) return { status: 'ok' };
  return { status: 'ok', note: args.success_msg === undefined ? 'All assertions passed' : String(scope.render(args.success_msg)) };
}

/** set_fact, include_vars: each variable's value, or unknown in check mode. */
function setVars(names: string[], value: (name: string) => unknown): ActionResult {
  const facts: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const k of names) {
    try {
      facts[k] = value(k);
    } catch (e) {
      if (!(e instanceof UnknownValue)) throw e;
      facts[k] = new UnknownVar(`'${k}' was set from a value known only after the real run: ${e.reason}`);
      unknown.push(`'${k}': ${e.reason}`);
    }
  }
  // the real run evaluates what check mode could not: it may fail there (a result read that
  // was never registered, a field a skipped task's result lacks), so success is not known
  if (unknown.length > 0) return { status: 'unknown', facts, note: `sets a value known only after the real run, whose evaluation may fail there: ${unknown.join('; ')}` };
  return { status: 'ok', facts };
}
