/**
 * A command's output as Ansible registers it: `stdout` and `stderr` without their trailing
 * newlines (the command module strips every trailing \r and \n), and `stdout_lines` /
 * `stderr_lines` split as Python's str.splitlines() splits (Ansible adds them to every result
 * that has the output). Applied where a result's output is taken, so that check mode (a check run
 * for real) and the real run register the same value.
 */

// Python's str.splitlines() boundaries
const BREAK = '\\r\\n|[\\n\\r\\v\\f\\x1c\\x1d\\x1e\\x85\\u2028\\u2029]';
const BREAK_RE = new RegExp(BREAK);
const ENDS_WITH_BREAK = new RegExp(`(?:${BREAK})$`);

/** Python's str.splitlines(): no empty last line for a trailing break, [] for ''. */
export function splitLines(s: string): string[] {
  if (s === '') return [];
  const lines = s.split(BREAK_RE);
  if (ENDS_WITH_BREAK.test(s)) lines.pop();
  return lines;
}

/** The registered form of a result's `stdout`/`stderr` (other fields as they are). */
export function registeredOutput(data: Record<string, unknown>): Record<string, unknown> {
  if (typeof data.stdout !== 'string' && typeof data.stderr !== 'string') return data;
  const out = { ...data };
  for (const k of ['stdout', 'stderr'] as const) {
    const v = data[k];
    if (typeof v !== 'string') continue;
    const stripped = v.replace(/[\r\n]+$/, '');
    out[k] = stripped;
    out[`${k}_lines`] = splitLines(stripped);
  }
  return out;
}
