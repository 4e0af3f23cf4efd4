/**
 * Playbooks: YAML lists of plays and `import_playbook` entries.
 * Everything is validated before any host is contacted; errors name file:line:column.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { conditionSyntaxError, hasTemplate, templateSyntaxError } from '../engine/expr.js';
import { checkTemplateFile } from './template-check.js';
import { patternError } from './inventory.js';
import { ConfigError, displayPath, formatPath, loadYaml, parseWith, where, zodIssues, type Path, type YamlSource } from './yaml.js';
import type { Module } from '../modules/contract.js';

/**
 * Names the engine gives every task (see taskScope in engine/scheduler.ts): `register:` under one
 * of them would be shadowed silently, so it is refused.
 */
export const RESERVED_NAMES = ['host', 'groups', 'hostvars', 'facts', 'run', 'item', 'secret'] as const;

export interface Task {
  name: string;
  module: string;
  args: Record<string, unknown>;
  when?: string | boolean;
  notify: string[];
  tags: string[];
  register?: string;
  become?: boolean;
  delegateTo?: string;
  /** file:line:col of `delegate_to:` (for the inventory cross-check). */
  delegateWhere?: string;
  ignoreErrors: boolean;
  /** `loop:` a list, or a `{{ }}` expression giving one; the task runs once per `item`. */
  loop?: unknown;
  /** file:line:col of the task, for messages. */
  where: string;
}

export interface Play {
  name: string;
  hosts: string;
  become?: boolean;
  /** `gather_facts: false`: the play needs no host facts (`facts`); a host none of whose plays does never reads them */
  gatherFacts?: boolean;
  /** `defaults` / `defaults_files`: the lowest precedence, below the inventory (like role defaults). */
  defaults: Record<string, unknown>;
  vars: Record<string, unknown>;
  tags: string[];
  tasks: Task[];
  handlers: Task[];
  /** `serial:` batch sizes (numbers or "N%"; the last repeats) and `max_fail_percentage` (engine/batches.ts). */
  serial?: (number | string)[];
  maxFailPercentage?: number;
  where: string;
  file: string;
}

export interface Playbook {
  file: string;
  plays: Play[];
}

const TASK_KEYS = new Set(['name', 'when', 'notify', 'tags', 'register', 'become', 'delegate_to', 'ignore_errors', 'loop']);
const stringList = z.union([z.string().min(1), z.array(z.string().min(1))]).transform((v) => (Array.isArray(v) ? v : [v]));
const varName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name: letters, digits, _');

const taskMeta = z.object({
  name: z.string().min(1, 'every task needs a name'),
  when: z.union([z.string().min(1), z.boolean()]).optional(),
  notify: stringList.optional(),
  tags: stringList.optional(),
  register: varName
    .refine((n) => !(RESERVED_NAMES as readonly string[]).includes(n), {
      message: `a name the engine reserves (${RESERVED_NAMES.join(', ')}): the registered result would be hidden; choose another name`,
    })
    .optional(),
  become: z.boolean().optional(),
  delegate_to: z.string().min(1).optional(),
  ignore_errors: z.boolean().optional(),
  loop: z.union([z.array(z.unknown()), z.string().regex(/\{\{[\s\S]*\}\}/, "a list, or a '{{ expression }}' giving one")]).optional(),
});

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
    gather_facts: z.boolean().optional(),
    vars: z.record(varName, z.unknown()).optional(),
    vars_files: z.array(z.string().min(1)).optional(),
    defaults: z.record(varName, z.unknown()).optional(),
    defaults_files: z.array(z.string().min(1)).optional(),
    tags: stringList.optional(),
    tasks: z.array(z.unknown()).optional(),
    handlers: z.array(z.unknown()).optional(),
    serial: z.union([serialValue, z.array(serialValue).min(1)]).optional(),
    max_fail_percentage: z.number().min(0).max(100).optional(),
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
}

interface Ctx {
  modules: Map<string, Module>;
  root?: string;
  /** template files already checked (path -> error or '') */
  checked: Map<string, string>;
}

