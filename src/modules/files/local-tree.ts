/**
 * A directory `src` of copy, read on the controller: its subdirectories and regular files, in
 * order (a directory before what it holds). Symlinks and special files are refused (Ansible's
 * local_follow would follow links; here a tree is copied as it is or not at all), and the tree is
 * bounded in entries and bytes.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const MAX_LOCAL_ENTRIES = 500;
export const MAX_LOCAL_BYTES = 64 * 1024 * 1024;

export interface LocalEntry {
  /** relative to the src directory, '/'-separated */
  rel: string;
  type: 'file' | 'directory';
  size: number;
}

export interface LocalTree {
  kind: 'local-tree';
  entries: LocalEntry[];
  /** the files' bytes, by rel (after prepare(); empty from listLocalTree) */
  bytes: Map<string, Buffer>;
}

/** The entries under `dir` (not itself), or an error message naming what is refused. */
export function listLocalTree(dir: string, shown = dir): LocalEntry[] | string {
  const entries: LocalEntry[] = [];
  let total = 0;
  const walk = (rel: string): string | undefined => {
    const names = readdirSync(join(dir, rel)).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isSymbolicLink()) return `${shown}/${r} is a symlink: a directory src is copied without links (copy its target, or make the link with file state: link)`;
      if (!st.isDirectory() && !st.isFile()) return `${shown}/${r} is not a regular file or directory`;
      entries.push({ rel: r, type: st.isDirectory() ? 'directory' : 'file', size: st.isFile() ? st.size : 0 });
      if (entries.length > MAX_LOCAL_ENTRIES) return `${shown} holds more than ${MAX_LOCAL_ENTRIES} entries: a directory src is limited to ${MAX_LOCAL_ENTRIES}`;
      total += st.isFile() ? st.size : 0;
      if (total > MAX_LOCAL_BYTES) return `${shown} holds more than ${MAX_LOCAL_BYTES / 1024 / 1024} MiB: a directory src is limited to that`;
      if (st.isDirectory()) {
        const err = walk(r);
        if (err) return err;
      }
    }
    return undefined;
  };
  try {
    return walk('') ?? entries;
  } catch (e) {
    return `cannot read ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
}

/** The tree with its files' bytes. */
export function readLocalTree(dir: string, entries: LocalEntry[]): LocalTree {
  const bytes = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.rel, readFileSync(join(dir, e.rel))] as const));
  return { kind: 'local-tree', entries, bytes };
}

export const isLocalTree = (v: unknown): v is LocalTree => typeof v === 'object' && v !== null && (v as LocalTree).kind === 'local-tree';
