/**
 * Read-ahead: at the start of a play, the facts its tasks will read on their own host, gathered
 * in one round trip per `become` setting and kept in the host's FactCache (fact-cache.ts).
 *
 * Speculative: a task is looked at with the variables known at play start. One whose `when` is
 * already false is left out; one whose arguments cannot be rendered yet (a result it registers
 * later) reads its facts when it runs. Secrets render as their placeholders (nothing is generated
 * ahead). Reading a fact no task ends up using costs only bytes in the same round trip; it never
 * changes what a task sees.
 */
import type { Play, Task } from '../../load/playbook.js';
import type { Scope } from '../expr.js';
import type { Connection, FactRequest, Module, ModuleContext } from '../../modules/contract.js';
import { cacheable, FactCache } from './fact-cache.js';
import { readFacts } from './facts.js';

export interface ReadAheadHost {
  name: string;
  check: boolean;
  loginUser: string;
  become: boolean | undefined;
  root: string;
  modules: Map<string, Module>;
  /** The task's variables on this host, with `extra` (a loop item); secrets are not available. */
  scope(task: Task, extra?: Record<string, unknown>): Scope;
}

interface Read {
  req: FactRequest;
  become: boolean;
}

/** The facts `tasks` will read on the host itself, as far as they can be known now. */
export function plannedReads(host: ReadAheadHost, play: Play, tasks: Task[]): Read[] {
  const out = new Map<string, Read>();
  for (const task of tasks) {
    const mod = host.modules.get(task.module);
    // facts read as root without the task's environment are not the ones it reads
    if (mod?.type !== 'state' || task.until || task.becomeUser !== undefined || task.environment) continue;
    if (task.delegateTo !== undefined && task.delegateTo !== host.name) continue;
    const become = task.become ?? host.become ?? false;
    const ctx = { ...factsContext(host, play, become), ...(task.role ? { roleDir: task.role.dir } : {}) };
    try {
      const scope = host.scope(task);
      if (task.when !== undefined && !whenMayHold(scope, task.when)) continue;
      const items = task.loop === undefined ? [undefined] : scope.render(task.loop);
      if (!Array.isArray(items)) continue;
      for (const item of items) {
        const parsed = mod.schema.safeParse((item === undefined ? scope : host.scope(task, { [task.loopControl?.loopVar ?? 'item']: item })).render(task.args));
        if (!parsed.success) continue;
        for (const req of Object.values(mod.facts(parsed.data, ctx)) as FactRequest[]) {
          if (cacheable(req)) out.set(FactCache.id(req, become), { req, become });
        }
      }
    } catch {
      // not renderable yet (a registered result, a secret, a later error): read when it runs
    }
  }
  return [...out.values()];
}

/** Whether `when` may hold: false with today's variables leaves the task out (only a saving); an error keeps it. */
function whenMayHold(scope: Scope, when: unknown): boolean {
  try {
    return scope.condition(when as never);
  } catch {
    return true;
  }
}

function factsContext(host: ReadAheadHost, play: Play, become: boolean): ModuleContext {
  return {
    host: host.name,
    check: host.check,
    become,
    user: become ? 'root' : host.loginUser,
    root: host.root,
    playbookDir: play.file.replace(/\/[^/]*$/, ''),
    mask: (s) => s,
    note: () => undefined,
    render: () => {
      throw new Error('read-ahead renders no template');
    },
  };
}

/**
 * A fact request that a read-ahead's round trip may carry for someone else (the host facts, in
 * the first read-ahead of a host: one command less there, scheduler.ts), at most once. `become`:
 * whether a round trip with become may carry it (it reads the same as without: a root login).
 */
export class Rider<T> {
  private state: 'free' | 'taken' = 'free';
  readonly value: Promise<T>;
  private settle!: { resolve: (v: T) => void; reject: (e: unknown) => void };

  constructor(
    readonly req: FactRequest<T>,
    readonly become: boolean,
  ) {
    this.value = new Promise<T>((resolve, reject) => (this.settle = { resolve, reject }));
    // awaited only once taken
    this.value.catch(() => undefined);
  }

  get taken(): boolean {
    return this.state === 'taken';
  }

  /** The request, for a round trip (with `become`) about to start; undefined when it cannot carry it. */
  take(become: boolean): FactRequest<T> | undefined {
    if (this.state !== 'free' || (become && !this.become)) return undefined;
    this.state = 'taken';
    return this.req;
  }

  done(value: T): void {
    this.settle.resolve(value);
  }

  failed(e: unknown): void {
    this.settle.reject(e);
  }
}

/**
 * Read `reads` into `cache`: one round trip per become setting, the first able to also carrying
 * `rider`. A failure only means the tasks read for themselves. Whether every round trip succeeded.
 */
export async function readAhead<T>(conn: Connection, cache: FactCache, reads: Read[], rider?: Rider<T>): Promise<boolean> {
  let ok = true;
  for (const become of [false, true]) {
    const reqs = reads.filter((r) => r.become === become).map((r) => r.req);
    if (reqs.length === 0) continue;
    const carried = rider?.take(become);
    try {
      const values = await readFacts(conn, carried ? [...reqs, carried] : reqs, become, cache);
      if (carried) rider!.done(values[values.length - 1] as T);
    } catch (e) {
      if (carried) rider!.failed(e);
      // the tasks will read (and report) it themselves
      ok = false;
    }
  }
  return ok;
}
