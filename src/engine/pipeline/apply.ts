/** Apply: run exactly the plan's commands, change by change; stop at the first failure and say what was applied. */
import { lastLines } from '../shell.js';
import type { ChangeReport } from '../report.js';
import type { Change, Connection, ExecResult } from '../../modules/contract.js';

export type ApplyResult =
  | { ok: true; last?: ExecResult }
  | { ok: false; error: string; last: ExecResult };

const indent = (s: string) => s.replace(/\n/g, '\n          ');

export async function applyPlan(
  conn: Connection,
  changes: Change[],
  reports: ChangeReport[],
  become: boolean,
  mask: (s: string) => string,
): Promise<ApplyResult> {
  let last: ExecResult | undefined;
  for (const [i, change] of changes.entries()) {
    for (const c of change.commands) {
      last = await conn.exec(c.cmd, { stdin: c.stdin, become: c.become ?? become, phase: 'apply' });
      if (last.code === 0) continue;
      reports.forEach((r, j) => (r.applied = j < i));
      const done = changes.slice(0, i).map((x) => x.summary);
      const cmdLine = c.display ?? c.cmd.split('\n').find((l) => l.trim()) ?? c.cmd;
      const err = lastLines(last.stderr, 8);
      const out = lastLines(last.stdout, 8);
      const error =
        `${change.summary}: command failed with exit code ${last.code}: ${mask(cmdLine.trim()).slice(0, 300)}` +
        (err ? `\n  stderr: ${indent(err)}` : out ? `\n  stdout: ${indent(out)}` : '') +
        (done.length ? `\n  already applied on this host before the failure: ${done.join('; ')}` : `\n  no earlier change of this task was applied`) +
        // a command that fails may have done part of its change (tar extracts before a mode step fails)
        `\n  what the failed command did before it failed is not undone`;
      return { ok: false, error, last };
    }
  }
  reports.forEach((r) => (r.applied = true));
  return { ok: true, last };
}
