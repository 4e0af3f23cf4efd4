/**
 * The scheduler: plays in order; within a play, hosts in parallel (p-limit, --forks), each
 * host walking the play's tasks in order (walk.ts, walk-host.ts), then its notified handlers
 * (handlers.ts).
 * It owns the hosts' connections, the registered results, the recap and the report; in check
 * mode it holds the run's Prediction (prediction.ts).
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pLimit from 'p-limit';
import { hasTemplate, UnknownVar, type Scope } from './expr.js';
import { varsSetBy, writtenModule } from './actions.js';
import { lastLines } from './shell.js';
import { HOST_FACTS_SCRIPT, hostFactsKind, parseHostFacts } from './pipeline/facts.js';
import { executeLoop, type Outcome, type TaskEnv } from './pipeline/task.js';
import { executeControlled, resultValue } from './pipeline/result-control.js';
import { walk, type Place } from './walk.js';
import { playHasStart, startMatcher } from './start-at.js';
import { Prediction } from './prediction.js';
import { FactCache, factCacheMode } from './pipeline/fact-cache.js';
import { plannedReads, readAhead, Rider, type ReadAheadHost } from './pipeline/read-ahead.js';
import { NextPlayReads } from './next-play.js';
import { checksAheadOn, mayFollow, runChecksAhead, sameRun, type ChecksAhead, type PlannedChecks } from './pipeline/checks-ahead.js';
import { taskScope } from './scope.js';
import { tracedConnection } from './trace.js';
import { pairScopes } from './display.js';
import { renderTitle } from './task-title.js';
import { runInBatches, type BatchStop } from './batches.js';
import { Lockstep, END_OF_PLAY } from './lockstep.js';
import { RunOnce } from './run-once.js';
import { walkHost } from './walk-host.js';
import { runHandlers } from './handlers.js';
import type { HostPlay, HostRunner, HostState, Opened, Warm } from './host-state.js';
import type { Inventory, InventoryHost } from '../load/inventory.js';
import { selectHosts } from '../load/inventory.js';
import type { Include, Play, Playbook, Task } from '../load/playbook.js';
import type { HostRecap, RunIdentity, RunReport, TaskReport } from './report.js';
import type { Masker, SecretStore } from './secrets.js';
import type { Emit } from './events.js';
import { ConnectionError, fact, TaskError, type CheckCommand, type Connection, type HostFacts, type HostLink, type Module } from '../modules/contract.js';

export { taskScope } from './scope.js';

export interface RunOptions {
  check: boolean;
  limit?: string;
  tags: string[];
  skipTags: string[];
  forks: number;
  extraVars: Record<string, unknown>;
  root: string;
  /** provision.yml's roles_path, for roles included at run time. */
  rolesPath?: string[];
  modules: Map<string, Module>;
  /** `connectTimeoutMs`: instead of the host's own (a reboot's connect_timeout). */
  connect: (host: InventoryHost, opts?: { connectTimeoutMs?: number }) => Promise<Connection>;
  local: () => Connection;
  emit: Emit;
  masker: Masker;
  secrets: SecretStore;
  /** Emit command events (-v). */
  traceCommands?: boolean;
  /** --start-at-task: plays before the first one with a matching task run nothing, and that play starts there (start-at.ts, walk.ts) */
  startAtTask?: string;
  /** --shard K/N: only this slice's hosts run; `of` gives every targeted host's slice (shard.ts) */
  shard?: { index: number; count: number; hosts: Set<string>; of: Map<string, number> };
  /** what the run is, put in the report as `run` (report merge compares it) */
  identity?: RunIdentity;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const errMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

const LOCALHOST = new Set(['localhost', '127.0.0.1']);

export class Runner implements HostRunner {
  private hosts = new Map<string, HostState>();
  private tasks: TaskReport[] = [];
  private readonly runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  private localConn?: Connection;
  interrupted = false;
  /** the plays are over: nothing more is read ahead */
  private ended = false;
  readonly prediction?: Prediction;
  /** the controller's host facts (plays with connection: local) */
  private localFacts?: Promise<HostFacts>;
  private localFactsValue?: HostFacts;
  /** the hosts of the batch running now, in order (run_once runs on the first of them still in the play) */
  private batch: string[] = [];
  readonly runOnce = new RunOnce(() => this.batch.map((n) => this.hosts.get(n)!));
  readonly throttles = new Map<Task, ReturnType<typeof pLimit>>();
  private stopped?: BatchStop;
  /** any_errors_fatal: the current batch's hosts in step (lockstep.ts) */
  lockstep?: Lockstep;
  /** check mode: a task with any_errors_fatal may have failed, and then the run stopped there */
  private runMayStop?: string;
  private readonly cacheMode = factCacheMode();
  /** the controller (tasks delegated to localhost) changes by other means too: its facts are always read */
  private readonly localCache = new FactCache('off');
  /** facts of each host's next play, read while it waits for that play (next-play.ts) */
  private nextPlay = new NextPlayReads([], 'off');
  /** --start-at-task: the play where the run starts */
  private startPlay?: Play;

