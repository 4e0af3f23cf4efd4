/**
 * A task's name as shown (Ansible templates task names): its `{{ }}` rendered with the host's
 * variables when the task starts (a loop's `item` is not one of them: a name that uses it shows
 * as written, as Ansible's task banner does). Showing a name never fails a task: a name that
 * cannot be rendered (an undefined or, in check mode, unknown value, an error, an expression over
 * its short time limit) is shown as written. It renders with the display scope, where each
 * secret is its placeholder; the run's Masker then masks the result like any output.
 * The name as written stays the task's identity: the report's `task`, --start-at-task,
 * --list-tasks, notify (all as in Ansible).
 */
import { hasTemplate, type Scope } from './expr.js';
import { withExpressionLimit } from './expr-budget.js';

/** A name is shown on one line; a long rendered value is cut. */
export const MAX_TITLE_LENGTH = 200;
/** An expression in a name gets this long (ms), not the task limit: a slow name is shown as written. */
export const TITLE_LIMIT_MS = 250;

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v) ?? '';
  return String(v);
}

/** The name rendered with `shown()` (a display scope, made only when the name has `{{ }}`), or as written. */
export function renderTitle(name: string, shown: () => Scope): string {
  if (!hasTemplate(name)) return name;
  let out: string;
  try {
    out = text(withExpressionLimit(TITLE_LIMIT_MS, () => shown().render(name)));
  } catch {
    return name;
  }
  out = out.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  if (out === '') return name;
  return out.length > MAX_TITLE_LENGTH ? `${out.slice(0, MAX_TITLE_LENGTH - 1)}…` : out;
}
