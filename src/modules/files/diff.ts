/**
 * Bounded unified diffs of file contents, shown from the display render.
 *
 *  - Bounded: a patience diff (O(N log N), see lineOps) with small bounded Myers runs between its
 *    anchors, a time limit, a size limit (beyond it a one-line summary) and a cap on the lines
 *    of diff text shown.
 *  - Secret-free: the new content comes in two renders, the real one (compared with the host's
 *    file) and the display one (placeholders instead of secrets). A line that differs between the
 *    two is secret-bearing: it is shown from the display render. The old lines that a
 *    secret-bearing line replaces are shown without their value (a rotated secret's old value).
 */
import { createRequire } from 'node:module';

// jsdiff is loaded on the first diff (its CommonJS build: a synchronous, lazy require)
let jsdiff: typeof import('diff') | undefined;
const lib = () => (jsdiff ??= createRequire(import.meta.url)('diff') as typeof import('diff'));

/** Above this many bytes (before or after), no diff: a summary. */
export const MAX_DIFF_BYTES = 8 * 1024 * 1024;
/** Above this many differing lines (after trimming the common ends), no diff: a summary. */
export const MAX_DIFF_EDITS = 50000;
/** At most this many lines of diff text are shown. */
export const MAX_DIFF_SHOWN_LINES = 2000;
const DIFF_TIMEOUT_MS = 2000;
const CONTEXT = 3;

const PLACEHOLDER_RE = /«secret [^»]*»/;
export const SECRET_LINE = '«line not shown: it depends on a secret»';
export const OLD_SECRET_LINE = '«previous line not shown: replaced by a line that depends on a secret»';

function splitLines(text: string): { lines: string[]; eofNewline: boolean } {
  if (text === '') return { lines: [], eofNewline: true };
  const eofNewline = text.endsWith('\n');
  const lines = text.split('\n');
  if (eofNewline) lines.pop();
  return { lines, eofNewline };
}

type Op = { t: ' ' | '-' | '+'; o: number; n: number };

/**
 * Line edit script from a to b, in O(N log N) plus bounded Myers runs: common ends are trimmed,
 * then lines that occur exactly once on each side anchor the diff (patience diff); the gaps
 * between anchors are diffed the same way, and a gap without anchors by Myers with an edit limit
 * (or, beyond it, as a plain replacement). Returns undefined when more than `maxEdits` lines
 * differ in all.
 */
export function lineOps(a: string[], b: string[], maxEdits = MAX_DIFF_EDITS): Op[] | undefined {
  const ops: Op[] = [];
  const deadline = Date.now() + DIFF_TIMEOUT_MS;
  diffRange(a, b, 0, a.length, 0, b.length, ops, deadline);
  let edits = 0;
  for (const op of ops) if (op.t !== ' ') edits++;
  return edits > maxEdits ? undefined : ops;
}

