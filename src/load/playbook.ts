/**
 * Playbooks: YAML lists of plays and `import_playbook` entries, loaded into the tree of
 * load/tree.ts (task lists: load/tasks.ts, roles: load/roles.ts).
 * Everything is validated before any host is contacted; errors name file:line:column.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import './zod-jitless.js';
import { patternError } from './inventory.js';
import { ConfigError, displayPath, loadYaml, parseWith, where, type Path, type YamlSource } from './yaml.js';
import { loadNodes, type LoadCtx } from './tasks.js';
import { readVarsFile, varsSchema } from './vars-file.js';
import { loadRole, roleEntry } from './roles.js';
import { inherit, topLevel } from './inherit.js';
import { checkExpressions } from './task-checks.js';
import { staticTasks, usesAnyErrorsFatal, type Play, type Playbook, type Task } from './tree.js';
import type { Module } from '../modules/contract.js';

export type { Block, Include, Node, Play, Playbook, Task } from './tree.js';
export { RESERVED_NAMES } from './tasks.js';

/** Play keywords Ansible has that provision does not implement yet: refused with the reason. */
const PLAY_NOT_YET: Record<string, string> = {
  strategy: 'not supported: hosts run their tasks independently within a play, like the free strategy; plays are barriers',
  vars_prompt: 'not supported: pass values with --extra-vars',
  module_defaults: 'not supported yet',
  remote_user: "not supported: the login user is the inventory's (`user:`, or `ansible_user` in an Ansible inventory); provision keeps one connection per host for the run",
  port: "not supported: the SSH port is the inventory's (`port:`, or `ansible_port` in an Ansible inventory)",
  gather_subset: 'not supported: provision gathers one small fixed set of host facts (`gather_facts: false` skips them)',
  diff: 'not supported: --diff shows the diffs of the whole run',
};

const stringList = z.union([z.string().min(1), z.array(z.string().min(1))]).transform((v) => (Array.isArray(v) ? v : [v]));

const serialValue = z.union([z.number().int().min(0), z.string().regex(/^\d+%?$/, 'a number of hosts, or a percentage such as "30%"').transform((v) => (v.endsWith('%') ? v : Number(v)))]);
const playSchema = z
  .object({
    name: z.string().min(1).optional(),
    hosts: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .superRefine((h, ctx) => {
        const err = patternError(Array.isArray(h) ? h.join(',') : h);
        if (err) ctx.addIssue({ code: 'custom', message: err });
      }),
    become: z.boolean().optional(),
    become_user: z.string().regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'a user name').optional(),
    environment: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.union([z.string(), z.number(), z.boolean()])).optional(),
    connection: z.enum(['local', 'ssh'], { message: "connection: 'local' (run the play's tasks on the controller) or 'ssh'" }).optional(),
    gather_facts: z.boolean().optional(),
    vars: varsSchema.optional(),
    vars_files: z.array(z.string().min(1)).optional(),
    defaults: varsSchema.optional(),
    defaults_files: z.array(z.string().min(1)).optional(),
    tags: stringList.optional(),
    pre_tasks: z.array(z.unknown()).optional(),
    roles: z.array(z.unknown()).optional(),
    tasks: z.array(z.unknown()).optional(),
    post_tasks: z.array(z.unknown()).optional(),
    handlers: z.array(z.unknown()).optional(),
    serial: z.union([serialValue, z.array(serialValue).min(1)]).optional(),
    max_fail_percentage: z.number().min(0).max(100).optional(),
    any_errors_fatal: z.boolean().optional(),
    // inherited by every task and handler of the play, as a block's (tasks.ts)
    ignore_errors: z.boolean().optional(),
    no_log: z.boolean().optional(),
    check_mode: z.boolean().optional(),
    run_once: z.boolean().optional(),
    throttle: z.number().int().min(1).optional(),
  })
  .strict();

const importSchema = z.object({ import_playbook: z.string().min(1), name: z.string().optional() }).strict();

export interface LoadOptions {
  /**
   * Project root: when given, files a task names literally (template/copy `src`, mysql_db
   * `import`) must exist (looked up as the modules do: next to the playbook, then here) and
   * templates must compile.
   */
  root?: string;
  /** provision.yml's roles_path (absolute directories). */
  rolesPath?: string[];
}

