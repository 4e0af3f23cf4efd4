/**
 * Task lists: the entries of tasks / pre_tasks / post_tasks / handlers / block sections / task
 * files, each into a node of the tree (load/tree.ts): a task, a block, a static import expanded
 * here (import_tasks, import_role), or a dynamic include (include_tasks, include_role).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import './zod-jitless.js';
import { conditionSyntaxError, hasTemplate } from '../engine/expr.js';
import { ACTION_SCHEMAS, ASSERT_THAT } from '../engine/actions.js';
import { ConfigError, displayPath, loadYaml, parseWith, where, type Path, type YamlSource } from './yaml.js';
import { allConditions, inherit, type Inherited, type OwnSettings } from './inherit.js';
import { checkArgs, checkExpressions, checkFiles, type FileCheckCtx } from './task-checks.js';
import { includedVars } from './include-vars.js';
import { varName, varsSchema } from './vars-file.js';
import type { Block, Include, LoopControl, Node, Task } from './tree.js';
import type { Module } from '../modules/contract.js';

/**
 * Names the engine gives every task (see taskScope in engine/scope.ts): `register:` under one
 * of them would be shadowed silently, so it is refused.
 */
export const RESERVED_NAMES = ['host', 'groups', 'hostvars', 'facts', 'run', 'item', 'secret'] as const;

export interface LoadCtx extends FileCheckCtx {
  modules: Map<string, Module>;
  errors: string[];
  /** the play's handlers so far (roles add theirs) */
  handlers: Task[];
  /** roles already expanded in this play (a role runs once per play: meta dependencies) */
  playRoles: Set<string>;
  /** task files being imported, for cycles */
  files: string[];
  /** roles being expanded, for dependency cycles */
  roles: string[];
  /** provision.yml's roles_path: where roles are looked for after the playbook's roles/ */
  rolesPath?: string[];
  /** the play's variable names (a loop_var must not hide one) */
  playVars?: Set<string>;
  loadRole: (ref: RoleEntry, parent: Inherited, src: YamlSource, path: Path, ctx: LoadCtx, tasksFrom?: string) => Node[];
}

export interface RoleEntry {
  name: string;
  vars: Record<string, unknown>;
  when?: string | boolean | (string | boolean)[];
  tags?: string[];
  become?: boolean;
}

/** Keywords Ansible has that provision does not implement yet: refused with this reason, never ignored. */
const NOT_YET: Record<string, string> = {
  become_method: 'not supported: become uses sudo (runuser when the login user is root)',
  async: 'not supported',
  poll: 'not supported',
  connection: 'not supported yet: delegate_to: localhost runs a task on the controller',
  with_items: 'write `loop:` instead (with_items flattens one level: `loop: "{{ list.flat() }}"`)',
  with_dict: "write `loop: \"{{ Object.entries(d).map(([key, value]) => ({ key, value })) }}\"` instead",
  local_action: 'write the module with `delegate_to: localhost` instead',
  remote_user: "not supported: the login user is the inventory's (`user:`, or `ansible_user` in an Ansible inventory); provision keeps one connection per host for the run",
  diff: 'not supported: --diff shows the diffs of the whole run',
};

const stringList = z.union([z.string().min(1), z.array(z.string().min(1))]).transform((v) => (Array.isArray(v) ? v : [v]));
const condition = z.union([z.string().min(1), z.boolean()]);
const conditions = z.union([condition, z.array(condition).min(1)]);
/** Ansible's `assert` with `that:` (engine/actions.ts runs it) */
const assertThatSchema = z
  .object({ that: conditions, fail_msg: z.string().optional(), msg: z.string().optional(), success_msg: z.string().optional(), quiet: z.boolean().optional() })
  .strict()
  .refine((o) => !(o.fail_msg !== undefined && o.msg !== undefined), 'assert takes fail_msg or msg (its old name), not both');

const loopControl = z
  .object({
    loop_var: varName.optional(),
    index_var: varName.optional(),
    label: z.string().min(1).optional(),
    pause: z.number().min(0).max(3600).optional(),
  })
  .strict();

