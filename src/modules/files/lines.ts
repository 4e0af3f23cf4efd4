/**
 * The text edits of lineinfile, blockinfile and replace: pure functions from a file's old content
 * to its new one, ported from Ansible's modules (2.14) so that the same arguments make the same file.
 *
 * Regular expressions are written for Python's `re`; pyRegex() translates the Python-only syntax
 * (named groups `(?P<n>...)`, `(?P=n)`, `\A`, `\Z`, leading inline flags) to JavaScript, and refuses
 * what it cannot translate. Templates (`backrefs`, `replace`) use Python's syntax: `\1`, `\g<name>`.
 */

/** A Python regular expression as a JavaScript RegExp (`flags`: extra JS flags such as 'm', 's'). Throws with the reason. */
export function pyRegex(src: string, flags = ''): RegExp {
  let s = src;
  const f = new Set(flags.split('').filter(Boolean));
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(s);
  if (lead) {
    for (const c of lead[1]) {
      if (c === 'i' || c === 'm' || c === 's') f.add(c);
      else if (c !== 'a' && c !== 'u') throw new Error(`the inline flag (?${c}) is not supported`);
    }
    s = s.slice(lead[0].length);
  }
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      const n = s[i + 1];
      i++;
      if (n === 'A') out += '(?<![\\s\\S])';
      else if (n === 'Z') out += '(?![\\s\\S])';
      else out += c + n;
    } else if (s.startsWith('(?P<', i)) {
      out += '(?<';
      i += 3;
    } else if (s.startsWith('(?P=', i)) {
      const end = s.indexOf(')', i);
      if (end < 0) throw new Error('missing ) after (?P=');
      out += `\\k<${s.slice(i + 4, end)}>`;
      i = end;
    } else if (s.startsWith('(?P>', i) || /^\(\?[a-zA-Z-]+[:)]/.test(s.slice(i))) {
      throw new Error(`'${s.slice(i, i + 5)}...' (inline flags inside a pattern) is not supported`);
    } else out += c;
  }
  try {
    return new RegExp(out, [...f].sort().join(''));
  } catch (e) {
    throw new Error((e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, ''), { cause: e });
  }
}

/** Why `src` is not a usable regular expression, or undefined (for load-time checks). */
export function regexProblem(src: string): string | undefined {
  try {
    pyRegex(src);
    return undefined;
  } catch (e) {
    return `invalid regular expression '${src}': ${(e as Error).message}`;
  }
}

const TEMPLATE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

type Piece = string | { group: number | string };

/** Python's match.expand() template (`\1`, `\g<1>`, `\g<name>`, `\n`), parsed. Throws on a bad escape. */
export function parseTemplate(t: string): Piece[] {
  const out: Piece[] = [];
  let lit = '';
  const group = (g: number | string) => {
    if (lit) out.push(lit);
    lit = '';
    out.push({ group: g });
  };
  for (let i = 0; i < t.length; i++) {
    if (t[i] !== '\\') {
      lit += t[i];
      continue;
    }
    const n = t[i + 1];
    if (n === undefined) throw new Error('bad escape (end of pattern)');
    if (n === 'g') {
      const m = /^<([^>]*)>/.exec(t.slice(i + 2));
      if (!m || m[1] === '') throw new Error('missing group name after \\g');
      group(/^\d+$/.test(m[1]) ? Number(m[1]) : m[1]);
      i += 2 + m[0].length - 1;
    } else if (/[0-7]/.test(n) && (n === '0' || /^[0-7]{3}/.test(t.slice(i + 1)))) {
      const m = n === '0' ? /^0[0-7]{0,2}/.exec(t.slice(i + 1))! : /^[0-7]{3}/.exec(t.slice(i + 1))!;
      lit += String.fromCharCode(parseInt(m[0], 8));
      i += m[0].length;
    } else if (/\d/.test(n)) {
      const m = /^\d\d?/.exec(t.slice(i + 1))!;
      group(Number(m[0]));
      i += m[0].length;
    } else if (n in TEMPLATE_ESCAPES) {
      lit += TEMPLATE_ESCAPES[n];
      i++;
    } else if (/[a-zA-Z]/.test(n)) {
      throw new Error(`bad escape \\${n}`);
    } else {
      lit += `\\${n}`;
      i++;
    }
  }
  if (lit) out.push(lit);
  return out;
}

/** Number of capturing groups of a regex and its group names. */
function groupsOf(re: RegExp): { count: number; names: string[] } {
  const m = new RegExp(`${re.source}|`, re.flags).exec('')!;
  return { count: m.length - 1, names: Object.keys(m.groups ?? {}) };
}

/** Why `template` cannot be expanded with the groups of `regexp` (load-time check), or undefined. */
export function templateProblem(template: string, regexp: string): string | undefined {
  let re: RegExp;
  try {
    re = pyRegex(regexp);
  } catch {
    return undefined; // the regexp's own check says why
  }
  try {
    const { count, names } = groupsOf(re);
    for (const p of parseTemplate(template)) {
      if (typeof p === 'string') continue;
      if (typeof p.group === 'number' ? p.group > count : !names.includes(p.group)) return `invalid group reference ${p.group} in '${template}'`;
    }
    return undefined;
  } catch (e) {
    return `invalid template '${template}': ${(e as Error).message}`;
  }
}

