/**
 * Display renders: what of a task may be shown.
 *
 * Every task's arguments (and templates, through ModuleContext.render) are rendered twice: once
 * with the real secrets and once with a placeholder per secret (`«secret db_app_password»`). What
 * differs between the two renders depends on a secret, in whatever encoding the expression or
 * template computed (JSON, URL, base64, systemd or shell escaping ...), and is shown only from the
 * display render:
 *  - modules get the prepared display arguments as `ctx.shown` (content diffs, see files/diff.ts);
 *  - a Redactor replaces each real rendered string (and each of its lines) that differs with its
 *    display form in everything the task reports: commands (-v), outputs (-vv), summaries,
 *    notes, errors.
 * The Masker (secrets.ts) still runs over all output as a second layer. It is also told each span
 * where the two renders differ (`derivedSpans`): a value computed from a secret
 * (`secret('pw').toUpperCase()`, a template's encoding) is then masked in whatever the hosts send
 * back later (a `cat` of the file at -vv, a registered result written elsewhere, errors, the
 * report), in this run and, through the store's history, in later ones.
 */
import type { Scope } from './expr.js';
import { sq } from './shell.js';
import { MIN_SECRET_LENGTH } from './secrets.js';
import type { AnyStateModule, ModuleContext } from '../modules/contract.js';

export const NOT_SHOWN = '«not shown: depends on a secret»';

/** Where derived values go: the run's Masker. */
export interface DerivedSink {
  addDerived(value: string): void;
}

/**
 * The parts of `real` that differ from `shown`, line by line: each differing line without the
 * prefix and suffix it shares with its display line (`PW=` around the value), or whole when the
 * lines do not pair up. Only spans long enough to mask (MIN_SECRET_LENGTH).
 */
export function derivedSpans(real: string, shown: string): string[] {
  if (real === shown) return [];
  const out = new Set<string>();
  const rl = real.split('\n');
  const sl = shown.split('\n');
  const paired = rl.length === sl.length;
  const shownSet = paired ? undefined : new Set(sl);
  rl.forEach((r, i) => {
    if (paired) {
      const d = sl[i];
      if (r === d) return;
      let p = 0;
      while (p < r.length && p < d.length && r[p] === d[p]) p++;
      let q = 0;
      while (q < r.length - p && q < d.length - p && r[r.length - 1 - q] === d[d.length - 1 - q]) q++;
      out.add(r.slice(p, r.length - q));
    } else if (!shownSet!.has(r)) {
      out.add(r.trim());
    }
  });
  return [...out].filter((x) => x.length >= MIN_SECRET_LENGTH);
}

/** Real rendered strings -> their display form; applied longest first. */
export class Redactor {
  private pairs = new Map<string, string>();
  private sorted: [string, string][] = [];

  constructor(private readonly sink?: DerivedSink) {}

  add(real: string, shown: string): void {
    if (real === shown || real.length < MIN_SECRET_LENGTH) return;
    // only spans the two renders locate; where the display render failed (NOT_SHOWN) what differs
    // is not known, and recording every templated value (paths ...) would mask them for good
    if (shown !== NOT_SHOWN) for (const span of derivedSpans(real, shown)) this.sink?.addDerived(span);
    this.pairs.set(real, shown);
    const q = sq(real);
    if (q !== real) this.pairs.set(q, sq(shown));
    const rl = real.split('\n');
    const sl = shown.split('\n');
    if (rl.length > 1) {
      if (rl.length === sl.length) {
        rl.forEach((l, i) => l !== sl[i] && l.trim().length >= MIN_SECRET_LENGTH && this.pairs.set(l.trim(), sl[i].trim()));
      } else {
        const shownSet = new Set(sl);
        for (const l of rl) if (!shownSet.has(l) && l.trim().length >= MIN_SECRET_LENGTH) this.pairs.set(l.trim(), NOT_SHOWN);
      }
    }
    this.sorted = [...this.pairs].sort((a, b) => b[0].length - a[0].length);
  }

  get empty(): boolean {
    return this.pairs.size === 0;
  }

  redact = (s: string): string => {
    let out = s;
    for (const [real, shown] of this.sorted) if (out.includes(real)) out = out.split(real).join(shown);
    return out;
  };

  redactDeep<T>(value: T): T {
    if (this.empty) return value;
    if (typeof value === 'string') return this.redact(value) as T;
    if (Buffer.isBuffer(value)) return value;
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v)) as T;
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.redactDeep(v);
      return out as T;
    }
    return value;
  }
}

/** Pair the leaves of the real and the display render. */
function collect(real: unknown, shown: unknown, r: Redactor): void {
  if (typeof real === 'string') {
    r.add(real, typeof shown === 'string' ? shown : NOT_SHOWN);
  } else if (Array.isArray(real)) {
    real.forEach((v, i) => collect(v, Array.isArray(shown) ? shown[i] : undefined, r));
  } else if (real !== null && typeof real === 'object') {
    const s = shown !== null && typeof shown === 'object' ? (shown as Record<string, unknown>) : {};
    for (const [k, v] of Object.entries(real)) collect(v, s[k], r);
  } else if (real !== shown && real !== undefined && real !== null) {
    r.add(String(real), NOT_SHOWN);
  }
}

