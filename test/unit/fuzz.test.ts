/**
 * Fuzz: `provision` over random mutations of the shipped inventories, playbooks, vars files
 * and templates (byte flips, deletions, duplications, YAML/EJS/expression syntax, alias bombs,
 * invalid UTF-8, huge numbers, odd command-line values). Every case must end with exit 0, 1
 * or 2 within a time bound: never 70 (internal error), never a stack trace.
 *
 * The CLI runs in-process (main(argv) with --syntax-check: everything exit 2 is about is
 * checked, no host is contacted). Templates that still load are also rendered the way the
 * runner does, where any error must be one the runner reports as a task failure (exit 1).
 *
 * Deterministic: FUZZ_SEED (default below) and FUZZ_CASES pick the cases; a failure prints the
 * case's seed and saves the mutated file. Cases that once crashed are kept as regression
 * fixtures under test/fixtures/fuzz/ and run first.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { ExpressionError, UndefinedVariable } from '../../src/engine/expr.js';
import { taskScope } from '../../src/engine/scope.js';
import { loadInventory } from '../../src/load/inventory.js';
import { loadPlaybook } from '../../src/load/playbook.js';
import { ConfigError } from '../../src/load/yaml.js';
import { TaskError } from '../../src/modules/contract.js';
import { builtinModules } from '../../src/modules/all.js';
import { runMain, type CliResult } from '../helpers/cli.js';
import { mutate, rng } from '../helpers/mutate.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const SEED = Number(process.env.FUZZ_SEED ?? 7_2026_12);
const CASES = Number(process.env.FUZZ_CASES ?? 2000);
/** Whole-run budget: cases stop early (and say so) rather than exceed it on a slow machine. */
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 100_000);
const PER_CASE_MS = 5_000;
const FIXTURES = join(ROOT, 'test', 'fixtures', 'fuzz');

/** The project copied into a temp dir: templates next to the playbooks, so mutated ones are found first. */
interface CorpusFile {
  kind: string;
  path: string;
  orig: Buffer;
  /** the playbook whose --syntax-check reads it (a role's task file, a role's .j2 template) */
  check?: string;
}

function setup(): { dir: string; files: CorpusFile[]; usedBy: Map<string, string[]> } {
  const dir = mkdtempSync(join(tmpdir(), 'prov-fuzz-'));
  cpSync(join(ROOT, 'playbooks'), join(dir, 'playbooks'), { recursive: true });
  cpSync(join(ROOT, 'templates'), join(dir, 'playbooks', 'templates'), { recursive: true });
  mkdirSync(join(dir, 'inventory'));
  const files: CorpusFile[] = [];
  for (const f of readdirSync(join(ROOT, 'inventory')).filter((f) => f.endsWith('.yml') && f !== 'testbed.yml')) {
    cpSync(join(ROOT, 'inventory', f), join(dir, 'inventory', f));
    files.push({ kind: 'inventory', path: join(dir, 'inventory', f), orig: readFileSync(join(ROOT, 'inventory', f)) });
  }
  const usedBy = new Map<string, string[]>();
  for (const f of readdirSync(join(dir, 'playbooks')).filter((f) => f.endsWith('.yml'))) {
    const path = join(dir, 'playbooks', f);
    const text = readFileSync(path, 'utf8');
    files.push({ kind: 'playbook', path, orig: readFileSync(path) });
    for (const m of text.matchAll(/src: ([\w.-]+\.ejs)/g)) usedBy.set(m[1], [...(usedBy.get(m[1]) ?? []), path]);
    for (const m of text.matchAll(/vars_files: \[([^\]]+)\]/g)) for (const v of m[1].split(',')) usedBy.set(v.trim(), [...(usedBy.get(v.trim()) ?? []), path]);
  }
  for (const f of readdirSync(join(dir, 'playbooks', 'vars'))) {
    const path = join(dir, 'playbooks', 'vars', f);
    files.push({ kind: 'vars', path, orig: readFileSync(path) });
  }
  for (const f of readdirSync(join(dir, 'playbooks', 'templates'))) {
    const path = join(dir, 'playbooks', 'templates', f);
    files.push({ kind: 'template', path, orig: readFileSync(path) });
  }
  // the site's roles, next to the playbooks (found before the project's): task files and templates
  cpSync(join(ROOT, 'roles'), join(dir, 'playbooks', 'roles'), { recursive: true });
  const site = join(dir, 'playbooks', 'site.yml');
  for (const rel of readdirSync(join(dir, 'playbooks', 'roles'), { recursive: true }) as string[]) {
    const path = join(dir, 'playbooks', 'roles', rel);
    if (rel.endsWith('.yml')) files.push({ kind: 'playbook', path, orig: readFileSync(path), check: site });
    if (rel.endsWith('.ejs')) files.push({ kind: 'template', path, orig: readFileSync(path), check: site });
  }
  // a project of one's own with roles, includes, blocks and .j2 templates (examples/notes)
  cpSync(join(ROOT, 'examples', 'notes'), join(dir, 'notes'), { recursive: true });
  const notesSite = join(dir, 'notes', 'site.yml');
  for (const rel of readdirSync(join(dir, 'notes'), { recursive: true }) as string[]) {
    const path = join(dir, 'notes', rel);
    if (rel.endsWith('.yml')) files.push({ kind: 'playbook', path, orig: readFileSync(path), check: notesSite });
    if (rel.endsWith('.j2')) files.push({ kind: 'template', path, orig: readFileSync(path), check: notesSite });
  }
  return { dir, files, usedBy };
}

