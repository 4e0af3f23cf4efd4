/**
 * Variables, expressions and templates.
 *
 * - `{{ expr }}` inside playbook strings and `when:` conditions are JavaScript expressions
 *   evaluated against the task's variables. A string that is exactly one `{{ expr }}` keeps
 *   the value's type; otherwise the results are concatenated into a string.
 * - Variable values may themselves contain `{{ }}`: they are resolved lazily, when used.
 * - An undefined variable or property is an error (UndefinedVariable), never "" or "undefined".
 */
import { compileFunction, createContext, Script } from 'node:vm';
import { createRequire } from 'node:module';
import type * as Ejs from 'ejs';
import { renderJinja } from './jinja.js';
import { jinjaFormError } from './jinja-forms.js';
import { boundedExpression, expressionTimeoutMs, isTimeout, withinBudget } from './expr-budget.js';

// EJS is loaded on the first template (its CommonJS build: a synchronous, lazy require).
let ejsLib: typeof Ejs | undefined;
const ejs = (): typeof Ejs => (ejsLib ??= createRequire(import.meta.url)('ejs') as typeof Ejs);

export class UndefinedVariable extends Error {
  constructor(public readonly variable: string) {
    super(`undefined variable: ${variable}`);
    this.name = 'UndefinedVariable';
  }
}

/**
 * Check mode: a value that cannot be known before the real run (the output of a command that
 * has not run). Reading it makes the task that reads it unknown, and so, transitively, what
 * depends on that task.
 */
export class UnknownValue extends Error {
  constructor(public readonly reason: string) {
    super(reason);
    this.name = 'UnknownValue';
  }
}

/**
 * A registered result whose `known` fields are known in check mode, and every other field
 * (rc, stdout, results, ...) unknown: reading one throws UnknownValue with `reason`.
 */
export function partlyUnknown(known: Record<string, unknown>, reason: string): Record<string, unknown> {
  return new Proxy(known, {
    has: (_t, key) => typeof key === 'string' || key in known,
    get: (t, key) => {
      // (.length is not a runtime probe here: an unknown list's length is unknown)
      if (typeof key !== 'string' || Object.hasOwn(t, key) || (PROBED.has(key) && key !== 'length')) return Reflect.get(t, key);
      throw new UnknownValue(`${reason} (reads .${key})`);
    },
    // Enumerating it (whole-value use, JSON) would silently drop the unknown fields.
    ownKeys: () => {
      throw new UnknownValue(reason);
    },
  });
}

/** A variable set from a value unknown in check mode (set_fact): reading it makes the reader unknown. */
export class UnknownVar {
  constructor(public readonly reason: string) {}
}

export class ExpressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionError';
  }
}

// Properties probed by runtimes and libraries that must not throw when missing.
const PROBED = new Set(['toJSON', 'then', 'constructor', 'asymmetricMatch', '$$typeof', 'nodeType', 'inspect', 'length']);

/** Wrap a value so that reading a missing property throws UndefinedVariable. */
const proxies = new WeakMap<object, object>();

export function strict<T>(value: T, path: string): T {
  if (value === null || typeof value !== 'object') return value;
  // one proxy per object, so that identity holds (list.indexOf(list[0]) === 0)
  const known = proxies.get(value as object);
  if (known) return known as T;
  const proxy = new Proxy(value as object, {
    get(target, key, receiver) {
      if (typeof key === 'string' && !(key in target) && !PROBED.has(key)) {
        throw new UndefinedVariable(`${path}.${key}`);
      }
      const v = Reflect.get(target, key, receiver);
      return typeof key === 'string' && v !== null && typeof v === 'object' ? strict(v, `${path}.${key}`) : v;
    },
  });
  proxies.set(value as object, proxy);
  return proxy as T;
}

const TEMPLATE_RE = /\{\{([\s\S]+?)\}\}/g;
const WHOLE_RE = /^\{\{([\s\S]+?)\}\}$/;

export function hasTemplate(v: unknown): boolean {
  return typeof v === 'string' && v.includes('{{');
}

