/**
 * copy with a directory `src` on the controller, as Ansible copies one: `src: dir/` copies what
 * the directory holds into `dest`, `src: dir` copies the directory itself into `dest/dir`. Every
 * file is compared by its hash (file facts, read in one round trip) and written as copy writes
 * one (content.ts: diff, mode, owner, group, backup); `dest` and the missing directories are made
 * with `directory_mode` (else the umask's mode). owner and group apply to every directory of the
 * copied tree; an existing `dest` keeps its attributes, and existing directories keep their mode.
 */
import { basename } from 'node:path';
import { sq } from '../../engine/shell.js';
import { fact, TaskError, type Change, type Effect, type FactRequest, type ModuleContext } from '../contract.js';
import { accountFacts, requireAccounts, type AccountFacts } from '../users/facts.js';
import { fileFact, identityFact, modeUnder, type FileFact, type IdentityFact } from './facts.js';
import { madeDirectory, namesOf, normPath } from './effects.js';
import { permitted, planAttributes, planBytes, predictBytes, sha256 } from './content.js';
import type { LocalEntry, LocalTree } from './local-tree.js';
import { isLocalTree } from './local-tree.js';

export interface TreeCopyArgs {
  src?: string;
  dest: string;
  mode?: string;
  owner?: string;
  group?: string;
  directory_mode?: string;
  backup?: boolean;
}

interface Target {
  path: string;
  type: 'file' | 'directory';
  /** the entry of src (undefined: dest itself) */
  rel?: string;
}

/** Where everything lands: dest first, then each entry of the tree (a directory before what it holds). */
export function targetsOf(args: TreeCopyArgs, entries: LocalEntry[]): Target[] {
  const dest = normPath(args.dest);
  const base = args.src!.endsWith('/') ? dest : `${dest === '/' ? '' : dest}/${basename(normPath(args.src!))}`;
  const at = (rel: string) => `${base === '/' ? '' : base}/${rel}`;
  return [
    { path: dest, type: 'directory' },
    ...(base !== dest ? [{ path: base, type: 'directory' as const, rel: '' }] : []),
    ...entries.map((e) => ({ path: at(e.rel), type: e.type, rel: e.rel })),
  ];
}

const key = (t: Target) => `${t.type === 'directory' ? 'd' : 'f'}:${t.path}`;

export type TreeCopyFacts = { who: IdentityFact } & AccountFacts & Record<string, FileFact | IdentityFact | undefined>;

export function treeCopyFacts(args: TreeCopyArgs, entries: LocalEntry[], ctx: ModuleContext): Record<string, FactRequest> {
  const requests: Record<string, FactRequest> = { who: fact(identityFact, { become: ctx.become }), ...accountFacts(args.owner, args.group) };
  for (const t of targetsOf(args, entries)) requests[key(t)] = fact(fileFact, { path: t.path, content: t.type === 'file' });
  return requests;
}

const parentOf = (p: string) => p.replace(/\/[^/]*$/, '') || '/';

/**
 * Each target's fact as the plan sees it: below a directory this task makes, a path is absent
 * with a parent that exists by then, made by the task's user (who may then create there).
 */
function planned(args: TreeCopyArgs, tree: LocalTree, facts: TreeCopyFacts): { t: Target; f: FileFact; made: boolean }[] {
  const who = facts.who;
  const made = new Set<string>();
  const dirMode = args.directory_mode?.replace(/^0o/, '').padStart(4, '0') ?? modeUnder(who.umask, 0o777);
  return targetsOf(args, tree.entries).map((t) => {
    let f = facts[key(t)] as FileFact | undefined;
    if (!f) throw new TaskError(`${args.src} changed on the controller while the task ran (no fact for ${t.path})`);
    if (made.has(parentOf(t.path))) f = { type: 'absent', parentExists: true, nearDir: { owner: who.user, mode: dirMode }, dirWritable: true };
    const isMade = t.type === 'directory' && f.type === 'absent';
    if (isMade) made.add(t.path);
    return { t, f, made: isMade };
  });
}

export function planTreeCopy(args: TreeCopyArgs, facts: TreeCopyFacts, ctx: ModuleContext, tree: LocalTree): Change[] {
  requireAccounts(facts, args.owner, args.group);
  const who = facts.who;
  const dirMode = args.directory_mode?.replace(/^0o/, '').padStart(4, '0');
  const shown = isLocalTree(ctx.shown) ? ctx.shown : ctx.shown === undefined ? undefined : null;
  const changes: Change[] = [];
  for (const { t, f, made } of planned(args, tree, facts)) {
    const p = sq(t.path);
    const mine: Change[] = [];
    if (t.type === 'directory') {
      if (made) {
        if (f.blocked) throw new TaskError(`cannot create directory ${t.path}: ${f.blocked} is not a directory`);
        if (f.parentByInstall) throw new TaskError(`the directory above ${t.path} may be created by a pending package install`);
        mine.push({ action: 'create', target: t.path, summary: `create directory ${t.path}`, commands: [{ cmd: `mkdir -p -- ${p}${dirMode ? ` && chmod ${dirMode} ${p}` : ''}` }] });
        const fresh: FileFact = { type: 'directory', parentExists: true, mode: dirMode ?? modeUnder(who.umask, 0o777), owner: who.user, group: who.group };
        mine.push(...planAttributes(t.path, fresh, undefined, args.owner, args.group));
      } else if (f.type !== 'directory') {
        throw new TaskError(`${t.path} exists and is a ${f.type}, not a directory: cannot copy ${args.src} there`);
      } else if (t.rel !== undefined) {
        mine.push(...planAttributes(t.path, f, undefined, args.owner, args.group));
      }
    } else {
      const bytes = tree.bytes.get(t.rel!)!;
      const shownBytes = shown === undefined ? undefined : (shown?.bytes.get(t.rel!) ?? null);
      mine.push(...planBytes({ ...fileArgs(args), dest: t.path }, { sha256: sha256(bytes), size: bytes.length, bytes }, f, ctx, shownBytes));
    }
    changes.push(...permitted(f, who, mine, args));
  }
  return changes;
}

const fileArgs = (a: TreeCopyArgs) => ({ mode: a.mode, owner: a.owner, group: a.group, backup: a.backup });

/** Check mode: the directories made or changed, and the files written, in order. */
export function predictTreeCopy(args: TreeCopyArgs, facts: TreeCopyFacts, changes: Change[], tree: LocalTree): Effect[] {
  const who = facts.who;
  const dirMode = args.directory_mode?.replace(/^0o/, '').padStart(4, '0');
  const touched = new Set(changes.map((c) => c.target));
  const effects: Effect[] = [];
  for (const { t, f, made } of planned(args, tree, facts)) {
    if (!touched.has(t.path)) continue;
    if (t.type === 'directory') {
      const after = (before: FileFact): FileFact =>
        made
          ? { type: 'directory', parentExists: true, mode: dirMode ?? modeUnder(who.umask, 0o777), owner: args.owner ?? who.user, group: args.group ?? who.group }
          : { ...before, owner: args.owner ?? before.owner, group: args.group ?? before.group };
      effects.push(madeDirectory(namesOf(t.path, f), who, after, f));
    } else {
      const bytes = tree.bytes.get(t.rel!)!;
      effects.push(...predictBytes({ ...fileArgs(args), dest: t.path }, { sha256: sha256(bytes), size: bytes.length, bytes }, f, who));
    }
  }
  return effects;
}
