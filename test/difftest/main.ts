/**
 * The differential tester: `--check` must be exact or say unknown.
 *
 *   sudo node dist/test/difftest/main.js [--seeds N] [--from S] [--jobs J] [--playbook FILE]... [--regressions] [--out DIR] [--print] [--retries N]
 *   (or scripts/difftest.sh with the same options)
 *
 * Brings up its own testbed (bridge provdt0, 10.78.0.0/24, /var/lib/provision/difftest), runs the
 * regression cases and/or the seeds (each on fresh hosts: --check --json, then the real run),
 * prints OK/MISMATCH per case, the totals and the unknown rate, and brings its testbed down
 * (also on Ctrl-C). Exit 0 when there is no mismatch and no error, 1 otherwise, 2 bad usage.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCase, type Case } from './case.js';
import { generate } from './generator.js';
import { compareReports, mismatchClass } from './compare.js';
import { caseStructure } from './structure.js';
import { runReport } from '../../src/engine/report.js';
import { Bed, describeFailure, DIFFTEST_DIR, PROJECT_ROOT, type CaseResult } from './harness.js';

export const REGRESSIONS_DIR = path.join(PROJECT_ROOT, 'test', 'difftest', 'regressions');

export interface SuiteOptions {
  seeds: number;
  from: number;
  jobs: number;
  files: string[];
  regressions: boolean;
  outDir: string;
  /** Keep every case and its two reports here (--keep DIR). */
  keepDir?: string;
  log: (line: string) => void;
  /** Print the case file (playbook YAML and all) of each failing case. */
  print?: boolean;
  /** Called with each finished case (in completion order). */
  onResult?: (r: CaseResult) => void;
  /**
   * Run a case whose only failure is a harness error (an SSH timeout at load, a run killed for
   * time) again on fresh hosts, this many times; a mismatch is never retried. Default 0.
   */
  retries?: number;
}

export interface Summary {
  cases: number;
  seeds: number;
  pairs: number;
  exact: number;
  mismatches: number;
  failedCases: string[];
  errors: number;
  errorCases: string[];
  unknown: number;
  realChanged: number;
  unknownChanged: number;
  /** Failed tasks the real runs' rescues caught. */
  rescued: number;
  /** Mismatch class (see mismatchClass) -> count and the first case that showed it. */
  classes: Map<string, { count: number; example: string }>;
  /** Per case: total wall time (ms), reset/check/real. */
  times: number[];
  results: CaseResult[];
  interrupted: boolean;
  /** Harness errors that a retry got past (the case's last attempt is what counts). */
  retried: string[];
}

export function regressionFiles(): string[] {
  return readdirSync(REGRESSIONS_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => path.join(REGRESSIONS_DIR, f));
}

function pct(a: number, b: number): string {
  return b === 0 ? '-' : `${((100 * a) / b).toFixed(1)}%`;
}

export function formatSummary(s: Summary): string[] {
  const avg = s.times.length ? s.times.reduce((a, b) => a + b, 0) / s.times.length / 1000 : 0;
  const max = s.times.length ? Math.max(...s.times) / 1000 : 0;
  return [
    `cases run: ${s.cases} (random seeds: ${s.seeds}, regressions/playbooks: ${s.cases - s.seeds})${s.interrupted ? ' (interrupted)' : ''}`,
    `(host, task) pairs compared: ${s.pairs}; exact: ${s.exact}; unknown: ${s.unknown}`,
    `mismatches: ${s.mismatches} in ${s.failedCases.length - s.errors} case(s); harness errors: ${s.errors}${s.retried.length ? ` (and ${s.retried.length} retried: ${s.retried.join('; ')})` : ''}`,
    `unknown rate: ${pct(s.unknown, s.pairs)} of all pairs; ${pct(s.unknownChanged, s.realChanged)} of the ${s.realChanged} pairs that really changed`,
    `failed tasks rescued in the real runs: ${s.rescued}`,
    `time per case: ${avg.toFixed(1)} s on average, ${max.toFixed(1)} s at most`,
    ...(s.classes.size ? ['mismatch classes (count, first case):'] : []),
    ...[...s.classes].sort((a, b) => b[1].count - a[1].count).map(([k, v]) => `  ${String(v.count).padStart(4)}  ${k}  (${v.example})`),
  ];
}

