/**
 * Every entry under a directory (type, mode, owner, group), read by one `find`: what file's
 * `recurse` changes. Bounded: more than MAX_TREE_ENTRIES entries fail the read with a message,
 * never a growing plan. In check mode the tree is the live one while no earlier effect reaches
 * under it (FactKind.under), else unknown: names an earlier task creates are not enumerable.
 */
import { sq } from '../../engine/shell.js';
import { TaskError, type FactKind } from '../contract.js';
import { keyValues } from './facts.js';
import { normPath } from './effects.js';

export const MAX_TREE_ENTRIES = 2000;

export interface TreeEntry {
  /** relative to the root */
  path: string;
  type: 'file' | 'directory' | 'link' | 'other';
  mode: string;
  owner: string;
  group: string;
}

export interface TreeFact {
  /** the root itself: a directory (not a link to one), or anything else (no entries read) */
  root: 'directory' | 'absent' | 'other';
  /** the root with symlinks resolved, when that is another name */
  real?: string;
  entries: TreeEntry[];
}

const TYPES: Record<string, TreeEntry['type']> = { f: 'file', d: 'directory', l: 'link' };

export const treeFact: FactKind<{ path: string }, TreeFact> = {
  kind: 'tree',
  key: (p) => `tree:${normPath(p.path)}`,
  // nothing but FactKind.under names it: read when its task runs, never ahead
  volatile: true,
  under: (p, live) => [normPath(p.path), ...(live.real ? [live.real] : [])],
  script: (p) =>
    [
      `p=${sq(p.path)}`,
      `if [ -d "$p" ] && [ ! -L "$p" ]; then echo root=directory; printf 'real=%s\\n' "$(cd -P -- "$p" && pwd)"`,
      // NUL-separated records (any name), one more than the bound (to tell it was passed), and
      // an E record when find met an error (a directory it may not read)
      `  printf 'entries='; { find "$p" -mindepth 1 -printf '%y %m %u %g %P\\0' 2>/dev/null || printf 'E 0 - - -\\0'; } | head -z -n ${MAX_TREE_ENTRIES + 1} | base64 -w0; echo`,
      `elif [ -e "$p" ] || [ -L "$p" ]; then echo root=other; else echo root=absent; fi`,
    ].join('\n'),
  parse: (out, p) => {
    const kv = keyValues(out);
    const root = (kv.root as TreeFact['root']) ?? 'absent';
    if (root !== 'directory') return { root, entries: [] };
    const records = Buffer.from(kv.entries ?? '', 'base64').toString('utf8').split('\0');
    records.pop(); // after the last NUL
    if (records.length > MAX_TREE_ENTRIES) throw new TaskError(`${p.path} holds more than ${MAX_TREE_ENTRIES} entries: recurse handles at most ${MAX_TREE_ENTRIES}`);
    const entries = records.map((r) => {
      const m = /^(\S) (\d+) (\S+) (\S+) ([\s\S]*)$/.exec(r);
      if (!m) throw new TaskError(`unexpected entry from find under ${p.path}: ${r.slice(0, 80)}`);
      if (m[1] === 'E') throw new TaskError(`cannot read the whole tree under ${p.path} (find failed: a directory it may not read?)`);
      return { path: m[5], type: TYPES[m[1]] ?? 'other', mode: m[2].padStart(4, '0'), owner: m[3], group: m[4] } satisfies TreeEntry;
    });
    const real = kv.real && normPath(kv.real) !== normPath(p.path) ? normPath(kv.real) : undefined;
    return { root, ...(real ? { real } : {}), entries };
  },
};