interface Ctx {
  modules: Map<string, Module>;
  root?: string;
  rolesPath?: string[];
  /** template files already checked (path -> error or '') */
  checked: Map<string, string>;
}

export function loadPlaybook(file: string, modules: Map<string, Module>, opts: LoadOptions = {}): Playbook {
  const plays: Play[] = [];
  loadInto(resolve(file), { modules, root: opts.root, rolesPath: opts.rolesPath, checked: new Map() }, plays, []);
  return { file: resolve(file), plays };
}

/** A referenced file that must exist: a ConfigError at the reference's position otherwise. */
function mustExist(src: YamlSource, path: Path, what: string, file: string): void {
  if (!existsSync(file)) throw new ConfigError(`${where(src, path)}: ${what} ${displayPath(file)}: no such file`);
}

function loadInto(file: string, ctx: Ctx, plays: Play[], stack: string[]): void {
  if (stack.includes(file)) {
    throw new ConfigError(`${displayPath(stack[stack.length - 1])}: import cycle: ${[...stack, file].map(displayPath).join(' -> ')}`);
  }
  const src = loadYaml(file, { ansibleBooleans: true });
  if (!Array.isArray(src.value)) {
    throw new ConfigError(`${where(src, [])}: a playbook is a list of plays (each with 'hosts' and 'tasks') or '- import_playbook: file.yml' entries`);
  }
  const errors: string[] = [];
  src.value.forEach((entry, i) => {
    try {
      if (entry && typeof entry === 'object' && 'import_playbook' in entry) {
        const imp = parseWith(src, importSchema, entry, [i]);
        const target = resolve(dirname(file), imp.import_playbook);
        mustExist(src, [i, 'import_playbook'], 'import_playbook:', target);
        loadInto(target, ctx, plays, [...stack, file]);
        return;
      }
      plays.push(loadPlay(src, entry, i, ctx));
    } catch (e) {
      if (e instanceof ConfigError) errors.push(e.message);
      else throw e;
    }
  });
  if (errors.length) throw new ConfigError(errors.join('\n'));
}

