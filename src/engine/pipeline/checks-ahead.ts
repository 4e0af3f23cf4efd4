/**
 * Consecutive read-only checks of a host in one round trip.
 *
 * When a host reaches a run of checks (assert, wait_for, GET http_check) on one connection, the
 * commands of their first attempts (CheckModule.firstAttempt) run in one script, in order,
 * each as it would run alone (in a subshell, stdin empty); the script stops after a command
 * whose exit code already fails its check. Each check then runs as always, and its connection
 * answers its commands from that script's results while they are exactly the ones it runs.
 *
 * A result is served only while every check before it in the run passed with its own: so what
 * a served check saw ran after everything the engine would have run before it, in order, and
 * nothing it read can have changed by the engine since (checks only read): the run is the same
 * as one where each check ran alone at its turn, only sooner. When a check fails (its retries
 * then run on their own), runs any other command (a rendered command that differs), or a task
 * between them runs that the script did not run (a condition that became true), nothing more
 * of the script is served. A check is served its whole first attempt or nothing; a script whose
 * output may have been cut (over 16 MiB) serves nothing. Commands run as alone but for what
 * their shell shows: they share the script's `$$`, an error of the shell itself names the
 * script's line, and a `wait_for` keeps its own deadline but not the host's `timeout` guard.
 */
import { randomBytes } from 'node:crypto';
import { sq } from '../shell.js';
import type { Task } from '../../load/playbook.js';
import type { TaskStatus } from '../report.js';
import type { CheckCommand, Connection, ExecOptions, ExecResult } from '../../modules/contract.js';
import { OUTPUT_HEAD_BYTES } from '../../ssh/output.js';
import { framedSection } from './facts.js';

/** PROVISION_CHECKS_AHEAD=off runs every check on its own (for comparisons). */
export const checksAheadOn = (env: NodeJS.ProcessEnv = process.env) => env.PROVISION_CHECKS_AHEAD !== 'off';

/** A check of the run and the commands of its first attempt. */
export interface PlannedCheck {
  task: Task;
  commands: CheckCommand[];
}

/** The checks planned ahead, and every task from the first to the last (skipped ones too). */
export interface PlannedChecks {
  checks: PlannedCheck[];
  span: Task[];
}

const optsKey = (o: ExecOptions | undefined) =>
  JSON.stringify([o?.stdin === undefined ? null : String(o.stdin), o?.become ?? null, o?.timeoutMs ?? null, o?.phase ?? null]);

/** The script: each command framed by a boundary on stdout and on stderr, with its exit code. */
export function checksScript(commands: CheckCommand[], boundary: string): string {
  return commands
    .map((c, i) =>
      [
        `printf '%s\\n' '@@${boundary} ${i}'; printf '%s\\n' '@@${boundary} ${i}' >&2`,
        `__pv_c=${sq(c.cmd)}`,
        '( eval "$__pv_c" ) </dev/null',
        '__pv_r=$?',
        `printf '\\n@@${boundary} end %s\\n' "$__pv_r"; printf '\\n@@${boundary} end\\n' >&2`,
        // the checks after one that cannot pass are not served: do not run them
        `[ "$__pv_r" = ${c.passRc} ] || exit 0`,
      ].join('\n'),
    )
    .join('\n');
}

/** Each command's result, up to the last one the script completed. */
export function parseChecksOutput(r: ExecResult, n: number, boundary: string): ExecResult[] {
  const out: ExecResult[] = [];
  const code = new RegExp(`@@${boundary} end (\\d+)\n`, 'y');
  let o = 0;
  let e = 0;
  for (let i = 0; i < n; i++) {
    const stdout = framedSection(r.stdout, boundary, i, o);
    const stderr = framedSection(r.stderr, boundary, i, e);
    if (typeof stdout === 'string' || typeof stderr === 'string') break;
    code.lastIndex = stdout.end;
    const c = code.exec(r.stdout);
    if (!c) break;
    out.push({ code: Number(c[1]), stdout: stdout.body, stderr: stderr.body });
    o = code.lastIndex;
    e = stderr.end;
  }
  return out;
}