/** Odd command-line values, now and then. */
function cliNoise(r: () => number): string[] {
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)];
  const x = r();
  if (x < 0.8) return [];
  return pick([
    ['--limit', pick([',', '!', '', ' ', 'web-01,', '&', 'web-0[', 'web-*', '!lb-01', 'webservers,&databases', 'nope', '*', '[', '!!x'])],
    ['--forks', pick(['0', '-1', '1e9', 'x', '', '1.5', '99999', '3'])],
    ['-e', pick(['{', '{"a":', 'a', '=x', 'a=b', '{"__proto__":{"x":1}}', '[1]', 'host=1', '{"a":1}'])],
    ['--tags', pick([',', '', 'nginx', '!'])],
    [pick(['--nope', '-Z', '--limit', '--forks'])],
  ]);
}

interface Failure {
  id: string;
  why: string;
  saved?: string;
}

function judge(r: CliResult): string | undefined {
  if (![0, 1, 2].includes(r.code)) return `exit ${r.code}`;
  if (/^\s+at /m.test(r.stderr) || /^\s+at /m.test(r.stdout)) return 'stack trace in the output';
  if (/internal error/.test(r.stderr)) return 'internal error';
  if (r.code === 2 && !/error/i.test(r.stderr)) return 'exit 2 without a message';
  if (r.ms > PER_CASE_MS) return `took ${r.ms} ms (bound ${PER_CASE_MS} ms)`;
  return undefined;
}

/** Render a template the way the runner does (prod inventory, the play's vars): only task-failure errors. */
const loadedForRender = new Map<string, { inv: ReturnType<typeof loadInventory>; pb: ReturnType<typeof loadPlaybook> }>();

function renderJudge(dir: string, template: string, playbook: string): string | undefined {
  // only the template is mutated in these cases: the inventory and playbook load once
  let loaded = loadedForRender.get(playbook);
  if (!loaded) {
    try {
      loaded = { inv: loadInventory(join(dir, 'inventory', 'prod.yml'), dir), pb: loadPlaybook(playbook, builtinModules()) };
    } catch (e) {
      return e instanceof ConfigError ? undefined : `loading for render threw ${String(e)}`;
    }
    loadedForRender.set(playbook, loaded);
  }
  const { inv, pb } = loaded;
  const play = pb.plays.find((p) => p.tasks.some((t) => t.module === 'template' && t.args.src === basename(template))) ?? pb.plays[0];
  const host = inv.hosts.values().next().value!;
  const facts = { hostname: host.name, loginUser: 'root', fqdn: host.name, os: { id: 'debian', version: '12', codename: 'bookworm' }, arch: 'x86_64', kernel: '6.1', cpus: 2, memoryMb: 2048, defaultIPv4: '10.0.0.2', defaultInterface: 'eth0', ipv4: ['10.0.0.2'] };
  const scope = taskScope({ inventory: inv, host, play, data: {}, facts, run: { id: 'fuzz', check: true }, secret: (n) => `secret-${n}-0123456789` });
  const t0 = Date.now();
  try {
    scope.template(readFileSync(template, 'utf8'), `templates/${basename(template)}`, 1000);
  } catch (e) {
    if (!(e instanceof ExpressionError || e instanceof UndefinedVariable || e instanceof TaskError)) return `render threw ${e instanceof Error ? e.stack : String(e)}`;
    if (/\n\s+at /.test((e as Error).message)) return 'stack trace in a render error';
  }
  return Date.now() - t0 > PER_CASE_MS ? 'render too slow' : undefined;
}

