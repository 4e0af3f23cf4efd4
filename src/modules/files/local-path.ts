/**
 * Where a task's controller file (`template src`, `copy src`, ...) is looked for, as Ansible
 * looks (docs: "Search paths in Ansible"): in the task's role, `templates/` (or `files/`) then
 * `tasks/`; next to the playbook, `templates/` (or `files/`) then the playbook's own directory;
 * then provision's project-wide `templates/` (or `files/`). A `src` that already starts with the
 * directory's name is not looked for under it twice. Absolute paths are themselves.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface LocalBase {
  root: string;
  playbookDir?: string;
  roleDir?: string;
}

/** Every place `rel` is looked for, in order. `dir`: 'files' or 'templates'. */
export function localCandidates(ctx: LocalBase, dir: string, rel: string): string[] {
  const under = rel.split('/')[0] !== dir;
  const out: string[] = [];
  if (ctx.roleDir) out.push(...(under ? [resolve(join(ctx.roleDir, dir), rel)] : []), resolve(join(ctx.roleDir, 'tasks'), rel));
  if (ctx.playbookDir) out.push(...(under ? [resolve(join(ctx.playbookDir, dir), rel)] : []), resolve(ctx.playbookDir, rel));
  out.push(resolve(join(ctx.root, dir), rel));
  return [...new Set(out)];
}

/** The first place `rel` exists, else the project-wide one (where the error then names it). */
export function localPath(ctx: LocalBase, dir: string, rel: string): string {
  const all = localCandidates(ctx, dir, rel);
  return all.find((p) => existsSync(p)) ?? all[all.length - 1];
}
