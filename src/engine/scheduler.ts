/**
 * The runner: plays in order; within a play, hosts in parallel (p-limit, --forks), each
 * host running the play's tasks in order, then its notified handlers.
 *
 * Per task: when -> render args -> facts (one round trip) -> plan -> [check: predict] |
 * [apply: run the plan's commands -> re-gather facts -> re-plan must be empty].
 */
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import pLimit from 'p-limit';
import { ExpressionError, Scope, UndefinedVariable } from './expr.js';
import { lastLines } from './shell.js';
import { gatherFacts, HOST_FACTS_SCRIPT, parseHostFacts } from './pipeline/facts.js';
import type { Inventory, InventoryHost } from '../load/inventory.js';
import { selectHosts } from '../load/inventory.js';
import type { Play, Playbook, Task } from '../load/playbook.js';
import type { ChangeReport, HostRecap, RunReport, TaskReport, TaskStatus } from './report.js';
import type { Masker, SecretStore } from './secrets.js';
import type { Emit } from './events.js';
import {
  ConnectionError,
  TaskError,
  Unknown,
  type Change,
  type Connection,
  type ExecOptions,
  type ExecResult,
  type HostFacts,
  type Module,
  type ModuleContext,
  type StateModule,
} from '../modules/contract.js';

interface Outcome {
  status: TaskStatus;
  error?: string;
  changes: ChangeReport[];
  registerData: Record<string, unknown>;
}

export interface RunOptions {
  check: boolean;
  limit?: string;
  tags: string[];
  skipTags: string[];
  forks: number;
  extraVars: Record<string, unknown>;
  root: string;
  modules: Map<string, Module>;
  connect: (host: InventoryHost) => Promise<Connection>;
  local: () => Connection;
  emit: Emit;
  masker: Masker;
  secrets: SecretStore;
  /** Emit command events (-v). */
  traceCommands?: boolean;
}

interface HostState {
  inv: InventoryHost;
  conn?: Connection;
  facts?: HostFacts;
  unreachable?: string;
  failed: boolean;
  registered: Record<string, unknown>;
  /** check mode: predicted facts by resource key */
  overlay: Map<string, unknown>;
  predicted: boolean;
  predictedRegisters: Set<string>;
  recap: HostRecap;
}

const errMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

const tail = (s: string, lines = 8) => lastLines(s, lines);

export class Runner {
  private hosts = new Map<string, HostState>();
  private tasks: TaskReport[] = [];
  private runPredicted = false;
  private readonly runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  private localConn?: Connection;
  private interrupted = false;
  private playPredicted = false;

  /** Stop after the tasks in flight (Ctrl-C): nothing new starts; the report says so. */
  interrupt(): void {
    this.interrupted = true;
  }

  constructor(
    private readonly inventory: Inventory,
    private readonly opts: RunOptions,
  ) {}

  private emit: Emit = (e) => this.opts.emit(this.opts.masker.maskDeep(e));