function loadPlay(src: YamlSource, entry: unknown, i: number, ctx: Ctx): Play {
  const raw = entry && typeof entry === 'object' && !Array.isArray(entry) ? (entry as Record<string, unknown>) : {};
  for (const k of Object.keys(raw)) {
    if (Object.hasOwn(PLAY_NOT_YET, k)) throw new ConfigError(`${where(src, [i, k], true)}: '${k}': ${PLAY_NOT_YET[k]} (see the README's language tables)`);
  }
  const p = parseWith(src, playSchema, entry, [i]);
  const errors: string[] = [];
  const loadFiles = (key: 'vars_files' | 'defaults_files', files: string[] | undefined, into: Record<string, unknown>) => {
    for (const [j, vf] of (files ?? []).entries()) {
      const path = resolve(dirname(src.file), vf);
      mustExist(src, [i, key, j], `${key}:`, path);
      Object.assign(into, readVarsFile(path, errors, () => `${where(src, [i, key, j])}: ${key} file ${displayPath(path)} must be a mapping of variables`));
    }
  };
  checkExpressions(src, p.vars ?? {}, [i, 'vars'], errors);
  checkExpressions(src, p.defaults ?? {}, [i, 'defaults'], errors);
  const defaults: Record<string, unknown> = {};
  loadFiles('defaults_files', p.defaults_files, defaults);
  Object.assign(defaults, p.defaults ?? {});
  const vars: Record<string, unknown> = {};
  loadFiles('vars_files', p.vars_files, vars);
  Object.assign(vars, p.vars ?? {});
  const hosts = Array.isArray(p.hosts) ? p.hosts.join(',') : p.hosts;
  const tags = p.tags ?? [];
  const lctx: LoadCtx = {
    modules: ctx.modules,
    root: ctx.root,
    rolesPath: ctx.rolesPath,
    checked: ctx.checked,
    playbookDir: dirname(src.file),
    errors,
    handlers: [],
    playRoles: new Set(),
    files: [src.file],
    roles: [],
    loadRole,
    playVars: new Set([...Object.keys(vars), ...Object.keys(defaults)]),
  };
  // the play's own task keywords reach its tasks as an enclosing block's do
  const top = inherit(topLevel(tags, { ...(p.become_user !== undefined ? { becomeUser: p.become_user } : {}), ...(p.environment ? { environment: p.environment } : {}), ...(p.any_errors_fatal ? { anyErrorsFatal: true } : {}) }), {
    ignore_errors: p.ignore_errors,
    no_log: p.no_log,
    check_mode: p.check_mode,
    run_once: p.run_once,
    throttle: p.throttle,
  });
  // Ansible's order: pre_tasks, handlers flushed, roles, tasks, handlers flushed, post_tasks
  const pre = loadNodes(src, p.pre_tasks, [i, 'pre_tasks'], top, lctx);
  const roles = (p.roles ?? []).flatMap((r, k) => {
    try {
      return loadRole(roleEntry(src, r, [i, 'roles', k]), top, src, [i, 'roles', k], lctx);
    } catch (e) {
      if (e instanceof ConfigError) {
        errors.push(e.message);
        return [];
      }
      throw e;
    }
  });
  const main = loadNodes(src, p.tasks, [i, 'tasks'], top, lctx);
  const post = loadNodes(src, p.post_tasks, [i, 'post_tasks'], top, lctx);
  const ownHandlers = loadNodes(src, p.handlers, [i, 'handlers'], top, lctx, true);
  for (const h of ownHandlers) if (h.kind !== 'task') errors.push(`${h.where}: handlers are tasks (no blocks or includes)`);
  const handlers = [...lctx.handlers, ...(ownHandlers.filter((h) => h.kind === 'task') as Task[])];
  const flush = (at: string): Task => ({ ...FLUSH, where: at });
  const body = [
    ...pre,
    ...(pre.length && (roles.length || main.length || post.length) ? [flush(where(src, [i, 'pre_tasks']))] : []),
    ...roles,
    ...main,
    ...(post.length && (roles.length || main.length) ? [flush(where(src, [i, 'post_tasks']))] : []),
    ...post,
  ];
  // handlers that failed to load still count as known names (their own error is reported)
  const handlerNames = new Set<string>([...handlers.flatMap((h) => [h.name, ...h.listen])]);
  for (const h of p.handlers ?? []) if (h && typeof h === 'object' && typeof (h as { name?: unknown }).name === 'string') handlerNames.add((h as { name: string }).name);
  const known = handlerNames.size ? `the play's handlers: ${[...handlerNames].map((n) => `'${n}'`).join(', ')}` : 'the play has no handlers';
  const tasks = staticTasks(body);
  for (const t of tasks) {
    t.notify.forEach((n) => {
      if (!handlerNames.has(n)) errors.push(`${t.notifyWhere ?? t.where}: task '${t.name}' notifies '${n}', but the play has no handler of that name (${known})`);
    });
  }
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return { name: p.name ?? `hosts: ${hosts}`, hosts, become: p.become, ...(p.connection === 'local' ? { local: true } : {}), defaults, vars, tags, body, tasks, handlers,
    ...(p.serial !== undefined ? { serial: Array.isArray(p.serial) ? p.serial : [p.serial] } : {}),
    ...(p.max_fail_percentage !== undefined ? { maxFailPercentage: p.max_fail_percentage } : {}),
    ...(p.gather_facts === false ? { gatherFacts: false } : {}),
    ...(usesAnyErrorsFatal([...body, ...handlers]) ? { lockstep: true } : {}),
    where: where(src, [i]), file: src.file };
}

/** The handler flush Ansible does between pre_tasks, roles and tasks, and post_tasks: not reported. */
const FLUSH: Omit<Task, 'where'> = {
  kind: 'task', name: '(flush handlers)', module: 'meta', args: { action: 'flush_handlers' }, notify: [], listen: [], tags: ['always'],
  ignoreErrors: false, vars: {}, defaults: {}, noLog: false, implicit: true,
};