function diffRange(a: string[], b: string[], aLo: number, aHi: number, bLo: number, bHi: number, ops: Op[], deadline: number): void {
  let pre = 0;
  while (aLo + pre < aHi && bLo + pre < bHi && a[aLo + pre] === b[bLo + pre]) pre++;
  for (let k = 0; k < pre; k++) ops.push({ t: ' ', o: aLo + k, n: bLo + k });
  aLo += pre;
  bLo += pre;
  let suf = 0;
  while (suf < aHi - aLo && suf < bHi - bLo && a[aHi - 1 - suf] === b[bHi - 1 - suf]) suf++;
  aHi -= suf;
  bHi -= suf;
  const tail = () => {
    for (let k = 0; k < suf; k++) ops.push({ t: ' ', o: aHi + k, n: bHi + k });
  };
  if (aLo === aHi || bLo === bHi) {
    replace(aLo, aHi, bLo, bHi, ops);
    return tail();
  }
  // anchors: lines unique in both ranges, in an increasing subsequence of positions
  const count = new Map<string, [number, number, number]>(); // [count in a, count in b, index in a]
  for (let i = aLo; i < aHi; i++) {
    const c = count.get(a[i]);
    if (c) c[0]++;
    else count.set(a[i], [1, 0, i]);
  }
  const pairs: [number, number][] = [];
  for (let j = bLo; j < bHi; j++) {
    const c = count.get(b[j]);
    if (c) c[1]++;
  }
  for (let j = bLo; j < bHi; j++) {
    const c = count.get(b[j]);
    if (c && c[0] === 1 && c[1] === 1) pairs.push([c[2], j]);
  }
  const anchors = Date.now() > deadline ? [] : longestIncreasing(pairs);
  if (anchors.length === 0) {
    myersOrReplace(a, b, aLo, aHi, bLo, bHi, ops, deadline);
    return tail();
  }
  let ai = aLo;
  let bj = bLo;
  for (const [i, j] of anchors) {
    diffRange(a, b, ai, i, bj, j, ops, deadline);
    ops.push({ t: ' ', o: i, n: j });
    ai = i + 1;
    bj = j + 1;
  }
  diffRange(a, b, ai, aHi, bj, bHi, ops, deadline);
  tail();
}

function replace(aLo: number, aHi: number, bLo: number, bHi: number, ops: Op[]): void {
  for (let i = aLo; i < aHi; i++) ops.push({ t: '-', o: i, n: bLo });
  for (let j = bLo; j < bHi; j++) ops.push({ t: '+', o: aHi, n: j });
}

/** A gap without unique lines: Myers when small, else a plain replacement. */
function myersOrReplace(a: string[], b: string[], aLo: number, aHi: number, bLo: number, bHi: number, ops: Op[], deadline: number): void {
  const n = aHi - aLo;
  const m = bHi - bLo;
  const left = deadline - Date.now();
  const parts =
    left > 0 && n + m <= 4000
      ? (lib().diffArrays(a.slice(aLo, aHi), b.slice(bLo, bHi), { maxEditLength: 400, timeout: Math.min(left, 200) } as any) as
          | { count?: number; value: string[]; added?: boolean; removed?: boolean }[]
          | undefined)
      : undefined;
  if (!parts) return replace(aLo, aHi, bLo, bHi, ops);
  let o = aLo;
  let nn = bLo;
  for (const p of parts) {
    for (let k = 0; k < p.value.length; k++) {
      if (p.removed) ops.push({ t: '-', o: o++, n: nn });
      else if (p.added) ops.push({ t: '+', o, n: nn++ });
      else ops.push({ t: ' ', o: o++, n: nn++ });
    }
  }
}

/** Longest subsequence of pairs (sorted by the second index) increasing in the first: O(k log k). */
function longestIncreasing(pairs: [number, number][]): [number, number][] {
  const tails: number[] = []; // index into pairs of the smallest tail of each length
  const prev: number[] = new Array(pairs.length);
  for (let k = 0; k < pairs.length; k++) {
    const x = pairs[k][0];
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pairs[tails[mid]][0] < x) lo = mid + 1;
      else hi = mid;
    }
    prev[k] = lo > 0 ? tails[lo - 1] : -1;
    tails[lo] = k;
  }
  const out: [number, number][] = [];
  for (let k = tails.length ? tails[tails.length - 1] : -1; k >= 0; k = prev[k]) out.push(pairs[k]);
  return out.reverse();
}

/**
 * For each line of the real render: undefined if it may be shown, else what to show instead
 * (from the display render).
 */
