/**
 * Consecutive read-only checks of a host in one round trip.
 *
 * When a host reaches a run of checks (assert, wait_for, GET http_check) on one connection, the
 * commands of their first attempts (CheckModule.firstAttempt) run in one script, in order,
 * each as it would run alone (in a subshell, stdin empty); the script stops after a command
 * whose exit code already fails its check. Each check then runs as always, and its connection
 * answers its commands from that script's results while they are exactly the ones it runs.
 *
 * A result is served only to a check that passes with it, and only while every check before it
 * in the run passed with its own: so what a served check saw ran after everything the engine
 * would have run before it, and nothing it read can have changed by the engine since (checks
 * only read). When a check fails with a served result, or runs any other command (a retry, a
 * rendered command that differs), nothing more of the script is served; a check that fails on
 * a served result (its last attempt came from the script) runs again on its own: a failure is
 * always reported from a command run for that check alone.
 */
import { randomBytes } from 'node:crypto';
import { sq } from '../shell.js';
import type { Task } from '../../load/playbook.js';
import type { CheckCommand, Connection, ExecOptions, ExecResult } from '../../modules/contract.js';

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
  const frame = (s: string, i: number): { body: string; rest: string } | undefined => {
    const start = s.indexOf(`@@${boundary} ${i}\n`);
    if (start < 0) return undefined;
    const from = start + `@@${boundary} ${i}\n`.length;
    const end = s.indexOf(`\n@@${boundary} end`, from - 1);
    if (end < 0) return undefined;
    return { body: s.slice(from, end), rest: s.slice(end + 1) };
  };
  let stdout = r.stdout;
  let stderr = r.stderr;
  for (let i = 0; i < n; i++) {
    const o = frame(stdout, i);
    const e = frame(stderr, i);
    const code = o && /^@@\S+ end (\d+)\n/.exec(o.rest);
    if (!o || !e || !code) break;
    out.push({ code: Number(code[1]), stdout: o.body, stderr: e.body });
    stdout = o.rest.slice(code[0].length);
    stderr = e.rest;
  }
  return out;
}

/** The results of one such script, served to the checks it ran ahead for. */
export class ChecksAhead {
  private readonly queues = new Map<Task, { cmd: string; opts: string; result: ExecResult }[]>();
  /** the tasks whose latest command was answered from the script */
  private readonly lastServed = new Set<Task>();
  private valid = true;
  private readonly span: Set<Task>;

  constructor(planned: PlannedChecks, results: ExecResult[]) {
    this.span = new Set(planned.span);
    let k = 0;
    for (const p of planned.checks) {
      const q = p.commands.map((c) => ({ cmd: c.cmd, opts: optsKey(c.opts), result: results[k++] })).filter((e) => e.result !== undefined);
      this.queues.set(p.task, q);
    }
  }

  /** Whether `task` lies within the run of checks (planned, or a task between them that does not run). */
  covers(task: Task): boolean {
    return this.span.has(task);
  }

  has(task: Task): boolean {
    return this.queues.has(task);
  }

  /** Whether `task`'s latest command was answered from the script (not run on its own since). */
  served(task: Task): boolean {
    return this.lastServed.has(task);
  }

  /** Serve nothing more (a check failed with what it was served, or ran something else). */
  drop(): void {
    this.valid = false;
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
          this.lastServed.add(task);
          return next.result;
        }
        this.valid = false;
        this.lastServed.delete(task);
        return conn.exec(cmd, opts);
      },
    };
  }

  /** After `task` ran: if it did not use all it was served, nothing after it may be used. */
  finished(task: Task): void {
    if ((this.queues.get(task)?.length ?? 0) > 0) this.valid = false;
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
  return new ChecksAhead(planned, parseChecksOutput(r, commands.length, boundary));
}

/** The commands can share one script: same options (but the timeout), no stdin. */
export function sameRun(a: CheckCommand, b: CheckCommand): boolean {
  const strip = (o?: ExecOptions) => optsKey({ ...o, timeoutMs: undefined });
  return a.opts?.stdin === undefined && b.opts?.stdin === undefined && strip(a.opts) === strip(b.opts);
}
