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

function effect(touches: (p: string) => boolean, apply: (before: FileFact, p: string) => FileFact | UnknownFact): Effect {
  return {
    touches: (key) => {
      const p = pathOf(key);
      return p !== undefined && touches(p);
    },
    apply: (before, key) => apply(before as FileFact, pathOf(key)!),
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
  );
}

/** The path and everything under it are gone; what was under it has no parent any more. */
export function removedTree(names: string[]): Effect {
  return effect(
    (p) => names.some((n) => p === n || isUnder(p, n)),
    (before, p) => (names.includes(p) ? { type: 'absent', parentExists: before.parentExists, ...(before.blocked ? { blocked: before.blocked } : {}) } : { type: 'absent', parentExists: false }),
  );
}

/**
 * `mkdir -p`: the path becomes `after(before)`; each missing ancestor becomes a directory of
 * `who` with the umask's mode; the children of all of them have a parent.
 */
export function madeDirectory(names: string[], who: IdentityFact, after: (before: FileFact) => FileFact): Effect {
  const dirs = names.map(normPath);
  const isAncestor = (p: string) => dirs.some((d) => isUnder(d, p));
  return effect(
    (p) => dirs.includes(p) || isAncestor(p) || dirs.includes(parentOf(p)) || isAncestor(parentOf(p)),
    (before, p) => {
      if (dirs.includes(p)) return after(before);
      if (isAncestor(p)) {
        if (before.type !== 'absent') return { ...before, parentExists: true };
        return { type: 'directory', parentExists: true, mode: modeUnder(who.umask, 0o777), owner: who.user, group: who.group };
      }
      return { ...before, parentExists: true, dirOwner: before.type === 'absent' && !before.parentExists ? who.user : before.dirOwner };
    },
  );
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
  );
}

/** Everything under `names` (a command's `creates`, a home directory's skeleton): unknown for `reason`. */
export function unknownTree(names: string[], reason: string, includeSelf = true): Effect {
  return effect(
    (p) => names.some((n) => (includeSelf && p === n) || isUnder(p, n)),
    () => new UnknownFact(reason),
  );
}

/** Creating `path` may create its missing parent directories (mkdir -p, useradd): they, and what had no parent, become unknown. */
export function missingParentsMade(home: string, why: string): Effect {
  const ancestors: string[] = [];
  for (let p = home.replace(/\/[^/]*$/, ''); p; p = p.replace(/\/[^/]*$/, '')) ancestors.push(p);
  const parent = (p: string) => p.replace(/\/[^/]*$/, '') || '/';
  return {
    touches: (k) => k.startsWith('file:') && (ancestors.includes(normPath(k.slice(5))) || ancestors.includes(parent(normPath(k.slice(5))))),
    apply: (before, k) => {
      const f = before as FileFact;
      const missing = ancestors.includes(normPath(k.slice(5))) ? f.type === 'absent' : !f.parentExists;
      return missing ? new UnknownFact(why) : before;
    },
  };
}
