/**
 * Core contracts of provision: connections, facts, modules, changes.
 *
 * The flow for every task on every host is: facts -> plan -> apply -> verify.
 *  - A module declares the facts it needs (FactRequest). The engine gathers all of a
 *    task's facts in ONE round trip (one shell script, one SSH channel).
 *  - plan(args, facts) is a pure function returning the list of changes. Each change
 *    carries the exact shell commands that apply will run (pyinfra style: args + facts in,
 *    commands out), so `--check` (plan only) can never disagree with a real run.
 *  - After apply, the engine re-gathers the facts and re-plans: the plan must now be empty
 *    (ignoring one-shot changes such as "restart"), or the task fails with what still differs.
 */
import type { z } from 'zod';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Bytes/text written to the command's standard input (then EOF). */
  stdin?: string | Buffer;
  /** Run with privilege escalation (sudo). Defaults to the host's `become` setting. */
  become?: boolean;
  /** With become: as this user instead of root (`become_user`). */
  becomeUser?: string;
  /** Abort the command after this long (ms). */
  timeoutMs?: number;
  /** Which stage runs it, for -v output: reading facts, applying a plan, or a check module (the default). */
  phase?: 'facts' | 'apply' | 'check';
}

/** One live connection to one host. Implementations: SSH (ssh2), local (child_process), fakes in tests. */
export interface Connection {
  readonly host: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

/** Raised by connections when the transport itself fails (drop, timeout, auth): the host becomes unreachable. */
export class ConnectionError extends Error {
  constructor(
    public readonly host: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/**
 * A fact kind: how to read one kind of resource from a host with a POSIX sh snippet, and
 * how to parse what it printed. Snippets must be read-only and must not fail on absence
 * (absence is a fact). Output should be line-oriented; binary content base64-encoded.
 */
export interface FactKind<P, T> {
  readonly kind: string;
  /** Stable resource key, e.g. `file:/etc/nginx/nginx.conf`. Check mode's predictions are keyed by it. */
  key(params: P): string;
  script(params: P): string;
  parse(stdout: string, params: P): T;
  /** The snippet reads state no fact models (a user's guard command): unknown once anything on the host is predicted to change. */
  readonly readsAnything?: boolean;
  /** Other keys of the same resource, known from its live value (a file reached through a symlink). */
  aliases?(params: P, live: T): string[];
  /**
   * Another host or time can change it (a backend's health, a replica's connection to its
   * primary): read when its task runs, never ahead of it (engine/pipeline/fact-cache.ts).
   */
  readonly volatile?: boolean;
  /**
   * The value reads everything under these directories (a tree): in check mode it is the live
   * value while no earlier effect reaches under them (Effect.within), else unknown.
   */
  under?(params: P, live: T): string[];
  /** The value carries the host's clock: what it would be `ms` after it was read (read-ahead facts). */
  aged?(value: T, ms: number): T;
  /**
   * Audit of read-ahead facts: whether an aged value stands for the live one, `slackMs` being how
   * long the two reads took (the host read its clock somewhere within them). Default: deep equality.
   */
  sameAs?(aged: T, live: T, slackMs: number): boolean;
  /**
   * Check mode, for a value that earlier tasks' effects changed: why `reader` (not root) may not
   * see it as predicted (the filesystem as it will be, not as that user can reach it), or undefined.
   */
  seenBy?(predicted: T, reader: string): string | undefined;
  /**
   * Many facts of this kind read by one process (one dpkg-query, one systemctl show), since each
   * process started on a host costs 10–30 ms there. `script` prints for all of `params` at once;
   * `split` gives each its own output, as its own `script` would have printed it, for `parse`.
   */
  readonly batch?: { script(params: P[]): string; split(out: string, params: P[]): string[] };
  /**
   * `script` (not `batch.script`) only runs commands: it sets no variable, changes no shell state
   * and never exits. It then runs in the fact script's own shell rather than in a subshell of
   * its own, a fork less on the host (~3 ms there).
   */
  readonly inline?: boolean;
}

export interface FactRequest<T = unknown> {
  kind: FactKind<any, T>;
  params: unknown;
}

/** Helper to build a typed fact request. */
export function fact<P, T>(kind: FactKind<P, T>, params: P): FactRequest<T> {
  return { kind, params };
}

/** A shell command that apply will run, in order. */
export interface Command {
  cmd: string;
  /** Fed to the command's stdin (file contents, SQL, ...). Never logged. */
  stdin?: string | Buffer;
  /** Run with become (default: the task's become). */
  become?: boolean;
  /** How to name this command in messages, when the script itself is not telling. */
  display?: string;
}

export interface Change {
  /** Short machine-friendly verb: create, update, install, start, enable, ... */
  action: string;
  /** What is changed: a path, package, unit, user ... */
  target: string;
  /** One line for humans: "install nginx", "mode 0644 -> 0640". Must never contain secrets. */
  summary: string;
  /** Unified diff for file content changes (already masked of secrets by the module if needed). */
  diff?: string;
  /** A one-shot action (restart, run a command) that is not expected to vanish from a re-plan. */
  oneShot?: boolean;
  /**
   * Check mode: why this change's outcome cannot be predicted (a user's command: its exit
   * status is known only when it runs). The task is then reported unknown, and its effects
   * on later tasks are unknown too.
   */
  uncertain?: string;
  commands: Command[];
}

/** Throw from plan() when a prediction is impossible; the task is reported as "unknown". */
export class Unknown extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'Unknown';
  }
}

/** Throw from plan()/prepare() for a user-facing task failure (no stack trace is shown). */
export class TaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskError';
  }
}