  async run(playbooks: Playbook[]): Promise<RunReport> {
    const started = Date.now();
    const limited = this.opts.limit ? new Set(selectHosts(this.inventory, this.opts.limit)) : undefined;
    const allTargets = new Set<string>();
    for (const pb of playbooks)
      for (const play of pb.plays) for (const h of selectHosts(this.inventory, play.hosts)) if (!limited || limited.has(h)) allTargets.add(h);
    for (const name of allTargets) {
      this.hosts.set(name, {
        inv: this.inventory.hosts.get(name)!,
        failed: false,
        registered: {},
        overlay: new Map(),
        predicted: false,
        predictedRegisters: new Set(),
        recap: { ok: 0, changed: 0, failed: 0, skipped: 0, unknown: 0, ignored: 0, unreachable: false },
      });
    }
    this.emit({ type: 'run-start', check: this.opts.check, playbooks: playbooks.map((p) => p.file), inventory: this.inventory.file, hosts: [...allTargets] });
    const limit = pLimit(Math.max(1, this.opts.forks));
    try {
      for (const pb of playbooks) {
        for (const play of pb.plays) {
          if (this.interrupted) break;
          const hosts = selectHosts(this.inventory, play.hosts).filter((h) => this.hosts.has(h));
          const active = hosts.filter((h) => !this.hosts.get(h)!.failed && !this.hosts.get(h)!.unreachable);
          this.emit({ type: 'play-start', play: play.name, hosts: active });
          // Cross-host check-mode state is read as it was when the play started, so that the
          // outcome does not depend on which host runs first.
          this.playPredicted = this.runPredicted;
          await Promise.all(active.map((h) => limit(() => this.runPlayOnHost(play, this.hosts.get(h)!))));
          this.emit({ type: 'play-end', play: play.name });
        }
      }
    } finally {
      await Promise.all([...this.hosts.values()].map((h) => h.conn?.close().catch(() => undefined)));
      await this.localConn?.close().catch(() => undefined);
    }
    const recap: Record<string, HostRecap> = {};
    for (const [name, h] of this.hosts) recap[name] = h.recap;
    const report: RunReport = this.opts.masker.maskDeep({
      check: this.opts.check,
      durationMs: Date.now() - started,
      recap,
      tasks: this.tasks,
      ...(this.interrupted ? { interrupted: true } : {}),
    });
    this.emit({ type: 'run-end', report });
    return report;
  }

  private async connect(h: HostState): Promise<boolean> {
    if (h.conn) return true;
    if (h.unreachable) return false;
    const t0 = Date.now();
    this.emit({ type: 'host-connecting', host: h.inv.name });
    let conn: Connection | undefined;
    try {
      conn = await this.opts.connect(h.inv);
      const r = await conn.exec(HOST_FACTS_SCRIPT, { become: false, timeoutMs: 30000 });
      if (r.code !== 0 && !r.stdout) throw new ConnectionError(h.inv.name, `gathering host facts failed (exit ${r.code}): ${tail(r.stderr, 3)}`);
      h.facts = parseHostFacts(r.stdout);
      h.conn = conn;
      this.emit({ type: 'host-connected', host: h.inv.name, ms: Date.now() - t0 });
      return true;
    } catch (e) {
      await conn?.close().catch(() => undefined);
      this.markUnreachable(h, errMessage(e));
      return false;
    }
  }

  private markUnreachable(h: HostState, error: string): void {
    h.unreachable = error;
    h.recap.unreachable = true;
    h.recap.error = error;
    this.emit({ type: 'host-unreachable', host: h.inv.name, error });
  }

  private async runPlayOnHost(play: Play, h: HostState): Promise<void> {
    if (!(await this.connect(h))) return;
    const notified = new Set<string>();
    const maybe = new Set<string>();
    for (const task of play.tasks) {
      // Interrupted: no new task starts, but the handlers of what did change still run.
      if (this.interrupted) break;
      if (!this.selected(task)) continue;
      const result = await this.runTask(play, task, h, false);
      const status = result.status;
      // A task that failed after applying part of its changes changed the host too.
      const partly = status === 'failed' && result.changes.some((c) => c.applied);
      if (status === 'changed' || partly) task.notify.forEach((n) => notified.add(n));
      if (status === 'unknown') task.notify.forEach((n) => maybe.add(n));
      if (h.unreachable) return;
      if (status === 'failed' && !task.ignoreErrors) {
        h.failed = true;
        break;
      }
    }
    // Handlers run once, in definition order, for this host, even after a failed task.
    for (const handler of play.handlers) {
      if (h.unreachable) break;
      if (!notified.has(handler.name) && maybe.has(handler.name)) {
        this.reportUnknownHandler(play, handler, h);
        continue;
      }
      if (!notified.has(handler.name)) continue;
      const { status } = await this.runTask(play, handler, h, true);
      if (status === 'failed' && !handler.ignoreErrors) h.failed = true;
    }
  }