  constructor(
    private readonly inventory: Inventory,
    readonly opts: RunOptions,
  ) {
    if (opts.check) this.prediction = new Prediction();
  }

  /** Stop after the tasks in flight (Ctrl-C): nothing new starts; the report says so. */
  interrupt(): void {
    this.interrupted = true;
  }

  private emit: Emit = (e) => this.opts.emit(this.opts.masker.maskDeep(e));

  async run(playbooks: Playbook[]): Promise<RunReport> {
    const started = Date.now();
    const limited = this.opts.limit ? new Set(selectHosts(this.inventory, this.opts.limit)) : undefined;
    // each play with the hosts it targets in this run (--limit), in order: selected once, used by all below
    const sliced = this.opts.shard?.hosts;
    let plays = playbooks.flatMap((pb) => pb.plays.map((play) => ({ play, hosts: new Set(selectHosts(this.inventory, play.hosts).filter((h) => (!limited || limited.has(h)) && (!sliced || sliced.has(h)))) })));
    const startAt = this.opts.startAtTask;
    if (startAt !== undefined) {
      // the plays before the start are not run: their hosts are not even connected
      const first = plays.findIndex((p) => playHasStart(p.play, startAt));
      plays = first < 0 ? [] : plays.slice(first);
      this.startPlay = plays[0]?.play;
    }
    const allTargets = new Set(plays.flatMap((p) => [...p.hosts]));
    const gather = new Set(plays.filter((p) => p.play.gatherFacts !== false).flatMap((p) => [...p.hosts]));
    for (const name of allTargets) {
      this.hosts.set(name, {
        inv: this.inventory.hosts.get(name)!,
        gather: gather.has(name),
        failed: false,
        registered: {},
        recap: { ok: 0, changed: 0, failed: 0, skipped: 0, unknown: 0, ignored: 0, unreachable: false },
        playing: false,
        inPlay: false,
        playStartEffects: 0,
        cache: new FactCache(this.cacheMode),
      });
    }
    this.emit({ type: 'run-start', check: this.opts.check, playbooks: playbooks.map((p) => p.file), inventory: this.inventory.file, hosts: [...allTargets] });
    this.nextPlay = new NextPlayReads(plays, this.cacheMode);
    const limit = pLimit(Math.max(1, this.opts.forks));
    this.warmUp(pLimit(Math.max(1, this.opts.forks)), new Set(plays.filter((p) => !p.play.local).flatMap((p) => [...p.hosts].filter((h) => !this.inventory.hosts.get(h)?.local))));
    try {
      for (const { play, hosts } of plays) {
        if (this.interrupted || this.stopped) break;
        const active = [...hosts].filter((h) => !this.hosts.get(h)!.failed && !this.hosts.get(h)!.unreachable);
        // serial: each batch runs the whole play; a batch can stop the run (engine/batches.ts).
        this.stopped = await runInBatches(play, active, {
          interrupted: () => this.interrupted,
          failed: (h) => this.hosts.get(h)!.failed || !!this.hosts.get(h)!.unreachable,
          fatal: () => this.lockstep?.fatal && { failed: [...this.lockstep.fatal.failed], reason: `'${this.lockstep.fatal.task}' failed on ${this.lockstep.fatal.host}, and any_errors_fatal stops every host` },
          run: async (batch, label) => {
            this.emit({ type: 'play-start', play: play.name, hosts: batch, ...(label ? { batch: label } : {}) });
            // facts are kept for one play at most (delegated tasks store some on other hosts)
            for (const st of this.hosts.values()) st.cache.clear();
            this.batch = batch;
            this.lockstep = play.lockstep ? new Lockstep(batch) : undefined;
            this.runOnce.clear();
            this.throttles.clear();
            for (const h of batch) {
              const st = this.hosts.get(h)!;
              st.playing = st.inPlay = true;
              st.playStartEffects = this.prediction?.host(h).size ?? 0;
            }
            await Promise.all(batch.map((h) => limit(() => this.runPlayOnHost(play, this.hosts.get(h)!))));
            for (const h of batch) this.hosts.get(h)!.playing = false;
            const maybe = this.lockstep?.maybe;
            if (maybe && !this.lockstep?.fatal && this.prediction) {
              // the real run may stop here: what every host does after this batch may not happen
              this.runMayStop ??= `the run stops if '${maybe.task}' fails on ${maybe.host} (any_errors_fatal; its outcome is unknown in check mode)`;
              for (const name of this.hosts.keys()) this.prediction.mayStop(name, this.runMayStop);
            }
            this.emit({ type: 'play-end', play: play.name });
          },
        });
      }
    } finally {
      this.ended = true;
      // opened ahead and never used (the host failed, or the run stopped, first): one still
      // queued never starts; one in flight is closed once it ends
      for (const h of this.hosts.values()) {
        if (h.warm?.state === 'queued') h.warm.state = 'claimed';
        void h.warm?.result.then((o) => (o instanceof Error ? undefined : o.conn.close().catch(() => undefined)));
      }
      await Promise.all([...this.hosts.values()].map((h) => h.conn?.close().catch(() => undefined)));
      await this.localConn?.close().catch(() => undefined);
    }
    const recap: Record<string, HostRecap> = {};
    for (const [name, h] of this.hosts) recap[name] = h.recap;
    const report: RunReport = this.opts.masker.maskDeep({
      check: this.opts.check,
      ...(this.opts.identity ? { run: this.opts.identity } : {}),
      durationMs: Date.now() - started,
      recap,
      tasks: this.tasks,
      ...(this.interrupted ? { interrupted: true } : {}),
      ...(this.stopped ? { stopped: this.stopped } : {}),
    });
    this.emit({ type: 'run-end', report });
    return report;
  }

