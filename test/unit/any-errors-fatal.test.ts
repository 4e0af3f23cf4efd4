/**
 * any_errors_fatal (engine/lockstep.ts): the play's hosts run in step, and the first failure of a
 * task with it (errors not ignored, no rescue catching it) stops every host at the end of that
 * task, and the run; in check mode a task with it whose outcome is unknown makes every other
 * host's later tasks unknown. On local fake hosts, real runs and dry runs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { comparePositions, Lockstep } from '../../src/engine/lockstep.js';
import { runPlaybook, tmp } from '../helpers/fake.js';

const inventory = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1 }
  h2: { address: 10.0.0.2 }
  h3: { address: 10.0.0.3 }
groups:
  web: { hosts: [h1, h2, h3] }
vars:
  base: ${dir}
`;

type Run = Awaited<ReturnType<typeof runPlaybook>>;
const statusOf = (r: Run, host: string) => r.report.tasks.filter((t) => t.host === host).map((t) => `${t.task}=${t.status}`);

describe('any_errors_fatal', () => {
  it('orders places in the tree: a path before its children, siblings by index', () => {
    assert.ok(comparePositions([1], [1, 0]) < 0);
    assert.ok(comparePositions([1, 2, 0], [1, 10]) < 0);
    assert.ok(comparePositions([2], [1, 5, 5]) > 0);
    assert.equal(comparePositions([3, 1], [3, 1]), 0);
  });

  it('keeps hosts in step: no host starts a task before every other host reached it', async () => {
    const ls = new Lockstep(['a', 'b']);
    const order: string[] = [];
    const bAt2 = ls.arrive('b', [2]).then(() => order.push('b@2'));
    await ls.arrive('a', [0]);
    await new Promise((r) => setTimeout(r, 20));
    order.push('a@1');
    await ls.arrive('a', [1]);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(order, ['a@1']);
    ls.leave('a');
    await bAt2;
    assert.deepEqual(order, ['a@1', 'b@2']);
  });

  it('a failure on one host stops every host at the end of that task, and the run; dry run the same', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: slow on h1
      command: { cmd: "sleep 0.3", writes: [] }
      changed_when: false
      failed_when: false
      when: host.name === 'h1'
    - name: first
      copy: { dest: "{{ base }}/first-{{ host.name }}", content: "1" }
    - name: fails on h2
      fail: { msg: "broken" }
      when: host.name === 'h2'
    - name: second
      copy: { dest: "{{ base }}/second-{{ host.name }}", content: "2" }
- hosts: web
  gather_facts: false
  tasks:
    - name: next play
      copy: { dest: "{{ base }}/next-{{ host.name }}", content: "3" }
`;
    const check = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    for (const r of [real, check]) {
      assert.deepEqual(statusOf(r, 'h2'), ['slow on h1=skipped', 'first=changed', 'fails on h2=failed']);
      assert.deepEqual(statusOf(r, 'h1').slice(1), ['first=changed', 'fails on h2=skipped']);
      assert.deepEqual(statusOf(r, 'h3'), ['slow on h1=skipped', 'first=changed', 'fails on h2=skipped']);
      assert.match(r.report.stopped?.reason ?? '', /'fails on h2' failed on h2, and any_errors_fatal stops every host/);
      assert.equal(r.report.recap.h2.failed, 1);
    }
    // h3 was not slowed by anything, yet did not run 'second': it waited for h1 at 'fails on h2'
    for (const h of ['h1', 'h2', 'h3']) {
      assert.equal(readFileSync(join(dir, `first-${h}`), 'utf8'), '1');
      assert.ok(!existsSync(join(dir, `second-${h}`)));
      assert.ok(!existsSync(join(dir, `next-${h}`)));
    }
  });

  it('a failure a rescue catches, or an ignored one, stops nobody', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - block:
        - name: fails on h1
          fail: { msg: "broken" }
          when: host.name === 'h1'
      rescue:
        - name: rescued
          debug: { msg: "ok" }
    - name: ignored failure
      fail: { msg: "broken" }
      when: host.name === 'h2'
      ignore_errors: true
    - name: after
      copy: { dest: "{{ base }}/after-{{ host.name }}", content: "x" }
`;
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    for (const h of ['h1', 'h2', 'h3']) assert.equal(readFileSync(join(dir, `after-${h}`), 'utf8'), 'x');
    assert.equal(real.report.stopped, undefined);
  });

  it('check mode: a task with it whose outcome is unknown makes the other hosts\' later tasks, handlers and later plays unknown', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  gather_facts: false
  tasks:
    - name: first
      copy: { dest: "{{ base }}/first-{{ host.name }}", content: "1" }
      notify: note
    - name: may fail on h1
      command: { cmd: "test -e {{ base }}/nothing", writes: [] }
      when: host.name === 'h1'
      any_errors_fatal: true
    - name: second
      copy: { dest: "{{ base }}/second-{{ host.name }}", content: "2" }
  handlers:
    - name: note
      copy: { dest: "{{ base }}/noted-{{ host.name }}", content: "n" }
- hosts: web
  gather_facts: false
  tasks:
    - name: next play
      copy: { dest: "{{ base }}/next-{{ host.name }}", content: "3" }
`;
    const check = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    assert.deepEqual(statusOf(check, 'h2'), ['first=changed', 'may fail on h1=skipped', 'second=unknown', 'note=unknown', 'next play=unknown']);
    assert.deepEqual(statusOf(check, 'h1'), ['first=changed', 'may fail on h1=unknown', 'second=changed', 'note=changed', 'next play=unknown']);
    const second = check.report.tasks.find((t) => t.host === 'h2' && t.task === 'second');
    assert.match(second?.note ?? '', /runs only if 'may fail on h1' does not fail on h1 \(any_errors_fatal/);
    // and the real run: the command fails on h1, every host stops after it
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(statusOf(real, 'h2'), ['first=changed', 'may fail on h1=skipped']);
    // the failing host runs its notified handlers, as after any failure (README)
    assert.deepEqual(statusOf(real, 'h1'), ['first=changed', 'may fail on h1=failed', 'note=changed']);
  });

  it('check mode: a host stopped by another\'s certain failure, whose own outcome of that task is unknown, reports its handlers unknown (seed 22083)', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: first
      copy: { dest: "{{ base }}/first-{{ host.name }}", content: "1" }
      notify: note
    - name: makes a directory, not on h1
      command: { cmd: "mkdir -p {{ base }}/d-{{ host.name }}", writes: ["{{ base }}/d-{{ host.name }}"] }
      when: host.name !== 'h1'
      ignore_errors: true
    - name: fails on h1, unknown elsewhere
      blockinfile: { path: "{{ base }}/d-{{ host.name }}/f", block: x }
  handlers:
    - name: note
      copy: { dest: "{{ base }}/noted-{{ host.name }}", content: "n" }
`;
    const check = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    // h2 may fail the task too (then it is among the failed, which run their handlers) or not (then it stops)
    // (h1's handler is unknown too, conservatively: h2's outcome may stop the run, README)
    assert.deepEqual(statusOf(check, 'h1'), ['first=changed', 'makes a directory, not on h1=skipped', 'fails on h1, unknown elsewhere=failed', 'note=unknown']);
    assert.deepEqual(statusOf(check, 'h2'), ['first=changed', 'makes a directory, not on h1=unknown', 'fails on h1, unknown elsewhere=unknown', 'note=unknown']);
    const note = check.report.tasks.find((t) => t.host === 'h2' && t.task === 'note');
    assert.match(note?.note ?? '', /runs its handlers only if 'fails on h1, unknown elsewhere' fails on it too/);
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(statusOf(real, 'h1'), ['first=changed', 'makes a directory, not on h1=skipped', 'fails on h1, unknown elsewhere=failed', 'note=changed']);
    assert.deepEqual(statusOf(real, 'h2'), ['first=changed', 'makes a directory, not on h1=changed', 'fails on h1, unknown elsewhere=failed', 'note=changed']);
  });

  it('refuses any_errors_fatal in a file included at run time when the play does not run in step', async () => {
    const dir = tmp();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'inc.yml'), '- name: inner\n  debug: { msg: hi }\n  any_errors_fatal: true\n');
    const playbook = `
- hosts: web
  gather_facts: false
  tasks:
    - include_tasks: "{{ 'inc.yml' }}"
`;
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    const inc = real.report.tasks.find((t) => t.host === 'h1');
    assert.equal(inc?.status, 'failed');
    assert.match(inc?.error ?? '', /any_errors_fatal in a file included at run time: set it on the play/);
  });
});
