/**
 * Jinja forms inside `{{ }}` of playbooks and `when:`, where provision reads JavaScript: refused
 * at load with the JavaScript to write instead. The trap is `{{ pkgs | join(',') }}`: valid
 * JavaScript (a bitwise OR), so it would pass the syntax check and fail on every host (or,
 * with a variable named `join`, compute a number).
 *
 * The rule for a single `|` (not `||`, not `|=`): it is a Jinja filter when the name after it is
 * a Jinja/Ansible filter name or is followed by `(`. `a | b` with any other name stays JavaScript.
 * `and`, `or`, `not`, `is`, `~` and `x if c else y` never compile as JavaScript; they are named
 * with their JavaScript form when the expression does not compile. Strings, template literals,
 * regular expression literals and comments are skipped: `'a | b'` is fine.
 */

interface Token {
  type: 'ident' | 'num' | 'str' | 'regex' | 'punct';
  value: string;
  start: number;
  end: number;
}

/** Jinja2's builtin filters and Ansible's usual ones (and the `ansible` of `ansible.builtin.x`). */
export const JINJA_FILTER_NAMES = new Set(
  (
    'abs attr batch capitalize center count d default dictsort e escape filesizeformat first float forceescape format groupby indent int items ' +
    'join last length list lower map max min pprint random reject rejectattr replace reverse round safe select selectattr slice sort string ' +
    'striptags sum title tojson trim truncate unique upper urlencode urlize wordcount wordwrap xmlattr ' +
    'b64decode b64encode basename bool checksum combine comment dict2items dirname expanduser extract fileglob flatten from_json from_yaml ' +
    'from_yaml_all hash human_readable human_to_bytes intersect difference symmetric_difference union ipaddr items2dict json_query log ' +
    'mandatory md5 password_hash pow product quote realpath regex_escape regex_findall regex_replace regex_search relpath root sha1 shuffle ' +
    'splitext strftime subelements ternary to_datetime to_json to_nice_json to_nice_yaml to_uuid to_yaml type_debug urlsplit zip ansible'
  ).split(' '),
);

const KEYWORDS_BEFORE_REGEX = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);
const JS_KEYWORDS = new Set([...KEYWORDS_BEFORE_REGEX, 'true', 'false', 'null', 'undefined', 'this', 'function', 'if', 'var', 'let', 'const']);

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (type: Token['type'], start: number, end: number) => out.push({ type, value: s.slice(start, end), start, end });
  const regexAllowed = () => {
    const p = out[out.length - 1];
    if (!p) return true;
    if (p.type === 'ident') return KEYWORDS_BEFORE_REGEX.has(p.value);
    if (p.type === 'punct') return !/^[)\]}]$/.test(p.value);
    return false;
  };
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
    } else if (s.startsWith('//', i)) {
      const nl = s.indexOf('\n', i);
      i = nl === -1 ? s.length : nl;
    } else if (s.startsWith('/*', i)) {
      const e = s.indexOf('*/', i + 2);
      i = e === -1 ? s.length : e + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== c && s[j] !== '\n') j += s[j] === '\\' ? 2 : 1;
      push('str', i, Math.min(j + 1, s.length));
      i = j + 1;
    } else if (c === '`') {
      // a template literal, with its ${ } parts (their braces counted)
      let j = i + 1;
      let depth = 0;
      while (j < s.length && !(s[j] === '`' && depth === 0)) {
        if (s[j] === '\\') j++;
        else if (s.startsWith('${', j)) depth++;
        else if (s[j] === '}' && depth > 0) depth--;
        j++;
      }
      push('str', i, Math.min(j + 1, s.length));
      i = j + 1;
    } else if (c === '/' && regexAllowed()) {
      let j = i + 1;
      let cls = false;
      while (j < s.length && (cls || s[j] !== '/') && s[j] !== '\n') {
        if (s[j] === '\\') j++;
        else if (s[j] === '[') cls = true;
        else if (s[j] === ']') cls = false;
        j++;
      }
      j++;
      while (j < s.length && /[a-z]/i.test(s[j])) j++;
      push('regex', i, j);
      i = j;
    } else if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < s.length && /[\w$]/.test(s[j])) j++;
      push('ident', i, j);
      i = j;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(s[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < s.length && /[\w.]/.test(s[j])) j++;
      push('num', i, j);
      i = j;
    } else {
      const op = /^(?:\?\.|\|\|=|\|\||\|=|&&=|&&|\?\?=|\?\?|===|!==|==|!=|<=|>=|=>|\.\.\.|\*\*|<<|>>>|>>|\+\+|--)/.exec(s.slice(i));
      const len = op ? op[0].length : 1;
      push('punct', i, i + len);
      i += len;
    }
  }
  return out;
}