describe('fuzz: mutated inventories, playbooks, vars files and templates', () => {
  it('regression fixtures (cases that once crashed) end in exit 0, 1 or 2 without a stack trace', async () => {
    if (!existsSync(FIXTURES)) return;
    const cases = readdirSync(FIXTURES).filter((f) => f.endsWith('.args.json'));
    assert.ok(cases.length > 0, 'fixture directory without cases');
    for (const c of cases) {
      const args = (JSON.parse(readFileSync(join(FIXTURES, c), 'utf8')) as string[]).map((a) => a.replace('$FIXTURES', FIXTURES));
      const r = await runMain(args);
      assert.equal(judge(r), undefined, `${c}: exit ${r.code}\n${r.stderr.slice(0, 2000)}`);
      assert.equal(r.code, 2, `${c}: the fixture is bad input: exit 2 expected\n${r.stderr.slice(0, 500)}`);
    }
  });

  it(`${CASES} seeded cases (seed ${SEED}) end in exit 0, 1 or 2 within ${PER_CASE_MS} ms each, never a stack trace`, async () => {
    const { dir, files, usedBy } = setup();
    const r0 = await runMain([join(dir, 'playbooks', 'site.yml'), '-i', join(dir, 'inventory', 'prod.yml'), '--syntax-check']);
    assert.equal(r0.code, 0, `the unmutated corpus must load: ${r0.stderr}`);
    const failures: Failure[] = [];
    const codes = new Map<number, number>();
    const t0 = Date.now();
    let ran = 0;
    for (let c = 0; c < CASES; c++) {
      if (Date.now() - t0 > BUDGET_MS) break;
      const seed = SEED + c;
      const r = rng(seed);
      const x = r();
      const kind = x < 0.2 ? 'inventory' : x < 0.6 ? 'playbook' : x < 0.7 ? 'vars' : 'template';
      const pool = files.filter((f) => f.kind === kind);
      const target = pool[Math.floor(r() * pool.length)];
      const m = mutate(target.orig, r);
      writeFileSync(target.path, m.bytes);
      try {
        let playbook: string;
        if (target.check) playbook = target.check;
        else if (kind === 'playbook') playbook = target.path;
        else if (kind === 'inventory') playbook = join(dir, 'playbooks', r() < 0.8 ? 'common.yml' : 'site.yml');
        else {
          const users = usedBy.get(kind === 'template' ? basename(target.path) : `vars/${basename(target.path)}`) ?? [join(dir, 'playbooks', 'site.yml')];
          playbook = users.find((u) => !u.endsWith('site.yml')) ?? users[0];
        }
        const inventory = kind === 'inventory' ? target.path : join(dir, 'inventory', 'prod.yml');
        const args = [playbook, '-i', inventory, '--syntax-check', ...cliNoise(r)];
        const res = await runMain(args);
        ran++;
        codes.set(res.code, (codes.get(res.code) ?? 0) + 1);
        let why = judge(res);
        if (!why && kind === 'template' && res.code === 0) why = renderJudge(dir, target.path, playbook);
        if (why) {
          const saved = join(dir, `failure-${seed}-${basename(target.path)}`);
          writeFileSync(saved, m.bytes);
          failures.push({ id: `seed ${seed}: ${kind} ${basename(target.path)} [${m.ops.join(' ')}] args ${JSON.stringify(args.slice(1).map((a) => a.replace(dir, '$DIR')))}`, why: `${why}\n${res.stderr.slice(0, 1500)}`, saved });
        }
      } finally {
        writeFileSync(target.path, target.orig);
      }
    }
    const ms = Date.now() - t0;
    const summary = `${ran} cases in ${ms} ms; exit codes ${JSON.stringify(Object.fromEntries(codes))}`;
    process.stdout.write(`# fuzz: ${summary}\n`);
    assert.deepEqual(
      failures.map((f) => `${f.id}\n  -> ${f.why}\n  saved: ${f.saved}`).slice(0, 5),
      [],
      `${failures.length} failing case(s) of ${summary}`,
    );
    // the budget is a safety net, not the normal case: most cases must have run, and hit every outcome
    assert.ok(ran >= Math.min(CASES, 200), `only ${ran} cases ran within ${BUDGET_MS} ms`);
    assert.ok((codes.get(0) ?? 0) > 0 && (codes.get(2) ?? 0) > 0, `mutations must yield both loadable and refused cases: ${summary}`);
  });
});