export interface HostFacts {
  hostname: string;
  /** the user provision logs in as */
  loginUser: string;
  fqdn: string;
  os: { id: string; version: string; codename: string };
  arch: string;
  kernel: string;
  cpus: number;
  memoryMb: number;
  /** address of the default-route interface, or '' */
  defaultIPv4: string;
  /** interface of the default route, or '' */
  defaultInterface: string;
  ipv4: string[];
  [k: string]: unknown;
}

export interface ModuleContext {
  /** Inventory host name. */
  host: string;
  /** True in --check mode. */
  check: boolean;
  /** Whether the task's commands run through sudo (created files then belong to root). */
  become: boolean;
  /** Who runs the task's commands: root through sudo, else the login user. */
  user: string;
  /** Project root: templates/ and files/ are looked up next to the playbook first, then here. */
  root: string;
  /** Directory of the playbook file the task comes from. */
  playbookDir?: string;
  /** The task's role directory: its templates/ and files/ are looked in first. */
  roleDir?: string;
  /** Replace every known secret in a string with ********. */
  mask(s: string): string;
  /** Add a note to the task's result ("skipped: /x exists"). */
  note(s: string): void;
  /** Render an EJS template with the task's variables (undefined variables throw). */
  render(source: string, filename: string): string;
  /**
   * What prepare() makes of the task's arguments as they may be displayed: the engine renders them
   * a second time with a placeholder (`«secret name»`) instead of each secret and prepares those too.
   * Modules that show content (diffs) show it from here. undefined: no display render (a module
   * without prepare(), or called directly); null: the display render failed, so nothing derived
   * from the arguments may be shown.
   */
  shown?: unknown;
}

/**
 * Check mode: what applying a change does to one kind of resource. `touches` says which
 * resource keys (FactKind.key) it affects; `apply` turns the fact before it (the live one, or
 * what earlier effects left) into the fact after it, or an UnknownFact (engine/prediction.ts)
 * when that cannot be known. Effects include indirect ones (parent directories of mkdir -p,
 * a home directory, packages pulled in as dependencies).
 */
export interface Effect {
  touches(key: string): boolean;
  apply(before: unknown, key: string): unknown;
  /**
   * Whether it may change what lies under the directory `dir` (or replace `dir` itself), for facts
   * that read a whole tree (file recurse). Without it, engine/prediction.ts probes `touches`.
   */
  within?(dir: string): boolean;
}

export type FactsOf<F> = { [K in keyof F]: FactRequest<F[K]> };

/**
 * A state module: [prepare] -> facts -> plan -> apply(commands) -> verify.
 * `L` is what prepare() reads or renders on the controller (a template's output, a local file's
 * bytes): plan() and predict() get it as `local`, next to the arguments, never inside them.
 */