  /** One connection per host, even when its own play and a delegated task ask at once. */
  private connect(h: HostState): Promise<boolean> {
    if (h.conn) return Promise.resolve(true);
    if (h.unreachable) return Promise.resolve(false);
    h.connecting ??= this.open(h).finally(() => (h.connecting = undefined));
    return h.connecting;
  }

  /**
   * Open every host's connection (and read its host facts) at the start of the run, `limit` at a
   * time, so that a host whose first play comes later does not wait for its SSH handshake then.
   * Nothing else changes: events are emitted, and a failure reported, when its play asks
   * (connect); a host a play claims before its attempt started is connected by that play itself.
   */
  private warmUp(limit: ReturnType<typeof pLimit>, remote: Set<string>): void {
    for (const h of this.hosts.values()) {
      // a host that only local plays (connection: local) target is never connected to
      if (!remote.has(h.inv.name)) continue;
      const warm = { state: 'queued' } as Warm;
      warm.result = limit(async () => {
        if (warm.state !== 'queued' || this.interrupted) return new Error('not needed');
        warm.state = 'running';
        // the first play's facts are read beside the host facts, in the same moment (next-play.ts)
        const r = await this.handshake(h, (conn, hostFacts) => this.readNextPlay(h, undefined, conn, hostFacts)).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
        warm.state = 'done';
        return r;
      });
      h.warm = warm;
    }
  }

  private async open(h: HostState): Promise<boolean> {
    this.emit({ type: 'host-connecting', host: h.inv.name });
    const warm = h.warm;
    h.warm = undefined;
    let ahead: Opened | Error | undefined;
    if (warm?.state === 'done') {
      // it failed before this play asked: try again (the host may be up by now)
      const r = await warm.result;
      ahead = r instanceof Error ? undefined : r;
    } else if (warm?.state === 'running') {
      // still in flight: its outcome is this play's
      ahead = await warm.result;
    } else if (warm) warm.state = 'claimed';
    try {
      const opened = ahead ?? (await this.handshake(h));
      if (opened instanceof Error) throw opened;
      h.facts = opened.facts;
      h.conn = opened.conn;
      this.emit({ type: 'host-connected', host: h.inv.name, ms: opened.ms });
      return true;
    } catch (e) {
      this.markUnreachable(h, errMessage(e));
      return false;
    }
  }

  /**
   * SSH handshake and host facts (unless no play wants them); the connection is closed again on
   * failure. `connected` may start the first play's read-ahead, whose round trip then carries the
   * host facts (one command less on the host); else they are read on their own.
   */
  private async handshake(h: HostState, connected?: (conn: Connection, hostFacts?: Rider<HostFacts>) => void): Promise<Opened> {
    const t0 = Date.now();
    let conn: Connection | undefined;
    try {
      conn = await this.opts.connect(h.inv);
      // with a root login, a read with become reads as one without
      const rider = h.gather ? new Rider<HostFacts>(fact(hostFactsKind, null), h.inv.user === 'root') : undefined;
      connected?.(conn, rider);
      if (!h.gather) return { conn, ms: Date.now() - t0 };
      const carried = rider?.taken ? await rider.value.catch(() => undefined) : undefined;
      return { conn, facts: carried ?? (await this.readHostFacts(h, conn)), ms: Date.now() - t0 };
    } catch (e) {
      await conn?.close().catch(() => undefined);
      throw e;
    }
  }

