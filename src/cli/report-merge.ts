/** `provision report merge FILE... [--json]`: read, check and join the slices' reports (engine/report-merge.ts). */
import { readFileSync } from 'node:fs';
import { runReport, reportExitCode, type RunReport } from '../engine/report.js';
import { MergeError, mergeReports, type SliceReport } from '../engine/report-merge.js';
import { formatRecap } from './output.js';

function readReport(file: string): RunReport {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new MergeError(`${file}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new MergeError(`${file}: not JSON (${(e as Error).message}); give the stdout of a --json run`);
  }
  const parsed = runReport.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MergeError(`${file}: not a provision --json report: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The exit code: the merged run's (0, 1, 130), or 2 when the reports cannot be merged. */
export function mergeReportFiles(files: string[], json: boolean, io: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } }): number {
  let merged: RunReport;
  try {
    const slices: SliceReport[] = files.map((file) => ({ file, report: readReport(file) }));
    merged = mergeReports(slices);
  } catch (e) {
    if (!(e instanceof MergeError)) throw e;
    io.stderr.write(`error: ${e.message}\n`);
    return 2;
  }
  (json ? io.stderr : io.stdout).write(formatRecap(merged).replace(/^\n/, '') + '\n');
  if (json) io.stdout.write(JSON.stringify(merged, null, 2) + '\n');
  return reportExitCode(merged);
}
