/**
 * Playbooks: YAML lists of plays and `import_playbook` entries.
 * Everything is validated before any host is contacted; errors name file:line:column.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { hasTemplate } from '../engine/expr.js';
import { ConfigError, displayPath, loadYaml, parseWith, where, zodIssues, type Path, type YamlSource } from './yaml.js';
import type { Module } from '../modules/contract.js';

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
  register: varName.optional(),
  become: z.boolean().optional(),
  delegate_to: z.string().min(1).optional(),
  ignore_errors: z.boolean().optional(),
  loop: z.union([z.array(z.unknown()), z.string().regex(/\{\{[\s\S]*\}\}/, "a list, or a '{{ expression }}' giving one")]).optional(),
});

const serialValue = z.union([z.number().int().min(0), z.string().regex(/^\d+%?$/, 'a number of hosts, or a percentage such as "30%"').transform((v) => (v.endsWith('%') ? v : Number(v)))]);
const playSchema = z
  .object({
    name: z.string().min(1).optional(),
    hosts: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    become: z.boolean().optional(),
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

export function loadPlaybook(file: string, modules: Map<string, Module>): Playbook {
  const plays: Play[] = [];
  loadInto(resolve(file), modules, plays, []);
  return { file: resolve(file), plays };
}

function loadInto(file: string, modules: Map<string, Module>, plays: Play[], stack: string[]): void {
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
        loadInto(resolve(dirname(file), imp.import_playbook), modules, plays, [...stack, file]);
        return;
      }
      plays.push(loadPlay(src, entry, i, modules));
    } catch (e) {
      if (e instanceof ConfigError) errors.push(e.message);
      else throw e;
    }
  });
  if (errors.length) throw new ConfigError(errors.join('\n'));
}

function loadPlay(src: YamlSource, entry: unknown, i: number, modules: Map<string, Module>): Play {
  const p = parseWith(src, playSchema, entry, [i]);
  const loadFiles = (key: 'vars_files' | 'defaults_files', files: string[] | undefined, into: Record<string, unknown>) => {
    for (const [j, vf] of (files ?? []).entries()) {
      const path = resolve(dirname(src.file), vf);
      const vsrc = loadYaml(path);
      const v = vsrc.value ?? {};
      if (typeof v !== 'object' || Array.isArray(v)) {
        throw new ConfigError(`${where(src, [i, key, j])}: ${key} file ${displayPath(path)} must be a mapping of variables`);
      }
      parseWith(vsrc, z.record(varName, z.unknown()), v);
      Object.assign(into, v);
    }
  };
  const defaults: Record<string, unknown> = {};
  loadFiles('defaults_files', p.defaults_files, defaults);
  Object.assign(defaults, p.defaults ?? {});
  const vars: Record<string, unknown> = {};
  loadFiles('vars_files', p.vars_files, vars);
  Object.assign(vars, p.vars ?? {});
  const hosts = Array.isArray(p.hosts) ? p.hosts.join(',') : p.hosts;
  const tags = p.tags ?? [];
  const errors: string[] = [];
  const load = (list: unknown[] | undefined, key: 'tasks' | 'handlers'): Task[] =>
    (list ?? []).flatMap((t, j) => {
      try {
        return [loadTask(src, t, [i, key, j], modules, tags)];
      } catch (e) {
        if (e instanceof ConfigError) {
          errors.push(e.message);
          return [];
        }
        throw e;
      }
    });
  const tasks = load(p.tasks, 'tasks');
  const handlers = load(p.handlers, 'handlers');
  const handlerNames = new Set(handlers.map((h) => h.name));
  tasks.forEach((t, j) =>
    t.notify.forEach((n) => {
      if (!handlerNames.has(n)) errors.push(`${where(src, [i, 'tasks', j, 'notify'])}: task '${t.name}' notifies '${n}', but the play has no handler of that name`);
    }),
  );
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return { name: p.name ?? `hosts: ${hosts}`, hosts, become: p.become, defaults, vars, tags, tasks, handlers,
    ...(p.serial !== undefined ? { serial: Array.isArray(p.serial) ? p.serial : [p.serial] } : {}),
    ...(p.max_fail_percentage !== undefined ? { maxFailPercentage: p.max_fail_percentage } : {}),
    where: where(src, [i]), file: src.file };
}

function loadTask(src: YamlSource, raw: unknown, path: Path, modules: Map<string, Module>, playTags: string[]): Task {
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