  private async readHostFacts(h: HostState, conn: Connection): Promise<HostFacts> {
    const r = await conn.exec(HOST_FACTS_SCRIPT, { become: false, timeoutMs: 30000 });
    if (r.code !== 0 && !r.stdout) throw new ConnectionError(h.inv.name, `gathering host facts failed (exit ${r.code}): ${lastLines(r.stderr, 3)}`);
    return parseHostFacts(r.stdout);
  }

  /** Who the host's commands run as without become: what the host says, or (facts not gathered) the inventory's user. */
  private loginUser(h: HostState): string {
    return h.facts?.loginUser ?? h.inv.user;
  }

  private markUnreachable(h: HostState, error: string): void {
    h.unreachable = error;
    h.recap.unreachable = true;
    h.recap.error = error;
    this.emit({ type: 'host-unreachable', host: h.inv.name, error });
  }

  private async runPlayOnHost(play: Play, h: HostState): Promise<void> {
    let done!: () => void;
    h.playDone = new Promise((r) => (done = r));
    try {
      if (this.runsLocally(play, h)) {
        // connection: local (the play's, or the host's ansible_connection): the tasks run on the controller, with the controller's facts
        if (play.gatherFacts !== false && !(await this.controllerFacts(h))) return;
      } else {
        if (!(await this.connect(h))) return;
        // read before the play (next-play.ts), and nothing written anywhere since: as good as reading now
        const before = this.nextPlay.take(h.inv.name, play);
        if (before) h.cache = before.cache;
        if (!(before && (await before.done))) await this.readAhead(play, h);
      }
      const hp: HostPlay = { notified: new Set(), maybe: new Set(), firstNotifier: new Map(), mayStop: [], seq: 0 };
      const wh = walkHost(this, play, h, hp);
      if (play === this.startPlay && this.opts.startAtTask !== undefined) wh.startAt = { matches: startMatcher(this.opts.startAtTask), started: false };
      const r = await walk(wh, play.body);
      if (h.unreachable) return;
      if (r === 'failed') h.failed = true;
      // in step: the handlers run once every host has ended its tasks (or stopped)
      await this.lockstep?.arrive(h.inv.name, END_OF_PLAY);
      if (this.lockstep?.stops(h.inv.name)) {
        // check mode: a host that may have failed a task with any_errors_fatal too may be among
        // the failed, which run their handlers, rather than among the stopped, which do not
        const own = this.prediction && this.lockstep.mayHaveFailed.get(h.inv.name);
        if (own) await runHandlers(this, play, h, hp, `${h.inv.name} runs its handlers only if '${own}' fails on it too (any_errors_fatal; its outcome is unknown in check mode)`);
        return;
      }
      await runHandlers(this, play, h, hp);
      if (!h.failed && !h.unreachable && !this.interrupted && !this.runsLocally(play, h)) this.readNextPlay(h, play, h.conn!);
    } finally {
      this.lockstep?.leave(h.inv.name);
      h.inPlay = false;
      done();
    }
  }

  /** An include itself as a task result (`included: FILE`, or why it failed or is unknown). */
  reportInclude(play: Play, h: HostState, inc: Include, status: 'ok' | 'skipped' | 'failed' | 'unknown', note: string): void {
    const task = { name: inc.name, module: inc.what === 'role' ? 'include_role' : 'include_tasks', ignoreErrors: inc.ignoreErrors, vars: inc.inherited.vars, defaults: inc.inherited.defaults } as Task;
    const title = this.title(play, task, h);
    this.emit({ type: 'task-start', host: h.inv.name, play: play.name, task: inc.name, ...(title ? { title } : {}), handler: false });
    this.report(play, task, h, false, { status, changes: [], registerData: {}, ...(status === 'failed' ? { error: note } : {}) }, status === 'failed' ? [] : [note], 0);
  }

  /** A `connection: local` play, or a host with `ansible_connection: local`: its tasks run on the controller. */
  runsLocally(play: Play, h: HostState): boolean {
    return Boolean(play.local || h.inv.local);
  }

  /** The controller's host facts, read once, for the plays that run locally. */
  private async controllerFacts(h: HostState): Promise<boolean> {
    try {
      this.localFacts ??= (async () => {
        const r = await (this.localConn ??= this.opts.local()).exec(HOST_FACTS_SCRIPT, { become: false, timeoutMs: 30000 });
        if (r.code !== 0 && !r.stdout) throw new Error(`gathering the controller's facts failed (exit ${r.code}): ${lastLines(r.stderr, 3)}`);
        return parseHostFacts(r.stdout);
      })();
      this.localFactsValue = await this.localFacts;
      return true;
    } catch (e) {
      this.markUnreachable(h, errMessage(e));
      return false;
    }
  }

