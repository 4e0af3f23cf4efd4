/**
 * Check mode: what file changes do to the file facts of later tasks (see engine/prediction.ts).
 * Paths form a tree: creating a directory with `mkdir -p` creates its missing ancestors and
 * gives their children a parent; removing a path removes everything under it; a path reached
 * through a symlink is the same file as its target (FileFact.real).
 */
import { UnknownFact } from '../../engine/prediction.js';
import type { Effect } from '../contract.js';
import type { FileFact, IdentityFact } from './facts.js';
import { modeUnder } from './facts.js';

/** `app/` and `app` are one path. */
export const normPath = (p: string) => p.replace(/\/+$/, '') || '/';
const parentOf = (p: string) => p.replace(/\/[^/]*$/, '') || '/';
const isUnder = (p: string, dir: string) => p !== dir && p.startsWith(dir === '/' ? '/' : `${dir}/`);
const pathOf = (key: string) => (key.startsWith('file:') ? normPath(key.slice(5)) : undefined);

/** The names of one path: as given, and with symlinks resolved. */
export function namesOf(path: string, fact: FileFact): string[] {
  const names = [normPath(path)];
  if (fact.real && normPath(fact.real) !== names[0]) names.push(normPath(fact.real));
  return names;
}

/** Whether a change at any of `names` may change what lies under `dir`: it is `dir`, under it, or above it. */
export const crosses = (names: string[], dir: string) => names.some((n) => n === dir || isUnder(n, dir) || isUnder(dir, n));

function effect(touches: (p: string) => boolean, apply: (before: FileFact, p: string) => FileFact | UnknownFact, within: (dir: string) => boolean): Effect {
  return {
    within,
    touches: (key) => {
      const p = pathOf(key);
      return p !== undefined && touches(p);
    },
    apply: (before, key) => {
      const b = before as FileFact;
      const after = apply(b, pathOf(key)!);
      // what a non-root reader can reach (see fileFact.seenBy) is about the directories above,
      // which a change of the path itself leaves as they are
      if (after instanceof UnknownFact || after === b || (!b.hidden && !b.gates)) return after;
      return { ...after, ...(b.hidden ? { hidden: true } : {}), ...(b.gates ? { gates: after.gates ?? b.gates } : {}) };
    },
  };
}

/** The path itself becomes `after(before)` (content, attributes, a new file or link in an existing directory). */
export function pathBecomes(names: string[], after: (before: FileFact) => FileFact, regularFile = false): Effect {
  return effect(
    (p) => names.includes(p) || (regularFile && names.some((n) => isUnder(p, n))),
    (before, p) => {
      if (names.includes(p)) return after(before);
      // under a regular file nothing can be created
      return before.type === 'absent' ? { ...before, parentExists: false, blocked: names[0] } : before;
    },
    (dir) => crosses(names, dir),
  );
}

/** The path and everything under it are gone; what was under it has no parent any more. */
export function removedTree(names: string[]): Effect {
  return effect(
    (p) => names.some((n) => p === n || isUnder(p, n)),
    (before, p) => (names.includes(p) ? { type: 'absent', parentExists: before.parentExists, ...(before.blocked ? { blocked: before.blocked } : {}) } : { type: 'absent', parentExists: false }),
    (dir) => crosses(names, dir),
  );
}

/**
 * `mkdir -p`: the path becomes `after(before)`; each missing ancestor becomes a directory of
 * `who` with the umask's mode (and u+wx, as mkdir -p makes them). What lies under a directory
 * made now has a new nearest ancestor, whose owner and mode decide who may create there; what
 * lies under an existing directory whose owner or mode changes may be reached differently.
 * `made` is the path's fact when the task was planned: its `near` tells which ancestors exist.
 */