export interface StateModule<A = any, F = any, L = void> {
  readonly name: string;
  readonly type: 'state';
  readonly schema: z.ZodType<A>;
  /** What the registered result of a real run gets from the last command applied (copy's backup_file); registerData for what the plan knows. */
  appliedData?(args: A, last: ExecResult): Record<string, unknown>;
  /** Argument values to mask in every output from now on, like secrets (a password hash given inline). */
  secrets?(args: A): string[];
  /** Controller-side inputs (render a template, read a local file), once per task. May throw TaskError. */
  prepare?(args: A, ctx: ModuleContext): Promise<L> | L;
  facts(args: A, ctx: ModuleContext): FactsOf<F>;
  /** Pure: the changes that make the host match `args` (`local`: what prepare() returned, else undefined). */
  plan(args: A, facts: F, ctx: ModuleContext, local: L): Change[];
  /**
   * Check mode: the effects of applying `changes` (see Effect). Later tasks' facts are the
   * live facts with these folded over them. A module without predict() makes everything on
   * the host unknown after it changes something.
   */
  predict?(args: A, facts: F, changes: Change[], ctx: ModuleContext, local: L): Effect[];
  /**
   * What the registered result carries besides status and changes (git's `before`/`after`
   * commits, stat's `stat`), from the facts and the plan: the same in check mode and in the
   * real run (in check mode from the predicted facts, so it may throw Unknown where they do not say).
   */
  registerData?(args: A, facts: F, changes: Change[], local: L, ctx: ModuleContext): Record<string, unknown>;
  /**
   * Check mode, when this task's outcome is unknown: what it may have changed (its resources
   * become unknown for later tasks). Without it, everything on the host becomes unknown.
   */
  footprint?(args: A, ctx: ModuleContext): Effect[];
  /**
   * Whether plan() itself marks the changes a non-root user may not make as `uncertain`
   * (the files domain reads permissions as facts). Otherwise, in check mode, a task run as a
   * non-root user is unknown whenever it has changes: permissions are not modelled.
   */
  readonly permissionsModelled?: boolean;
  /**
   * predict() names every resource its changes touch (no package's files, no service's runtime
   * state): in a real run the host's other read-ahead facts stay valid after it changes something.
   * Otherwise a change voids them all (engine/pipeline/fact-cache.ts).
   */
  readonly exactEffects?: boolean;
}

export interface CheckResult {
  ok: boolean;
  message: string;
  /** Registered under `register:` for later tasks. */
  data?: Record<string, unknown>;
}

/** A check module (assert, wait_for, http_check): never changes the host, only passes or fails. */
export interface CheckModule<A = any> {
  readonly name: string;
  readonly type: 'check';
  readonly schema: z.ZodType<A>;
  /** Whether the check writes anything (then it is not run in --check mode). */
  writes?(args: A): boolean;
  /**
   * The commands `run` executes first, in order, exactly as it calls them, when each passes:
   * consecutive checks of a host then run in one round trip (engine/pipeline/checks-ahead.ts).
   * Omitted (or empty): the check always runs on its own.
   */
  firstAttempt?(args: A): CheckCommand[];
  run(args: A, conn: Connection, ctx: ModuleContext): Promise<CheckResult>;
}

/** A command of a check's first attempt, and the exit code without which the check cannot pass. */
export interface CheckCommand {
  cmd: string;
  opts?: ExecOptions;
  passRc: number;
  /** The check passes exactly when the command exits with passRc (nothing else is judged). */
  decidedByRc?: boolean;
  /** It may wait long (polls until a deadline): it runs ahead only behind commands decided by their exit code. */
  mayWait?: boolean;
}

/**
 * The task's own host's connection, for modules that take it down or wait for it (reboot,
 * wait_for_connection). Commands run on whatever connection is current.
 */
export interface HostLink {
  readonly host: string;
  /** The host's current connection (replaced by reconnect). */
  conn(): Connection;
  /** Close the current connection and open a new one: one attempt within `timeoutMs`; throws ConnectionError. */
  reconnect(timeoutMs: number): Promise<void>;
  /** The host changed under the run (it rebooted): every fact read before is void. */
  forgetFacts(): void;
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface LinkResult {
  ok: boolean;
  changed: boolean;
  message: string;
  data?: Record<string, unknown>;
}

/** A module that acts on the host's connection itself (reboot, wait_for_connection). */
export interface LinkModule<A = any> {
  readonly name: string;
  readonly type: 'link';
  readonly schema: z.ZodType<A>;
  /**
   * Check mode: 'changes': not run, reported as a change after which nothing on the host is
   * predicted; 'reads': run as in a real run while nothing is predicted to change.
   */
  readonly inCheckMode: 'changes' | 'reads';
  /** Check mode, 'changes': why whether it succeeds is known only when it runs (a user's command), or undefined. */
  uncertain?(args: A, ctx: ModuleContext): string | undefined;
  run(args: A, link: HostLink, ctx: ModuleContext): Promise<LinkResult>;
}

/** Any state module, whatever its arguments, facts and prepared inputs (what the engine handles). */
export type AnyStateModule = StateModule<any, any, any>;

export type Module = AnyStateModule | CheckModule | LinkModule;