  /** Check mode: a handler notified only by tasks whose outcome is unknown is itself unknown. */
  private reportUnknownHandler(play: Play, handler: Task, h: HostState): void {
    const result: TaskReport = {
      host: h.inv.name,
      play: play.name,
      task: handler.name,
      module: handler.module,
      status: 'unknown',
      changes: [],
      durationMs: 0,
      note: 'notified by a task whose outcome is unknown in check mode',
      handler: true,
    };
    this.tasks.push(result);
    h.recap.unknown++;
    this.emit({ type: 'task-result', result });
  }

  private selected(task: Task): boolean {
    const { tags, skipTags } = this.opts;
    if (skipTags.length && task.tags.some((t) => skipTags.includes(t))) return false;
    if (tags.length === 0) return true;
    return task.tags.includes('always') || task.tags.some((t) => tags.includes(t));
  }

  private scope(play: Play, h: HostState, extra: Record<string, unknown> = {}): Scope {
    return taskScope({
      inventory: this.inventory,
      host: h.inv,
      play,
      data: { ...h.registered, ...this.opts.extraVars, ...extra },
      facts: h.facts,
      run: { id: this.runId, check: this.opts.check },
      secret: (name) => this.opts.secrets.get(name),
    });
  }

  private async runTask(play: Play, task: Task, h: HostState, handler: boolean): Promise<TaskReport> {
    const t0 = Date.now();
    this.emit({ type: 'task-start', host: h.inv.name, play: play.name, task: task.name, handler });
    const notes: string[] = [];
    const outcome = task.loop === undefined ? await this.execute(play, task, h, this.scope(play, h), notes) : await this.executeLoop(play, task, h, notes);
    const { status, changes, registerData } = outcome;
    let error = outcome.error;
    if (status === 'unknown' && error) {
      notes.push(error);
      error = undefined;
    }
    const result: TaskReport = {
      host: h.inv.name,
      play: play.name,
      task: task.name,
      module: task.module,
      status,
      changes,
      durationMs: Date.now() - t0,
      ...(error ? { error: this.opts.masker.mask(error) } : {}),
      ...(notes.length ? { note: notes.join('; ') } : {}),
      ...(handler ? { handler: true } : {}),
      ...(status === 'failed' && task.ignoreErrors ? { ignored: true } : {}),
    };
    this.tasks.push(result);
    if (status === 'failed' && task.ignoreErrors) h.recap.ignored++;
    else h.recap[status]++;
    if (task.register) {
      h.registered[task.register] = { ...registerData, status, changed: status === 'changed', failed: status === 'failed', skipped: status === 'skipped', changes: changes.map((c) => c.summary) };
      if (this.opts.check && (status === 'changed' || status === 'unknown')) h.predictedRegisters.add(task.register);
    }
    this.emit({ type: 'task-result', result });
    return result;
  }

  private async execute(play: Play, task: Task, h: HostState, scope: Scope, notes: string[]): Promise<Outcome> {
    const mod = this.opts.modules.get(task.module)!;
    const delegated = task.delegateTo !== undefined;
    try {
      if (task.when !== undefined && !scope.condition(task.when)) {
        notes.push(`condition is false: ${String(task.when)}`);
        return { status: 'skipped', changes: [], registerData: {} };
      }
      const rendered = scope.render(task.args);
      const parsed = mod.schema.safeParse(rendered);
      if (!parsed.success) {
        throw new TaskError(
          `invalid arguments for ${mod.name} (${task.where}): ` +
            parsed.error.issues.map((i) => `${i.path.join('.') || '(args)'}: ${i.message.replace(/^Invalid input: /, '')}`).join('; '),
        );
      }
      const conn = await this.connectionFor(task, h);
      const toController = task.delegateTo === 'localhost' || task.delegateTo === '127.0.0.1';
      // the play's `become` is about the managed hosts, not the controller
      const become = task.become ?? (toController ? false : (play.become ?? h.inv.become));
      const ctx: ModuleContext = {
        host: h.inv.name,
        vars: {},
        check: this.opts.check,
        predicted: this.opts.check && (delegated ? this.playPredicted || h.predicted : h.predicted),
        root: this.opts.root,
        playbookDir: dirname(play.file),
        mask: this.opts.masker.mask,
        note: (s) => notes.push(s),
        render: (source, filename) => scope.template(source, filename),
      };
      if (mod.type === 'check') return { changes: [], ...(await this.runCheck(mod, parsed.data, conn, ctx, h)) };
      return await this.runState(mod, parsed.data, conn, ctx, task, h, become, delegated);
    } catch (e) {
      return { ...this.classify(e, h, task), changes: [], registerData: {} };
    }
  }