const emptySummary = (): Summary => ({
  cases: 0, seeds: 0, pairs: 0, exact: 0, mismatches: 0, failedCases: [], errors: 0, errorCases: [], unknown: 0, realChanged: 0, unknownChanged: 0, rescued: 0, classes: new Map(), times: [], results: [], interrupted: false, retried: [],
});

/** Add one finished case to the totals. */
function count(summary: Summary, name: string, r: CaseResult): void {
  summary.cases++;
  if (name.startsWith('seed ')) summary.seeds++;
  summary.results.push(r);
  summary.times.push(r.ms.total);
  const cmp = r.comparison;
  if (!cmp) return;
  summary.pairs += cmp.pairs;
  summary.exact += cmp.exact;
  summary.unknown += cmp.unknown;
  summary.mismatches += cmp.mismatches.length;
  summary.realChanged += cmp.realChanged;
  summary.unknownChanged += cmp.unknownChanged;
  summary.rescued += cmp.rescued;
  for (const m of cmp.mismatches) {
    const k = mismatchClass(m);
    const have = summary.classes.get(k);
    if (have) have.count++;
    else summary.classes.set(k, { count: 1, example: name });
  }
}

/**
 * The totals of the cases kept with --keep DIR, compared again from their two reports (no
 * hosts): after a change of the comparison, or to sum up several runs.
 */
export function rescore(dir: string): Summary {
  const summary = emptySummary();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.yml')).sort()) {
    const base = path.join(dir, f.replace(/\.yml$/, ''));
    if (!existsSync(`${base}.check.json`) || !existsSync(`${base}.real.json`)) continue;
    const c = loadCase(path.join(dir, f));
    const read = (x: string) => runReport.parse(JSON.parse(readFileSync(`${base}.${x}.json`, 'utf8')));
    const comparison = compareReports(read('check'), read('real'), caseStructure(c));
    const name = /^seed-\d+$/.test(path.basename(base)) ? path.basename(base).replace('-', ' ') : c.name;
    const r: CaseResult = { name, ok: comparison.mismatches.length === 0, comparison, ms: { reset: 0, check: 0, real: 0, total: 0 } };
    count(summary, name, r);
    if (!r.ok) summary.failedCases.push(name);
  }
  return summary;
}