  /** Read the facts of the host's next play after `after` now, while it waits (next-play.ts). */
  private readNextPlay(h: HostState, after: Play | undefined, conn: Connection, hostFacts?: Rider<HostFacts>): void {
    // it goes on reading while it waits for its next play, and the run goes on
    const idle = () => !h.inPlay && !h.failed && !h.unreachable && !this.interrupted && !this.stopped && !this.ended;
    this.nextPlay.start(h.inv.name, after, (play, cache) => this.readAhead(play, h, play.tasks, { conn, cache, hostFacts }), idle);
  }

  /**
   * Check mode: `what` (a task or handler of `h`) may fail and stop `h`, so what `h`'s later tasks
   * change elsewhere (delegated), or here as another host's task sees it, may not happen (prediction.ts).
   */
  mayStop(h: HostState, what: string, why = 'its outcome is unknown in check mode'): void {
    this.prediction?.mayStop(h.inv.name, `${what} on ${h.inv.name} may fail (${why}), and then ${h.inv.name}'s later tasks do not run`);
  }

  /**
   * any_errors_fatal: a failure (errors not ignored, no rescue catching it) stops every host of
   * the batch; in check mode an unknown outcome may, so every other host's later tasks may not run.
   */
  fatalOutcome(h: HostState, task: Task, status: string, place: Place, stoppedBefore = false): void {
    const ls = this.lockstep;
    if (!ls || task.ignoreErrors) return;
    // check mode: a failure of a host that may have stopped before (an earlier task that may
    // fail) may not happen in the real run: it may stop the others, as an unknown outcome may
    if (status === 'failed' && stoppedBefore) status = 'unknown';
    if (status === 'failed' && !place.caught) ls.fail(h.inv.name, task.name);
    if (status !== 'unknown' || !this.prediction) return;
    if (!place.caught && !ls.mayHaveFailed.has(h.inv.name)) ls.mayHaveFailed.set(h.inv.name, task.name);
    const m = ls.mayFail(h.inv.name, task.name);
    if (!m) return;
    for (const other of this.batch) if (other !== m.host) this.prediction.mayStop(other, `'${m.task}' on ${m.host} may fail (any_errors_fatal; its outcome is unknown in check mode), and then ${other} stops too`);
  }

  /**
   * Check mode: a task that runs only if no task with any_errors_fatal failed before it (on
   * another host of the batch, or anywhere earlier in the run) is unknown, whatever it predicts.
   */
  private mayNotRun(task: Task, h: HostState, outcome: Outcome, notes: string[]): Outcome {
    if (!this.prediction || outcome.status === 'unknown' || task.implicit) return outcome;
    const why = this.lockstep?.mayNotRun(h.inv.name) ?? this.runMayStop;
    if (why === undefined) return outcome;
    notes.push(why);
    for (const k of Object.keys(outcome.facts ?? {})) h.registered[k] = new UnknownVar(`'${k}' may have been set by '${task.name}': ${why}`);
    return { ...outcome, status: 'unknown', error: undefined, facts: undefined, resultKnown: false };
  }

  /**
   * One round trip for the facts the play's `tasks` will read here (pipeline/read-ahead.ts), into
   * the host's cache, or into `into.cache` through `into.conn` before the play (next-play.ts; the
   * host facts may not be known yet then: a task whose arguments depend on them renders
   * differently at its start and reads its own facts). Whether the read succeeded.
   */
  async readAhead(play: Play, h: HostState, tasks: Task[] = play.tasks, into?: { conn: Connection; cache: FactCache; hostFacts?: Rider<HostFacts> }): Promise<boolean> {
    const cache = into?.cache ?? h.cache;
    cache.renew();
    if (this.cacheMode === 'off') return false;
    const host: ReadAheadHost = {
      name: h.inv.name,
      check: this.opts.check,
      loginUser: this.loginUser(h),
      become: play.become ?? h.inv.become,
      root: this.opts.root,
      modules: this.opts.modules,
      scope: (task, extra = {}) =>
        taskScope({
          ...this.scopeInput(play, h, task, extra),
          // Nothing is generated or read ahead: a secret renders as its placeholder. Facts are
          // keyed by what they read, so a fact read for a placeholder is only never served
          // (a task whose facts depend on the secret itself reads them when it runs).
          secret: (name) => this.opts.secrets.placeholder(name),
        }),
    };
    const reads = plannedReads(host, play, tasks.filter((t) => this.selected(t)));
    const conn = tracedConnection(into?.conn ?? h.conn!, { host: h.inv.name, task: `${play.name} (read ahead)`, emit: this.emit, mask: this.opts.masker.mask, trace: this.opts.traceCommands });
    return readAhead(conn, cache, reads, into?.hostFacts);
  }