/** Every templated leaf of the raw arguments, as rendered: used when the display render failed. */
function collectTemplated(raw: unknown, real: unknown, r: Redactor): void {
  if (typeof raw === 'string') {
    if (raw.includes('{{')) r.add(typeof real === 'string' ? real : JSON.stringify(real) ?? '', NOT_SHOWN);
  } else if (Array.isArray(raw)) {
    raw.forEach((v, i) => collectTemplated(v, Array.isArray(real) ? real[i] : undefined, r));
  } else if (raw !== null && typeof raw === 'object') {
    const o = real !== null && typeof real === 'object' ? (real as Record<string, unknown>) : {};
    for (const [k, v] of Object.entries(raw)) collectTemplated(v, o[k], r);
  }
}

/** The display scope paired with each real scope (see Runner.scope). */
const shownScopes = new WeakMap<Scope, Scope>();

export function pairScopes(real: Scope, shown: Scope): Scope {
  shownScopes.set(real, shown);
  return real;
}

export interface DisplayRender {
  /** The arguments rendered for display; null if that render failed. */
  shown: unknown;
  redactor: Redactor;
  /** Render a template for display (null result: the render failed). */
  template: (source: string, filename: string) => string;
  sink?: DerivedSink;
}

/** Render a task's raw arguments for display, next to their real render. */
export function renderForDisplay(scope: Scope, raw: unknown, real: unknown, sink?: DerivedSink): DisplayRender {
  const redactor = new Redactor(sink);
  const shownScope = shownScopes.get(scope);
  if (!shownScope) return { shown: real, redactor, template: (s, f) => scope.template(s, f), sink };
  let shown: unknown;
  try {
    shown = shownScope.render(raw);
    collect(real, shown, redactor);
  } catch {
    shown = null;
    collectTemplated(raw, real, redactor);
  }
  return { shown, redactor, template: (s, f) => shownScope.template(s, f), sink };
}

/**
 * A loop's items rendered for display, one per real item. Where that render fails or does not
 * line up, an item is shown as a placeholder (and what depends on it is then shown from that).
 */
export function renderShownItems(scope: Scope, rawLoop: unknown, items: unknown[]): unknown[] {
  const shownScope = shownScopes.get(scope);
  if (!shownScope) return items;
  let shown: unknown;
  try {
    shown = shownScope.render(rawLoop);
  } catch {
    shown = undefined;
  }
  if (!Array.isArray(shown) || shown.length !== items.length) return items.map(() => '«loop item not shown: depends on a secret»');
  return shown;
}

/**
 * A state module's `prepare` run on the display arguments too (the content as it may be shown); the result goes to ctx.shown.
 * A failure of the display side is never a task failure: nothing derived from it is shown (null).
 */
export async function prepareShown(mod: AnyStateModule, d: DisplayRender | undefined, ctx: ModuleContext, local?: unknown): Promise<unknown> {
  if (!d || !mod.prepare) return undefined;
  if (d.shown === null) return null;
  let shown: unknown;
  try {
    shown = await mod.prepare(d.shown, { ...ctx, render: d.template, note: () => undefined });
  } catch {
    return null;
  }
  // what a template computed from secrets: masked in what the host sends back later
  if (d.sink && Buffer.isBuffer(local) && Buffer.isBuffer(shown) && !local.equals(shown)) {
    for (const span of derivedSpans(local.toString('utf8'), shown.toString('utf8'))) d.sink.addDerived(span);
  }
  return shown;
}

/** Redact everything a task reports (its outcome: error, change summaries and diffs). */
export function redactOutcome<T extends { error?: string; changes: { summary: string; diff?: string; target: string }[] }>(o: T, r: Redactor | undefined): T {
  if (!r || r.empty) return o;
  return {
    ...o,
    ...(o.error !== undefined ? { error: r.redact(o.error) } : {}),
    // diffs come from the display render already; summaries and targets may carry rendered args
    changes: o.changes.map((c) => ({ ...c, summary: r.redact(c.summary), target: r.redact(c.target), ...(c.diff !== undefined ? { diff: r.redact(c.diff) } : {}) })),
  };
}

const NOT_SHOWN_VALUE = '<not shown>';

/**
 * What -vv may print of a command's output: file contents (facts) and anything that is a
 * password hash, digest or salt are replaced. Hashes and digests are not secrets themselves but
 * allow an offline search for the password, so they are never printed.
 */
export function traceOutput(s: string): string {
  return (
    s
      // file facts: content (any encoding of anything) and checksums
      .replace(/^(content|sha256|digest|salt)=.*$/gm, `$1=${NOT_SHOWN_VALUE}`)
      .replace(/^(#mysql:pwdigest) .*$/gm, `$1 ${NOT_SHOWN_VALUE}`)
      // MariaDB/MySQL: IDENTIFIED BY PASSWORD '*...', IDENTIFIED VIA plugin USING/AS '...'
      .replace(/\b(PASSWORD|USING|AS)(\s+)'(?:[^'\\]|\\.)*'/gi, (_m, kw: string, sp: string) => `${kw}${sp}'${NOT_SHOWN_VALUE}'`)
      .replace(/\*[0-9A-Fa-f]{40}\b/g, `*${NOT_SHOWN_VALUE}`)
      // crypt(3) hashes ($1$, $2b$, $5$, $6$, $y$, $argon2id$ ...), e.g. from getent shadow
      .replace(/\$(?:1|2[abxy]?|5|6|7|y|gy|argon2(?:id|i|d)?|scrypt|pbkdf2[\w-]*)\$[^\s:'"]+/g, () => `$${NOT_SHOWN_VALUE}`)
  );
}

/** What -v may print of a command: salts (shell variables named *salt*) are replaced. */
export function traceCommand(s: string): string {
  return s.replace(/\b(\w*salt\w*)=('[^']*'|"[^"]*"|[^\s;]+)/gi, `$1=${NOT_SHOWN_VALUE}`);
}