  /** `loop:` runs the task once per item (as `item`); the first failure stops the loop. */
  private async executeLoop(play: Play, task: Task, h: HostState, notes: string[]): Promise<Outcome> {
    let items: unknown;
    try {
      items = this.scope(play, h).render(task.loop);
    } catch (e) {
      return { ...this.classify(e, h, task), changes: [], registerData: {} };
    }
    if (!Array.isArray(items)) {
      return { status: 'failed', error: `loop: expected a list, got ${typeof items} (task at ${task.where})`, changes: [], registerData: {} };
    }
    const results: Record<string, unknown>[] = [];
    const changes: ChangeReport[] = [];
    const statuses: TaskStatus[] = [];
    for (const item of items) {
      const label = typeof item === 'string' || typeof item === 'number' ? String(item) : JSON.stringify(item);
      const itemNotes: string[] = [];
      const o = await this.execute(play, task, h, this.scope(play, h, { item }), itemNotes);
      statuses.push(o.status);
      changes.push(...o.changes.map((c) => ({ ...c, summary: `[${label}] ${c.summary}` })));
      itemNotes.forEach((n) => notes.push(`[${label}] ${n}`));
      results.push({ item, status: o.status, changed: o.status === 'changed', ...o.registerData });
      if (o.status === 'failed') {
        return { status: 'failed', error: `item ${label}: ${o.error}`, changes, registerData: { results } };
      }
      if (h.unreachable) break;
    }
    const status: TaskStatus = statuses.includes('changed')
      ? 'changed'
      : statuses.includes('unknown')
        ? 'unknown'
        : statuses.length > 0 && statuses.every((s) => s === 'skipped')
          ? 'skipped'
          : 'ok';
    return { status, changes, registerData: { results } };
  }

