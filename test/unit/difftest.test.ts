/**
 * The differential tester's own logic, without hosts: the comparison rule (exact, unknown,
 * mismatch, legitimately missing pairs after a host stopped), the generator's determinism, and
 * that every generated case and every regression case is a valid playbook for the loader.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import type { RunReport, TaskReport } from '../../src/engine/report.js';
import { loadPlaybook } from '../../src/load/playbook.js';
import { builtinModules } from '../../src/modules/all.js';
import { caseToYaml, loadCase, type Case } from '../difftest/case.js';
import { compareReports, mismatchClass } from '../difftest/compare.js';
import { generate, Rng } from '../difftest/generator.js';
import { regressionFiles } from '../difftest/main.js';

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

test('generator: the same seed gives the same case, different seeds differ', () => {
  assert.deepEqual(generate(7), generate(7));
  assert.notDeepEqual(generate(7).playbook, generate(8).playbook);
  const r = new Rng(1);
  const xs = Array.from({ length: 1000 }, () => r.next());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.ok(new Set(xs).size > 990);
});

function loads(c: Case, dir: string): void {
  const file = path.join(dir, 'playbook.yml');
  writeFileSync(file, stringify(c.playbook));
  loadPlaybook(file, builtinModules());
}

test('generator: 120 seeds give valid playbooks covering every module and feature', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'difftest-'));
  const seen = new Set<string>();
  try {
    for (let s = 1; s <= 120; s++) {
      const c = generate(s);
      assert.doesNotThrow(() => loads(c, dir), `seed ${s}`);
      const text = stringify(c.playbook);
      for (const k of ['file:', 'copy:', 'template:', 'user:', 'group:', 'service:', 'apt:', 'command:', 'shell:', 'creates:', 'removes:', 'unless:', 'register:', 'when:', 'loop:', 'notify:', 'handlers:', 'delegate_to:', 'become:', 'ignore_errors:', 'update_cache:']) {
        if (text.includes(`${k}`)) seen.add(k);
      }
      for (const st of ['file', 'directory', 'link', 'absent', 'touch']) if (text.includes(`state: ${st}\n`)) seen.add(`state ${st}`);
      if (Object.values(c.hosts).some((h) => h.user === 'deploy')) seen.add('deploy');
      // Round trip through the case file format.
      const f = path.join(dir, 'case.yml');
      writeFileSync(f, caseToYaml(c, ['comment']));
      assert.deepEqual(loadCase(f).playbook, c.playbook);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(seen.size, 21 + 5 + 1, `missing: ${[...seen].join(' ')}`);
});

test('regression corpus: the 8 examples of issue 6 and more, all valid playbooks', () => {
  const files = regressionFiles();
  for (let i = 1; i <= 8; i++) assert.ok(files.some((f) => path.basename(f).startsWith(`ex${i}-`)), `example ${i} is kept as a regression`);
  const dir = mkdtempSync(path.join(tmpdir(), 'difftest-'));
  try {
    for (const f of files) assert.doesNotThrow(() => loads(loadCase(f), dir), f);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
