/**
 * The filters and tests of `.j2` templates that Ansible users rely on, where nunjucks lacks
 * them or differs from Jinja2/Ansible (semantics of ansible/plugins/filter/core.py and
 * Jinja2's builtins). Values print as Python would (True, None, ['a', 'b']): see pyStr.
 */
import { stringify as yamlStringify, Document, isScalar, visit } from 'yaml';
import { MAX_SALT, SALT_RE, randomSalt, shaCrypt } from './sha-crypt.js';

/** What an undefined variable is inside `default`, `mandatory` and `is defined` (see jinja.ts). */
export class Missing {
  constructor(public readonly name: string) {}
}

export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

type Kw = Record<string, unknown>;
/** nunjucks passes keyword arguments as a last object marked __keywords. */
function splitKw(args: unknown[]): [unknown[], Kw] {
  const last = args[args.length - 1];
  if (last !== null && typeof last === 'object' && Object.hasOwn(last, '__keywords')) {
    const kw = { ...(last as Kw) };
    delete kw.__keywords;
    return [args.slice(0, -1), kw];
  }
  return [args, {}];
}
/** Positional or keyword argument `name` at position `i`. */
const arg = (pos: unknown[], kw: Kw, i: number, name: string, dflt?: unknown): unknown => (Object.hasOwn(kw, name) ? kw[name] : i < pos.length ? pos[i] : dflt);

