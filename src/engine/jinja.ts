/**
 * `.j2` templates: Jinja2 syntax, rendered with nunjucks, as strict as provision's expressions.
 *
 * - Names resolve through the task's Scope (the same variables as EJS templates, `secret()` a
 *   function). An undefined variable or attribute is an error naming the template's file and
 *   line (Jinja2's StrictUndefined, which Ansible uses), also in `{% if %}`; only `default`/`d`,
 *   `mandatory` and the tests `defined`/`undefined` see it, as a Missing value.
 * - Values print as Python's str() would (True, None, ['a', 'b']), as in Ansible.
 * - Ansible's template settings: no autoescaping, trim_blocks, the trailing newline kept.
 * - `include`, `import` and `extends` are not supported (refused when the template is checked).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Nunjucks from 'nunjucks';
import { FilterError, Missing, installFilters, pyStr } from './jinja-filters.js';
import { ExpressionError, UndefinedVariable, UnknownValue } from './expr.js';

/** Where names come from: a Scope (has/get), see expr.ts. */
export interface JinjaNames {
  has(name: string): boolean;
  get(name: string): unknown;
}

/** Longest list `range()` may make: a template must not exhaust the controller's memory. */
export const MAX_RANGE = 1_000_000;
const NAMES_KEY = '\u0000names';
// The path each object was read at, for the messages of undefined attributes.
let paths = new WeakMap<object, string>();

interface Runtime {
  contextOrFrameLookup(context: unknown, frame: unknown, name: string): unknown;
  memberLookup(obj: unknown, val: unknown, ...rest: unknown[]): unknown;
  suppressValue(val: unknown, autoescape: boolean): unknown;
  ensureDefined(val: unknown, lineno: number, colno: number): unknown;
  SafeString: new (s: string) => object;
  __probe?: (fn: () => unknown) => unknown;
  __str?: (v: unknown) => string;
}
interface Ctx {
  ctx: Record<string, unknown>;
  env: { globals: Record<string, unknown> };
}
interface FrameLike {
  lookup(name: string): unknown;
}

const remember = (v: unknown, path: string): unknown => {
  if (v !== null && typeof v === 'object' && !paths.has(v)) paths.set(v, path);
  return v;
};

/** Python string methods Ansible templates call ('a,b'.split(','), name.startswith('x') ...). */
const STRING_METHODS: Record<string, (s: string, ...a: any[]) => unknown> = {
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  strip: (s, c?: string) => (c === undefined ? s.trim() : s.replace(new RegExp(`^[${escapeClass(c)}]+|[${escapeClass(c)}]+$`, 'g'), '')),
  lstrip: (s, c?: string) => (c === undefined ? s.trimStart() : s.replace(new RegExp(`^[${escapeClass(c)}]+`), '')),
  rstrip: (s, c?: string) => (c === undefined ? s.trimEnd() : s.replace(new RegExp(`[${escapeClass(c)}]+$`), '')),
  startswith: (s, p: string) => s.startsWith(p),
  endswith: (s, p: string) => s.endsWith(p),
  split: (s, sep?: string | null, max?: number) => {
    if (sep === undefined || sep === null) return s.trim() === '' ? [] : s.trim().split(/\s+/);
    const parts = s.split(sep);
    return max === undefined || max < 0 ? parts : [...parts.slice(0, max), parts.slice(max).join(sep)].slice(0, Math.min(parts.length, max + 1));
  },
  replace: (s, a: string, b: string) => s.split(a).join(b),
  join: (s, list: unknown[]) => list.map(pyStr).join(s),
  capitalize: (s) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase(),
  title: (s) => s.replace(/\w\S*/g, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()),
  format: (s, ...a: unknown[]) => {
    let i = 0;
    return s.replace(/\{(\d*)\}/g, (_m, n: string) => pyStr(a[n === '' ? i++ : Number(n)]));
  },
};
const escapeClass = (c: string) => c.replace(/[\]\\^-]/g, '\\$&');

let envCache: Nunjucks.Environment | undefined;
let TemplateClass: typeof Nunjucks.Template;
let parseTemplate: (src: string) => AstNode;
let astNodes: Record<string, unknown>;

interface AstNode {
  typename: string;
  lineno: number;
  findAll(type: unknown, results?: AstNode[]): AstNode[];
  [k: string]: any;
}