/** Compile (never run) one expression as eval() would: the syntax error's message, or undefined. */
export function expressionSyntaxError(expr: string): string | undefined {
  if (expr.trim() === '') return 'empty expression';
  try {
    new Function('__scope', `with (__scope) { return (${expr}\n); }`);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** An expression's problem at load: a Jinja form (with the JavaScript to write), or its syntax error. */
function expressionProblem(expr: string): { jinja?: string; syntax?: string } | undefined {
  const syntax = expressionSyntaxError(expr);
  const jinja = jinjaFormError(expr, syntax !== undefined);
  if (jinja) return { jinja };
  return syntax ? { syntax } : undefined;
}

const snippet = (s: string, at: number) => {
  const t = s.slice(at, at + 40).replace(/\n/g, '\\n');
  return s.length > at + 40 ? `${t}...` : t;
};

/**
 * Syntax problems of the `{{ }}` in a string, tokenised exactly as render() does: an unclosed
 * `{{`, a `}}` with no `{{` (in a string that has expressions), an empty or invalid expression.
 * Returns the first problem, or undefined. Nothing is evaluated.
 */
export function templateSyntaxError(s: string): string | undefined {
  if (!s.includes('{{')) return undefined;
  const whole = WHOLE_RE.exec(s);
  if (whole && !whole[1].includes('}}')) return expressionMessage(whole[1]);
  let pos = 0;
  for (;;) {
    const open = s.indexOf('{{', pos);
    const stray = s.indexOf('}}', pos);
    if (stray !== -1 && (open === -1 || stray < open)) return `unbalanced '}}' with no '{{' before it, at '${snippet(s, stray)}'`;
    if (open === -1) return undefined;
    if (s.startsWith('}}', open + 2)) return `empty expression '{{}}'`;
    // as TEMPLATE_RE: at least one character between the braces, up to the first '}}'
    const close = s.indexOf('}}', open + 3);
    if (close === -1) return `unclosed '{{' (no '}}' after it), at '${snippet(s, open)}'`;
    const err = expressionMessage(s.slice(open + 2, close));
    if (err) return err;
    pos = close + 2;
  }
}

function expressionMessage(expr: string): string | undefined {
  const p = expressionProblem(expr);
  if (p?.jinja) return `Jinja in {{${expr}}}: ${p.jinja}`;
  return p?.syntax ? `invalid expression {{${expr}}}: ${p.syntax}` : undefined;
}

/** Syntax problems of a `when:` condition (a bare expression, or one in {{ }}), as condition() reads it. */
export function conditionSyntaxError(expr: string): string | undefined {
  const m = WHOLE_RE.exec(expr);
  const p = expressionProblem(m ? m[1] : expr);
  const shown = expr.length > 80 ? `${expr.slice(0, 80)}...` : expr;
  if (p?.jinja) return `Jinja in condition '${shown}': ${p.jinja}`;
  return p?.syntax ? `invalid condition '${shown}': ${p.syntax}` : undefined;
}

/** Templates named *.j2 are Jinja2 (nunjucks); every other is EJS. */
export const isJinja = (filename: string): boolean => filename.endsWith('.j2');

/** Longest a template may take to render: an endless loop in a template fails its task instead of hanging the run. */
export const TEMPLATE_TIMEOUT_MS = 10_000;
// vm's timeout stops whatever JavaScript runs inside the script, including the template function it calls
const renderContext = createContext({}) as { __render?: () => unknown };
const renderScript = new Script('__render()');

function withTimeout<T>(fn: () => T, ms: number): T {
  const outer = renderContext.__render;
  renderContext.__render = fn;
  try {
    return renderScript.runInContext(renderContext, { timeout: ms }) as T;
  } finally {
    renderContext.__render = outer;
  }
}

const EJS_OPTIONS = { async: false, strict: false, _with: true, unsafePrototypeLocals: true };

/**
 * Compile (never run) an EJS template: undefined, or "file:line: message" for a syntax error
 * (EJS itself names no line: the generated code is compiled again to find it).
 */
export function ejsSyntaxError(source: string, filename: string): string | undefined {
  const t = new (ejs().Template)(source, { ...EJS_OPTIONS, filename, compileDebug: true } as Ejs.Options) as Ejs.Template & { generateSource(): void };
  try {
    t.generateSource();
  } catch (e) {
    // unclosed tags: the line of the first opening tag with no closing tag after it
    const msg = (e as Error).message.split('\n')[0];
    let line: number | undefined;
    const re = /<%/g;
    for (let m = re.exec(source); m; m = re.exec(source)) {
      const close = source.indexOf('%>', m.index + 2);
      const next = source.indexOf('<%', m.index + 2);
      if (close === -1 || (next !== -1 && next < close)) {
        line = source.slice(0, m.index).split('\n').length;
        break;
      }
    }
    return `${filename}${line ? `:${line}` : ''}: ${msg}`;
  }
  try {
    // compiled as a function body, so that a stray '}' is reported where it is
    compileFunction(t.source, ['locals'], { filename: '__ejs__' });
    return undefined;
  } catch (e) {
    const err = e as Error;
    const at = /__ejs__:(\d+)/.exec(err.stack ?? '');
    let line = 1;
    if (at) {
      for (const l of t.source.split('\n').slice(0, Number(at[1]))) {
        const m = /^\s*; __line = (\d+)$/.exec(l);
        if (m) line = Number(m[1]);
      }
    }
    return `${filename}:${line}: ${err.message}`;
  }
}

/**
 * A scope: variables plus functions (secret(), ...).
 *  - `raw` values come from configuration (inventory, playbooks, extra vars): `{{ }}` in them
 *    is rendered lazily, when used, and cached.
 *  - `literal` values come from hosts and the engine (registered results, facts, loop items):
 *    they are data and are NEVER rendered (host output must not be evaluated).
 */
export class Scope {
  private cache = new Map<string, unknown>();
  private resolving = new Set<string>();

  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly functions: Record<string, (...a: any[]) => unknown> = {},
    private readonly literal: Record<string, unknown> = {},
  ) {}

  has(name: string): boolean {
    return Object.hasOwn(this.literal, name) || Object.hasOwn(this.raw, name) || Object.hasOwn(this.functions, name);
  }

  names(): string[] {
    return [...new Set([...Object.keys(this.raw), ...Object.keys(this.literal), ...Object.keys(this.functions)])];
  }

  get(name: string): unknown {
    if (Object.hasOwn(this.functions, name)) return this.functions[name];
    if (Object.hasOwn(this.literal, name)) {
      const v = this.literal[name];
      // set in check mode from a value known only after the real run (engine/actions.ts)
      if (v instanceof UnknownVar) throw new UnknownValue(v.reason);
      return v;
    }
    if (!Object.hasOwn(this.raw, name)) throw new UndefinedVariable(name);
    if (this.cache.has(name)) return this.cache.get(name);
    if (this.resolving.has(name)) throw new ExpressionError(`variable ${name} refers to itself`);
    this.resolving.add(name);
    try {
      const v = this.render(this.raw[name]);
      this.cache.set(name, v);
      return v;
    } finally {
      this.resolving.delete(name);
    }
  }

  /**
   * This scope with `extra` as configuration values above every other (include_vars: the
   * values of one file may refer to each other, rendered lazily as vars are).
   */
  over(extra: Record<string, unknown>): Scope {
    const literal = Object.fromEntries(Object.entries(this.literal).filter(([k]) => !Object.hasOwn(extra, k)));
    return new Scope({ ...this.raw, ...extra }, this.functions, literal);
  }

  /** A proxy usable as `with (proxy)` scope: known names resolve, unknown names fall through. */
  proxy(prefix = ''): Record<string, unknown> {
    const target = Object.create(null) as Record<string, unknown>;
    return new Proxy(target, {
      has: (_t, key) => typeof key === 'string' && this.has(key),
      get: (_t, key) => {
        if (typeof key !== 'string') return undefined;
        if (!prefix) return strict(this.get(key), key);
        if (!this.has(key)) {
          if (PROBED.has(key)) return undefined;
          throw new UndefinedVariable(`${prefix}.${key}`);
        }
        return strict(this.get(key), `${prefix}.${key}`);
      },
      ownKeys: () => this.names(),
      getOwnPropertyDescriptor: (_t, key) =>
        typeof key === 'string' && this.has(key) ? { configurable: true, enumerable: true, writable: false, value: this.get(key) } : undefined,
    });
  }

  /** Evaluate one JavaScript expression. */
  eval(expr: string): unknown {
    const { fn, bounded } = compiled(expr, this.functions);
    try {
      // under the expression time limit (expr-budget.ts): an endless loop fails the task
      return unwrap(withinBudget(() => fn(this.proxy()), bounded));
    } catch (e) {
      if (e instanceof UndefinedVariable || e instanceof ExpressionError || e instanceof UnknownValue) throw e;
      if (isTimeout(e)) {
        throw new ExpressionError(
          `{{ ${expr.trim()} }}: evaluation took more than ${expressionTimeoutMs()} ms (an endless loop?); the limit is PROVISION_EXPRESSION_TIMEOUT_MS`,
        );
      }
      if (e instanceof ReferenceError) {
        const m = /^(\S+) is not defined/.exec(e.message);
        if (m) throw new UndefinedVariable(m[1]);
      }
      throw new ExpressionError(`{{ ${expr.trim()} }}: ${(e as Error).message}`);
    }
  }

  /** Render `{{ }}` in a value (deeply, for arrays and objects). */
  render(value: unknown): unknown {
    if (typeof value === 'string') {
      if (!value.includes('{{')) return value;
      const whole = WHOLE_RE.exec(value);
      if (whole && !whole[1].includes('}}')) return this.eval(whole[1]);
      return value.replace(TEMPLATE_RE, (_m, expr: string) => stringify(this.eval(expr)));
    }
    if (Array.isArray(value)) return value.map((v) => this.render(v));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.render(v);
      return out;
    }
    return value;
  }

  /** Evaluate a `when:` condition (a bare expression, or one wrapped in {{ }}). */
  condition(expr: string | boolean): boolean {
    if (typeof expr === 'boolean') return expr;
    const m = WHOLE_RE.exec(expr);
    return Boolean(this.eval(m ? m[1] : expr));
  }

  /** Render a template with the scope's variables as top-level names: Jinja2 for `.j2` files (jinja.ts), else EJS. */
  template(source: string, filename: string, timeoutMs = TEMPLATE_TIMEOUT_MS): string {
    try {
      if (isJinja(filename)) return withTimeout(() => renderJinja(source, filename, this), timeoutMs);
      return withTimeout(() => ejs().render(source, this.proxy(), { filename, ...EJS_OPTIONS } as Ejs.Options) as string, timeoutMs);
    } catch (e) {
      if (e instanceof UnknownValue) throw e;
      if ((e as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
        throw new ExpressionError(`template ${filename}: rendering took more than ${timeoutMs / 1000} s (an endless loop?)`);
      }
      if (isJinja(filename)) throw e;
      if (e instanceof SyntaxError || /while compiling ejs|Could not find matching close tag/.test((e as Error).message)) {
        const syntax = ejsSyntaxError(source, filename);
        if (syntax) throw new ExpressionError(`template ${syntax}`);
      }
      const err = e as Error;
      const inner = /undefined variable: (\S+)|(\S+) is not defined/.exec(err.message);
      const where = /^(?:ejs|.*?):(\d+)/.exec(err.message);
      const line = where ? `:${where[1]}` : '';
      if (inner) throw new UndefinedVariable(`${inner[1] ?? inner[2]} (in ${filename}${line})`);
      const lines = err.message.split('\n').map((l) => l.trim()).filter(Boolean);
      const why = lines.find((l) => /Error|Unexpected|missing|Could not|not defined|Invalid/.test(l) && !/^>>|^\d+\|/.test(l)) ?? lines[lines.length - 1];
      throw new ExpressionError(`template ${filename}${line}: ${why}`);
    }
  }
}

type Compiled = { fn: (scope: unknown) => unknown; bounded: boolean };
// Expressions recur on every host and task: each is compiled and classified once.
const compiledCache = new Map<string, Compiled>();

function compiled(expr: string, functions: Record<string, unknown>): Compiled {
  const key = `${Object.keys(functions).join(',')}\0${expr}`;
  const hit = compiledCache.get(key);
  if (hit) return hit;
  let fn: Compiled['fn'];
  try {
    // Sloppy-mode function so that `with` is allowed; the scope proxy supplies variables.
    fn = new Function('__scope', `with (__scope) { return (${expr}\n); }`) as Compiled['fn'];
  } catch (e) {
    throw new ExpressionError(`invalid expression {{ ${expr.trim()} }}: ${(e as Error).message}`);
  }
  if (compiledCache.size >= 10_000) compiledCache.clear();
  const c = { fn, bounded: boundedExpression(expr, (name) => Object.hasOwn(functions, name)) };
  compiledCache.set(key, c);
  return c;
}

/** Remove strict proxies from values returned by expressions (so they can be serialised). */
function unwrap(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  return structuredCloneSafe(v);
}

function structuredCloneSafe(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(structuredCloneSafe);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = structuredCloneSafe((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

function stringify(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null || v === undefined) return '';
  return JSON.stringify(v);
}