export async function runSuite(o: SuiteOptions): Promise<Summary> {
  const cases: Array<() => Case> = [];
  if (o.regressions) for (const f of regressionFiles()) cases.push(() => loadCase(f));
  for (const f of o.files) cases.push(() => loadCase(path.resolve(f)));
  for (let s = o.from; s < o.from + o.seeds; s++) cases.push(() => generate(s));
  const summary = emptySummary();
  const bed = new Bed(Math.max(1, Math.min(o.jobs, cases.length)), o.log);
  let interrupted = false;
  // Ctrl-C: stop the provision runs in flight, let the cases finish (a reset in flight completes),
  // then the testbed goes down in `finally`. A second Ctrl-C exits at once.
  const onSigint = () => {
    if (interrupted) {
      o.log(`aborted: the testbed may still be up (PROVISION_TESTBED_DIR=${DIFFTEST_DIR} provision testbed down --names ... to remove it)`);
      process.exit(130);
    }
    interrupted = true;
    o.log('interrupted: stopping the runs, then bringing the testbed down (Ctrl-C again to abort at once)');
    bed.interrupt();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    await bed.up();
    let next = 0;
    const worker = async (gi: number) => {
      while (!interrupted && next < cases.length) {
        const make = cases[next++];
        let c: Case;
        try {
          c = make();
        } catch (e) {
          summary.errors++;
          summary.failedCases.push((e as Error).message);
          o.log(`ERROR ${(e as Error).message}`);
          continue;
        }
        let r: CaseResult;
        try {
          r = await bed.runCase(c, gi, o.outDir, o.keepDir);
          for (let k = 0; k < (o.retries ?? 0) && r.error && !r.comparison?.mismatches.length && !interrupted; k++) {
            const why = r.error.split('\n')[0];
            o.log(`RETRY    ${c.name}: harness error (${why}); once more on fresh hosts`);
            summary.retried.push(`${c.name}: ${why}`);
            r = await bed.runCase(c, gi, o.outDir, o.keepDir);
          }
        } catch (e) {
          // The testbed broke: stop everything (the other workers finish their case).
          o.log(`ABORT ${c.name}: ${(e as Error).message}`);
          summary.errors++;
          summary.failedCases.push(`${c.name} (testbed failure)`);
          summary.errorCases.push(`${c.name} (testbed failure)`);
          interrupted = true;
          bed.interrupt();
          break;
        }
        if (interrupted) break;
        count(summary, c.name, r);
        if (r.error) {
          summary.errors++;
          summary.errorCases.push(c.name);
        }
        if (!r.ok) summary.failedCases.push(c.name);
        const secs = (ms: number) => (ms / 1000).toFixed(1);
        const cmp = r.comparison;
        const head = `${r.ok ? 'OK      ' : r.error ? 'ERROR   ' : 'MISMATCH'} ${c.name}: ${cmp ? `${cmp.pairs} pairs, ${cmp.unknown} unknown, ${cmp.mismatches.length} mismatches` : ''} (${secs(r.ms.total)} s: reset ${secs(r.ms.reset)}, check ${secs(r.ms.check)}, real ${secs(r.ms.real)})`;
        o.log(head);
        if (!r.ok) {
          for (const l of describeFailure(r)) o.log(`    ${l}`);
          if (r.saved) o.log(`    saved: ${r.saved}`);
          if (r.saved && o.print) o.log(readFileSync(r.saved, 'utf8').replace(/^/gm, '    | '));
        }
        o.onResult?.(r);
      }
    };
    await Promise.all(bed.groups.map((_, gi) => worker(gi)));
  } finally {
    summary.interrupted = interrupted;
    await bed.down();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  return summary;
}

const USAGE = 'usage: difftest [--seeds N] [--from S] [--jobs J] [--playbook FILE]... [--regressions] [--out DIR] [--print] [--retries N] [--keep DIR]\n       difftest --rescore DIR   (the totals of the cases kept with --keep DIR, compared again; no hosts)\n';

function usage(msg: string): never {
  process.stderr.write(`difftest: ${msg}\n${USAGE}`);
  process.exit(2);
}

async function cli(argv: string[]): Promise<number> {
  const o: SuiteOptions = {
    seeds: 0, from: 1, jobs: 2, files: [], regressions: false, outDir: '/tmp/provision-difftest/failures',
    log: (l) => process.stdout.write(`${l}\n`),
  };
  let seedsGiven = false;
  const int = (v: string | undefined, name: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`${name} expects an integer >= ${min}, got ${v}`);
    return n;
  };
  if (argv[0] === '--rescore') {
    if (!argv[1] || argv.length > 2) usage('--rescore expects one directory');
    const s = rescore(path.resolve(argv[1]));
    process.stdout.write(`${formatSummary(s).filter((l) => !l.startsWith('time per case')).join('\n')}\n`);
    if (s.failedCases.length) process.stdout.write(`failing cases:\n${s.failedCases.map((n) => `  ${n}`).join('\n')}\n`);
    return s.failedCases.length === 0 ? 0 : 1;
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seeds') {
      o.seeds = int(argv[++i], a, 0);
      seedsGiven = true;
    }
    else if (a === '--from') o.from = int(argv[++i], a, 0);
    else if (a === '--jobs') o.jobs = int(argv[++i], a, 1);
    else if (a === '--playbook') o.files.push(argv[++i] ?? usage('--playbook expects a file'));
    else if (a === '--regressions') o.regressions = true;
    else if (a === '--print') o.print = true;
    else if (a === '--retries') o.retries = int(argv[++i], a, 0);
    else if (a === '--keep') o.keepDir = path.resolve(argv[++i] ?? usage('--keep expects a directory'));
    else if (a === '--out') o.outDir = path.resolve(argv[++i] ?? usage('--out expects a directory'));
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      return 0;
    } else usage(`unknown argument ${a}`);
  }
  if (o.jobs > 8) usage('--jobs: at most 8');
  if (!seedsGiven && o.files.length === 0 && !o.regressions) o.seeds = 10;
  // A replay of a few cases shows the failing playbooks in full.
  if (o.seeds + o.files.length <= 3 && !o.regressions) o.print = true;
  if (process.getuid?.() !== 0) {
    process.stderr.write('difftest: needs root (its own systemd-nspawn testbed)\n');
    return 2;
  }
  const t0 = Date.now();
  const s = await runSuite(o);
  process.stdout.write(`\n${formatSummary(s).join('\n')}\nwall time: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  if (s.failedCases.length) process.stdout.write(`failing cases (saved under ${o.outDir}):\n${s.failedCases.map((n) => `  ${n}`).join('\n')}\n`);
  if (s.interrupted) return 130;
  return s.failedCases.length === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = await cli(process.argv.slice(2));
}