export function loadPlaybook(file: string, modules: Map<string, Module>, opts: LoadOptions = {}): Playbook {
  const plays: Play[] = [];
  loadInto(resolve(file), { modules, root: opts.root, checked: new Map() }, plays, []);
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
  const src = loadYaml(file);
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
  const p = parseWith(src, playSchema, entry, [i]);
  const errors: string[] = [];
  const loadFiles = (key: 'vars_files' | 'defaults_files', files: string[] | undefined, into: Record<string, unknown>) => {
    for (const [j, vf] of (files ?? []).entries()) {
      const path = resolve(dirname(src.file), vf);
      mustExist(src, [i, key, j], `${key}:`, path);
      const vsrc = loadYaml(path);
      const v = vsrc.value ?? {};
      if (typeof v !== 'object' || Array.isArray(v)) {
        throw new ConfigError(`${where(src, [i, key, j])}: ${key} file ${displayPath(path)} must be a mapping of variables`);
      }
      parseWith(vsrc, z.record(varName, z.unknown()), v);
      checkExpressions(vsrc, v, [], errors);
      Object.assign(into, v);
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
  const load = (list: unknown[] | undefined, key: 'tasks' | 'handlers'): { task: Task; path: Path }[] =>
    (list ?? []).flatMap((t, j) => {
      const path: Path = [i, key, j];
      try {
        if (key === 'handlers' && t && typeof t === 'object' && 'notify' in t) {
          const hname = (t as { name?: unknown }).name;
          throw new ConfigError(
            `${where(src, [...path, 'notify'], true)}: handler${typeof hname === 'string' ? ` '${hname}'` : ''}: ` +
              `'notify' is not supported on handlers (chained notification is not supported): notify every handler from the tasks that change something`,
          );
        }
        return [{ task: loadTask(src, t, path, ctx, tags, errors), path }];
      } catch (e) {
        if (e instanceof ConfigError) {
          errors.push(e.message);
          return [];
        }
        throw e;
      }
    });
  const loaded = load(p.tasks, 'tasks');
  const loadedHandlers = load(p.handlers, 'handlers');
  const tasks = loaded.map((t) => t.task);
  const handlers = loadedHandlers.map((t) => t.task);
  // handlers that failed to load still count as known names (their own error is reported)
  const handlerNames = new Set<string>(
    (p.handlers ?? []).flatMap((h) => (h && typeof h === 'object' && typeof (h as { name?: unknown }).name === 'string' ? [(h as { name: string }).name] : [])),
  );
  const known = handlerNames.size ? `the play's handlers: ${[...handlerNames].map((n) => `'${n}'`).join(', ')}` : 'the play has no handlers';
  for (const { task: t, path } of loaded) {
    t.notify.forEach((n) => {
      if (!handlerNames.has(n)) errors.push(`${where(src, [...path, 'notify'])}: task '${t.name}' notifies '${n}', but the play has no handler of that name (${known})`);
    });
  }
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return { name: p.name ?? `hosts: ${hosts}`, hosts, become: p.become, defaults, vars, tags, tasks, handlers,
    ...(p.serial !== undefined ? { serial: Array.isArray(p.serial) ? p.serial : [p.serial] } : {}),
    ...(p.max_fail_percentage !== undefined ? { maxFailPercentage: p.max_fail_percentage } : {}),
    ...(p.gather_facts === false ? { gatherFacts: false } : {}),
    where: where(src, [i]), file: src.file };
}

function loadTask(src: YamlSource, raw: unknown, path: Path, ctx: Ctx, playTags: string[], errors: string[]): Task {
  const modules = ctx.modules;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${where(src, path)}: a task is a mapping with a name and one module`);
  }
  const obj = raw as Record<string, unknown>;
  const moduleKeys = Object.keys(obj).filter((k) => !TASK_KEYS.has(k));
  if (moduleKeys.length !== 1) {
    const what = moduleKeys.length === 0 ? 'names no module' : `names more than one module or unknown keys: ${moduleKeys.join(', ')}`;
    throw new ConfigError(`${where(src, path)}: task ${typeof obj.name === 'string' ? `'${obj.name}' ` : ''}${what} (modules: ${[...modules.keys()].sort().join(', ')})`);
  }
  const moduleName = moduleKeys[0];
  const mod = modules.get(moduleName);
  if (!mod) {
    throw new ConfigError(`${where(src, [...path, moduleName])}: unknown module '${moduleName}' (modules: ${[...modules.keys()].sort().join(', ')})`);
  }
  const meta = parseWith(src, taskMeta, Object.fromEntries(Object.entries(obj).filter(([k]) => TASK_KEYS.has(k))), path);
  let args = obj[moduleName];
  if (typeof args === 'string' && (moduleName === 'command' || moduleName === 'shell')) args = { cmd: args };
  if (args === null || args === undefined) args = {};
  if (typeof args !== 'object' || Array.isArray(args)) {
    throw new ConfigError(`${where(src, [...path, moduleName])}: ${moduleName}: arguments must be a mapping`);
  }
  checkArgs(src, mod, args as Record<string, unknown>, [...path, moduleName]);
  checkExpressions(src, args, [...path, moduleName], errors);
  if (typeof meta.when === 'string') {
    const err = conditionSyntaxError(meta.when);
    if (err) errors.push(`${where(src, [...path, 'when'])}: when: ${err}`);
  }
  if (meta.loop !== undefined) checkExpressions(src, meta.loop, [...path, 'loop'], errors);
  if (meta.delegate_to !== undefined) checkExpressions(src, meta.delegate_to, [...path, 'delegate_to'], errors);
  checkFiles(src, moduleName, args as Record<string, unknown>, [...path, moduleName], ctx, errors);
  return {
    name: meta.name,
    module: moduleName,
    args: args as Record<string, unknown>,
    when: meta.when,
    notify: meta.notify ?? [],
    tags: [...new Set([...playTags, ...(meta.tags ?? [])])],
    register: meta.register,
    become: meta.become,
    delegateTo: meta.delegate_to,
    ...(meta.delegate_to !== undefined ? { delegateWhere: where(src, [...path, 'delegate_to']) } : {}),
    ignoreErrors: meta.ignore_errors ?? false,
    loop: meta.loop,
    where: where(src, path),
  };
}

/** Validate module arguments statically; values with {{ }} are checked again after rendering. */
function checkArgs(src: YamlSource, mod: Module, args: Record<string, unknown>, path: Path): void {
  const r = mod.schema.safeParse(args);
  if (r.success) return;
  const templated = (p: (string | number)[]): boolean => {
    let v: unknown = args;
    for (const k of p) {
      if (hasTemplate(v)) return true;
      if (v === null || typeof v !== 'object') return false;
      v = (v as Record<string | number, unknown>)[k];
    }
    return hasTemplate(v) || (Array.isArray(v) && v.some(hasTemplate));
  };
  const issues = r.error.issues.filter((iss) => iss.code === 'unrecognized_keys' || !templated(iss.path as Path));
  if (issues.length === 0) return;
  const lines = zodIssues(src, new z.ZodError(issues), path);
  throw new ConfigError(lines.map((l) => `${l} (module ${mod.name})`).join('\n'));
}

/**
 * Every string under `value` is checked as render() will read it: unclosed or stray braces and
 * expressions that do not compile are load errors (nothing is evaluated).
 */
function checkExpressions(src: YamlSource, value: unknown, path: Path, errors: string[], depth = 0): void {
  if (typeof value === 'string') {
    const err = templateSyntaxError(value);
    if (err) errors.push(`${where(src, path)}: ${formatPath(path) || '(value)'}: ${err}`);
    return;
  }
  if (value === null || typeof value !== 'object' || depth > 64) return;
  if (Array.isArray(value)) value.forEach((v, k) => checkExpressions(src, v, [...path, k], errors, depth + 1));
  else for (const [k, v] of Object.entries(value)) checkExpressions(src, v, [...path, k], errors, depth + 1);
}

/** A literal path (no `{{ }}`) of a file on the controller. */
const literal = (v: unknown): v is string => typeof v === 'string' && v !== '' && !hasTemplate(v);

/**
 * Files that tasks name literally must exist, found where the modules look for them
 * (see readLocal in modules/files/copy.ts and mysql_db's import): `files/` or `templates/` next
 * to the playbook, then under the project root. Templates must be UTF-8 and compile.
 */
function checkFiles(src: YamlSource, moduleName: string, args: Record<string, unknown>, path: Path, ctx: Ctx, errors: string[]): void {
  const root = ctx.root;
  if (root === undefined) return;
  const near = (dir: string, rel: string): string => {
    const n = resolve(join(dirname(src.file), dir), rel);
    return existsSync(n) ? n : resolve(join(root, dir), rel);
  };
  const isFile = (f: string) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  };
  if ((moduleName === 'template' || moduleName === 'copy') && literal(args.src)) {
    const dir = moduleName === 'template' ? 'templates' : 'files';
    const file = near(dir, args.src);
    if (!isFile(file)) {
      errors.push(`${where(src, [...path, 'src'])}: ${moduleName}: src '${args.src}' not found (looked in ${displayPath(resolve(join(dirname(src.file), dir), args.src))} and ${displayPath(file)})`);
      return;
    }
    if (moduleName === 'template') {
      let err = ctx.checked.get(file);
      if (err === undefined) {
        err = checkTemplateFile(file);
        ctx.checked.set(file, err);
      }
      if (err) errors.push(`${where(src, [...path, 'src'])}: template: ${err}`);
    }
  }
  if (moduleName === 'mysql_db' && literal(args.import)) {
    const filesDir = resolve(root, 'files');
    const file = resolve(filesDir, args.import);
    if (file !== filesDir && !file.startsWith(filesDir + sep)) {
      errors.push(`${where(src, [...path, 'import'])}: mysql_db: import must be a path inside files/: ${args.import}`);
    } else if (!isFile(file)) {
      errors.push(`${where(src, [...path, 'import'])}: mysql_db: import file '${args.import}' not found (looked for ${displayPath(file)})`);
    }
  }
}