/** nunjucks, loaded on the first .j2 template, with its runtime made strict (see the top). */
function environment(): Nunjucks.Environment {
  if (envCache) return envCache;
  const nj = createRequire(import.meta.url)('nunjucks') as typeof Nunjucks & { runtime: Runtime; installJinjaCompat(): void; compiler: { Compiler: { prototype: any } } };
  // Python-style members (dict.items(), list.append ...) and slices
  nj.installJinjaCompat();
  const rt = nj.runtime;
  const compatMember = rt.memberLookup;
  rt.contextOrFrameLookup = (context, frame, name) => {
    const v = (frame as FrameLike).lookup(name);
    if (v !== undefined) return remember(v, name);
    const c = context as Ctx;
    if (Object.hasOwn(c.ctx, name)) return c.ctx[name];
    const names = c.ctx[NAMES_KEY] as JinjaNames | undefined;
    if (names?.has(name)) return remember(names.get(name), name);
    if (Object.hasOwn(c.env.globals, name)) return c.env.globals[name];
    if (name === 'True' || name === 'true') return true;
    if (name === 'False' || name === 'false') return false;
    if (name === 'None' || name === 'none') return null;
    throw new UndefinedVariable(name);
  };
  rt.memberLookup = function (obj: unknown, key: unknown, ...rest: unknown[]) {
    if (rest.length === 2) return compatMember.call(this, obj, key, ...rest); // a slice
    const where = obj !== null && typeof obj === 'object' ? paths.get(obj) : undefined;
    const path = `${where ?? '(value)'}.${String(key)}`;
    if (obj === null || obj === undefined) throw new UndefinedVariable(path);
    if (typeof obj === 'string' && typeof key === 'string' && Object.hasOwn(STRING_METHODS, key)) return (...a: unknown[]) => STRING_METHODS[key](obj, ...a);
    const member = compatMember.call(this, obj, key);
    if (typeof member === 'function' && !(typeof key === 'string' && key in Object(obj))) return member; // items(), keys() ...
    if (!((key as string) in Object(obj))) throw new UndefinedVariable(path);
    return remember(member, path);
  };
  // None prints as in Python; only a JavaScript undefined (a filter's missing result) is refused
  const ensureDefined = rt.ensureDefined;
  rt.ensureDefined = (val, lineno, colno) => (val === null ? val : ensureDefined(val, lineno, colno));
  rt.suppressValue = (val) => (val instanceof rt.SafeString ? String(val) : pyStr(val));
  // `default`, `mandatory` and `is defined` receive an undefined operand as Missing
  rt.__probe = (fn) => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof UndefinedVariable) return new Missing(e.variable);
      throw e;
    }
  };
  const proto = nj.compiler.Compiler.prototype;
  const compileFilter = proto.compileFilter as (node: any, frame: unknown) => void;
  proto.compileFilter = function (this: any, node: any, frame: unknown) {
    if (!['default', 'd', 'mandatory'].includes(node.name.value)) return compileFilter.call(this, node, frame);
    this._emit(`env.getFilter(${JSON.stringify(node.name.value)}).call(context, runtime.__probe(() => (`);
    node.args.children.forEach((child: unknown, i: number) => {
      this.compile(child, frame);
      this._emit(i === 0 ? '))' : '');
      if (i < node.args.children.length - 1) this._emit(', ');
    });
    this._emit(')');
  };
  const compileIs = proto.compileIs as (node: any, frame: unknown) => void;
  proto.compileIs = function (this: any, node: any, frame: unknown) {
    const name = node.right.name ? node.right.name.value : node.right.value;
    if (name !== 'defined' && name !== 'undefined') return compileIs.call(this, node, frame);
    this._emit(`env.getTest(${JSON.stringify(name)}).call(context, runtime.__probe(() => (`);
    this.compile(node.left, frame);
    this._emit('))) === true');
  };
  // `~` joins str() of both sides, as in Jinja2 ('x' ~ true is 'xTrue')
  rt.__str = pyStr;
  proto.compileConcat = function (this: any, node: any, frame: unknown) {
    this._emit('(runtime.__str(');
    this.compile(node.left, frame);
    this._emit(') + runtime.__str(');
    this.compile(node.right, frame);
    this._emit('))');
  };
  // nunjucks reports no line for most runtime errors: expressions record theirs as they run
  for (const method of ['compileSymbol', 'compileLookupVal', 'compileFilter', 'compileIs']) {
    const orig = proto[method] as (node: any, frame: unknown) => void;
    proto[method] = function (this: any, node: any, frame: unknown) {
      this._emit(`(lineno = ${Number(node.lineno) + 1}, colno = ${Number(node.colno) + 1}, `);
      orig.call(this, node, frame);
      this._emit(')');
    };
  }
  const env = new nj.Environment([], { autoescape: false, throwOnUndefined: true, trimBlocks: true, lstripBlocks: false, dev: true });
  installFilters(env as unknown as Parameters<typeof installFilters>[0]);
  env.addGlobal('range', (start: number, stop?: number, step = 1) => {
    if (stop === undefined) [start, stop] = [0, start];
    const n = step === 0 ? Infinity : Math.ceil((stop - start) / step);
    if (n > MAX_RANGE) throw new FilterError(`range() of more than ${MAX_RANGE} items`);
    const out: number[] = [];
    for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
    return out;
  });
  TemplateClass = nj.Template;
  const njp = nj as unknown as { parser: { parse(src: string, ext: unknown[], opts: unknown): AstNode }; nodes: Record<string, unknown> };
  parseTemplate = (src) => njp.parser.parse(src, [], (env as unknown as { opts: unknown }).opts);
  astNodes = njp.nodes;
  envCache = env;
  return env;
}