  /**
   * The run of checks at the start of `tasks` (skipping tasks that do not run), their first
   * commands run in one round trip on their connection (pipeline/checks-ahead.ts). Check mode
   * runs checks only while nothing is predicted to change: then too.
   */
  async checksAhead(play: Play, h: HostState, tasks: Task[]): Promise<ChecksAhead | undefined> {
    if (this.prediction?.changed || !h.conn || !checksAheadOn()) return undefined;
    const planned: PlannedChecks = { checks: [], span: [] };
    const commandsSoFar: CheckCommand[] = [];
    let target: string | undefined;
    // the arguments as they are now (nothing runs while the checks are planned); no secret is
    // generated ahead: a check whose arguments use one runs on its own
    const scopeOf = (task: Task) =>
      taskScope({
        ...this.scopeInput(play, h, task, {}),
        secret: () => {
          throw new TaskError('uses a secret');
        },
      });
    for (const task of tasks) {
      if (this.selected(task)) {
        const mod = this.opts.modules.get(task.module);
        // a retried check (until) runs its later attempts on its own: it ends the run of checks
        if (mod?.type !== 'check' || !mod.firstAttempt || task.loop !== undefined || task.until || task.becomeUser !== undefined || task.environment || hasTemplate(task.delegateTo)) break;
        const scope = scopeOf(task);
        const to = task.delegateTo ?? h.inv.name;
        if ((target ?? to) !== to || !(to === h.inv.name || LOCALHOST.has(to))) break;
        let commands: CheckCommand[] | undefined;
        try {
          // rendered as they are now: a command rendered otherwise at the check's turn is not
          // served, and a task skipped now that runs then ends what is served (the loop above)
          if (task.when === undefined || scope.condition(task.when)) {
            const parsed = mod.schema.safeParse(scope.render(task.args));
            if (!parsed.success || mod.writes?.(parsed.data)) break;
            commands = mod.firstAttempt(parsed.data);
            if (commands.length === 0 || commands.some((c) => !sameRun(commandsSoFar[0] ?? commands![0], c))) break;
            if (!mayFollow(commandsSoFar, commands)) break;
          }
        } catch {
          break;
        }
        target = to;
        if (commands) {
          planned.checks.push({ task, commands });
          commandsSoFar.push(...commands);
        }
      }
      planned.span.push(task);
    }
    if (target === undefined) return undefined;
    const conn = target === h.inv.name ? h.conn : (this.localConn ??= this.opts.local());
    return runChecksAhead(conn, planned);
  }

  /** A state task of the host itself: it reads facts the read-ahead can give it. */
  readsOwnFacts(task: Task): boolean {
    return this.cacheMode !== 'off' && this.opts.modules.get(task.module)?.type === 'state' && task.delegateTo === undefined;
  }

  selected(task: Pick<Task, 'tags'>): boolean {
    const { tags, skipTags } = this.opts;
    if (skipTags.length && task.tags.some((t) => skipTags.includes(t))) return false;
    if (tags.length === 0) return true;
    return task.tags.includes('always') || task.tags.some((t) => tags.includes(t));
  }

  /**
   * A task's variables on a host: its role's defaults, the inventory, the play's vars, its role,
   * block and task vars, registered results and set_fact, extra vars, `extra` (a loop item).
   */
  private scopeInput(play: Play, h: HostState, task: Pick<Task, 'vars' | 'defaults'>, extra: Record<string, unknown>) {
    return {
      inventory: this.inventory,
      host: h.inv,
      play: { defaults: { ...play.defaults, ...task.defaults }, vars: { ...play.vars, ...task.vars } },
      data: { ...h.registered, ...this.opts.extraVars, ...extra },
      facts: this.runsLocally(play, h) ? this.localFactsValue : h.facts,
      run: { id: this.runId, check: this.opts.check },
    };
  }

  scope(play: Play, h: HostState, task: Pick<Task, 'vars' | 'defaults'>, extra: Record<string, unknown> = {}, shownExtra: Record<string, unknown> = extra): Scope {
    // paired with a display twin that renders a placeholder for each secret (display.ts)
    return pairScopes(
      taskScope({ ...this.scopeInput(play, h, task, extra), secret: (name) => this.opts.secrets.get(name) }),
      taskScope({ ...this.scopeInput(play, h, task, shownExtra), secret: (name) => this.opts.secrets.placeholder(name) }),
    );
  }