/** The results of one such script, served to the checks it ran ahead for. */
export class ChecksAhead {
  private readonly queues = new Map<Task, { cmd: string; opts: string; result: ExecResult }[]>();
  private valid = true;
  private readonly span: Set<Task>;

  constructor(planned: PlannedChecks, results: ExecResult[]) {
    this.span = new Set(planned.span);
    let k = 0;
    for (const p of planned.checks) {
      const q = p.commands.map((c) => ({ cmd: c.cmd, opts: optsKey(c.opts), result: results[k++] }));
      // a check is served all its first attempt or nothing (the script stopped within it)
      this.queues.set(p.task, q.every((e) => e.result !== undefined) ? q : []);
    }
  }

  /** Whether `task` lies within the run of checks (planned, or a task between them that does not run). */
  covers(task: Task): boolean {
    return this.span.has(task);
  }

  has(task: Task): boolean {
    return this.queues.has(task);
  }

  /** `conn` for `task`: its commands answered from the script while they are the ones it ran. */
  connection(task: Task, conn: Connection): Connection {
    return {
      host: conn.host,
      close: () => conn.close(),
      exec: async (cmd, opts) => {
        const q = this.queues.get(task);
        const next = this.valid ? q?.[0] : undefined;
        if (next && next.cmd === cmd && next.opts === optsKey(opts)) {
          q!.shift();
          return next.result;
        }
        this.valid = false;
        return conn.exec(cmd, opts);
      },
    };
  }

  /**
   * After `task` ran: the checks after it are served only if it passed with all it was served,
   * or it is a task the script skipped that was skipped at its turn too (a condition that became
   * true ran something the script did not run before them).
   */
  finished(task: Task, status: TaskStatus): void {
    if (!this.span.has(task)) return;
    const q = this.queues.get(task);
    if (q ? q.length > 0 || status !== 'ok' : status !== 'skipped') this.valid = false;
  }
}

/**
 * Run the planned checks' first commands in one round trip on `conn` (every command with the
 * same options but its timeout). Undefined when there is nothing worth it, or the script failed
 * (each check then runs on its own).
 */
export async function runChecksAhead(conn: Connection, planned: PlannedChecks): Promise<ChecksAhead | undefined> {
  const commands = planned.checks.flatMap((p) => p.commands);
  if (commands.length < 2) return undefined;
  const timeouts = commands.map((c) => c.opts?.timeoutMs);
  const timeoutMs = timeouts.every((t) => t !== undefined) ? timeouts.reduce((a, b) => a! + b!, 0) : undefined;
  const boundary = `PROVISION-${randomBytes(6).toString('hex')}`;
  let r: ExecResult;
  try {
    r = await conn.exec(checksScript(commands, boundary), { ...(commands[0].opts?.become !== undefined ? { become: commands[0].opts.become } : {}), timeoutMs });
  } catch {
    return undefined;
  }
  // the capture keeps the first 16 MiB of a stream (ssh/output.ts): more, and part of some
  // command's output may be missing from the middle; each check then runs on its own
  if (Buffer.byteLength(r.stdout) >= OUTPUT_HEAD_BYTES || Buffer.byteLength(r.stderr) >= OUTPUT_HEAD_BYTES) return undefined;
  return new ChecksAhead(planned, parseChecksOutput(r, commands.length, boundary));
}

/** The commands can share one script: same options (but the timeout), no stdin. */
export function sameRun(a: CheckCommand, b: CheckCommand): boolean {
  const strip = (o?: ExecOptions) => optsKey({ ...o, timeoutMs: undefined });
  return a.opts?.stdin === undefined && b.opts?.stdin === undefined && strip(a.opts) === strip(b.opts);
}

/**
 * Whether `next` may join a script holding `before`: one that may wait long (wait_for) only
 * behind commands whose exit code alone decides their check, since the script stops only on an
 * exit code (a check failing on its output would otherwise make the host wait for nothing).
 */
export function mayFollow(before: CheckCommand[], next: CheckCommand[]): boolean {
  return next.every((c, i) => !c.mayWait || [...before, ...next.slice(0, i)].every((b) => b.decidedByRc));
}