const OPENER: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
const CLOSER: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** Index of the bracket matching the closer at `i`, searching backwards. */
function openerOf(t: Token[], i: number): number {
  let depth = 0;
  for (let j = i; j >= 0; j--) {
    if (t[j].type !== 'punct') continue;
    if (t[j].value === t[i].value) depth++;
    else if (t[j].value === OPENER[t[i].value] && --depth === 0) return j;
  }
  return 0;
}
function closerOf(t: Token[], i: number): number {
  let depth = 0;
  for (let j = i; j < t.length; j++) {
    if (t[j].type !== 'punct') continue;
    if (t[j].value === t[i].value) depth++;
    else if (t[j].value === CLOSER[t[i].value] && --depth === 0) return j;
  }
  return t.length - 1;
}

/** The first token of the operand (a member chain, call or literal) that ends at token `end`. */
function operandStart(t: Token[], end: number): number {
  let i = end;
  for (;;) {
    if (i < 0) return 0;
    if (t[i].type === 'punct' && OPENER[t[i].value]) {
      i = openerOf(t, i);
      // a call or an index: its callee/target belongs to the operand
      if (i > 0 && (t[i - 1].type === 'ident' || (t[i - 1].type === 'punct' && /^[)\]]$/.test(t[i - 1].value)))) {
        i--;
        continue;
      }
    }
    if (i > 0 && t[i - 1].type === 'punct' && (t[i - 1].value === '.' || t[i - 1].value === '?.')) {
      i -= 2;
      continue;
    }
    return i;
  }
}

const operandEnd = (tok: Token | undefined) =>
  !!tok && (tok.type === 'num' || tok.type === 'str' || tok.type === 'regex' || (tok.type === 'ident' && !JS_KEYWORDS.has(tok.value)) || (tok.type === 'punct' && /^[)\]}]$/.test(tok.value)));