/** match.expand(template): groups that did not take part are empty (as in Python 3.5+). */
export function expand(pieces: Piece[], m: RegExpExecArray | RegExpMatchArray): string {
  let s = '';
  for (const p of pieces) {
    if (typeof p === 'string') s += p;
    else {
      const v = typeof p.group === 'number' ? m[p.group] : m.groups?.[p.group];
      if (typeof p.group === 'number' && p.group >= m.length) throw new Error(`invalid group reference ${p.group}`);
      s += v ?? '';
    }
  }
  return s;
}

/** Python's bytes.readlines(): lines split after each \n, keeping it. */
function readlines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
    out.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/** Python's bytes.splitlines(True): split after \r\n, \n or \r. */
function splitlines(text: string): string[] {
  return text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? [];
}

/**
 * re.search on one line as Python sees it: `$` also matches before the line's final \n. The line is
 * searched without that \n first, then (a pattern that names \n) with it.
 */
function searchLine(re: RegExp, line: string): RegExpExecArray | null {
  const body = line.endsWith('\n') ? line.slice(0, -1) : line;
  return re.exec(body) ?? (body !== line ? re.exec(line) : null);
}

const stripNl = (l: string) => l.replace(/[\r\n]+$/, '');
const endsNl = (l: string) => l.endsWith('\n') || l.endsWith('\r');

export interface LineEdit {
  state: 'present' | 'absent';
  line?: string;
  regexp?: string;
  searchString?: string;
  insertafter?: string;
  insertbefore?: string;
  backrefs?: boolean;
  firstmatch?: boolean;
}

export interface EditResult {
  content: string;
  changed: boolean;
  msg: string;
}

/** lineinfile: `old` is the file's content ('' for a file to create). */
export function editLine(old: string, e: LineEdit): EditResult {
  const lines = readlines(old);
  if (e.state === 'absent') {
    const re = e.regexp !== undefined ? pyRegex(e.regexp) : undefined;
    const keep = lines.filter((l) => {
      if (re) return !searchLine(re, l);
      if (e.searchString !== undefined) return !l.includes(e.searchString);
      return e.line !== stripNl(l);
    });
    const removed = lines.length - keep.length;
    return { content: keep.join(''), changed: removed > 0, msg: removed > 0 ? `${removed} line(s) removed` : '' };
  }
  const line = e.line ?? '';
  const firstmatch = e.firstmatch === true;
  let insertafter = e.insertafter;
  const insertbefore = e.insertbefore;
  if (insertafter === undefined && insertbefore === undefined) insertafter = 'EOF';
  const bre = e.regexp !== undefined ? pyRegex(e.regexp) : undefined;
  let ins: RegExp | undefined;
  if (insertafter !== undefined && insertafter !== 'BOF' && insertafter !== 'EOF') ins = pyRegex(insertafter);
  else if (insertbefore !== undefined && insertbefore !== 'BOF') ins = pyRegex(insertbefore);

  const index = [-1, -1];
  let match: RegExpExecArray | boolean | null = null;
  if (bre) {
    for (let i = 0; i < lines.length; i++) {
      const m = searchLine(bre, lines[i]);
      if (m) {
        index[0] = i;
        match = m;
        if (firstmatch) break;
      }
    }
  }
  if (e.searchString !== undefined) {
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].includes(e.searchString)) {
        index[0] = i;
        match = true;
        if (firstmatch) break;
      }
    }
  }
  if (!match) {
    for (let i = 0; i < lines.length; i++) {
      if (line === stripNl(lines[i])) {
        index[0] = i;
      } else if (ins && searchLine(ins, lines[i])) {
        if (insertafter !== undefined) {
          index[1] = i + 1;
          if (firstmatch) break;
        }
        if (insertbefore !== undefined) {
          index[1] = i;
          if (firstmatch) break;
        }
      }
    }
  }

  const added = (content: string[]): EditResult => ({ content: content.join(''), changed: true, msg: 'line added' });
  const same: EditResult = { content: old, changed: false, msg: '' };
  if (index[0] !== -1) {
    let newLine = e.backrefs && match && typeof match !== 'boolean' ? expand(parseTemplate(line), match) : line;
    if (!newLine.endsWith('\n')) newLine += '\n';
    if (lines[index[0]] !== newLine) {
      lines[index[0]] = newLine;
      return { content: lines.join(''), changed: true, msg: 'line replaced' };
    }
    return same;
  }
  if (e.backrefs) return same; // no match: no safe way to build the line
  if (insertbefore === 'BOF' || insertafter === 'BOF') return added([`${line}\n`, ...lines]);
  if (insertafter === 'EOF' || index[1] === -1) {
    if (lines.length && !endsNl(lines[lines.length - 1])) lines.push('\n');
    lines.push(`${line}\n`);
    return added(lines);
  }
  if (insertafter !== undefined) {
    if (lines.length === index[1]) {
      if (stripNl(lines[index[1] - 1]) === line) return same;
      // Ansible 2.14 appends to a last line without its newline ('bnew'): end that line first
      if (!endsNl(lines[index[1] - 1])) lines[index[1] - 1] += '\n';
      lines.push(`${line}\n`);
      return added(lines);
    }
    if (line === stripNl(lines[index[1]])) return same;
    lines.splice(index[1], 0, `${line}\n`);
    return added(lines);
  }
  lines.splice(index[1], 0, `${line}\n`);
  return added(lines);
}