export function secretLines(real: string[], shown: string[]): (string | undefined)[] {
  const out: (string | undefined)[] = new Array(real.length).fill(undefined);
  if (real.length === shown.length) {
    for (let i = 0; i < real.length; i++) if (real[i] !== shown[i]) out[i] = displayLine(real[i], shown[i]);
    return out;
  }
  // a secret with line breaks: align the two renders
  const ops = lineOps(real, shown, 1000);
  if (!ops) {
    // cannot align: every line between the first and the last difference is secret-bearing
    let pre = 0;
    while (pre < real.length && pre < shown.length && real[pre] === shown[pre]) pre++;
    let suf = 0;
    while (suf < real.length - pre && suf < shown.length - pre && real[real.length - 1 - suf] === shown[shown.length - 1 - suf]) suf++;
    for (let i = pre; i < real.length - suf; i++) out[i] = SECRET_LINE;
    return out;
  }
  // within each block of differences, real lines take the display lines in order
  let i = 0;
  while (i < ops.length) {
    if (ops[i].t === ' ') {
      i++;
      continue;
    }
    const removed: number[] = [];
    const added: number[] = [];
    while (i < ops.length && ops[i].t !== ' ') {
      if (ops[i].t === '-') removed.push(ops[i].o);
      else added.push(ops[i].n);
      i++;
    }
    removed.forEach((r, k) => (out[r] = k < added.length ? displayLine(real[r], shown[added[k]]) : SECRET_LINE));
  }
  return out;
}

const ENCODED = '«secret value (encoded)»';
const WORDISH = /[A-Za-z0-9+/%_.~-]/;
const WORDISH_END = /[A-Za-z0-9+/=%_.~-]/;

/**
 * The display form of a secret-bearing line. When the placeholder is not in it literally (the
 * template encoded it: base64, URL, hex ...), the part that differs from the real line, widened to
 * the whole encoded token, is replaced by «secret value (encoded)».
 */
function displayLine(real: string, shown: string): string {
  if (PLACEHOLDER_RE.test(shown)) return shown;
  let pre = 0;
  while (pre < real.length && pre < shown.length && real[pre] === shown[pre]) pre++;
  let suf = 0;
  while (suf < real.length - pre && suf < shown.length - pre && real[real.length - 1 - suf] === shown[shown.length - 1 - suf]) suf++;
  let start = pre;
  while (start > 0 && WORDISH.test(shown[start - 1])) start--;
  let end = shown.length - suf;
  while (end < shown.length && WORDISH_END.test(shown[end])) end++;
  return `${shown.slice(0, start)}${ENCODED}${shown.slice(end)}`;
}

/** An old line replaced by a secret-bearing one: keep what the display line shares with it. */
function maskOld(old: string, displays: string[]): string {
  for (const d of displays) {
    const m = PLACEHOLDER_RE.exec(d);
    if (!m) continue;
    const prefix = d.slice(0, m.index);
    const lastClose = d.lastIndexOf('»');
    const suffix = d.slice(lastClose + 1);
    if (old.length > prefix.length + suffix.length && old.startsWith(prefix) && old.endsWith(suffix)) {
      return `${prefix}«previous value not shown»${suffix}`;
    }
  }
  return OLD_SECRET_LINE;
}

export interface DisplayDiffInput {
  path: string;
  /** The file's current content; undefined: the file does not exist. */
  before: string | undefined;
  /** The new content (real render). */
  after: string;
  /**
   * The new content rendered with placeholders instead of secrets; undefined: no secrets were
   * involved (shown as is); null: the display render failed (the content is not shown at all).
   */
  shown?: string | null;
  mask: (s: string) => string;
}

