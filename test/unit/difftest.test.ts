/**
 * The differential tester's own logic, without hosts: the comparison rule (exact, unknown,
 * mismatch, legitimately missing pairs after a host stopped), the generator's determinism, and
 * that every generated case and every regression case is a valid playbook for the loader.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import type { RunReport, TaskReport } from '../../src/engine/report.js';
import { loadPlaybook } from '../../src/load/playbook.js';
import { builtinModules } from '../../src/modules/all.js';
import { caseToYaml, loadCase, writeCaseFiles, type Case } from '../difftest/case.js';
import { compareReports, mismatchClass } from '../difftest/compare.js';
import { generate, Rng } from '../difftest/generator.js';
import { caseStructure } from '../difftest/structure.js';
import { REGRESSIONS_DIR, regressionFiles, rescore } from '../difftest/main.js';

function task(host: string, name: string, status: TaskReport['status'], extra: Partial<TaskReport> = {}): TaskReport {
  return { host, play: 'p', task: name, module: 'file', status, changes: [], durationMs: 1, ...extra };
}

function report(check: boolean, tasks: TaskReport[]): RunReport {
  const recap: RunReport['recap'] = {};
  for (const t of tasks) recap[t.host] = { ok: 0, changed: 0, failed: 0, skipped: 0, unknown: 0, ignored: 0, unreachable: false };
  return { check, durationMs: 1, recap, tasks };
}

test('compare: exact, unknown and mismatching pairs', () => {
  const c = report(true, [task('h1', 'a', 'changed'), task('h1', 'b', 'unknown'), task('h1', 'c', 'ok'), task('h2', 'a', 'skipped')]);
  const r = report(false, [task('h1', 'a', 'changed'), task('h1', 'b', 'changed'), task('h1', 'c', 'changed'), task('h2', 'a', 'skipped')]);
  const cmp = compareReports(c, r);
  assert.equal(cmp.pairs, 4);
  assert.equal(cmp.exact, 2);
  assert.equal(cmp.unknown, 1);
  assert.equal(cmp.realChanged, 3);
  assert.equal(cmp.unknownChanged, 1);
  assert.deepEqual(cmp.mismatches.map((m) => [m.host, m.task, m.check, m.real]), [['h1', 'c', 'ok', 'changed']]);
  assert.equal(mismatchClass(cmp.mismatches[0]), 'file: check ok, real changed');
});

test('compare: pairs are told apart by play, handler flag and occurrence', () => {
  const c = report(true, [task('h1', 'x', 'changed'), task('h1', 'x', 'ok'), task('h1', 'x', 'changed', { handler: true })]);
  const r = report(false, [task('h1', 'x', 'changed'), task('h1', 'x', 'changed'), task('h1', 'x', 'changed', { handler: true })]);
  const cmp = compareReports(c, r);
  assert.equal(cmp.pairs, 3);
  assert.deepEqual(cmp.mismatches.map((m) => [m.task, m.check, m.real, m.handler]), [['x', 'ok', 'changed', false]]);
});

test('compare: after a host stopped at a failure (real), its later check pairs are not mismatches', () => {
  const c = report(true, [task('h1', 'a', 'unknown'), task('h1', 'b', 'changed'), task('h1', 'h', 'changed', { handler: true })]);
  const r = report(false, [task('h1', 'a', 'failed'), task('h1', 'h', 'changed', { handler: true })]);
  const cmp = compareReports(c, r);
  assert.equal(cmp.mismatches.length, 0);
  assert.equal(cmp.pairs, 2);
});

test('compare: a failure predicted by check stops check there; a pair missing without a stop is a mismatch', () => {
  const stopped = compareReports(report(true, [task('h1', 'a', 'failed')]), report(false, [task('h1', 'a', 'failed'), task('h1', 'b', 'ok')]));
  assert.equal(stopped.mismatches.length, 0);
  // An ignored failure does not stop the host: the missing pair is a mismatch.
  const ignored = compareReports(report(true, [task('h1', 'a', 'failed', { ignored: true })]), report(false, [task('h1', 'a', 'failed', { ignored: true }), task('h1', 'b', 'ok')]));
  assert.deepEqual(ignored.mismatches.map((m) => [m.task, m.check, m.real]), [['b', undefined, 'ok']]);
  // Check went on where the real run stopped, but check had said "changed" for the failing task.
  const wrong = compareReports(report(true, [task('h1', 'a', 'changed'), task('h1', 'b', 'ok')]), report(false, [task('h1', 'a', 'failed')]));
  assert.deepEqual(wrong.mismatches.map((m) => [m.task, m.check, m.real]), [['a', 'changed', 'failed']]);
  // A pair only in check, before the real run's failure point: a mismatch.
  const early = compareReports(report(true, [task('h1', 'x', 'ok'), task('h1', 'a', 'unknown')]), report(false, [task('h1', 'a', 'failed')]));
  assert.deepEqual(early.mismatches.map((m) => [m.task, m.check, m.real]), [['x', 'ok', undefined]]);
});

test('compare: a stop at a pair the other run lacks (a handler) still ends the later plays', () => {
  const t2 = (name: string, play: string, status: TaskReport['status'], extra: Partial<TaskReport> = {}) => ({ ...task('h1', name, status, extra), play });
  const c = report(true, [t2('a', 'p1', 'ok'), t2('b', 'p2', 'changed'), t2('c', 'p2', 'ok')]);
  const r = report(false, [t2('a', 'p1', 'ok'), t2('h', 'p1', 'failed', { handler: true })]);
  const cmp = compareReports(c, r);
  assert.deepEqual(cmp.mismatches.map((m) => [m.task, m.check, m.real]), [['h', undefined, 'failed']]);
});

test('compare: a handler check says unknown for and the real run does not run is allowed (unknown)', () => {
  const c = report(true, [task('h1', 'a', 'unknown'), task('h1', 'h', 'unknown', { handler: true }), task('h1', 'g', 'changed', { handler: true })]);
  const r = report(false, [task('h1', 'a', 'ok')]);
  const cmp = compareReports(c, r);
  assert.equal(cmp.unknown, 2);
  assert.equal(cmp.pairs, 2, 'the handler counts as a compared pair');
  assert.deepEqual(cmp.mismatches.map((m) => [m.task, m.check, m.real]), [['g', 'changed', undefined]]);
});

test('compare: a check-only pair that is unknown is never a mismatch (a rescue that was not needed)', () => {
  const c = report(true, [task('h1', 'a', 'unknown'), task('h1', 'r', 'unknown'), task('h1', 'z', 'changed')]);
  const r = report(false, [task('h1', 'a', 'ok'), task('h1', 'z', 'changed')]);
  const cmp = compareReports(c, r);
  assert.equal(cmp.mismatches.length, 0);
  assert.equal(cmp.unknown, 2);
  // after the real run stopped, check's later unknown pairs are not compared (nor counted)
  const stopped = compareReports(report(true, [task('h1', 'a', 'unknown'), task('h1', 'u', 'unknown')]), report(false, [task('h1', 'a', 'failed')]));
  assert.deepEqual([stopped.pairs, stopped.unknown, stopped.mismatches.length], [1, 1, 0]);
});

test('rescore: the totals of kept cases, compared again from their reports', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'difftest-keep-'));
  try {
    const c: Case = { name: 'seed 5', hosts: { h1: { user: 'root' } }, playbook: [{ name: 'p', hosts: 'all', tasks: [{ name: 'a', debug: {} }, { name: 'b', debug: {} }] }] };
    writeFileSync(path.join(dir, 'seed-5.yml'), caseToYaml(c));
    writeFileSync(path.join(dir, 'seed-5.check.json'), JSON.stringify(report(true, [task('h1', 'a', 'changed'), task('h1', 'b', 'unknown')])));
    writeFileSync(path.join(dir, 'seed-5.real.json'), JSON.stringify(report(false, [task('h1', 'a', 'ok'), task('h1', 'b', 'changed')])));
    const s = rescore(dir);
    assert.deepEqual([s.cases, s.seeds, s.pairs, s.unknown, s.mismatches, s.realChanged, s.unknownChanged, s.failedCases], [1, 1, 2, 1, 1, 1, 1, ['seed 5']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('compare: a rescued failure does not stop the host; the rest of its block section may be missing from the real run', () => {
  const c0: Case = {
    name: 'x',
    hosts: { h1: { user: 'root' } },
    taskFiles: { 'inc.yml': [{ name: 'i1', debug: { msg: 'x' } }], 'inc2.yml': [{ name: 'i2', debug: { msg: 'x' } }] },
    playbook: [
      {
        name: 'p',
        hosts: 'all',
        tasks: [
          {
            block: [{ name: 'a', command: 'false' }, { block: [{ name: 'b', debug: {} }] }, { name: 'c', debug: {} }],
            rescue: [{ name: 'r', debug: {} }, { name: 'inc', include_tasks: 'inc.yml' }],
            always: [{ name: 'w', debug: {} }],
          },
          { name: 'z', debug: {} },
          { name: 'inc2', include_tasks: 'inc2.yml', loop: '{{ [1] }}' },
        ],
      },
    ],
  };
  const s = caseStructure(c0);
  const real = report(false, [
    task('h1', 'a', 'failed', { rescued: true }),
    task('h1', 'r', 'ok'),
    task('h1', 'inc', 'ok', { module: 'include_tasks' }),
    task('h1', 'i1', 'ok'),
    task('h1', 'w', 'ok'),
    task('h1', 'z', 'changed'),
  ]);
  real.recap.h1.rescued = 1;
  // check: 'a' unknown, so the rest of the block is predicted, the rescue is unknown
  const check = report(true, [task('h1', 'a', 'unknown'), task('h1', 'b', 'ok'), task('h1', 'c', 'ok'), task('h1', 'r', 'unknown'), task('h1', 'i1', 'unknown'), task('h1', 'w', 'ok'), task('h1', 'z', 'changed')]);
  const cmp = compareReports(check, real, s);
  assert.deepEqual(cmp.mismatches, []);
  assert.equal(cmp.rescued, 1);
  // the include pseudo-task inside the unknown rescue counts as unknown
  assert.equal(cmp.unknown, 4);
  // without the structure, the skipped block tasks and the include are mismatches
  assert.deepEqual(compareReports(check, real).mismatches.map((m) => m.task), ['inc', 'b', 'c']);
  // a rescued failure is no stop: a task after the block that only check has is a mismatch
  const late = compareReports({ ...check, tasks: [...check.tasks, task('h1', 'y', 'ok')] }, real, s);
  assert.deepEqual(late.mismatches.map((m) => [m.task, m.check, m.real]), [['y', 'ok', undefined]]);
  // a confident 'ok' for the failing task is a mismatch, and then its block's rest is too
  const wrong = compareReports({ ...check, tasks: check.tasks.map((t) => (t.task === 'a' ? { ...t, status: 'ok' as const } : t)) }, real, s);
  assert.deepEqual(wrong.mismatches.map((m) => m.task), ['a', 'b', 'c']);
  // an include check called unknown: the tasks it ran for real are unknown, not missing
  const incCheck = report(true, [task('h1', 'inc2', 'unknown', { module: 'include_tasks' })]);
  const incReal = report(false, [task('h1', 'inc2', 'ok', { module: 'include_tasks' }), task('h1', 'i2', 'changed')]);
  const inc = compareReports(incCheck, incReal, s);
  assert.deepEqual(inc.mismatches.map((m) => m.task), []);
  assert.equal(inc.unknownChanged, 1);
  // seed 20368: a task inside that include failed for real and stopped the host: what check
  // predicted after the include is left out of the real run, not missing from it
  const stoppedReal = report(false, [task('h1', 'inc2', 'ok', { module: 'include_tasks' }), task('h1', 'i2', 'failed')]);
  const stoppedCheck = report(true, [task('h1', 'inc2', 'unknown', { module: 'include_tasks' }), task('h1', 'later', 'ok')]);
  assert.deepEqual(compareReports(stoppedCheck, stoppedReal, s).mismatches.map((m) => m.task), []);
  assert.deepEqual(compareReports(stoppedCheck, stoppedReal).mismatches.map((m) => m.task), ['i2', 'later']);
});

test('structure: blocks, includes and roles of a case, by play and reported name', () => {
  const c0: Case = {
    name: 'x',
    hosts: { h1: { user: 'root' } },
    taskFiles: { 'i.yml': [{ name: 'in', debug: {} }], 'm.yml': [{ name: 'im', debug: {} }] },
    roles: { rl1: { tasks: [{ name: 'q1', debug: {} }] }, rl2: { tasks: [{ name: 'q2', debug: {} }], meta: { dependencies: ['rl1'] } } },
    playbook: [
      {
        name: 'p',
        hosts: 'all',
        roles: ['rl2'],
        tasks: [
          { block: [{ name: 'a', debug: {} }, { import_tasks: 'm.yml' }], rescue: [{ name: 'inc', include_tasks: 'i.yml' }] },
          { name: 'ir', include_role: { name: 'rl1' } },
        ],
      },
    ],
  };
  const s = caseStructure(c0);
  const get = (n: string) => s.get(`p\u0000${n}`);
  assert.deepEqual(get('a')?.map((l) => [l.section, l.rescue]), [['block', true]]);
  assert.deepEqual(get('im'), get('a'));
  assert.deepEqual(get('in')?.map((l) => l.section), ['rescue', 'include']);
  assert.equal(get('in')?.[1].include, 'inc');
  assert.deepEqual(get('rl2 : q2'), []);
  // rl1 runs twice (as rl2's dependency, and included): two places, so the name is ambiguous
  assert.equal(get('rl1 : q1'), null);
});

test('generator: the same seed gives the same case, different seeds differ', () => {
  assert.deepEqual(generate(7), generate(7));
  assert.notDeepEqual(generate(7).playbook, generate(8).playbook);
  const r = new Rng(1);
  const xs = Array.from({ length: 1000 }, () => r.next());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.ok(new Set(xs).size > 990);
});

/** Every task of a playbook, blocks and task files included. */
function* tasksOf(c: Case): Generator<Record<string, unknown>> {
  const walk = function* (ts: unknown): Generator<Record<string, unknown>> {
    if (!Array.isArray(ts)) return;
    for (const t of ts as Record<string, unknown>[]) {
      yield t;
      for (const k of ['block', 'rescue', 'always', 'tasks', 'pre_tasks', 'post_tasks', 'handlers']) yield* walk(t[k]);
    }
  };
  yield* walk(c.playbook);
  for (const ts of Object.values(c.taskFiles ?? {})) yield* walk(ts);
  for (const r of Object.values(c.roles ?? {})) for (const ts of Object.values(r as Record<string, unknown>)) yield* walk(ts);
}