export interface BlockEdit {
  state: 'present' | 'absent';
  block: string;
  marker: string;
  markerBegin: string;
  markerEnd: string;
  insertafter?: string;
  insertbefore?: string;
}

/** blockinfile: `old` is the file's content, undefined for a file to create. */
export function editBlock(old: string | undefined, e: BlockEdit): EditResult {
  const lines = old === undefined ? [] : splitlines(old);
  let { insertafter } = e;
  const { insertbefore } = e;
  if (insertafter === undefined && insertbefore === undefined) insertafter = 'EOF';
  let insertre: RegExp | undefined;
  if (insertafter !== undefined && insertafter !== 'EOF') insertre = pyRegex(insertafter);
  else if (insertbefore !== undefined && insertbefore !== 'BOF') insertre = pyRegex(insertbefore);
  const marker0 = `${e.marker.replaceAll('{mark}', e.markerBegin)}\n`;
  const marker1 = `${e.marker.replaceAll('{mark}', e.markerEnd)}\n`;
  let blocklines: string[] = [];
  if (e.state === 'present' && e.block) {
    const block = e.block.endsWith('\n') ? e.block : `${e.block}\n`;
    blocklines = [marker0, block, marker1];
  }
  let n0: number | undefined;
  let n1: number | undefined;
  lines.forEach((l, i) => {
    if (l === marker0) n0 = i;
    if (l === marker1) n1 = i;
  });
  if (n0 === undefined || n1 === undefined) {
    n0 = undefined;
    if (insertre) {
      if (insertre.flags.includes('m')) {
        const m = insertre.exec(old ?? '');
        if (m) {
          const upto = insertafter !== undefined ? m.index + m[0].length : m.index;
          n0 = (old ?? '').slice(0, upto).split('\n').length - 1;
        }
      } else {
        lines.forEach((l, i) => {
          if (searchLine(insertre!, l)) n0 = i;
        });
      }
      if (n0 === undefined) n0 = lines.length;
      else if (insertafter !== undefined) n0 += 1;
    } else if (insertbefore !== undefined) n0 = 0;
    else n0 = lines.length;
  } else if (n0 < n1) {
    lines.splice(n0, n1 - n0 + 1);
  } else {
    lines.splice(n1, n0 - n1 + 1);
    n0 = n1;
  }
  if (n0 > 0 && !lines[n0 - 1].endsWith('\n')) lines[n0 - 1] += '\n';
  lines.splice(n0, 0, ...blocklines);
  const content = lines.join('');
  if (old === content) return { content, changed: false, msg: '' };
  return { content, changed: true, msg: old === undefined ? 'File created' : blocklines.length ? 'Block inserted' : 'Block removed' };
}

export interface ReplaceEdit {
  regexp: string;
  replace: string;
  after?: string;
  before?: string;
}

/** replace: every match of `regexp` (multiline) in the file, or in the section between `after` and `before`. */
export function editReplace(old: string, e: ReplaceEdit): EditResult & { count: number } {
  const same = { content: old, changed: false, msg: '', count: 0 };
  let pattern = '';
  if (e.after && e.before) pattern = `${e.after}(?P<subsection>.*?)${e.before}`;
  else if (e.after) pattern = `${e.after}(?P<subsection>.*)`;
  else if (e.before) pattern = `(?P<subsection>.*)${e.before}`;
  let start = 0;
  let end = old.length;
  if (pattern) {
    // the 'd' flag gives the subsection's place (match.start/end('subsection') in Python)
    const m = pyRegex(pattern, 'ds').exec(old);
    if (!m) return same;
    [start, end] = m.indices!.groups!.subsection;
  }
  const section = old.slice(start, end);
  const re = pyRegex(e.regexp, 'gm');
  const tpl = parseTemplate(e.replace);
  let out = '';
  let last = 0;
  let count = 0;
  for (const m of section.matchAll(re)) {
    out += section.slice(last, m.index) + expand(tpl, m);
    last = m.index! + m[0].length;
    count++;
  }
  out += section.slice(last);
  if (count === 0 || out === section) return same;
  return { content: old.slice(0, start) + out + old.slice(end), changed: true, msg: `${count} replacements made`, count };
}