const operandBegin = (tok: Token | undefined) =>
  !!tok && (tok.type === 'num' || tok.type === 'str' || tok.type === 'regex' || tok.type === 'ident' || (tok.type === 'punct' && /^[([{!-]$/.test(tok.value)));

/** Top-level comma-separated arguments between t[open] '(' and its ')'. */
function args(s: string, t: Token[], open: number): string[] {
  const close = closerOf(t, open);
  const out: string[] = [];
  let from = open + 1;
  let depth = 0;
  for (let j = open + 1; j < close; j++) {
    const v = t[j].type === 'punct' ? t[j].value : '';
    if (CLOSER[v]) depth++;
    else if (OPENER[v]) depth--;
    else if (v === ',' && depth === 0) {
      out.push(s.slice(t[from].start, t[j - 1].end).trim());
      from = j + 1;
    }
  }
  if (from < close) out.push(s.slice(t[from].start, t[close - 1].end).trim());
  return out;
}

const kwarg = (a: string[], name: string): string | undefined => {
  const m = a.map((x) => new RegExp(`^${name}\\s*=\\s*([\\s\\S]+)$`).exec(x)).find(Boolean);
  return m ? m[1] : undefined;
};
const unquote = (x: string | undefined): string | undefined => (x && /^(['"])[\w.]+\1$/.test(x) ? x.slice(1, -1) : undefined);
const prop = (item: string, name: string | undefined) => (name === undefined ? undefined : `${item}.${name}`);

/** The JavaScript for `left | name(args)`, or undefined when there is none to suggest. */
function filterJs(left: string, name: string, a: string[]): string | undefined {
  const [a0, a1] = a;
  const L = /^[\w$.?[\]'"]+$/.test(left) || /^\(.*\)$/.test(left) ? left : `(${left})`;
  switch (name) {
    case 'default':
    case 'd': {
      const v = a0 ?? "''";
      if (a1 !== undefined && /^(true|True|1)$/.test(a1)) return `${L} || ${v}`;
      if (/^[A-Za-z_$][\w$]*$/.test(left)) return `typeof ${left} !== 'undefined' ? ${left} : ${v}`;
      const m = /^(.+)\.([A-Za-z_$][\w$]*)$/.exec(left);
      if (m) return `'${m[2]}' in ${m[1]} ? ${left} : ${v}`;
      return `${L} ?? ${v}`;
    }
    case 'join':
      return `${L}.join(${a0 ?? "''"})`;
    case 'length':
    case 'count':
      return `${L}.length`;
    case 'int':
      return `parseInt(${left}, 10)`;
    case 'float':
      return `parseFloat(${left})`;
    case 'string':
      return `String(${left})`;
    case 'bool':
      return `['yes', 'on', '1', 'true'].includes(String(${left}).toLowerCase())`;
    case 'to_json':
    case 'tojson':
      return `JSON.stringify(${left})`;
    case 'to_nice_json':
      return `JSON.stringify(${left}, null, 4)`;
    case 'upper':
      return `${L}.toUpperCase()`;
    case 'lower':
      return `${L}.toLowerCase()`;
    case 'trim':
      return `${L}.trim()`;
    case 'first':
      return `${L}[0]`;
    case 'last':
      return `${L}.at(-1)`;
    case 'list':
      return `[...${L}]`;
    case 'unique':
      return `[...new Set(${left})]`;
    case 'flatten':
      return `${L}.flat(Infinity)`;
    case 'sort':
      return `[...${L}].sort()`;
    case 'reverse':
      return `[...${L}].reverse()`;
    case 'min':
      return `Math.min(...${L})`;
    case 'max':
      return `Math.max(...${L})`;
    case 'combine':
      return `{ ...${L}${a.map((x) => `, ...${x}`).join('')} }`;
    case 'replace':
      return a.length >= 2 ? `${L}.replaceAll(${a0}, ${a1})` : undefined;
    case 'regex_replace':
      return a.length >= 2 ? `${L}.replace(new RegExp(${a0}, 'g'), ${a1})` : undefined;
    case 'b64encode':
      return `Buffer.from(${left}).toString('base64')`;
    case 'b64decode':
      return `Buffer.from(${left}, 'base64').toString()`;
    case 'basename':
      return `${L}.split('/').pop()`;
    case 'dict2items':
      return `Object.entries(${left}).map(([key, value]) => ({ key, value }))`;
    case 'items2dict':
      return `Object.fromEntries(${L}.map((i) => [i.key, i.value]))`;
    case 'ternary':
      return a.length >= 2 ? `${L} ? ${a0} : ${a1}` : undefined;
    case 'map': {
      const p = prop('i', unquote(kwarg(a, 'attribute')));
      if (p) return `${L}.map((i) => ${p})`;
      const f = unquote(a0);
      const inner = f ? filterJs('i', f, a.slice(1)) : undefined;
      return inner ? `${L}.map((i) => ${inner})` : undefined;
    }
    case 'selectattr':
    case 'rejectattr': {
      const p = prop('i', unquote(a0));
      if (!p) return undefined;
      const not = name === 'rejectattr';
      const test = unquote(a1);
      if (test === undefined) return `${L}.filter((i) => ${not ? '!' : ''}${p})`;
      if (['equalto', 'eq', '==', 'sameas'].includes(test) && a[2] !== undefined) return `${L}.filter((i) => ${p} ${not ? '!==' : '==='} ${a[2]})`;
      if (test === 'defined') return `${L}.filter((i) => ${not ? '!' : ''}('${unquote(a0)}' in i))`;
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The JavaScript for `left is [not] test`. */
function testJs(left: string, negated: boolean, test: string): string | undefined {
  const bare = /^[A-Za-z_$][\w$]*$/.test(left);
  const m = /^(.+)\.([A-Za-z_$][\w$]*)$/.exec(left);
  if (test === 'defined' || test === 'undefined') {
    const defined = (test === 'defined') !== negated;
    if (bare) return `typeof ${left} ${defined ? '!==' : '==='} 'undefined'`;
    if (m) return `${defined ? '' : '!'}('${m[2]}' in ${m[1]})`;
    return undefined;
  }
  if (test === 'none') return `${left} ${negated ? '!==' : '==='} null`;
  return undefined;
}

const JS_OF_WORD: Record<string, string> = { and: '&&', or: '||', not: '!' };

/**
 * The Jinja form in one `{{ }}` expression or condition, as a message with the JavaScript to
 * write instead; undefined when there is none. `invalid`: the expression does not compile as
 * JavaScript (then the forms that never compile are named too).
 */
export function jinjaFormError(expr: string, invalid: boolean): string | undefined {
  const t = tokenize(expr);
  const text = (from: number, to: number) => expr.slice(t[from].start, t[to].end);
  for (let i = 0; i < t.length; i++) {
    const tok = t[i];
    if (tok.type === 'punct' && tok.value === '|' && t[i + 1]?.type === 'ident') {
      // ansible.builtin.join: the name is the last part
      let n = i + 1;
      while (t[n + 1]?.value === '.' && t[n + 2]?.type === 'ident' && (t[n].value === 'ansible' || t[n].value === 'builtin')) n += 2;
      const name = t[n].value;
      const call = t[n + 1]?.type === 'punct' && t[n + 1].value === '(';
      if (!JINJA_FILTER_NAMES.has(t[i + 1].value) && !call) continue;
      if (i === 0) continue;
      const left = text(operandStart(t, i - 1), i - 1);
      const end = call ? closerOf(t, n + 1) : n;
      const jinja = `${left} | ${text(i + 1, end)}`;
      const js = filterJs(left, name, call ? args(expr, t, n + 1) : []);
      const what = `'${jinja}' is a Jinja filter, but {{ }} holds JavaScript here (a single '|' is bitwise OR)`;
      return js ? `${what}: write ${js}` : `${what}: write it as JavaScript (or use the filter in a .j2 template)`;
    }
    if (!invalid) continue;
    if (tok.type === 'ident' && tok.value === 'is' && operandEnd(t[i - 1]) && t[i + 1]?.type === 'ident') {
      const negated = t[i + 1].value === 'not';
      const testTok = t[negated ? i + 2 : i + 1];
      const left = text(operandStart(t, i - 1), i - 1);
      const js = testTok ? testJs(left, negated, testTok.value) : undefined;
      const what = `'${left} is ${negated ? 'not ' : ''}${testTok?.value ?? ''}' is a Jinja test, but {{ }} holds JavaScript here`;
      return js ? `${what}: write ${js}` : `${what}: write it as JavaScript`;
    }
    if (tok.type === 'ident' && (((tok.value === 'and' || tok.value === 'or') && operandEnd(t[i - 1])) || (tok.value === 'not' && !operandEnd(t[i - 1]))) && operandBegin(t[i + 1])) {
      let js = '';
      let last = 0;
      for (const w of t) {
        if (w.type === 'ident' && JS_OF_WORD[w.value]) {
          js += expr.slice(last, w.start) + JS_OF_WORD[w.value];
          last = w.end;
          if (w.value === 'not') while (/\s/.test(expr[last] ?? '')) last++;
        }
      }
      js += expr.slice(last);
      return `'${tok.value}' is Jinja, but {{ }} holds JavaScript here (&&, ||, !): write ${js.trim()}`;
    }
    if (tok.type === 'punct' && tok.value === '~' && operandEnd(t[i - 1])) {
      return `'~' (Jinja's concatenation) is not JavaScript: write + or a template literal`;
    }
    if (tok.type === 'ident' && tok.value === 'if' && operandEnd(t[i - 1])) {
      return `'a if c else b' is Jinja, but {{ }} holds JavaScript here: write c ? a : b`;
    }
  }
  return undefined;
}
