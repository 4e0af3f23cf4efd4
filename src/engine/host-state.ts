/**
 * What the scheduler keeps per host (HostState) and per host and play (HostPlay), and the part of
 * the Runner (scheduler.ts) that a host's walk through a play (walk-host.ts) and its handlers
 * (handlers.ts) use.
 */
import type pLimit from 'p-limit';
import type { Scope } from './expr.js';
import type { Outcome, TaskEnv } from './pipeline/task.js';
import type { FactCache } from './pipeline/fact-cache.js';
import type { ChecksAhead } from './pipeline/checks-ahead.js';
import type { Place } from './walk.js';
import type { Prediction } from './prediction.js';
import type { Lockstep } from './lockstep.js';
import type { RunOnce } from './run-once.js';
import type { InventoryHost } from '../load/inventory.js';
import type { Include, Play, Task } from '../load/playbook.js';
import type { HostRecap, TaskReport } from './report.js';
import type { Connection, HostFacts } from '../modules/contract.js';
import type { RunOptions } from './scheduler.js';

export interface Opened {
  conn: Connection;
  facts?: HostFacts;
  ms: number;
}

export interface Warm {
  /** queued: waiting for a slot; claimed: its play (or the run's end) came first, it will not start */
  state: 'queued' | 'claimed' | 'running' | 'done';
  result: Promise<Opened | Error>;
}

export interface HostState {
  inv: InventoryHost;
  conn?: Connection;
  connecting?: Promise<boolean>;
  /** a connection opened ahead, at the start of the run, while earlier plays run (warmUp) */
  warm?: Warm;
  facts?: HostFacts;
  /** some play of the run on this host gathers facts (not every one says gather_facts: false) */
  gather: boolean;
  unreachable?: string;
  failed: boolean;
  registered: Record<string, unknown>;
  recap: HostRecap;
  /** a host of the current play (until the play ends) */
  playing: boolean;
  /** still running the current play's tasks and handlers (a delegate that may change under others) */
  inPlay: boolean;
  /** check mode: effects recorded on this host when the current play started */
  playStartEffects: number;
  /** its facts read ahead for the current play (pipeline/fact-cache.ts) */
  cache: FactCache;
  /** settles when the host ends the current play (run_once: others wait for it) */
  playDone?: Promise<void>;
}

/** One host's state in one play: the handlers notified, and (check mode) the tasks that may have stopped it. */
export interface HostPlay {
  notified: Set<string>;
  maybe: Set<string>;
  /** check mode: handler name -> the position of the first task that notified it or may have (unknown) */
  firstNotifier: Map<string, number>;
  /** check mode: the tasks that may fail and stop this host (unknown, errors not ignored), with the length of the host's effect log after each */
  mayStop: { i: number; at: number; task: string; registered?: Record<string, unknown> }[];
  /** position of the next task in the walk */
  seq: number;
  /** a run of checks of this host whose first commands ran in one round trip (checks-ahead.ts) */
  ahead?: ChecksAhead;
  /** the last failure (errors not ignored): ansible_failed_task / ansible_failed_result in a rescue */
  lastFailure?: TaskReport;
}

/** The Runner as a host's walk and its handlers see it (scheduler.ts implements it). */
export interface HostRunner {
  readonly opts: RunOptions;
  readonly prediction?: Prediction;
  readonly interrupted: boolean;
  /** any_errors_fatal: the current batch's hosts in step */
  readonly lockstep?: Lockstep;
  /** throttle: one limit per task, for the current batch */
  readonly throttles: Map<Task, ReturnType<typeof pLimit>>;
  readonly runOnce: RunOnce;
  selected(task: Pick<Task, 'tags'>): boolean;
  readsOwnFacts(task: Task): boolean;
  /** A `connection: local` play, or a host with `ansible_connection: local`. */
  runsLocally(play: Play, h: HostState): boolean;
  readAhead(play: Play, h: HostState, tasks?: Task[]): Promise<boolean>;
  checksAhead(play: Play, h: HostState, tasks: Task[]): Promise<ChecksAhead | undefined>;
  runTask(play: Play, task: Task, h: HostState, handler: boolean, ahead?: ChecksAhead, extra?: Record<string, unknown>): Promise<TaskReport>;
  refused(play: Play, task: Task, h: HostState, error: string): TaskReport;
  runOnceCopy(play: Play, task: Task, h: HostState, r: TaskReport): TaskReport;
  report(play: Play, task: Task, h: HostState, handler: boolean, outcome: Outcome, notes: string[], ms: number): TaskReport;
  reportInclude(play: Play, h: HostState, inc: Include, status: 'ok' | 'skipped' | 'failed' | 'unknown', note: string): void;
  scope(play: Play, h: HostState, task: Pick<Task, 'vars' | 'defaults'>, extra?: Record<string, unknown>): Scope;
  env(h: HostState): TaskEnv;
  fatalOutcome(h: HostState, task: Task, status: string, place: Place, stoppedBefore?: boolean): void;
  mayStop(h: HostState, what: string, why?: string): void;
}