export function madeDirectory(names: string[], who: IdentityFact, after: (before: FileFact) => FileFact, made: FileFact): Effect {
  const dirs = names.map(normPath);
  const fresh = made.type === 'absent';
  const final = after(made);
  const changed = !fresh && (final.mode !== made.mode || final.owner !== made.owner || final.group !== made.group);
  // the deepest ancestor of the path as given that exists now (undefined: not known)
  const near = made.parentExists ? parentOf(dirs[0]) : made.near !== undefined ? normPath(made.near) : undefined;
  const isAncestor = (p: string) => dirs.some((d) => isUnder(d, p));
  const ancestorMode = modeUnder(who.umask, 0o777).replace(/^0(\d)/, (_m, u: string) => `0${Number(u) | 3}`);
  const attrs = (f: FileFact) => (f.owner && f.mode ? { owner: f.owner, mode: f.mode } : null);
  // What this task makes or changes, walked once: the path's names (when made or changed), and
  // the ancestors of each name that are (made: true) or may be (made: undefined) made.
  type Made = { dir: string; attrs: FileFact['nearDir']; made?: boolean };
  const madeNames: Made[] = fresh || changed ? dirs.map((d) => ({ dir: d, attrs: attrs(final), made: fresh })) : [];
  const madeAncestors: Made[] = [];
  dirs.forEach((d, i) => {
    const known = i === 0 && near !== undefined;
    for (let a = parentOf(d); ; a = parentOf(a)) {
      if (!known || isUnder(a, near)) madeAncestors.push({ dir: a, attrs: { owner: who.user, mode: ancestorMode }, made: known ? true : undefined });
      if (a === '/') break;
    }
  });
  /** The directory this task makes or changes above `p`: one of its names, else the deepest ancestor. */
  const above = (p: string): Made | undefined =>
    madeNames.find((m) => isUnder(p, m.dir)) ?? madeAncestors.reduce<Made | undefined>((best, m) => (isUnder(p, m.dir) && (!best || isUnder(m.dir, best.dir)) ? m : best), undefined);
  // the directories a user other than root must be able to search to reach `p` ('/' is never made)
  const gatesOver = (p: string) => [...madeNames, ...madeAncestors].filter((m) => m.dir !== '/' && isUnder(p, m.dir)).map((m) => m.attrs ?? { owner: '', mode: '0000' });
  const gated = (before: FileFact, p: string, value: FileFact): FileFact => {
    const gates = gatesOver(p);
    return gates.length ? { ...value, gates: [...(before.gates ?? []), ...gates] } : value;
  };
  return effect(
    (p) => dirs.includes(p) || isAncestor(p) || above(p) !== undefined,
    (before, p) => gated(before, p, next(before, p)),
    // mkdir -p changes nothing below an existing directory: only what it makes under `dir` counts
    (dir) => dirs.some((d) => isUnder(d, dir)),
  );

  function next(before: FileFact, p: string): FileFact {
    if (dirs.includes(p)) return after(before);
    if (isAncestor(p)) {
      if (before.type !== 'absent') return { ...before, parentExists: true };
      return { type: 'directory', parentExists: true, mode: ancestorMode, owner: who.user, group: who.group };
    }
    const a = above(p)!;
    const child = parentOf(p) === a.dir;
    if (before.type !== 'absent' || before.parentExists) {
      // it, or its directory, existed: only an existing directory's new owner or mode matters
      if (a.made !== false) return before;
      return { ...before, nearDir: child ? a.attrs : null };
    }
    const was = before.near !== undefined ? normPath(before.near) : undefined;
    const madeNow = a.made ?? (child || (was !== undefined ? !(was === a.dir || isUnder(was, a.dir)) : undefined));
    if (madeNow === true) return { ...before, parentExists: child, near: a.dir, nearDir: a.attrs };
    if (madeNow === undefined) return { ...before, nearDir: null };
    // it existed: only the directory this task changes (one of its names) has new attributes
    if (!changed || !dirs.includes(a.dir)) return before;
    return { ...before, nearDir: was === a.dir ? a.attrs : null };
  }
}

/**
 * A new symlink `names` -> `target`: what is later written through the link lands under its
 * target, and reading either side then cannot be predicted from path names alone.
 */
export function linkedTree(names: string[], target: string): Effect {
  const tgt = normPath(target.startsWith('/') ? target : `${parentOf(names[0])}/${target}`);
  return effect(
    (p) => names.some((n) => isUnder(p, n)) || isUnder(p, tgt),
    () => new UnknownFact(`reached through the symlink ${names[0]} -> ${target} that an earlier task creates`),
    (dir) => crosses([...names, tgt], dir),
  );
}

/** Everything under `names` (a command's `creates`, a home directory's skeleton): unknown for `reason`. */
export function unknownTree(names: string[], reason: string, includeSelf = true): Effect {
  return effect(
    (p) => names.some((n) => (includeSelf && p === n) || isUnder(p, n)),
    () => new UnknownFact(reason),
    (dir) => crosses(names, dir),
  );
}

/** Creating `path` may create its missing parent directories (mkdir -p, useradd): they, and what had no parent, become unknown. */
export function missingParentsMade(home: string, why: string): Effect {
  const ancestors: string[] = [];
  for (let p = home.replace(/\/[^/]*$/, ''); p; p = p.replace(/\/[^/]*$/, '')) ancestors.push(p);
  const parent = (p: string) => p.replace(/\/[^/]*$/, '') || '/';
  return {
    within: (dir) => isUnder(home, dir),
    touches: (k) => k.startsWith('file:') && (ancestors.includes(normPath(k.slice(5))) || ancestors.includes(parent(normPath(k.slice(5))))),
    apply: (before, k) => {
      const f = before as FileFact;
      const missing = ancestors.includes(normPath(k.slice(5))) ? f.type === 'absent' : !f.parentExists;
      return missing ? new UnknownFact(why) : before;
    },
  };
}