test('generator: a command that declares its effects declares what it writes (seed 42050: a touch loop declared another path)', () => {
  let checked = 0;
  for (let s = 1; s <= 400; s++) {
    for (const t of tasksOf(generate(s))) {
      const a = (t.command ?? t.shell) as { cmd?: string; writes?: string[] } | undefined;
      const m = a?.cmd ? /^(?:touch|mkdir -p|rm -rf) (\/\S+)$/.exec(a.cmd) : null;
      if (!m || a!.writes === undefined) continue;
      checked++;
      assert.ok(a!.writes.includes(m[1]), `seed ${s}: '${a!.cmd}' declares writes ${JSON.stringify(a!.writes)}`);
    }
  }
  assert.ok(checked > 500, `only ${checked} commands checked`);
});

function loads(c: Case, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  // with root: literally named templates, files and task files must exist and compile
  loadPlaybook(writeCaseFiles(dir, c), builtinModules(), { root: dir });
}

/** The playbook language the generator must produce within 120 seeds. */
const LANGUAGE = [
  'block:', 'rescue:', 'always:', 'changed_when:', 'failed_when:', 'until:', 'set_fact:', 'debug:', 'fail:',
  'include_tasks:', 'import_tasks:', 'include_role:', 'import_role:', 'roles:', 'meta: flush_handlers', 'listen:',
  'loop_control:', 'label:', 'index_var:', 'loop_var:', ': yes\n', ': no\n', 'pre_tasks:', 'post_tasks:', 'dependencies:',
  'taskFiles:', 'ansible_failed_task',
];

