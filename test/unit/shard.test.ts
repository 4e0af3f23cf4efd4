/**
 * --shard K/N and `provision report merge`: the slicing (engine/shard.ts) and the merge
 * (engine/report-merge.ts) as functions, and both through the built CLI on plays with
 * `connection: local` (no host is contacted: the tasks run on the controller with each host's
 * variables).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseShard, shardHosts, sliceOf } from '../../src/engine/shard.js';
import { MergeError, mergeReports, type SliceReport } from '../../src/engine/report-merge.js';
import { reportExitCode, runReport, type RunReport } from '../../src/engine/report.js';
import { tmp } from '../helpers/fake.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');

describe('--shard K/N: the slices', () => {
  it('parses K/N and refuses everything else', () => {
    assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
    assert.deepEqual(parseShard(' 1 / 1 '), { index: 1, count: 1 });
    for (const bad of ['0/3', '4/3', '1/0', '3', '1/2/3', 'a/b', '-1/3', '1/1001', ''])
      assert.equal(typeof parseShard(bad), 'string', `'${bad}' should be refused`);
  });

  it('puts every host in exactly one slice, balanced, whatever the order the hosts come in', () => {
    const hosts = Array.from({ length: 23 }, (_, i) => `host-${String(i).padStart(2, '0')}`);
    for (const n of [1, 2, 3, 5, 23, 30]) {
      const slices = Array.from({ length: n }, (_, k) => shardHosts(hosts, { index: k + 1, count: n }));
      const all = slices.flat();
      assert.equal(all.length, hosts.length, `N=${n}: a host in two slices or none`);
      assert.deepEqual([...all].sort(), [...hosts].sort());
      const sizes = slices.map((s) => s.length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `N=${n}: unbalanced ${sizes.join(',')}`);
      const shuffled = [...hosts].reverse();
      shuffled.push(hosts[3]); // a host named twice (two plays) counts once
      for (let k = 0; k < n; k++) assert.deepEqual(shardHosts(shuffled, { index: k + 1, count: n }), slices[k]);
    }
  });

  it('deals sorted names round-robin, by code units (not the locale)', () => {
    assert.deepEqual(shardHosts(['web-2', 'db', 'Web-1', 'web-10', 'lb'], { index: 1, count: 2 }), ['Web-1', 'lb', 'web-2']);
    assert.deepEqual([...sliceOf(['c', 'a', 'b'], 2)], [['a', 1], ['b', 2], ['c', 1]]);
  });
});

function slice(index: number, count: number, recap: Record<string, Partial<RunReport['recap'][string]>>, more: Partial<RunReport> = {}, total = 5): RunReport {
  const full = Object.fromEntries(Object.entries(recap).map(([h, r]) => [h, { ok: 1, changed: 0, failed: 0, skipped: 0, unknown: 0, ignored: 0, unreachable: false, ...r }]));
  return runReport.parse({
    check: false,
    run: { playbooks: [{ file: 'site.yml', sha256: 'aa' }], inventory: 'testbed', shard: { index, count, hosts: Object.keys(recap), total } },
    durationMs: 100 * index,
    recap: full,
    tasks: Object.keys(recap).map((host) => ({ host, play: 'p', task: 't', module: 'debug', status: 'ok', changes: [], durationMs: 1 })),
    ...more,
  });
}

const named = (...reports: RunReport[]): SliceReport[] => reports.map((report, i) => ({ file: `r${i + 1}.json`, report }));
const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof MergeError, String(e));
    return e.message;
  }
  assert.fail('expected the merge to be refused');
};

describe('report merge', () => {
  const s1 = slice(1, 3, { a: {}, d: {} });
  const s2 = slice(2, 3, { b: { failed: 1, ok: 0 } });
  const s3 = slice(3, 3, { c: { changed: 2 }, e: {} });

  it('joins the slices (in any order) into one report: every host once, sorted, tasks by slice, the worst exit code', () => {
    const m = mergeReports(named(s3, s1, s2));
    assert.deepEqual(Object.keys(m.recap), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(m.recap.b.failed, 1);
    assert.equal(m.recap.c.changed, 2);
    assert.deepEqual(m.tasks.map((t) => t.host), ['a', 'd', 'b', 'c', 'e']);
    assert.equal(m.durationMs, 300);
    assert.equal(m.run?.merged, 3);
    assert.equal(m.run?.shard, undefined);
    assert.equal(reportExitCode(m), 1);
    assert.equal(reportExitCode(mergeReports(named(s1, slice(2, 3, { b: {} }), s3))), 0);
    assert.equal(reportExitCode(mergeReports(named(s1, slice(2, 3, { b: { unreachable: true, ok: 0 } }), s3))), 1);
    assert.equal(reportExitCode(mergeReports(named(s1, slice(2, 3, { b: {} }, { interrupted: true }), s3))), 130);
  });

  it('refuses what is not one sharded run, saying why', () => {
    assert.match(refusal(() => mergeReports(named(s1, s2))), /slice 3\/3 missing/);
    assert.match(refusal(() => mergeReports(named(s1, s1, s3))), /r1.json and r2.json are both slice 1\/3/);
    assert.match(refusal(() => mergeReports(named(s1, slice(2, 3, { b: {}, a: {} }), s3))), /host a is in two slices: r1.json \(slice 1\/3\) and r2.json \(slice 2\/3\)/);
    assert.match(refusal(() => mergeReports(named(s1, { ...s2, check: true }, s3))), /r2.json is a slice of a different run than r1.json: check mode true ≠ false/);
    const other = { ...s2, run: { ...s2.run!, playbooks: [{ file: 'site.yml', sha256: 'bb' }] } };
    assert.match(refusal(() => mergeReports(named(s1, other, s3))), /different run .*playbooks \(files or their contents\)/);
    assert.match(refusal(() => mergeReports(named(s1, { ...s2, run: { ...s2.run!, limit: 'web' } }, s3))), /--limit "web" ≠ null/);
    assert.match(refusal(() => mergeReports(named(s1, slice(2, 4, { b: {} }), s3))), /number of slices/);
    assert.match(refusal(() => mergeReports(named(s1, { ...s2, run: undefined }, s3))), /r2.json: not the report of a --shard run/);
    assert.match(refusal(() => mergeReports(named(mergeReports(named(s1, s2, s3))))), /already a merged report/);
    assert.match(refusal(() => mergeReports(named(slice(1, 3, { a: {} }, {}, 4), slice(2, 3, { b: {} }, {}, 4), slice(3, 3, { c: {} }, {}, 4)))), /3 hosts between them, but the run targets 4/);
    assert.match(refusal(() => mergeReports([])), /no report/);
  });
});

/** The CLI on a project whose plays run on the controller (connection: local). */
function cli(dir: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const { FORCE_COLOR: _color, ...env } = process.env;
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...env, CI: '1', NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('--shard and report merge through the CLI', () => {
  const dir = tmp('prov-shard-');
  writeFileSync(join(dir, 'inv.yml'), `hosts:\n${['a1', 'a2', 'a3', 'b1', 'b2', 'c1', 'c2'].map((h, i) => `  ${h}: { address: 10.255.255.${i + 1} }\n`).join('')}`);
  writeFileSync(
    join(dir, 'pb.yml'),
    `- hosts: all\n  connection: local\n  gather_facts: false\n  tasks:\n    - name: greet\n      debug: { msg: "slice host {{ host.name }}" }\n    - name: fail on b2\n      fail: { msg: b2 fails }\n      when: "host.name == 'b2'"\n`,
  );

  it('three slices run every host (after --limit) once; the merge has them all and the run exit code', () => {
    const files: string[] = [];
    const codes: number[] = [];
    for (const k of [1, 2, 3]) {
      const r = cli(dir, ['pb.yml', '-i', 'inv.yml', '--limit', '!c2', '--shard', `${k}/3`, '--json']);
      codes.push(r.code);
      writeFileSync(join(dir, `r${k}.json`), r.stdout);
      files.push(`r${k}.json`);
      const report = runReport.parse(JSON.parse(r.stdout));
      assert.deepEqual(report.run?.shard?.hosts, Object.keys(report.recap));
    }
    // sorted a1 a2 a3 b1 b2 c1, dealt round-robin: b2 (the failing host) is in slice 2
    assert.deepEqual(codes, [0, 1, 0]);
    const m = cli(dir, ['report', 'merge', ...files, '--json']);
    assert.equal(m.code, 1, m.stderr);
    const merged = runReport.parse(JSON.parse(m.stdout));
    assert.deepEqual(Object.keys(merged.recap), ['a1', 'a2', 'a3', 'b1', 'b2', 'c1']);
    assert.deepEqual(merged.tasks.filter((t) => t.task === 'greet').map((t) => t.host).sort(), ['a1', 'a2', 'a3', 'b1', 'b2', 'c1']);
    assert.match(m.stderr, /RECAP/);
    assert.match(m.stderr, /b2 +ok=1 +changed=0 +failed=1/);
    assert.match(m.stderr, /FAILED/);
    const human = cli(dir, ['report', 'merge', ...files]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /c1 +ok=1/);
    const missing = cli(dir, ['report', 'merge', 'r1.json', 'r3.json']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /slice 2\/3 missing/);
    writeFileSync(join(dir, 'junk.json'), '{"check": 1}');
    assert.match(cli(dir, ['report', 'merge', 'junk.json']).stderr, /junk.json: not a provision --json report: check:/);
    assert.match(cli(dir, ['report', 'merge', 'nope.json']).stderr, /nope.json: cannot read it: ENOENT/);
  });

  it('a slice may be empty (more slices than hosts): an empty report, exit 0', () => {
    const r = cli(dir, ['pb.yml', '-i', 'inv.yml', '--limit', 'a1', '--shard', '2/2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(runReport.parse(JSON.parse(r.stdout)).recap, {});
    assert.match(r.stderr, /this slice has no host/);
  });

  it('--list-hosts shows the slice', () => {
    const r = cli(dir, ['pb.yml', '-i', 'inv.yml', '--shard', '3/3', '--list-hosts']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /a3/);
    assert.match(r.stdout, /c1/);
    assert.doesNotMatch(r.stdout, /a1|a2|b1|b2|c2/);
  });

  it('refuses serial, max_fail_percentage and run_once at load (exit 2, file:line:col); a computed include fails its run_once task', () => {
    writeFileSync(join(dir, 'serial.yml'), `- hosts: all\n  connection: local\n  serial: 2\n  max_fail_percentage: 10\n  tasks:\n    - name: once\n      debug: { msg: x }\n      run_once: true\n`);
    const r = cli(dir, ['serial.yml', '-i', 'inv.yml', '--shard', '1/2']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /serial.yml:1:3: serial: rolling batches cannot be kept with --shard/);
    assert.match(r.stderr, /serial.yml:1:3: max_fail_percentage: .* cannot be counted with --shard/);
    assert.match(r.stderr, /serial.yml:6:7: run_once cannot run once per run with --shard/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    assert.equal(cli(dir, ['serial.yml', '-i', 'inv.yml', '--check']).code, 0, 'the same playbook runs without --shard');
    writeFileSync(join(dir, 'inc.yml'), `- name: inner once\n  debug: { msg: y }\n  run_once: true\n`);
    writeFileSync(join(dir, 'dyn.yml'), `- hosts: all\n  connection: local\n  gather_facts: false\n  tasks:\n    - include_tasks: "{{ 'inc.yml' }}"\n`);
    const d = cli(dir, ['dyn.yml', '-i', 'inv.yml', '--shard', '1/3', '--json']);
    assert.equal(d.code, 1);
    const once = runReport.parse(JSON.parse(d.stdout)).tasks.filter((t) => t.task === 'inner once');
    assert.deepEqual(once.map((t) => [t.host, t.status]), [['a1', 'failed'], ['b1', 'failed'], ['c2', 'failed']]);
    assert.match(once[0].error ?? '', /inc.yml:1:3: run_once cannot run once per run with --shard/);
    for (const bad of ['0/2', '3/2', 'x']) {
      const b = cli(dir, ['pb.yml', '-i', 'inv.yml', '--shard', bad]);
      assert.equal(b.code, 2);
      assert.match(b.stderr, /--shard: /);
    }
  });
});