  private classify(e: unknown, h: HostState, task: Task): { status: TaskStatus; error: string } {
    if (e instanceof Unknown) return { status: 'unknown', error: e.message };
    if (e instanceof ConnectionError) {
      const owner = this.hosts.get(e.host);
      if (owner && !owner.unreachable) this.markUnreachable(owner, e.message);
      return { status: 'failed', error: owner === h ? `host unreachable: ${e.message}` : `connection to ${e.host} failed: ${e.message}` };
    }
    if (e instanceof UndefinedVariable) {
      const root = e.variable.split(/[.[ ]/)[0];
      if (this.opts.check && h.predictedRegisters.has(root)) {
        return { status: 'unknown', error: `depends on '${e.variable}', the result of a task that has not run (check mode)` };
      }
      return { status: 'failed', error: `${e.message} (task at ${task.where})` };
    }
    if (e instanceof ExpressionError) return { status: 'failed', error: `${e.message} (task at ${task.where})` };
    if (e instanceof TaskError) return { status: 'failed', error: e.message };
    return { status: 'failed', error: `internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` };
  }

  private async connectionFor(task: Task, h: HostState): Promise<Connection> {
    const target = task.delegateTo;
    if (target === undefined || target === h.inv.name) return this.trace(h.conn!, h.inv.name, task.name);
    if (target === 'localhost' || target === '127.0.0.1') {
      this.localConn ??= this.opts.local();
      return this.trace(this.localConn, h.inv.name, task.name);
    }
    const other = this.hosts.get(target);
    if (!other) throw new TaskError(`delegate_to: '${target}' is not a host of this run (use localhost, or a host the run targets)`);
    if (!(await this.connect(other))) throw new TaskError(`delegate_to: ${target} is unreachable: ${other.unreachable}`);
    return this.trace(other.conn!, h.inv.name, task.name);
  }

  /**
   * Wrap a connection: commands and outputs are reported (-v / -vv), and errors of a command
   * that are not transport failures (timeouts, refused channels) become task failures.
   */
  private trace(conn: Connection, host: string, task: string): Connection {
    const trace = this.opts.traceCommands;
    return {
      host: conn.host,
      close: () => conn.close(),
      exec: async (cmd: string, o?: ExecOptions): Promise<ExecResult> => {
        if (trace) this.emit({ type: 'command', host, task, cmd, phase: 'apply' });
        let r: ExecResult;
        try {
          r = await conn.exec(cmd, o);
        } catch (e) {
          if (e instanceof ConnectionError) throw e;
          const first = this.opts.masker.mask(cmd).split('\n')[0].slice(0, 160);
          throw new TaskError(`${conn.host}: ${errMessage(e)} (command: ${first})`);
        }
        if (trace) {
          // file contents read as facts are never printed (they may hold secrets in any encoding)
          const stdout = r.stdout.replace(/^content=.*$/gm, 'content=<not shown>');
          this.emit({ type: 'command-output', host, task, code: r.code, stdout, stderr: r.stderr });
        }
        return r;
      },
    };
  }

  private async runCheck(
    mod: Extract<Module, { type: 'check' }>,
    args: unknown,
    conn: Connection,
    ctx: ModuleContext,
    h: HostState,
  ): Promise<{ status: TaskStatus; error?: string; registerData: Record<string, unknown> }> {
    if (this.opts.check) {
      if (mod.writes?.(args)) return { status: 'unknown', error: 'not run in check mode: this check writes', registerData: {} };
      const pending = h.predicted || this.playPredicted;
      if (pending) return { status: 'unknown', error: 'not run in check mode: earlier tasks are predicted to change the hosts', registerData: {} };
    }
    const r = await mod.run(args, conn, ctx);
    ctx.note(r.message);
    return { status: r.ok ? 'ok' : 'failed', error: r.ok ? undefined : r.message, registerData: r.data ?? {} };
  }

  private async runState(
    mod: StateModule,
    args0: unknown,
    conn: Connection,
    ctx: ModuleContext,
    task: Task,
    h: HostState,
    become: boolean,
    delegated: boolean,
  ): Promise<{ status: TaskStatus; error?: string; changes: ChangeReport[]; registerData: Record<string, unknown> }> {
    const args = mod.prepare ? await mod.prepare(args0, ctx) : args0;
    const requests = mod.facts(args, ctx);
    const overlay = this.opts.check && !delegated ? h.overlay : undefined;
    const { facts } = await gatherFacts(conn, requests, { become, overlay });
    const changes = mod.plan(args, facts, ctx);
    const reports: ChangeReport[] = changes.map((c) => ({ action: c.action, target: c.target, summary: c.summary, ...(c.diff ? { diff: c.diff } : {}) }));
    if (changes.length === 0) return { status: 'ok', changes: [], registerData: {} };

    if (this.opts.check) {
      const predicted = mod.predict?.(args, facts, changes, ctx);
      if (!delegated) {
        h.predicted = true;
        if (predicted) {
          for (const [name, value] of Object.entries(predicted)) {
            const req = (requests as Record<string, { kind: { key(p: unknown): string }; params: unknown }>)[name];
            if (req && value !== undefined) h.overlay.set(req.kind.key(req.params), value);
          }
        }
      }
      this.runPredicted = true;
      return { status: 'changed', changes: reports, registerData: { predicted: true } };
    }

    // Apply exactly the plan, change by change.
    let last: ExecResult | undefined;
    for (const [i, change] of changes.entries()) {
      for (const c of change.commands) {
        last = await conn.exec(c.cmd, { stdin: c.stdin, become: c.become ?? become });
        if (last.code !== 0) {
          reports.forEach((r, j) => (r.applied = j < i));
          const done = changes.slice(0, i).map((x) => x.summary);
          const cmdLine = c.display ?? c.cmd.split('\n').find((l) => l.trim()) ?? c.cmd;
          const msg =
            `${change.summary}: command failed with exit code ${last.code}: ${this.opts.masker.mask(cmdLine.trim()).slice(0, 300)}` +
            (tail(last.stderr) ? `\n  stderr: ${tail(last.stderr).replace(/\n/g, '\n          ')}` : tail(last.stdout) ? `\n  stdout: ${tail(last.stdout).replace(/\n/g, '\n          ')}` : '') +
            (done.length ? `\n  already applied on this host before the failure: ${done.join('; ')}` : `\n  nothing of this task was applied`);
          return { status: 'failed', error: msg, changes: reports, registerData: { rc: last.code, stdout: last.stdout, stderr: last.stderr } };
        }
      }
    }
    reports.forEach((r) => (r.applied = true));
    const registerData = last ? { rc: last.code, stdout: last.stdout, stderr: last.stderr } : {};

    // Verify: re-read the facts; the plan must now be empty (one-shot actions aside).
    let remaining: Change[];
    try {
      const after = await gatherFacts(conn, mod.facts(args, ctx), { become });
      const verifyNotes: string[] = [];
      remaining = mod.plan(args, after.facts, { ...ctx, note: (s) => verifyNotes.push(s) }).filter((c: Change) => !c.oneShot);
    } catch (e) {
      const { error } = this.classify(e, h, task);
      return { status: 'failed', error: `applied, but verification could not run: ${error}`, changes: reports, registerData };
    }
    if (remaining.length) {
      return {
        status: 'failed',
        error: `applied, but verification failed: the host still differs: ${remaining.map((c) => c.summary).join('; ')}`,
        changes: reports,
        registerData,
      };
    }
    return { status: 'changed', changes: reports, registerData };
  }
}

/**
 * The variables of one task on one host (see the precedence in inventory.ts):
 * configuration is rendered lazily when used; data from hosts and the engine never is.
 */
export function taskScope(o: {
  inventory: Inventory;
  host: InventoryHost;
  play: Pick<Play, 'defaults' | 'vars'>;
  /** registered results, extra vars, loop item: data, never rendered */
  data: Record<string, unknown>;
  facts?: HostFacts;
  run: { id: string; check: boolean };
  secret: (name: string) => string;
}): Scope {
  const fns = { secret: (name: string) => o.secret(String(name)) };
  const groups: Record<string, string[]> = {};
  for (const [g, hs] of o.inventory.groups) groups[g] = [...hs];
  const hostInfo = (ih: InventoryHost) => ({ name: ih.name, address: ih.address, port: ih.port, user: ih.user, groups: ih.groups });
  // Every host's variables, rendered lazily in that host's own context, only when read.
  const hostvars: Record<string, unknown> = {};
  for (const [name, ih] of o.inventory.hosts) {
    hostvars[name] = new Scope(ih.vars, fns, { ...hostInfo(ih), host: hostInfo(ih) }).proxy(`hostvars.${name}`);
  }
  const raw: Record<string, unknown> = { ...o.play.defaults, ...o.host.vars, ...o.play.vars };
  const literal: Record<string, unknown> = {
    ...o.data,
    host: hostInfo(o.host),
    groups,
    hostvars,
    facts: o.facts ?? {},
    run: o.run,
  };
  return new Scope(raw, fns, literal);
}
