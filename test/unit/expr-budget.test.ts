import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Scope, ExpressionError } from '../../src/engine/expr.js';
import { boundedExpression, DEFAULT_EXPRESSION_TIMEOUT_MS, parseExpressionTimeout, setExpressionTimeoutMs } from '../../src/engine/expr-budget.js';
import { runPlaybook, statuses, tmp } from '../helpers/fake.js';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const isFn = (n: string) => n === 'secret';

describe('expression time limit', () => {
  before(() => setExpressionTimeoutMs(300));
  after(() => setExpressionTimeoutMs(DEFAULT_EXPRESSION_TIMEOUT_MS));

  it('an endless loop in {{ }} fails that host\'s task with its file:line; the other host completes', async () => {
    const dir = tmp();
    const inventory = `
hosts:
  h1: { address: 10.0.0.1 }
  h2: { address: 10.0.0.2 }
vars:
  base: ${dir}
`;
    const playbook = `
- name: Loops
  hosts: [h1, h2]
  tasks:
    - name: Endless on h1
      copy:
        dest: "{{ base }}/{{ host.name }}.txt"
        content: "{{ host.name === 'h1' ? (() => { while (true) {} })() : 'fine' }}"
    - name: After
      copy: { dest: "{{ base }}/{{ host.name }}.after", content: "x" }
`;
    const started = Date.now();
    const { report } = await runPlaybook({ inventory, playbook, dir });
    assert.ok(Date.now() - started < 5000, 'the run did not hang');
    assert.deepEqual(statuses(report).sort(), ['h1|Endless on h1|failed', 'h2|After|changed', 'h2|Endless on h1|changed']);
    const failed = report.tasks.find((t) => t.status === 'failed')!;
    assert.match(failed.error ?? '', /evaluation took more than 300 ms \(an endless loop\?\); the limit is PROVISION_EXPRESSION_TIMEOUT_MS/);
    assert.match(failed.error ?? '', new RegExp(`task at ${join(dir, 'playbook.yml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:5`));
  });

  it('a loop in a variable used by a bounded expression is caught too (nested evaluation)', () => {
    const scope = new Scope({ spin: "{{ (() => { for (;;) {} })() }}" }, { secret: () => '' });
    assert.equal(boundedExpression('spin + 1', isFn), true);
    assert.throws(() => scope.eval('spin + 1'), (e: unknown) => e instanceof ExpressionError && /\{\{ spin \}\}|took more than 300 ms/.test(e.message));
  });

  it('expressions that may run long are recognised, including ways to reach the Function constructor', () => {
    const scope = new Scope({ s: 'abc', list: ['a', 'b'] }, { secret: () => '' });
    const looping = [
      '(() => { while (true) {} })()',
      "s.constructor.constructor('while (true) {}')()",
      "({ trim: ({ join: s.constructor.constructor }).join('while (true) {}') }).trim()",
      "[1].map(s['constr' + 'uctor']['constr' + 'uctor']('while (true) {}'))",
      "(0, s.constructor.constructor)('for (;;) {}')()",
      "Function('while (true) {}')()",
      "/(a+)+$/.test('a'.repeat(40) + 'b')",
      '10n ** 100000000n',
    ];
    for (const expr of looping) {
      assert.equal(boundedExpression(expr, isFn), false, expr);
      const started = Date.now();
      assert.throws(() => scope.eval(expr), /took more than 300 ms/, expr);
      assert.ok(Date.now() - started < 3000, expr);
    }
    const unbounded = ['x = 1', 'a.b &&= c', 'a >>= 1', '`${a}`', 'a.sort()', 'JSON.stringify(a, f)', 'f?.(1)', 'new Date()', 'typeof (a)', 'a /* c */', "'\\u0041'(1)"];
    for (const expr of unbounded) assert.equal(boundedExpression(expr, isFn), false, expr);
    const bounded = [
      'item',
      "hostvars['lb-01'].address",
      "secret('db').toUpperCase()",
      "groups.web.join(',')",
      "a === 'x' ? b : c ?? d",
      'a !== b && c <= d || e >= f',
      "'(' + s + ')'",
      "\"it's {\" + x",
      'list.includes(item) && !(x > 1)',
      'port + 1.5',
      'a?.b?.c',
    ];
    for (const expr of bounded) assert.equal(boundedExpression(expr, isFn), true, expr);
  });

  it('PROVISION_EXPRESSION_TIMEOUT_MS: default, a value, and a bad value is exit 2 before any host', () => {
    assert.equal(parseExpressionTimeout(undefined), DEFAULT_EXPRESSION_TIMEOUT_MS);
    assert.equal(parseExpressionTimeout('250'), 250);
    for (const bad of ['0', '-5', '1.5', 'ten', '3600001']) assert.match(String(parseExpressionTimeout(bad)), /expected a whole number/);
    const dir = tmp();
    writeFileSync(join(dir, 'inv.yml'), 'hosts:\n  h1: { address: 127.0.0.1 }\n');
    writeFileSync(join(dir, 'pb.yml'), '- hosts: h1\n  tasks:\n    - command: { cmd: "true" }\n');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'provision.js'), join(dir, 'pb.yml'), '-i', join(dir, 'inv.yml')], {
      env: { ...process.env, PROVISION_EXPRESSION_TIMEOUT_MS: 'soon' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /PROVISION_EXPRESSION_TIMEOUT_MS: expected a whole number of milliseconds from 1 to 3600000, got 'soon'/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  });
});