  env(h: HostState, ahead?: ChecksAhead, local = false): TaskEnv {
    return {
      root: this.opts.root,
      modules: this.opts.modules,
      masker: this.opts.masker,
      prediction: this.prediction,
      self: h.inv.name,
      loginUser: (host) => (LOCALHOST.has(host) ? userInfo().username : this.loginUser(this.hosts.get(host) ?? h)),
      connectionFor: (task, redact) => this.connectionFor(task, h, redact, ahead, local),
      racing: (target) => {
        if (target === h.inv.name || LOCALHOST.has(target)) return false;
        const other = this.hosts.get(target);
        if (!other?.playing) return false;
        // Another host of this play runs its own tasks concurrently in the real run: unless it
        // has finished them without any predicted change, the order is not determined.
        return other.inPlay || (this.prediction?.host(target).size ?? 0) !== other.playStartEffects;
      },
      factCache: (host) => this.hosts.get(host)?.cache ?? this.localCache,
      forgetAllFacts: () => {
        this.nextPlay.wrote();
        for (const st of this.hosts.values()) st.cache.clear();
        this.localCache.clear();
      },
      hostLink: (task, redact) => this.hostLink(task, h, redact, local),
      lostConnection: (e) => {
        const owner = this.hosts.get(e.host);
        if (owner && !owner.unreachable) this.markUnreachable(owner, e.message);
        return owner === h;
      },
    };
  }

  async runTask(play: Play, task: Task, h: HostState, handler: boolean, ahead?: ChecksAhead, extra: Record<string, unknown> = {}): Promise<TaskReport> {
    const t0 = Date.now();
    const title = this.title(play, task, h, extra);
    this.emit({ type: 'task-start', host: h.inv.name, play: play.name, task: task.name, ...(title ? { title } : {}), handler });
    const notes: string[] = [];
    const env = this.env(h, ahead, this.runsLocally(play, h));
    const become = play.become ?? h.inv.become;
    const scopeFor = (more: Record<string, unknown> = {}, shownMore: Record<string, unknown> = more) => this.scope(play, h, task, { ...extra, ...more }, { ...extra, ...shownMore });
    const outcome =
      task.loop === undefined
        ? await executeControlled(env, play, task, become, scopeFor, scopeFor(), notes)
        : await executeLoop(env, play, task, become, scopeFor, notes, () => Boolean(h.unreachable));
    return this.report(play, task, h, handler, outcome, notes, Date.now() - t0, title);
  }

  /** The task's name as shown on this host, when it differs from the name as written (task-title.ts). */
  private title(play: Play, task: Pick<Task, 'name' | 'vars' | 'defaults'>, h: HostState, extra: Record<string, unknown> = {}): string | undefined {
    const shown = renderTitle(task.name, () => taskScope({ ...this.scopeInput(play, h, task, extra), secret: (name) => this.opts.secrets.placeholder(name) }));
    return shown === task.name ? undefined : shown;
  }

  /** A task that fails without running, with this message. */
  refused(play: Play, task: Task, h: HostState, error: string): TaskReport {
    const title = this.title(play, task, h);
    this.emit({ type: 'task-start', host: h.inv.name, play: play.name, task: task.name, ...(title ? { title } : {}), handler: false });
    return this.report(play, task, h, false, { status: 'failed', changes: [], registerData: {}, error: `${task.where}: ${error}` }, [], 0);
  }

  /** run_once: the result of the host that ran it, as another host's (its registered value too). */
  runOnceCopy(play: Play, task: Task, h: HostState, r: TaskReport): TaskReport {
    const title = this.title(play, task, h);
    this.emit({ type: 'task-start', host: h.inv.name, play: play.name, task: task.name, ...(title ? { title } : {}), handler: false });
    const owner = this.hosts.get(r.host);
    const copy = this.report(play, { ...task, register: undefined }, h, false, { status: r.status, changes: [], registerData: {}, ...(r.error ? { error: r.error } : {}) }, [`run once on ${r.host}: its result`], 0);
    if (task.register && owner) h.registered[task.register] = owner.registered[task.register];
    return copy;
  }