test('generator: 120 seeds give valid playbooks covering every module and feature', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'difftest-'));
  const seen = new Set<string>();
  try {
    for (let s = 1; s <= 120; s++) {
      const c = generate(s);
      assert.doesNotThrow(() => loads(c, dir), `seed ${s}`);
      const text = stringify(c.playbook);
      const all = caseToYaml(c);
      for (const k of LANGUAGE) if (all.includes(k)) seen.add(k);
      for (const k of ['file:', 'copy:', 'template:', 'user:', 'group:', 'service:', 'apt:', 'command:', 'shell:', 'creates:', 'removes:', 'unless:', 'register:', 'when:', 'loop:', 'notify:', 'handlers:', 'delegate_to:', 'become:', 'ignore_errors:', 'update_cache:', 'lineinfile:', 'blockinfile:', 'replace:', 'get_url:', 'git:', 'reboot:']) {
        if (text.includes(`${k}`)) seen.add(k);
      }
      for (const st of ['file', 'directory', 'link', 'absent', 'touch']) if (text.includes(`state: ${st}\n`)) seen.add(`state ${st}`);
      if (Object.values(c.hosts).some((h) => h.user === 'deploy')) seen.add('deploy');
      // the play's own task keywords (inherited by its tasks and handlers)
      for (const k of ['ignore_errors', 'no_log', 'check_mode', 'throttle']) if ((c.playbook as Record<string, unknown>[]).some((p) => k in p)) seen.add(`play ${k}`);
      // Round trip through the case file format.
      const f = path.join(dir, 'case.yml');
      writeFileSync(f, caseToYaml(c, ['comment']));
      const back = loadCase(f);
      assert.deepEqual([back.playbook, back.taskFiles, back.roles], [c.playbook, c.taskFiles, c.roles]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(seen.size, 27 + 5 + 1 + 4 + LANGUAGE.length, `seen: ${[...seen].join(' ')}`);
});

test('regression corpus: the 8 examples of issue 6 and more, all valid playbooks (and the open cases too)', () => {
  const files = regressionFiles();
  for (let i = 1; i <= 8; i++) assert.ok(files.some((f) => path.basename(f).startsWith(`ex${i}-`)), `example ${i} is kept as a regression`);
  const openDir = path.join(path.dirname(REGRESSIONS_DIR), 'open');
  const open = readdirSync(openDir).filter((f) => f.endsWith('.yml')).map((f) => path.join(openDir, f));
  const dir = mkdtempSync(path.join(tmpdir(), 'difftest-'));
  try {
    for (const f of [...files, ...open]) assert.doesNotThrow(() => loads(loadCase(f), dir), f);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
