/**
 * file recurse: true (state: directory): mode, owner and group on every entry under the
 * directory, as Ansible applies them: a numeric mode to files and directories alike, a symbolic
 * one per entry (X: directories, and files some execute bit is set on). Links get owner and group
 * themselves (chown -h); with follow: true (Ansible's default) Ansible would also change what a
 * link points to, which may lie outside the tree: such a tree is refused instead.
 */
import { sq } from '../../engine/shell.js';
import { TaskError, type Change, type Effect } from '../contract.js';
import { notPermitted, type FileFact, type IdentityFact } from './facts.js';
import { normPath, pathBecomes } from './effects.js';
import { modeFor } from './symbolic-mode.js';
import type { TreeEntry, TreeFact } from './tree-fact.js';

export interface RecurseArgs {
  path: string;
  mode?: string;
  owner?: string;
  group?: string;
  follow?: boolean;
}

const join = (root: string, rel: string) => `${normPath(root) === '/' ? '' : normPath(root)}/${rel}`;

/** The entry's mode after the task (links have none of their own). */
const newMode = (args: RecurseArgs, type: FileFact['type'], mode: string | undefined) => (type === 'link' ? mode : (modeFor(args.mode, mode, type === 'directory') ?? mode));

/** The changes to the entries under the root, one per attribute of each entry that differs. */
export function planRecurse(args: RecurseArgs, tree: TreeFact, who: IdentityFact): Change[] {
  const changes: Change[] = [];
  for (const e of tree.entries) {
    const path = join(args.path, e.path);
    if (e.type === 'link' && args.follow !== false && (args.mode || args.owner || args.group)) {
      throw new TaskError(`${path} is a symlink: with follow: true Ansible also changes what it points to, which provision does not; give follow: false to change the link itself (owner and group) and leave its target`);
    }
    const p = sq(path);
    const mine: Change[] = [];
    const mode = newMode(args, e.type, e.mode);
    // five digits: GNU chmod keeps a directory's setuid/setgid bits unless told otherwise
    if (mode !== e.mode) mine.push({ action: 'chmod', target: path, summary: `${path}: mode ${e.mode} -> ${mode}`, commands: [{ cmd: `chmod 0${mode} -- ${p}` }] });
    if (args.owner && e.owner !== args.owner) mine.push({ action: 'chown', target: path, summary: `${path}: owner ${e.owner} -> ${args.owner}`, commands: [{ cmd: `chown -h ${sq(args.owner)} -- ${p}` }] });
    if (args.group && e.group !== args.group) mine.push({ action: 'chgrp', target: path, summary: `${path}: group ${e.group} -> ${args.group}`, commands: [{ cmd: `chgrp -h ${sq(args.group)} -- ${p}` }] });
    const why = notPermitted(asFile(e), who, mine);
    changes.push(...(why ? mine.map((c) => ({ ...c, uncertain: why })) : mine));
  }
  return changes;
}

const asFile = (e: TreeEntry): FileFact => ({ type: e.type, mode: e.mode, owner: e.owner, group: e.group, parentExists: true });

/** Check mode: each changed entry (under the root's names) with its new attributes. */
export function predictRecurse(args: RecurseArgs, tree: TreeFact, changes: Change[]): Effect[] {
  const changed = new Set(changes.map((c) => c.target));
  return tree.entries
    .filter((e) => changed.has(join(args.path, e.path)))
    .map((e) => {
      const names = [join(args.path, e.path), ...(tree.real ? [join(tree.real, e.path)] : [])];
      return pathBecomes(names, (before) => ({ ...before, mode: newMode(args, before.type, before.mode), owner: args.owner ?? before.owner, group: args.group ?? before.group }));
    });
}