/** Keywords of every node (block, task, include). */
const common = {
  name: z.string().min(1).optional(),
  when: conditions.optional(),
  tags: stringList.optional(),
  become: z.boolean().optional(),
  vars: varsSchema.optional(),
  ignore_errors: z.boolean().optional(),
  no_log: z.boolean().optional(),
  become_user: z.string().regex(/^[a-z_][a-z0-9_.-]*\$?$|\{\{[\s\S]*\}\}/i, "a user name, or a '{{ expression }}' giving one").optional(),
  environment: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.union([z.string(), z.number(), z.boolean()])).optional(),
  check_mode: z.boolean().optional(),
  any_errors_fatal: z.boolean().optional(),
  run_once: z.boolean().optional(),
  throttle: z.number().int().min(1).optional(),
};

const taskMeta = z
  .object({
    ...common,
    notify: stringList.optional(),
    listen: stringList.optional(),
    register: varName
      .refine((n) => !(RESERVED_NAMES as readonly string[]).includes(n), {
        message: `a name the engine reserves (${RESERVED_NAMES.join(', ')}): the registered result would be hidden; choose another name`,
      })
      .optional(),
    delegate_to: z.string().min(1).optional(),
    loop: z.union([z.array(z.unknown()), z.string().regex(/\{\{[\s\S]*\}\}/, "a list, or a '{{ expression }}' giving one")]).optional(),
    loop_control: loopControl.optional(),
    changed_when: conditions.optional(),
    failed_when: conditions.optional(),
    until: condition.optional(),
    retries: z.number().int().min(0).max(10000).optional(),
    delay: z.number().min(0).max(3600).optional(),
    args: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
const TASK_KEYS = new Set(Object.keys(taskMeta.shape));

const blockSchema = z
  .object({ ...common, block: z.array(z.unknown()), rescue: z.array(z.unknown()).optional(), always: z.array(z.unknown()).optional() })
  .strict();

const includeSchema = z
  .object({
    ...common,
    loop: taskMeta.shape.loop,
    loop_control: loopControl.optional(),
    include_tasks: z.union([z.string().min(1), z.object({ file: z.string().min(1) }).strict()]).optional(),
    import_tasks: z.union([z.string().min(1), z.object({ file: z.string().min(1) }).strict()]).optional(),
    include_role: z.object({ name: z.string().min(1), tasks_from: z.string().min(1).optional() }).strict().optional(),
    import_role: z.object({ name: z.string().min(1), tasks_from: z.string().min(1).optional() }).strict().optional(),
  })
  .strict();
const INCLUDE_KEYS = ['include_tasks', 'import_tasks', 'include_role', 'import_role'] as const;

/** Ansible's collection prefixes for the builtin modules. */
const PREFIXES = ['ansible.builtin.', 'ansible.legacy.'];
export const moduleName = (key: string): string => {
  const p = PREFIXES.find((x) => key.startsWith(x));
  return p ? key.slice(p.length) : key;
};

/** `k=v k2="v 2"` (Ansible's free-form arguments of modules other than command/shell). */
export function keyValueArgs(s: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/y;
  let pos = 0;
  while (pos < s.length) {
    if (/^\s*$/.test(s.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return undefined;
    let v = m[2];
    if (v.startsWith('"')) v = JSON.parse(v) as string;
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out[m[1]] = v;
    pos = re.lastIndex;
  }
  return Object.keys(out).length ? out : undefined;
}

/** The name of a task that has none: its module and main argument, as Ansible users read them. */
function derivedName(module: string, args: Record<string, unknown>): string {
  if (module === 'meta') return `meta ${String(args.action)}`;
  if (module === ASSERT_THAT) return 'assert';
  if (module === 'include_vars') return `include_vars ${String(args.file)}`;
  if (module === 'set_fact') return `set_fact ${Object.keys(args).filter((k) => k !== 'cacheable').join(', ')}`;
  for (const k of ['name', 'cmd', 'path', 'dest', 'msg', 'var', 'src', 'url', 'free_form']) {
    const v = args[k];
    if (typeof v === 'string' || typeof v === 'number') return `${module} ${String(v).split('\n')[0].slice(0, 60)}`;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return `${module} ${v.join(', ').slice(0, 60)}`;
  }
  return module;
}

/** The nodes of a list of task entries (`path` locates the list in `src`). */
export function loadNodes(src: YamlSource, list: unknown, path: Path, parent: Inherited, ctx: LoadCtx, handlers = false): Node[] {
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) {
    ctx.errors.push(`${where(src, path)}: a list of tasks`);
    return [];
  }
  return list.flatMap((entry, j) => {
    try {
      return loadNode(src, entry, [...path, j], parent, ctx, handlers);
    } catch (e) {
      if (e instanceof ConfigError) {
        ctx.errors.push(e.message);
        return [];
      }
      throw e;
    }
  });
}

/** The nodes of a task file (import_tasks, include_tasks, a role's tasks/*.yml). */
export function loadTaskFile(file: string, parent: Inherited, ctx: LoadCtx, handlers = false): Node[] {
  if (ctx.files.includes(file)) {
    throw new ConfigError(`${displayPath(ctx.files[ctx.files.length - 1])}: import cycle: ${[...ctx.files, file].map(displayPath).join(' -> ')}`);
  }
  const src = loadYaml(file, { ansibleBooleans: true });
  ctx.files.push(file);
  try {
    return loadNodes(src, src.value, [], parent, ctx, handlers);
  } finally {
    ctx.files.pop();
  }
}

type Common = { when?: unknown; tags?: string[]; become?: boolean; vars?: Record<string, unknown>; ignore_errors?: boolean; no_log?: boolean; become_user?: string; environment?: Record<string, unknown>; check_mode?: boolean; any_errors_fatal?: boolean; run_once?: boolean; throttle?: number };
const own = (m: Common): OwnSettings => ({
  when: m.when as OwnSettings['when'],
  tags: m.tags,
  become: m.become,
  vars: m.vars,
  ignore_errors: m.ignore_errors,
  no_log: m.no_log,
  become_user: m.become_user,
  environment: m.environment,
  check_mode: m.check_mode,
  any_errors_fatal: m.any_errors_fatal,
  run_once: m.run_once,
  throttle: m.throttle,
});

function checkConditions(src: YamlSource, path: Path, key: string, value: unknown, errors: string[]): void {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  list.forEach((c, k) => {
    if (typeof c !== 'string') return;
    const err = conditionSyntaxError(c);
    if (err) errors.push(`${where(src, Array.isArray(value) ? [...path, key, k] : [...path, key])}: ${key}: ${err}`);
  });
}

function loopControlOf(src: YamlSource, path: Path, lc: z.infer<typeof loopControl> | undefined, scopeVars: Inherited, playVars: Set<string> = new Set()): LoopControl | undefined {
  if (!lc) return undefined;
  const loopVar = lc.loop_var ?? 'item';
  for (const [key, name] of [['loop_var', lc.loop_var], ['index_var', lc.index_var]] as const) {
    if (name === undefined) continue;
    if ((RESERVED_NAMES as readonly string[]).includes(name) && name !== 'item') {
      throw new ConfigError(`${where(src, [...path, 'loop_control', key])}: loop_control.${key}: '${name}' is a name the engine reserves (${RESERVED_NAMES.join(', ')}); choose another name`);
    }
    if (Object.hasOwn(scopeVars.vars, name) || playVars.has(name)) {
      throw new ConfigError(`${where(src, [...path, 'loop_control', key])}: loop_control.${key}: '${name}' would hide the variable of that name set around this task; choose another name`);
    }
  }
  return { loopVar, ...(lc.index_var ? { indexVar: lc.index_var } : {}), ...(lc.label ? { label: lc.label } : {}), ...(lc.pause !== undefined ? { pause: lc.pause } : {}) };
}

function loadNode(src: YamlSource, raw: unknown, path: Path, parent: Inherited, ctx: LoadCtx, handlers: boolean): Node[] {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where(src, path)}: a task is a mapping with one module (or block, include_tasks, import_tasks, include_role, import_role)`);
  const obj = raw as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (Object.hasOwn(NOT_YET, k)) throw new ConfigError(`${where(src, [...path, k], true)}: '${k}': ${NOT_YET[k]} (see the README's language tables)`);
  }
  if ('rescue' in obj && !('block' in obj)) throw new ConfigError(`${where(src, [...path, 'rescue'], true)}: 'rescue' belongs to a block: put the tasks it guards under 'block:' beside it`);
  if ('always' in obj && !('block' in obj)) throw new ConfigError(`${where(src, [...path, 'always'], true)}: 'always' belongs to a block: put the tasks it follows under 'block:' beside it`);
  if ('block' in obj) return [loadBlock(src, obj, path, parent, ctx, handlers)];
  // a task's name is rendered when it is shown (engine/task-title.ts): its {{ }} must compile
  if (typeof obj.name === 'string') checkExpressions(src, obj.name, [...path, 'name'], ctx.errors);
  const inc = INCLUDE_KEYS.find((k) => k in obj);
  if (inc) return loadInclude(src, obj, path, parent, ctx, inc);
  return [loadTask(src, obj, path, parent, ctx, handlers)];
}

function loadBlock(src: YamlSource, obj: Record<string, unknown>, path: Path, parent: Inherited, ctx: LoadCtx, handlers: boolean): Block {
  const b = parseWith(src, blockSchema, obj, path);
  checkConditions(src, path, 'when', b.when, ctx.errors);
  checkExpressions(src, b.vars ?? {}, [...path, 'vars'], ctx.errors);
  const inner = inherit(parent, own(b));
  return {
    kind: 'block',
    ...(b.name ? { name: b.name } : {}),
    block: loadNodes(src, b.block, [...path, 'block'], inner, ctx, handlers),
    rescue: loadNodes(src, b.rescue, [...path, 'rescue'], inner, ctx, handlers),
    always: loadNodes(src, b.always, [...path, 'always'], inner, ctx, handlers),
    where: where(src, path),
  };
}

function loadInclude(src: YamlSource, obj: Record<string, unknown>, path: Path, parent: Inherited, ctx: LoadCtx, key: (typeof INCLUDE_KEYS)[number]): Node[] {
  const m = parseWith(src, includeSchema, obj, path);
  const present = INCLUDE_KEYS.filter((k) => m[k] !== undefined);
  if (present.length > 1) throw new ConfigError(`${where(src, path)}: one of ${present.join(', ')} per task`);
  checkConditions(src, path, 'when', m.when, ctx.errors);
  checkExpressions(src, m.vars ?? {}, [...path, 'vars'], ctx.errors);
  if (m.loop !== undefined) checkExpressions(src, m.loop, [...path, 'loop'], ctx.errors);
  const isStatic = key === 'import_tasks' || key === 'import_role';
  if (isStatic && m.loop !== undefined) {
    throw new ConfigError(`${where(src, [...path, 'loop'], true)}: ${key} is expanded at load and cannot loop: use ${key.replace('import', 'include')} to run it once per item`);
  }
  const inner = inherit(parent, own(m));
  const dir = dirname(src.file);
  /** A dynamic include: its own and its parents' conditions are checked once, when it runs; its tasks inherit the rest. */
  const dynamic = (fields: Pick<Include, 'name' | 'target' | 'what' | 'tasksFrom'>): Include => ({
    kind: 'include',
    ...fields,
    dir,
    ...(parent.when.length || m.when !== undefined ? { when: allConditions([...parent.when, ...(m.when === undefined ? [] : [m.when].flat())]) } : {}),
    ...(m.loop !== undefined ? { loop: m.loop } : {}),
    ...(m.loop_control ? { loopControl: loopControlOf(src, path, m.loop_control, parent, ctx.playVars) } : {}),
    tags: inner.tags,
    ignoreErrors: inner.ignoreErrors ?? false,
    inherited: { ...inner, when: [] },
    where: where(src, path),
  });
  if (key === 'import_tasks' || key === 'include_tasks') {
    const value = m[key]!;
    const target = typeof value === 'string' ? value : value.file;
    const at = typeof value === 'string' ? [...path, key] : [...path, key, 'file'];
    const literal = !hasTemplate(target);
    if (!literal) {
      if (isStatic) throw new ConfigError(`${where(src, at)}: import_tasks: the file is read at load and cannot be a {{ }} template: use include_tasks`);
      checkExpressions(src, target, at, ctx.errors);
    }
    const file = resolve(dir, target);
    if (literal && !existsSync(file)) throw new ConfigError(`${where(src, at)}: ${key}: ${displayPath(file)}: no such file`);
    if (isStatic) return loadTaskFile(file, inner, ctx);
    const include = dynamic({ name: m.name ?? `include_tasks ${target}`, target, what: 'tasks' });
    if (literal) include.loaded = loadTaskFile(file, include.inherited, ctx);
    return [include];
  }
  const role = m[key] as { name: string; tasks_from?: string };
  const at = [...path, key, 'name'];
  if (hasTemplate(role.name)) throw new ConfigError(`${where(src, at)}: ${key}: the role's name is read at load and cannot be a {{ }} template`);
  const entry: RoleEntry = { name: role.name, vars: {} };
  if (isStatic) return ctx.loadRole(entry, inner, src, at, ctx, role.tasks_from);
  const include = dynamic({ name: m.name ?? `include_role ${role.name}`, target: role.name, what: 'role', ...(role.tasks_from ? { tasksFrom: role.tasks_from } : {}) });
  // a role included by name is the same every time: loaded (and checked) now
  include.loaded = ctx.loadRole(entry, include.inherited, src, at, { ...ctx, playRoles: new Set() }, role.tasks_from);
  return [include];
}

/** `assert` written as Ansible's (`that:`), not as the host check (`cmd:`). */
function isThatForm(args: unknown): boolean {
  return args !== null && typeof args === 'object' && !Array.isArray(args) && Object.hasOwn(args, 'that');
}

function loadTask(src: YamlSource, obj: Record<string, unknown>, path: Path, parent: Inherited, ctx: LoadCtx, handler: boolean): Task {
  const modules = ctx.modules;
  const known = () => [...modules.keys(), ...Object.keys(ACTION_SCHEMAS)].sort().join(', ');
  const moduleKeys = Object.keys(obj).filter((k) => !TASK_KEYS.has(k));
  if (moduleKeys.length !== 1) {
    const what = moduleKeys.length === 0 ? 'names no module' : `names more than one module or unknown keys: ${moduleKeys.join(', ')}`;
    throw new ConfigError(`${where(src, path)}: task ${typeof obj.name === 'string' ? `'${obj.name}' ` : ''}${what} (modules: ${known()})`);
  }
  const key = moduleKeys[0];
  const thatForm = moduleName(key) === 'assert' && isThatForm(obj[key]);
  const name = thatForm ? ASSERT_THAT : moduleName(key);
  const mod = modules.get(name);
  const actionSchema = thatForm ? assertThatSchema : ACTION_SCHEMAS[name];
  if (!mod && !actionSchema) throw new ConfigError(`${where(src, [...path, key])}: unknown module '${key}' (modules: ${known()})`);
  const meta = parseWith(src, taskMeta, Object.fromEntries(Object.entries(obj).filter(([k]) => TASK_KEYS.has(k))), path);
  if (!handler && meta.listen) throw new ConfigError(`${where(src, [...path, 'listen'], true)}: 'listen' belongs to handlers`);
  if (handler && meta.notify) {
    throw new ConfigError(
      `${where(src, [...path, 'notify'], true)}: handler${meta.name ? ` '${meta.name}'` : ''}: ` +
        `'notify' is not supported on handlers (chained notification is not supported): notify every handler from the tasks that change something`,
    );
  }
  let args: unknown = obj[key];
  if (typeof args === 'string') {
    if (name === 'command' || name === 'shell') args = { cmd: args };
    else if (name === 'meta') args = { action: args };
    else if (name === 'fail' || name === 'debug') args = keyValueArgs(args) ?? { msg: args };
    else if (name === 'include_vars') args = keyValueArgs(args) ?? { file: args };
    else args = keyValueArgs(args) ?? args;
  }
  if (args === null || args === undefined) args = {};
  if (typeof args !== 'object' || Array.isArray(args)) throw new ConfigError(`${where(src, [...path, key])}: ${name}: arguments must be a mapping (or k=v words)`);
  // `args:` are the module's arguments too; those written under the module win
  const merged = { ...(meta.args ?? {}), ...(args as Record<string, unknown>) };
  if (mod) checkArgs(src, mod, merged, [...path, key]);
  else {
    const r = actionSchema.safeParse(merged);
    if (!r.success) throw new ConfigError(r.error.issues.map((i) => `${where(src, [...path, key, ...(i.path as Path)])}: ${name}: ${i.message.replace(/^Invalid input: /, '')}`).join('\n'));
  }
  if (thatForm) checkConditions(src, [...path, key], 'that', merged.that, ctx.errors);
  checkExpressions(src, thatForm ? { ...merged, that: undefined } : merged, [...path, key], ctx.errors);
  for (const k of ['when', 'changed_when', 'failed_when', 'until'] as const) checkConditions(src, path, k, meta[k], ctx.errors);
  if (meta.loop !== undefined) checkExpressions(src, meta.loop, [...path, 'loop'], ctx.errors);
  if (meta.delegate_to !== undefined) checkExpressions(src, meta.delegate_to, [...path, 'delegate_to'], ctx.errors);
  checkExpressions(src, meta.vars ?? {}, [...path, 'vars'], ctx.errors);
  checkExpressions(src, meta.environment ?? {}, [...path, 'environment'], ctx.errors);
  if (mod) checkFiles(src, name, merged, [...path, key], { ...ctx, roleDir: parent.role?.dir }, ctx.errors);
  if (name === 'include_vars') merged.data = includedVars(src, [...path, key], String(merged.file), { roleDir: parent.role?.dir, playbookDir: ctx.playbookDir }, ctx.errors);
  if ((meta.retries !== undefined || meta.delay !== undefined) && meta.until === undefined) {
    throw new ConfigError(`${where(src, [...path, meta.retries !== undefined ? 'retries' : 'delay'], true)}: retries and delay go with 'until:' (the condition to wait for)`);
  }
  const s = inherit(parent, own(meta));
  const ownName = meta.name ?? derivedName(name, merged);
  return {
    kind: 'task',
    name: s.role && !handler ? `${s.role.name} : ${ownName}` : ownName,
    module: name,
    args: merged,
    ...(s.when.length ? { when: allConditions(s.when) } : {}),
    notify: meta.notify ?? [],
    listen: meta.listen ?? [],
    tags: s.tags,
    register: meta.register,
    become: s.become,
    delegateTo: meta.delegate_to,
    ...(meta.delegate_to !== undefined ? { delegateWhere: where(src, [...path, 'delegate_to']) } : {}),
    ...(meta.notify ? { notifyWhere: where(src, [...path, 'notify']) } : {}),
    ignoreErrors: s.ignoreErrors ?? false,
    loop: meta.loop,
    ...(meta.loop_control ? { loopControl: loopControlOf(src, path, meta.loop_control, parent, ctx.playVars) } : {}),
    ...(meta.changed_when !== undefined ? { changedWhen: allConditions([meta.changed_when].flat()) } : {}),
    ...(meta.failed_when !== undefined ? { failedWhen: allConditions([meta.failed_when].flat()) } : {}),
    ...(meta.until !== undefined ? { until: { condition: meta.until, retries: meta.retries ?? 3, delay: meta.delay ?? 5 } } : {}),
    vars: s.vars,
    defaults: s.defaults,
    noLog: s.noLog ?? false,
    ...(s.becomeUser !== undefined ? { becomeUser: s.becomeUser } : {}),
    ...(s.environment ? { environment: s.environment } : {}),
    ...(s.checkMode !== undefined ? { checkMode: s.checkMode } : {}),
    ...(s.anyErrorsFatal ? { anyErrorsFatal: true } : {}),
    ...(s.runOnce ? { runOnce: true } : {}),
    ...(s.throttle !== undefined ? { throttle: s.throttle } : {}),
    ...(s.role ? { role: s.role } : {}),
    where: where(src, path),
  };
}