  /** Record a task's result: report, recap, registered variable, event. */
  report(play: Play, task: Task, h: HostState, handler: boolean, outcome: Outcome, notes: string[], ms: number, title = this.title(play, task, h)): TaskReport {
    outcome = this.mayNotRun(task, h, outcome, notes);
    const { status } = outcome;
    let changes = outcome.changes;
    let error = outcome.error;
    if (status === 'unknown' && error) {
      notes.push(error);
      error = undefined;
    }
    // no_log: what the task changed, its output and its messages are not shown
    if (task.noLog) {
      changes = changes.map((c) => ({ action: c.action, target: '(hidden: no_log)', summary: '(hidden: no_log)', ...(c.applied !== undefined ? { applied: c.applied } : {}) }));
      if (error) error = `the task failed (its message is hidden: no_log)`;
      notes.length = 0;
    }
    const result: TaskReport = {
      host: h.inv.name,
      play: play.name,
      task: task.name,
      ...(title ? { title } : {}),
      module: writtenModule(task.module),
      status,
      changes,
      durationMs: ms,
      ...(error ? { error: this.opts.masker.mask(error) } : {}),
      ...(notes.length ? { note: notes.join('; ') } : {}),
      ...(handler ? { handler: true } : {}),
      ...(status === 'failed' && task.ignoreErrors ? { ignored: true } : {}),
    };
    this.tasks.push(result);
    if (status === 'failed' && task.ignoreErrors) h.recap.ignored++;
    else h.recap[status]++;
    // In check mode a task predicted to change has not run: its status is known, its output
    // (rc, stdout, results …) is not; an unknown task's status is not known either (result-control.ts).
    if (task.register) h.registered[task.register] = resultValue(this.opts.check && !outcome.resultKnown, task, outcome);
    if (outcome.facts && status !== 'skipped') Object.assign(h.registered, outcome.facts);
    // check mode: a set_fact / include_vars whose outcome is unknown (its condition reads an
    // unknown value, an item of its loop is unknown) may have set what it sets (seed 55015)
    if (this.opts.check && status === 'unknown') {
      for (const k of varsSetBy(task.module, task.args)) if (!Object.hasOwn(outcome.facts ?? {}, k)) h.registered[k] = new UnknownVar(`'${k}' may have been set by '${task.name}', whose outcome is unknown in check mode`);
    }
    this.emit({ type: 'task-result', result });
    return result;
  }

  /**
   * The task's own host's connection, which a reboot drops and opens again: the host keeps its
   * place in the run, and every fact read there before is forgotten (the host may have changed).
   */
  private hostLink(task: Task, h: HostState, redact?: (s: string) => string, local = false): HostLink {
    if (local || (task.delegateTo !== undefined && task.delegateTo !== h.inv.name)) {
      throw new TaskError(`${task.module} acts on the task's own host's connection: it cannot run with connection: local or delegate_to (task at ${task.where})`);
    }
    const traced = (conn: Connection) =>
      tracedConnection(conn, { host: h.inv.name, task: task.name, emit: this.emit, mask: this.opts.masker.mask, trace: this.opts.traceCommands, redact, onWrite: () => this.nextPlay.wrote() });
    return {
      host: h.inv.name,
      conn: () => traced(h.conn!),
      reconnect: async (timeoutMs) => {
        // the old connection may hang on a host that went away: not waited for long
        const old = h.conn;
        if (old) await Promise.race([old.close().catch(() => undefined), sleep(3000)]);
        h.conn = await this.opts.connect(h.inv, { connectTimeoutMs: timeoutMs });
      },
      forgetFacts: () => {
        this.nextPlay.wrote();
        h.cache.clear();
      },
      now: () => Date.now(),
      sleep,
    };
  }

  private async connectionFor(task: Task, h: HostState, redact?: (s: string) => string, ahead?: ChecksAhead, local = false): Promise<{ conn: Connection; target: string; toController: boolean }> {
    const traced = (conn: Connection) =>
      tracedConnection(ahead ? ahead.connection(task, conn) : conn, { host: h.inv.name, task: task.name, emit: this.emit, mask: this.opts.masker.mask, trace: this.opts.traceCommands, redact, onWrite: () => this.nextPlay.wrote() });
    const target = task.delegateTo;
    if (local && (target === undefined || target === h.inv.name)) {
      this.localConn ??= this.opts.local();
      return { conn: traced(this.localConn), target: 'localhost', toController: true };
    }
    if (target === undefined || target === h.inv.name) return { conn: traced(h.conn!), target: h.inv.name, toController: false };
    if (LOCALHOST.has(target)) {
      this.localConn ??= this.opts.local();
      return { conn: traced(this.localConn), target: 'localhost', toController: true };
    }
    const other = this.hosts.get(target);
    if (other?.inv.local) {
      // a host with ansible_connection: local is the controller
      this.localConn ??= this.opts.local();
      return { conn: traced(this.localConn), target: 'localhost', toController: true };
    }
    const slice = this.opts.shard?.of.get(target);
    if (!other && slice !== undefined && this.opts.shard)
      throw new TaskError(`delegate_to: '${target}' is in slice ${slice}/${this.opts.shard.count} of this sharded run, not in this controller's slice ${this.opts.shard.index}/${this.opts.shard.count}: a controller connects only to its own slice's hosts (run this play without --shard)`);
    if (!other) throw new TaskError(`delegate_to: '${target}' is not a host of this run (use localhost, or a host the run targets)`);
    if (!(await this.connect(other))) throw new TaskError(`delegate_to: ${target} is unreachable: ${other.unreachable}`);
    return { conn: traced(other.conn!), target, toController: false };
  }
}
