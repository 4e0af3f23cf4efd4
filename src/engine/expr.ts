/**
 * Variables, expressions and templates.
 *
 * - `{{ expr }}` inside playbook strings and `when:` conditions are JavaScript expressions
 *   evaluated against the task's variables. A string that is exactly one `{{ expr }}` keeps
 *   the value's type; otherwise the results are concatenated into a string.
 * - Variable values may themselves contain `{{ }}`: they are resolved lazily, when used.
 * - An undefined variable or property is an error (UndefinedVariable), never "" or "undefined".
 */
import ejs from 'ejs';

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
      if (typeof key !== 'string' || Object.hasOwn(t, key) || PROBED.has(key)) return Reflect.get(t, key);
      throw new UnknownValue(`${reason} (reads .${key})`);
    },
    // Enumerating it (whole-value use, JSON) would silently drop the unknown fields.
    ownKeys: () => {
      throw new UnknownValue(reason);
    },
  });
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
    if (Object.hasOwn(this.literal, name)) return this.literal[name];
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
    let fn: (scope: unknown) => unknown;
    try {
      // Sloppy-mode function so that `with` is allowed; the scope proxy supplies variables.
      fn = new Function('__scope', `with (__scope) { return (${expr}\n); }`) as (scope: unknown) => unknown;
    } catch (e) {
      throw new ExpressionError(`invalid expression {{ ${expr.trim()} }}: ${(e as Error).message}`);
    }
    try {
      return unwrap(fn(this.proxy()));
    } catch (e) {
      if (e instanceof UndefinedVariable || e instanceof ExpressionError || e instanceof UnknownValue) throw e;
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

  /** Render an EJS template with the scope's variables as top-level names. */
  template(source: string, filename: string): string {
    try {
      return ejs.render(source, this.proxy(), { filename, async: false, strict: false, _with: true, unsafePrototypeLocals: true } as ejs.Options) as string;
    } catch (e) {
      if (e instanceof UnknownValue) throw e;
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
