/**
 * The time limit of `{{ }}` expressions: an endless loop in an expression fails its task
 * instead of hanging the run (and every other host with it, since evaluation is synchronous).
 *
 * node:vm's timeout is the only way to stop synchronous JavaScript, but it starts a watchdog
 * thread per call (about 0.3 ms here, 100× an evaluation). So an expression is run under the
 * watchdog unless it provably cannot run long: `boundedExpression` accepts only property reads,
 * operators, literals and calls to the scope's own functions or to string/array methods that
 * never call back (no function, loop, `new`, assignment, regex, template string or object
 * literal: nothing that could put user code where it would be called). Nested evaluations (a
 * variable whose value is an expression) run under the outermost evaluation's watchdog.
 */
import { createContext, Script } from 'node:vm';

export const DEFAULT_EXPRESSION_TIMEOUT_MS = 10_000;
const MAX_EXPRESSION_TIMEOUT_MS = 3_600_000;

let limitMs = DEFAULT_EXPRESSION_TIMEOUT_MS;

export const expressionTimeoutMs = (): number => limitMs;

export function setExpressionTimeoutMs(ms: number): void {
  limitMs = ms;
}

/** PROVISION_EXPRESSION_TIMEOUT_MS: the limit in milliseconds; an error message for a bad value. */
export function parseExpressionTimeout(value: string | undefined): number | string {
  if (value === undefined || value === '') return DEFAULT_EXPRESSION_TIMEOUT_MS;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_EXPRESSION_TIMEOUT_MS) {
    return `PROVISION_EXPRESSION_TIMEOUT_MS: expected a whole number of milliseconds from 1 to ${MAX_EXPRESSION_TIMEOUT_MS}, got '${value}'`;
  }
  return Number(value);
}

// Methods that take no callback and never call an argument (no replacer, reviver, comparator).
const SAFE_METHODS = new Set([
  'toUpperCase', 'toLowerCase', 'trim', 'trimStart', 'trimEnd', 'includes', 'startsWith', 'endsWith', 'indexOf',
  'lastIndexOf', 'slice', 'substring', 'at', 'charAt', 'concat', 'join', 'split', 'toString', 'toFixed', 'keys',
  'values', 'entries',
]);
const UNSAFE_WORDS = new Set(['new', 'function', 'class', 'while', 'for', 'do', 'async', 'await', 'yield', 'import', 'eval', 'with']);

/**
 * True only if evaluating `expr` cannot take long whatever the variables hold (see above).
 * Conservative: anything it does not recognise is "may run long" (then the watchdog guards it).
 */
export function boundedExpression(expr: string, isScopeFunction: (name: string) => boolean): boolean {
  const n = expr.length;
  let i = 0;
  // the last significant token before the current position: an identifier, a char, or ''
  let prevIdent = '';
  let prevChar = '';
  let identBeforeDot = false; // prevIdent came right after '.' (a method name)
  while (i < n) {
    const c = expr[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < n && expr[j] !== c) {
        if (expr[j] === '\\') j++;
        else if (expr[j] === '\n') return false;
        j++;
      }
      if (j >= n) return false;
      i = j + 1;
      prevIdent = '';
      prevChar = 's';
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w$]/.test(expr[j])) j++;
      const word = expr.slice(i, j);
      if (UNSAFE_WORDS.has(word)) return false;
      identBeforeDot = prevChar === '.';
      prevIdent = word;
      prevChar = 'w';
      i = j;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w.]/.test(expr[j])) j++;
      // a BigInt literal: 10n ** 10000000n runs for minutes without any call
      if (expr[j - 1] === 'n') return false;
      prevIdent = '';
      prevChar = '0';
      i = j;
      continue;
    }
    if (c === '(') {
      if (prevChar === 'w') {
        if (identBeforeDot ? !SAFE_METHODS.has(prevIdent) : !isScopeFunction(prevIdent)) return false;
      } else if (prevChar === ')' || prevChar === ']' || prevChar === '.' || prevChar === 's' || prevChar === '0') {
        return false; // calling a computed value
      }
    } else if (c === '=') {
      const before = expr[i - 1];
      const next = expr[i + 1];
      if (next === '>') return false; // an arrow function
      const comparison = next === '=' || before === '=' || before === '!' || ((before === '<' || before === '>') && expr[i - 2] !== before);
      if (!comparison) return false; // an assignment
    } else if ('{}`/\\;'.includes(c) || c.charCodeAt(0) > 0x7e) {
      return false; // object literal or block, template string, regex or comment, escape, statement
    }
    prevIdent = '';
    prevChar = c;
    i++;
  }
  return true;
}

// vm's timeout stops whatever JavaScript runs inside the script, including the function it calls.
const context = createContext({}) as { __run?: () => unknown };
const script = new Script('__run()');
let depth = 0;

/** Run fn under the expression time limit (once: nested calls run under the outermost one's). */
export function withinBudget<T>(fn: () => T, bounded: boolean): T {
  if (depth > 0 || bounded) return fn();
  const outer = context.__run;
  context.__run = fn;
  depth++;
  try {
    return script.runInContext(context, { timeout: limitMs }) as T;
  } finally {
    depth--;
    context.__run = outer;
  }
}

export const isTimeout = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';

/** Run fn with a lower time limit for its expressions (evaluation is synchronous: nothing else runs meanwhile). */
export function withExpressionLimit<T>(ms: number, fn: () => T): T {
  const saved = limitMs;
  limitMs = Math.min(saved, ms);
  try {
    return fn();
  } finally {
    limitMs = saved;
  }
}