interface TemplateErrorLike extends Error {
  lineno?: number;
  cause?: unknown;
}

/** The original error inside nunjucks' wrappers, and the template line it happened at. */
function unwrapError(e: unknown): { inner: unknown; line?: number } {
  let inner = e;
  let line: number | undefined;
  for (let i = 0; i < 8 && inner instanceof Error; i++) {
    const t = inner as TemplateErrorLike;
    if (line === undefined && typeof t.lineno === 'number' && t.lineno > 0) line = t.lineno;
    if (t.cause === undefined) break;
    inner = t.cause;
  }
  return { inner, line };
}

/** The message of a nunjucks error, without its "(file) [Line n, Column m]" prefix. */
const bareMessage = (e: Error): string =>
  e.message
    .replace(/^\([^)]*\)(?: \[Line \d+, Column \d+\])?\s*/, '')
    .replace(/^(Template render error|Error|TypeError|RangeError|FilterError): /, '')
    .trim();

const compiled = new Map<string, Nunjucks.Template>();
const MAX_COMPILED = 100;

function compile(source: string, filename: string): Nunjucks.Template {
  const key = createHash('sha256').update(filename).update('\u0000').update(source).digest('hex');
  let t = compiled.get(key);
  if (!t) {
    t = new TemplateClass(source, environment(), filename, true);
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, t);
  }
  return t;
}

/** What compiles but would fail every render: unknown filters and tests, include/import/extends. */
function unsupported(source: string, filename: string): string | undefined {
  const env = environment() as unknown as { filters: Record<string, unknown>; tests: Record<string, unknown> };
  const root = parseTemplate(source);
  const first = (type: string, pick: (n: AstNode) => string | undefined): string | undefined => {
    for (const n of root.findAll(astNodes[type])) {
      const why = pick(n);
      if (why) return `${filename}:${n.lineno + 1}: ${why}`;
    }
    return undefined;
  };
  return (
    first('Filter', (n) => {
      const name = String(n.name?.value);
      return Object.hasOwn(env.filters, name) ? undefined : `unknown filter '${name}'`;
    }) ??
    first('Is', (n) => {
      const name = String(n.right?.name ? n.right.name.value : n.right?.value);
      return Object.hasOwn(env.tests, name) ? undefined : `unknown test '${name}'`;
    }) ??
    first('FunCall', (n) =>
      n.name?.typename === 'Symbol' && ['lookup', 'query', 'q'].includes(n.name.value)
        ? `Ansible's ${n.name.value}() is not supported in provision's .j2 templates (pass the value as a variable)`
        : undefined,
    ) ??
    first('Include', () => `{% include %} is not supported in provision's .j2 templates`) ??
    first('Extends', () => `{% extends %} is not supported in provision's .j2 templates`) ??
    first('Import', () => `{% import %} is not supported in provision's .j2 templates`) ??
    first('FromImport', () => `{% from ... import %} is not supported in provision's .j2 templates`)
  );
}

/** Check (never run) a .j2 template: undefined, or "file:line: message" (syntax, unknown filters and tests). */
export function jinjaSyntaxError(source: string, filename: string): string | undefined {
  environment();
  try {
    compile(source, filename);
  } catch (e) {
    const { inner, line } = unwrapError(e);
    const msg = bareMessage(inner as Error);
    // an unclosed tag or block is found at the end of the file
    if (!line) return `${filename}:${source.split('\n').length}: ${msg} (at the end of the file)`;
    return `${filename}:${line}: ${msg}`;
  }
  return unsupported(source, filename);
}

/** Render a .j2 template with `names`. Errors name the template's file and line. */
export function renderJinja(source: string, filename: string, names: JinjaNames): string {
  environment();
  let t: Nunjucks.Template;
  try {
    t = compile(source, filename);
  } catch {
    throw new ExpressionError(`template ${jinjaSyntaxError(source, filename)}`);
  }
  paths = new WeakMap();
  try {
    return t.render({ [NAMES_KEY]: names });
  } catch (e) {
    const { inner, line } = unwrapError(e);
    const at = `${filename}${line ? `:${line}` : ''}`;
    if (inner instanceof UnknownValue) throw inner;
    if ((inner as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw inner;
    if (inner instanceof UndefinedVariable) throw new UndefinedVariable(`${inner.variable} (in ${at})`);
    if (inner instanceof ExpressionError) throw new ExpressionError(`template ${at}: ${inner.message}`);
    throw new ExpressionError(`template ${at}: ${bareMessage(inner as Error)}`);
  }
}
