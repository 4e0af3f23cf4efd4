/**
 * The tree the loader makes of a playbook: plays, whose bodies are lists of nodes: tasks,
 * blocks (block / rescue / always) and dynamic includes (include_tasks, include_role, expanded
 * at run time through the same loader). Static constructs (roles:, import_role, import_tasks,
 * meta dependencies) are expanded at load into these nodes. Every inherited keyword (when,
 * become, tags, vars, ignore_errors, ...) is resolved onto the tasks at load, in one place
 * (load/inherit.ts), so the engine reads each task's own settings only.
 */

export interface LoopControl {
  /** the loop item's name (`loop_control.loop_var`, default `item`) */
  loopVar: string;
  /** the item's index (`loop_control.index_var`) */
  indexVar?: string;
  /** how an item is shown (`loop_control.label`, rendered per item) */
  label?: string;
  /** seconds between items (`loop_control.pause`) */
  pause?: number;
}

export interface RoleRef {
  name: string;
  /** the role's directory: its templates/ and files/ are looked in first */
  dir: string;
}

export interface Task {
  kind: 'task';
  name: string;
  /** a module, or one of the engine's actions (engine/actions.ts: set_fact, debug, fail, meta) */
  module: string;
  args: Record<string, unknown>;
  /** every condition that must hold, its parents' first, as one expression */
  when?: string | boolean;
  notify: string[];
  /** file:line:col of `notify:` */
  notifyWhere?: string;
  /** handlers: the notification names it answers to besides its own (`listen`) */
  listen: string[];
  tags: string[];
  register?: string;
  become?: boolean;
  delegateTo?: string;
  /** file:line:col of `delegate_to:` (for the inventory cross-check). */
  delegateWhere?: string;
  ignoreErrors: boolean;
  /** `loop:` a list, or a `{{ }}` expression giving one; the task runs once per item. */
  loop?: unknown;
  loopControl?: LoopControl;
  changedWhen?: string | boolean;
  failedWhen?: string | boolean;
  /** `until` with `retries` and `delay` (seconds) */
  until?: { condition: string | boolean; retries: number; delay: number };
  /** role vars < block vars < task vars < include parameters: above the play's vars, rendered lazily */
  vars: Record<string, unknown>;
  /** role defaults: below the inventory */
  defaults: Record<string, unknown>;
  /** `no_log`: its arguments, changes and output are not shown */
  noLog: boolean;
  /** `become_user`: with become, run as this user instead of root */
  becomeUser?: string;
  /** `environment`: variables exported to every command the task runs (values may be {{ }}) */
  environment?: Record<string, unknown>;
  /** `check_mode: false`: runs for real in a dry run too; `true`: runs in check mode in a real run too */
  checkMode?: boolean;
  /** `any_errors_fatal`: its failure stops every host of the batch (engine/lockstep.ts) */
  anyErrorsFatal?: boolean;
  /** `run_once`: runs on one host of the batch; its result is every host's */
  runOnce?: boolean;
  /** `throttle`: at most this many hosts run it at once */
  throttle?: number;
  role?: RoleRef;
  /** made by the loader (the handler flushes between pre_tasks, tasks and post_tasks): not reported */
  implicit?: boolean;
  /** file:line:col of the task, for messages. */
  where: string;
}

export interface Block {
  kind: 'block';
  name?: string;
  block: Node[];
  rescue: Node[];
  always: Node[];
  where: string;
}

/** include_tasks / include_role: expanded when it runs, per loop item. */
export interface Include {
  kind: 'include';
  name: string;
  /** the task file (may be a `{{ }}` template, resolved against `dir`) or the role's name */
  target: string;
  what: 'tasks' | 'role';
  /** role: which of its task files (`tasks_from`) */
  tasksFrom?: string;
  dir: string;
  when?: string | boolean;
  loop?: unknown;
  loopControl?: LoopControl;
  tags: string[];
  ignoreErrors: boolean;
  /** what the included tasks inherit */
  inherited: import('./inherit.js').Inherited;
  /** loaded at load time when the target is literal: the same nodes every time */
  loaded?: Node[];
  where: string;
}

export type Node = Task | Block | Include;

export interface Play {
  name: string;
  hosts: string;
  become?: boolean;
  /** `connection: local`: the play's tasks run on the controller, with each host's variables */
  local?: boolean;
  /** `gather_facts: false`: the play needs no host facts (`facts`); a host none of whose plays does never reads them */
  gatherFacts?: boolean;
  /** `defaults` / `defaults_files`: the lowest precedence, below the inventory (like role defaults). */
  defaults: Record<string, unknown>;
  vars: Record<string, unknown>;
  tags: string[];
  /** what runs: pre_tasks, roles, tasks, post_tasks (with the handler flushes between them) */
  body: Node[];
  /** every task of the body known at load, in order (facts read ahead, listings) */
  tasks: Task[];
  handlers: Task[];
  /** `serial:` batch sizes (numbers or "N%"; the last repeats) and `max_fail_percentage` (engine/batches.ts). */
  serial?: (number | string)[];
  maxFailPercentage?: number;
  /** any_errors_fatal is set somewhere in the play: its hosts run in step (engine/lockstep.ts) */
  lockstep?: boolean;
  where: string;
  file: string;
}

export interface Playbook {
  file: string;
  plays: Play[];
}

/** The tasks of nodes known at load, in order: blocks' sections in turn, included files loaded at load. */
export function staticTasks(nodes: Node[]): Task[] {
  return staticNodes(nodes).filter((n): n is Task => n.kind === 'task');
}

/** Every task and include known at load (dynamic includes as themselves), in order. */
export function staticNodes(nodes: Node[]): (Task | Include)[] {
  const out: (Task | Include)[] = [];
  const walk = (ns: Node[]) => {
    for (const n of ns) {
      if (n.kind === 'task') out.push(n);
      else if (n.kind === 'block') [n.block, n.rescue, n.always].forEach(walk);
      else if (n.loaded) walk(n.loaded);
      else out.push(n);
    }
  };
  walk(nodes);
  return out;
}

/** Whether any_errors_fatal is set on a task or dynamic include of these nodes (or of the handlers). */
export function usesAnyErrorsFatal(nodes: Node[]): boolean {
  return staticNodes(nodes).some((n) => (n.kind === 'task' ? n.anyErrorsFatal : n.inherited.anyErrorsFatal));
}