/** A unified diff (3 lines of context) that never shows a secret, bounded in time and size. */
export function displayDiff(d: DisplayDiffInput): string {
  const { path } = d;
  const oldName = d.before === undefined ? '/dev/null' : path;
  if (d.shown === null) return `(${path}: content not shown: it depends on secrets and could not be rendered for display)\n`;
  const beforeBytes = d.before === undefined ? 0 : Buffer.byteLength(d.before);
  const afterBytes = Buffer.byteLength(d.after);
  if (beforeBytes > MAX_DIFF_BYTES || afterBytes > MAX_DIFF_BYTES) {
    return `(${path}: not diffed: ${beforeBytes} -> ${afterBytes} bytes, larger than ${MAX_DIFF_BYTES} bytes)\n`;
  }
  const A = splitLines(d.before ?? '');
  const B = splitLines(d.after);
  const S = d.shown === undefined ? undefined : splitLines(d.shown);
  const secret = S ? secretLines(B.lines, S.lines) : new Array<string | undefined>(B.lines.length).fill(undefined);
  const ops = lineOps(A.lines, B.lines);
  if (!ops) {
    return `(${path}: not diffed: more than ${MAX_DIFF_EDITS} lines differ; ${A.lines.length} lines before, ${B.lines.length} after)\n`;
  }
  // old lines replaced (in the same block of changes) by a secret-bearing line are masked
  const oldShown = new Map<number, string>();
  for (let i = 0; i < ops.length; ) {
    if (ops[i].t === ' ') {
      i++;
      continue;
    }
    const start = i;
    while (i < ops.length && ops[i].t !== ' ') i++;
    const block = ops.slice(start, i);
    const removed = block.filter((op) => op.t === '-');
    const added = block.filter((op) => op.t === '+');
    if (removed.length === added.length) {
      // line for line: an old line is masked when the line replacing it is secret-bearing
      removed.forEach((op, j) => {
        const d = secret[added[j].n];
        if (d !== undefined) oldShown.set(op.o, maskOld(A.lines[op.o], [d]));
      });
    } else {
      const displays = added.filter((op) => secret[op.n] !== undefined).map((op) => secret[op.n]!);
      if (displays.length) for (const op of removed) oldShown.set(op.o, maskOld(A.lines[op.o], displays));
    }
  }
  const text = (op: Op): string => {
    if (op.t === '-') return oldShown.get(op.o) ?? A.lines[op.o];
    return secret[op.n] ?? B.lines[op.n];
  };
  // hunks: changes with CONTEXT lines around them, merged when close
  const changed: number[] = [];
  ops.forEach((op, k) => op.t !== ' ' && changed.push(k));
  const out: string[] = [`--- ${oldName}${d.before === undefined ? '' : '\tbefore'}`, `+++ ${path}\tafter`];
  let shownLines = 0;
  let dropped = 0;
  let k = 0;
  while (k < changed.length) {
    const from = Math.max(0, changed[k] - CONTEXT);
    let to = Math.min(ops.length, changed[k] + CONTEXT + 1);
    while (k + 1 < changed.length && changed[k + 1] - CONTEXT <= to) {
      k++;
      to = Math.min(ops.length, changed[k] + CONTEXT + 1);
    }
    k++;
    const hunk = ops.slice(from, to);
    const oldCount = hunk.filter((op) => op.t !== '+').length;
    const newCount = hunk.filter((op) => op.t !== '-').length;
    const oldStart = oldCount ? hunk.find((op) => op.t !== '+')!.o + 1 : hunk[0].o;
    const newStart = newCount ? hunk.find((op) => op.t !== '-')!.n + 1 : hunk[0].n;
    if (shownLines >= MAX_DIFF_SHOWN_LINES) {
      dropped += hunk.length + 1;
      continue;
    }
    out.push(`@@ -${oldStart},${oldCount} +${newStart},${newCount} @@`);
    shownLines++;
    for (const op of hunk) {
      if (shownLines >= MAX_DIFF_SHOWN_LINES) {
        dropped++;
        continue;
      }
      out.push(`${op.t}${text(op)}`);
      shownLines++;
      if (op.t !== '+' && op.o === A.lines.length - 1 && !A.eofNewline && d.before !== undefined) out.push('\\ No newline at end of file');
      else if (op.t !== '-' && op.n === B.lines.length - 1 && !B.eofNewline && op.t === '+') out.push('\\ No newline at end of file');
    }
  }
  if (changed.length === 0) out.push('(only the line break at the end of the file differs)');
  if (dropped) out.push(`… (diff truncated: ${dropped} more lines not shown)`);
  return d.mask(out.join('\n') + '\n');
}