const isDict = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Missing);
const typeName = (v: unknown): string => (v === null ? 'NoneType' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'dict' : typeof v === 'string' ? 'str' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float') : typeof v);

/** Python's truth value: empty strings, lists and dicts are false. */
export function pyTruthy(v: unknown): boolean {
  if (v instanceof Missing) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

/** Python's repr() of a string: single quotes unless the string has one and no double quote. */
function pyReprStr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  return q + (q === "'" ? body.replace(/'/g, "\\'") : body) + q;
}
function pyRepr(v: unknown): string {
  if (typeof v === 'string') return pyReprStr(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (isDict(v)) return `{${Object.entries(v).map(([k, x]) => `${pyReprStr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  return pyStr(v);
}
/** Python's str(): what `{{ value }}` prints in Jinja2. */
export function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null) return 'None';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : v > 0 ? 'inf' : v < 0 ? '-inf' : 'nan';
  if (Array.isArray(v) || isDict(v)) return pyRepr(v);
  return String(v);
}

/** Python's json.dumps (ensure_ascii): ", " and ": " separators, or indented with sorted keys. */
export function pyJson(v: unknown, indent?: number, sortKeys = false): string {
  const esc = (s: string) => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const go = (x: unknown, depth: number): string => {
    if (x === undefined || x instanceof Missing) throw new FilterError('cannot serialise an undefined value to JSON');
    if (typeof x === 'string') return esc(x);
    if (x === null || typeof x === 'boolean') return JSON.stringify(x);
    if (typeof x === 'number') return Number.isFinite(x) ? String(x) : x > 0 ? 'Infinity' : x < 0 ? '-Infinity' : 'NaN';
    const inner = indent === undefined ? '' : '\n' + ' '.repeat(indent * (depth + 1));
    const outer = indent === undefined ? '' : '\n' + ' '.repeat(indent * depth);
    const sep = indent === undefined ? ', ' : ',';
    if (Array.isArray(x)) return x.length === 0 ? '[]' : `[${inner}${x.map((e) => go(e, depth + 1)).join(sep + inner)}${outer}]`;
    if (typeof x === 'object') {
      let keys = Object.keys(x);
      if (sortKeys) keys = keys.sort();
      if (keys.length === 0) return '{}';
      return `{${inner}${keys.map((k) => `${esc(k)}: ${go((x as Kw)[k], depth + 1)}`).join(sep + inner)}${outer}}`;
    }
    throw new FilterError(`cannot serialise a ${typeof x} to JSON`);
  };
  return go(v, 0);
}

/**
 * PyYAML's dump as Ansible calls it: sorted keys; to_yaml puts collections of scalars in flow
 * style. YAML 1.1 (PyYAML's): strings such as 'yes', 'on', '1' are quoted, never read back as
 * booleans or numbers.
 */
function pyYaml(v: unknown, nice: boolean, indent = nice ? 4 : 2): string {
  if (v === null || typeof v !== 'object') return `${yamlStringify(v, { version: '1.1' })}...\n`;
  const doc = new Document(v, { sortMapEntries: true, version: '1.1' });
  if (!nice) {
    visit(doc, {
      Map: (_k, node) => void (node.flow = node.items.every((p) => isScalar(p.value))),
      Seq: (_k, node) => void (node.flow = node.items.every((i) => isScalar(i))),
    });
  }
  return doc.toString({ indent, indentSeq: false, flowCollectionPadding: false, lineWidth: 80 });
}

/** A Python regular expression as JavaScript reads it (named groups). */
function pyRegex(pattern: string, flags: string): RegExp {
  const src = pattern.replace(/\(\?P<(\w+)>/g, '(?<$1>').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
  try {
    return new RegExp(src, flags);
  } catch (e) {
    throw new FilterError(`invalid regular expression '${pattern}': ${(e as Error).message}`);
  }
}
/** A Python re.sub replacement (\1, \g<1>, \g<name>) as a JavaScript one ($1, $<name>). */
function pyReplacement(r: string): string {
  return r.replace(/\$/g, '$$$$').replace(/\\(?:g<(\w+)>|(\d{1,2})|(\\))/g, (_m, g: string | undefined, d: string | undefined, bs: string | undefined) => {
    if (bs) return '\\';
    const ref = g ?? d!;
    return /^\d+$/.test(ref) ? `$${ref}` : `$<${ref}>`;
  });
}
const reFlags = (kw: Kw, base = '') => base + (kw.ignorecase ? 'i' : '') + (kw.multiline ? 'm' : '');

const str = (v: unknown): string => pyStr(v);

/** `a.b.0` attribute paths as Jinja's make_attrgetter reads them; Missing when absent. */
function attr(item: unknown, path: string): unknown {
  let v: unknown = item;
  for (const part of String(path).split('.')) {
    if (v === null || typeof v !== 'object') return new Missing(path);
    const key = Array.isArray(v) && /^\d+$/.test(part) ? Number(part) : part;
    if (!(key in v)) return new Missing(path);
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

function toList(v: unknown, filter: string): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...v];
  if (isDict(v)) return Object.keys(v);
  throw new FilterError(`${filter}: expected a list, got ${typeName(v)}`);
}

interface FilterThis {
  env: { getTest(name: string): (...a: unknown[]) => unknown; getFilter(name: string): (...a: unknown[]) => unknown };
}

function test(ctx: FilterThis, name: string): (...a: unknown[]) => boolean {
  const t = ctx.env.getTest(name);
  return (...a) => t.call(ctx, ...a) === true;
}

/** select/reject, selectattr/rejectattr: Jinja's forms (no test: the value's truth). */
function selector(byAttr: boolean, want: boolean) {
  return function (this: FilterThis, seq: unknown, ...rest: unknown[]): unknown[] {
    const [pos] = splitKw(rest);
    const [attrName, testName, ...targs] = byAttr ? pos : [undefined, ...pos];
    const t = testName === undefined ? undefined : test(this, String(testName));
    return toList(seq, byAttr ? 'selectattr' : 'select').filter((item) => {
      const v = byAttr ? attr(item, String(attrName)) : item;
      const ok = t ? t(v, ...targs) : pyTruthy(v);
      return ok === want;
    });
  };
}

const filters: Record<string, (this: FilterThis, ...a: any[]) => unknown> = {
  default(value: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    const dflt = arg(pos, kw, 0, 'default_value', '');
    const boolean = arg(pos, kw, 1, 'boolean', false);
    if (value instanceof Missing || value === undefined || (pyTruthy(boolean) && !pyTruthy(value))) return dflt;
    return value;
  },
  mandatory(value: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    if (value instanceof Missing || value === undefined) {
      const msg = arg(pos, kw, 0, 'msg');
      throw new FilterError(msg !== undefined && msg !== null ? str(msg) : `Mandatory variable '${value instanceof Missing ? value.name : '(value)'}' not defined.`);
    }
    return value;
  },
  bool(v: unknown) {
    // ansible.builtin.bool: yes/on/true/1 in any case, True and 1; everything else is False
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') return ['yes', 'on', '1', 'true'].includes(v.toLowerCase());
    return v === 1;
  },
  int(v: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    const dflt = arg(pos, kw, 0, 'default', 0);
    const base = Number(arg(pos, kw, 1, 'base', 10));
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : dflt;
    if (typeof v === 'string') {
      let s = v.trim().replace(/_/g, '');
      if (base === 16) s = s.replace(/^0x/i, '');
      else if (base === 8) s = s.replace(/^0o/i, '');
      else if (base === 2) s = s.replace(/^0b/i, '');
      const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, base);
      if (new RegExp(`^[+-]?[${digits}]+$`, 'i').test(s)) return parseInt(s, base);
      // Jinja2: "3.7" | int is 3 (read as a float first)
      if (base === 10 && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return Math.trunc(Number(s));
    }
    return dflt;
  },
  ternary(value: unknown, trueVal: unknown, falseVal: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    const nv = arg(pos, kw, 0, 'none_val');
    if (value === null && nv !== undefined && nv !== null) return nv;
    return pyTruthy(value) ? trueVal : falseVal;
  },
  join(value: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    const sep = str(arg(pos, kw, 0, 'd', ''));
    const a = arg(pos, kw, 1, 'attribute');
    return toList(value, 'join')
      .map((i) => (a === undefined ? i : attr(i, String(a))))
      .map((i) => {
        if (i instanceof Missing) throw new FilterError(`join: item has no attribute '${i.name}'`);
        return str(i);
      })
      .join(sep);
  },
  to_json(v: unknown) {
    return pyJson(v);
  },
  to_nice_json(v: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    return pyJson(v, Number(arg(pos, kw, 0, 'indent', 4)), true);
  },
  to_yaml(v: unknown) {
    return pyYaml(v, false);
  },
  to_nice_yaml(v: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    return pyYaml(v, true, Number(arg(pos, kw, 0, 'indent', 4)));
  },
  regex_replace(value: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    const pattern = str(arg(pos, kw, 0, 'pattern', ''));
    const replacement = str(arg(pos, kw, 1, 'replacement', ''));
    const ignorecase = arg(pos, kw, 2, 'ignorecase', false);
    const multiline = arg(pos, kw, 3, 'multiline', false);
    const count = Number(arg(pos, kw, 4, 'count', 0));
    const mandatoryCount = Number(arg(pos, kw, 5, 'mandatory_count', 0));
    const re = pyRegex(pattern, reFlags({ ignorecase, multiline }, 'g'));
    let n = 0;
    const repl = pyReplacement(replacement);
    const input = str(value);
    const matches = [...input.matchAll(re)].length;
    const subs = count > 0 ? Math.min(count, matches) : matches;
    if (mandatoryCount && mandatoryCount !== subs) throw new FilterError(`'${pattern}' should match ${mandatoryCount} times, but matches ${subs} times in '${input}'`);
    return input.replace(re, (...m: unknown[]) => {
      if (count > 0 && n++ >= count) return m[0] as string;
      // expand $n / $<name> for this one match
      const groups = (typeof m[m.length - 1] === 'object' ? m[m.length - 1] : undefined) as Record<string, string> | undefined;
      return repl.replace(/\$(\$|\d{1,2}|<(\w+)>)/g, (_x, t: string, name: string | undefined) =>
        t === '$' ? '$' : name !== undefined ? (groups?.[name] ?? '') : ((m[Number(t)] as string | undefined) ?? ''),
      );
    });
  },
  regex_search(value: unknown, regex: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    const m = pyRegex(str(regex), reFlags(kw)).exec(str(value));
    if (pos.length === 0) return m ? m[0] : null;
    if (!m) return null;
    return pos.map((g) => {
      const s = str(g);
      const named = /^\\g<(\w+)>$/.exec(s);
      const num = /^\\(\d+)$/.exec(s);
      if (named) return /^\d+$/.test(named[1]) ? m[Number(named[1])] : m.groups?.[named[1]];
      if (num) return m[Number(num[1])];
      throw new FilterError(`regex_search: unknown argument '${s}'`);
    });
  },
  b64encode(v: unknown) {
    return Buffer.from(str(v), 'utf8').toString('base64');
  },
  b64decode(v: unknown) {
    return Buffer.from(str(v), 'base64').toString('utf8');
  },
  dict2items(v: unknown, ...rest: unknown[]) {
    const [, kw] = splitKw(rest);
    if (!isDict(v)) throw new FilterError(`dict2items requires a dictionary, got ${typeName(v)} instead.`);
    const k = str(kw.key_name ?? 'key');
    const val = str(kw.value_name ?? 'value');
    return Object.entries(v).map(([a, b]) => ({ [k]: a, [val]: b }));
  },
  items2dict(v: unknown, ...rest: unknown[]) {
    const [, kw] = splitKw(rest);
    if (!Array.isArray(v)) throw new FilterError(`items2dict requires a list, got ${typeName(v)} instead.`);
    const k = str(kw.key_name ?? 'key');
    const val = str(kw.value_name ?? 'value');
    const out: Kw = {};
    for (const item of v) {
      if (!isDict(item) || !(k in item) || !(val in item)) throw new FilterError(`items2dict: each item needs '${k}' and '${val}', got ${pyRepr(item)}`);
      out[str(item[k])] = item[val];
    }
    return out;
  },
  selectattr: selector(true, true),
  rejectattr: selector(true, false),
  select: selector(false, true),
  reject: selector(false, false),
  map(this: FilterThis, seq: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    const list = toList(seq, 'map');
    if (kw.attribute !== undefined) {
      return list.map((i) => {
        const v = attr(i, str(kw.attribute));
        if (!(v instanceof Missing)) return v;
        if (Object.hasOwn(kw, 'default')) return kw.default;
        throw new FilterError(`map: item has no attribute '${v.name}'`);
      });
    }
    if (pos.length === 0) throw new FilterError("map: give a filter name or attribute='...'");
    const f = this.env.getFilter(str(pos[0]));
    const extra = pos.slice(1);
    return list.map((i) => f.call(this, i, ...extra, ...(Object.keys(kw).length ? [{ ...kw, __keywords: true }] : [])));
  },
  password_hash(password: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    const hashtype = str(arg(pos, kw, 0, 'hashtype', 'sha512'));
    const saltArg = arg(pos, kw, 1, 'salt');
    const rounds = arg(pos, kw, 3, 'rounds');
    const algo = hashtype === 'sha512' || hashtype === 'sha512_crypt' ? 'sha512' : hashtype === 'sha256' || hashtype === 'sha256_crypt' ? 'sha256' : undefined;
    if (!algo) throw new FilterError(`password_hash: hash type '${hashtype}' is not supported here (sha512, sha256)`);
    if (password instanceof Missing || password === undefined || password === null) throw new FilterError('password_hash: no password');
    let salt: string;
    if (saltArg === undefined || saltArg === null) salt = randomSalt();
    else {
      salt = str(saltArg);
      if (!SALT_RE.test(salt)) throw new FilterError('password_hash: the salt may only contain the characters ./0-9A-Za-z');
      if (salt.length > MAX_SALT) throw new FilterError(`password_hash: the salt is longer than ${MAX_SALT} characters`);
    }
    return shaCrypt(algo, str(password), salt, rounds === undefined || rounds === null ? undefined : Number(rounds));
  },
  unique(v: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    // Ansible's unique passes case_sensitive=False (its default) to Jinja2's: case-insensitive
    const cs = pyTruthy(arg(pos, kw, 0, 'case_sensitive', false));
    const a = arg(pos, kw, 1, 'attribute');
    const seen = new Set<string>();
    return toList(v, 'unique').filter((item) => {
      let key = a === undefined ? item : attr(item, str(a));
      if (!cs && typeof key === 'string') key = key.toLowerCase();
      const k = typeof key === 'string' ? `s:${key}` : `j:${pyJson(key instanceof Missing ? null : key)}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  },
  flatten(v: unknown, ...rest: unknown[]) {
    const [pos, kw] = splitKw(rest);
    const levels = arg(pos, kw, 0, 'levels');
    const skipNulls = pyTruthy(arg(pos, kw, 1, 'skip_nulls', true));
    const go = (list: unknown[], depth: number): unknown[] =>
      list.flatMap((e) => {
        if (skipNulls && (e === null || e === 'None')) return [];
        if (Array.isArray(e) && (levels === undefined || levels === null || depth < Number(levels))) return go(e, depth + 1);
        return [e];
      });
    return go(toList(v, 'flatten'), 0);
  },
  combine(...all: unknown[]) {
    const [dicts, kw] = splitKw(all);
    const recursive = pyTruthy(kw.recursive);
    const listMerge = str(kw.list_merge ?? 'replace');
    const merge = (a: Kw, b: Kw): Kw => {
      const out: Kw = { ...a };
      for (const [k, bv] of Object.entries(b)) {
        const av = out[k];
        if (recursive && isDict(av) && isDict(bv)) out[k] = merge(av, bv);
        else if (Array.isArray(av) && Array.isArray(bv) && listMerge !== 'replace') {
          if (listMerge === 'keep') out[k] = av;
          else if (listMerge === 'append') out[k] = [...av, ...bv];
          else if (listMerge === 'prepend') out[k] = [...bv, ...av];
          else if (listMerge === 'append_rp') out[k] = [...av.filter((x) => !bv.includes(x)), ...bv];
          else if (listMerge === 'prepend_rp') out[k] = [...bv, ...av.filter((x) => !bv.includes(x))];
          else throw new FilterError(`combine: unknown list_merge '${listMerge}'`);
        } else out[k] = bv;
      }
      return out;
    };
    return dicts.flat().reduce<Kw>((acc, d) => {
      if (!isDict(d)) throw new FilterError(`combine: expected dictionaries, got ${typeName(d)}`);
      return merge(acc, d);
    }, {});
  },
  quote(v: unknown) {
    // Python's shlex.quote
    const s = v === null || v === undefined ? '' : str(v);
    if (s === '') return "''";
    if (/^[\w@%+=:,./-]+$/.test(s)) return s;
    return `'${s.replace(/'/g, `'"'"'`)}'`;
  },
  basename(v: unknown) {
    const s = str(v);
    return s.slice(s.lastIndexOf('/') + 1);
  },
  dirname(v: unknown) {
    // Python's os.path.dirname: trailing slashes of the head go, unless it is all slashes
    const s = str(v);
    const head = s.slice(0, s.lastIndexOf('/') + 1);
    return head && !/^\/+$/.test(head) ? head.replace(/\/+$/, '') : head;
  },
  string(v: unknown) {
    return str(v);
  },
  lower(v: unknown) {
    return str(v).toLowerCase();
  },
  upper(v: unknown) {
    return str(v).toUpperCase();
  },
  min(v: unknown) {
    const l = toList(v, 'min');
    return l.length === 0 ? undefined : l.reduce((a, b) => ((b as number) < (a as number) ? b : a));
  },
  max(v: unknown) {
    const l = toList(v, 'max');
    return l.length === 0 ? undefined : l.reduce((a, b) => ((b as number) > (a as number) ? b : a));
  },
};
filters.d = filters.default;

const tests: Record<string, (this: FilterThis, ...a: any[]) => boolean> = {
  defined: (v: unknown) => !(v instanceof Missing) && v !== undefined,
  undefined: (v: unknown) => v instanceof Missing || v === undefined,
  none: (v: unknown) => v === null,
  boolean: (v: unknown) => typeof v === 'boolean',
  integer: (v: unknown) => typeof v === 'number' && Number.isInteger(v),
  float: (v: unknown) => typeof v === 'number' && !Number.isInteger(v),
  sequence: (v: unknown) => Array.isArray(v) || typeof v === 'string' || isDict(v),
  in: (v: unknown, seq: unknown) => (typeof seq === 'string' ? seq.includes(str(v)) : Array.isArray(seq) ? seq.includes(v) : isDict(seq) ? str(v) in seq : false),
  contains: (seq: unknown, v: unknown) => (Array.isArray(seq) ? seq.includes(v) : typeof seq === 'string' ? seq.includes(str(v)) : false),
  match: (v: unknown, re: unknown, ...rest: unknown[]) => pyRegex(`^(?:${str(re)})`, reFlags(splitKw(rest)[1])).test(str(v)),
  search: (v: unknown, re: unknown, ...rest: unknown[]) => pyRegex(str(re), reFlags(splitKw(rest)[1])).test(str(v)),
  regex: (v: unknown, re: unknown, ...rest: unknown[]) => pyRegex(str(re), reFlags(splitKw(rest)[1])).test(str(v)),
  truthy: (v: unknown) => pyTruthy(v),
  falsy: (v: unknown) => !pyTruthy(v),
};

export function installFilters(env: { addFilter(n: string, f: (...a: any[]) => unknown): unknown; addTest(n: string, f: (...a: any[]) => unknown): unknown }): void {
  for (const [name, f] of Object.entries(filters)) env.addFilter(name, f);
  for (const [name, t] of Object.entries(tests)) env.addTest(name, t);
}

/** The filter and test names of the environment (for the load-time check of templates). */
export const FILTER_NAMES = Object.keys(filters);
export const TEST_NAMES = Object.keys(tests);
