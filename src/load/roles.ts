/**
 * Roles: roles/NAME/{tasks,handlers,defaults,vars,meta}/main.yml, found beside the playbook,
 * then in provision.yml's roles_path, then in the project's roles/. Expanded at load into the play's tree: its meta dependencies
 * first (once per play, as Ansible runs a role once unless its parameters differ), then its
 * tasks with the role's defaults (below the inventory) and vars and parameters (above the play's
 * vars); its handlers join the play's.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import './zod-jitless.js';
import { ConfigError, displayPath, loadYaml, parseWith, where, type Path, type YamlSource } from './yaml.js';
import { inherit, type Inherited } from './inherit.js';
import { loadTaskFile, type LoadCtx, type RoleEntry } from './tasks.js';
import { readVarsFile, varName, varsSchema } from './vars-file.js';
import type { Node, Task } from './tree.js';

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The directories a role is looked for in, in order. */
export function roleSearchPath(playbookDir: string, root: string | undefined, rolesPath: string[] = []): string[] {
  return [...new Set([join(playbookDir, 'roles'), ...rolesPath, ...(root ? [join(root, 'roles')] : [])])];
}

/** Where the role `name` is: a path (relative to the file naming it), or the first directory of the search path that has it. */
function roleDir(name: string, src: YamlSource, search: string[]): string | undefined {
  const dir = name.includes('/') ? resolve(dirname(src.file), name) : search.map((d) => join(d, name)).find(isDir);
  return dir && isDir(dir) ? dir : undefined;
}

/** A role's file `sub/NAME.yml` (or .yaml), or undefined. */
function roleFile(dir: string, sub: string, name = 'main'): string | undefined {
  for (const ext of ['.yml', '.yaml', '']) {
    const f = join(dir, sub, name + ext);
    if (existsSync(f) && !isDir(f)) return f;
  }
  return undefined;
}

function varsFile(file: string | undefined): Record<string, unknown> {
  if (!file) return {};
  const errors: string[] = [];
  const v = readVarsFile(file, errors, (src) => `${where(src, [])}: a mapping of variables`);
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return v;
}

const roleEntrySchema = z.union([
  z.string().min(1),
  z
    .object({
      role: z.string().min(1).optional(),
      name: z.string().min(1).optional(),
      vars: varsSchema.optional(),
      when: z.union([z.string().min(1), z.boolean(), z.array(z.union([z.string().min(1), z.boolean()]))]).optional(),
      tags: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
      become: z.boolean().optional(),
    })
    .catchall(z.unknown()),
]);

/** A `roles:` or `dependencies:` entry: a name, or a mapping whose other keys are role parameters. */
export function roleEntry(src: YamlSource, raw: unknown, path: Path): RoleEntry {
  const e = parseWith(src, roleEntrySchema, raw, path);
  if (typeof e === 'string') return { name: e, vars: {} };
  const { role, name, vars, when, tags, become, ...params } = e;
  const n = role ?? name;
  if (!n) throw new ConfigError(`${where(src, path)}: a role entry names its role ('role: NAME')`);
  for (const k of Object.keys(params)) varName.parse(k);
  return { name: n, vars: { ...params, ...(vars ?? {}) }, ...(when !== undefined ? { when } : {}), ...(tags !== undefined ? { tags: [tags].flat() } : {}), ...(become !== undefined ? { become } : {}) };
}

const metaSchema = z
  .object({
    dependencies: z.array(z.unknown()).optional(),
    allow_duplicates: z.boolean().optional(),
    galaxy_info: z.unknown().optional(),
    argument_specs: z.unknown().optional(),
    collections: z.unknown().optional(),
  })
  .strict();

/**
 * Expand a role where `src`/`path` names it: its dependencies' nodes, then its own (from
 * tasks/main.yml, or tasks/`tasksFrom`). Its handlers are added to ctx.handlers.
 */
export function loadRole(ref: RoleEntry, parent: Inherited, src: YamlSource, path: Path, ctx: LoadCtx, tasksFrom?: string): Node[] {
  const search = roleSearchPath(ctx.playbookDir, ctx.root, ctx.rolesPath);
  const dir = roleDir(ref.name, src, search);
  if (!dir) {
    throw new ConfigError(`${where(src, path)}: unknown role '${ref.name}' (looked in ${search.map((d) => displayPath(join(d, ref.name))).join(', ')})`);
  }
  const name = ref.name.split('/').pop()!;
  if (ctx.roles.includes(dir)) {
    throw new ConfigError(`${where(src, path)}: role dependency cycle: ${[...ctx.roles.map((d) => d.split('/').pop()), name].join(' -> ')}`);
  }
  const metaFile = roleFile(dir, 'meta');
  const metaSrc = metaFile ? loadYaml(metaFile, { ansibleBooleans: true }) : undefined;
  const meta = metaSrc ? parseWith(metaSrc, metaSchema, metaSrc.value ?? {}) : {};
  // a role runs once per play with the same parameters (unless its meta allows duplicates)
  const key = `${dir}\0${JSON.stringify(ref.vars)}\0${tasksFrom ?? ''}`;
  if (ctx.playRoles.has(key) && !meta.allow_duplicates) return [];
  ctx.playRoles.add(key);

  ctx.roles.push(dir);
  try {
    const nodes: Node[] = [];
    // a role sees its dependencies' defaults and vars below its own
    const depDefaults: Record<string, unknown> = {};
    const depVars: Record<string, unknown> = {};
    for (const [k, dep] of (meta.dependencies ?? []).entries()) {
      const depRef = roleEntry(metaSrc!, dep, ['dependencies', k]);
      nodes.push(...loadRole(depRef, parent, metaSrc!, ['dependencies', k], ctx));
      const depDir = roleDir(depRef.name, metaSrc!, search);
      if (depDir) {
        Object.assign(depDefaults, varsFile(roleFile(depDir, 'defaults')));
        Object.assign(depVars, varsFile(roleFile(depDir, 'vars')));
      }
    }
    const roleRef = { name, dir };
    const inner = inherit(parent, {
      when: ref.when,
      tags: ref.tags,
      become: ref.become,
      role: roleRef,
      defaults: { ...depDefaults, ...varsFile(roleFile(dir, 'defaults')) },
      vars: { ...depVars, ...varsFile(roleFile(dir, 'vars')), ...ref.vars },
    });
    const tasksFile = roleFile(dir, 'tasks', tasksFrom?.replace(/\.ya?ml$/, '') ?? 'main');
    if (tasksFrom && !tasksFile) throw new ConfigError(`${where(src, path)}: role '${name}' has no tasks file '${tasksFrom}' (in ${displayPath(join(dir, 'tasks'))})`);
    const handlersFile = roleFile(dir, 'handlers');
    if (handlersFile) {
      const seen = new Set(ctx.handlers.map((h) => `${h.role?.dir}\0${h.name}`));
      const handlers = loadTaskFile(handlersFile, { ...inner, when: [] }, ctx, true);
      for (const h of handlers) {
        if (h.kind !== 'task') throw new ConfigError(`${h.where}: handlers are tasks (no blocks or includes)`);
        if (!seen.has(`${dir}\0${h.name}`)) ctx.handlers.push(h as Task);
      }
    }
    if (tasksFile) nodes.push(...loadTaskFile(tasksFile, inner, ctx));
    return nodes;
  } finally {
    ctx.roles.pop();
  }
}
