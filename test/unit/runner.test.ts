import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { changedSet, runPlaybook, statuses, tmp } from '../helpers/fake.js';

const inventory = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1, vars: { sub: one } }
  h2: { address: 10.0.0.2, vars: { sub: two } }
groups:
  web: { hosts: [h1, h2] }
vars:
  base: ${dir}
`;

describe('runner', () => {
  it('applies, verifies, and converges to zero changes on the second run; check predicts exactly', async () => {
    const dir = tmp();
    const playbook = `
- name: Files
  hosts: web
  tasks:
    - name: Directory
      file: { path: "{{ base }}/{{ sub }}", state: directory, mode: '0750' }
    - name: File inside the new directory
      copy: { dest: "{{ base }}/{{ sub }}/hello.txt", content: "hello {{ host.name }}\\n", mode: '0640' }
    - name: Guarded command
      command: { cmd: "touch {{ base }}/{{ sub }}/stamp", creates: "{{ base }}/{{ sub }}/stamp" }
`;
    const check = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    // The copy is planned against the predicted directory, not refused for a missing parent;
    // the command would run, but its exit status is known only when it does.
    assert.deepEqual(
      check.report.tasks.map((t) => `${t.host}:${t.task}:${t.status}`).sort(),
      ['Directory:changed', 'File inside the new directory:changed', 'Guarded command:unknown'].flatMap((s) => [`h1:${s}`, `h2:${s}`]).sort(),
    );
    assert.equal(existsSync(join(dir, 'one')), false, 'check mode changed nothing');

    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(changedSet(real.report), [...changedSet(check.report), 'h1|Guarded command', 'h2|Guarded command'].sort());
    assert.equal(readFileSync(join(dir, 'two', 'hello.txt'), 'utf8'), 'hello h2\n');

    const again = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(changedSet(again.report), []);
    assert.ok(again.report.tasks.every((t) => t.status === 'ok'));
    const note = again.report.tasks.find((t) => t.task === 'Guarded command')?.note ?? '';
    assert.match(note, /not run: .*stamp exists/);

    const check2 = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    assert.deepEqual(changedSet(check2.report), []);
  });

  it('a failed task stops that host only; handlers notified before still run; failed hosts skip later plays', async () => {
    const dir = tmp();
    const playbook = `
- name: First
  hosts: web
  tasks:
    - name: Notifying change
      copy: { dest: "{{ base }}/{{ sub }}.txt", content: "x" }
      notify: [announce]
    - name: Fails on h1
      command: { cmd: "test {{ host.name }} != h1" }
    - name: After the failure
      command: { cmd: "true" }
  handlers:
    - name: announce
      command: { cmd: "touch {{ base }}/{{ sub }}.handled" }
    - name: never notified
      command: { cmd: "touch {{ base }}/never" }
- name: Second
  hosts: web
  tasks:
    - name: Later play
      command: { cmd: "true" }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    const s = statuses(report);
    assert.ok(s.includes('h1|Fails on h1|failed'));
    assert.ok(!s.includes('h1|After the failure|changed'));
    assert.ok(s.includes('h2|After the failure|changed'));
    assert.ok(existsSync(join(dir, 'one.handled')), 'handler ran for the failed host');
    assert.ok(existsSync(join(dir, 'two.handled')));
    assert.ok(!existsSync(join(dir, 'never')));
    assert.equal(report.tasks.filter((t) => t.task === 'announce').length, 2);
    assert.ok(!s.some((x) => x.startsWith('h1|Later play')), 'failed host left out of later plays');
    assert.ok(s.includes('h2|Later play|changed'));
    assert.equal(report.recap.h1.failed, 1);
    const fail = report.tasks.find((t) => t.status === 'failed')!;
    assert.match(fail.error!, /exit code 1: test h1 != h1/);
    assert.match(fail.error!, /no earlier change of this task was applied\n {2}what the failed command did before it failed is not undone/);
  });

  it('an unreachable host is reported and the others proceed; a dropped connection fails only that host', async () => {
    const dir = tmp();
    const playbook = `
- hosts: all
  tasks:
    - name: one
      command: { cmd: "true" }
    - name: two
      command: { cmd: "true" }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir, unreachable: ['h1'] });
    assert.equal(report.recap.h1.unreachable, true);
    assert.match(report.recap.h1.error!, /connection refused/);
    assert.equal(report.recap.h2.changed, 2);

    // h2 drops after host facts + first fact/exec round trips
    const dropped = await runPlaybook({ inventory: inventory(dir), playbook, dir, dropAfter: { h2: 2 } });
    assert.equal(dropped.report.recap.h2.unreachable, true);
    assert.ok(dropped.report.tasks.some((t) => t.host === 'h2' && t.status === 'failed' && /unreachable/.test(t.error ?? '')));
    assert.equal(dropped.report.recap.h1.changed, 2);
  });

  it('fails a task whose effect does not verify', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - name: Claims to create a file but does not
      command: { cmd: "true", creates: "{{ base }}/never-created" }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.equal(report.tasks[0].status, 'failed');
    assert.match(report.tasks[0].error!, /verification failed: the host still differs: run: true/);
  });

  it('when, register, tags, limit and skipped tasks', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  tasks:
    - name: Probe
      shell: { cmd: "echo {{ sub }}" }
      register: probe
      tags: [probe]
    - name: Only when probe said one
      command: { cmd: "touch {{ base }}/when-{{ host.name }}" }
      when: "probe.stdout.trim() === 'one'"
      tags: [probe]
    - name: Untagged
      command: { cmd: "touch {{ base }}/untagged" }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir, tags: ['probe'], limit: 'h*,!h2' });
    assert.deepEqual(statuses(report), ['h1|Probe|changed', 'h1|Only when probe said one|changed']);
    assert.ok(existsSync(join(dir, 'when-h1')));
    assert.ok(!existsSync(join(dir, 'untagged')));
    const r2 = await runPlaybook({ inventory: inventory(dir), playbook, dir, skipTags: ['probe'], limit: 'h2' });
    assert.deepEqual(statuses(r2.report), ['h2|Untagged|changed']);
    const r3 = await runPlaybook({ inventory: inventory(dir), playbook, dir, tags: ['probe'], limit: 'h2' });
    assert.deepEqual(statuses(r3.report), ['h2|Probe|changed', 'h2|Only when probe said one|skipped']);
  });

  it('an undefined variable fails the task with its name; never renders as empty', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - name: Uses a missing variable
      copy: { dest: "{{ base }}/x", content: "{{ nope.deeper }}" }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.equal(report.tasks[0].status, 'failed');
    assert.match(report.tasks[0].error!, /undefined variable: nope/);
    assert.ok(!existsSync(join(dir, 'x')));
  });

  it('masks secrets in diffs, errors and the report', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - name: Secret file
      copy: { dest: "{{ base }}/secret.conf", content: "password={{ secret('db_pw') }}\\n", mode: '0600' }
    - name: Failing command that prints it
      shell: { cmd: "echo 'pw is {{ secret(\\"db_pw\\") }}' >&2; exit 3" }
`;
    const { report, events } = await runPlaybook({ inventory: inventory(dir), playbook, dir, env: { PROVISION_SECRET_DB_PW: 'hunter2-very-secret' } });
    assert.equal(readFileSync(join(dir, 'secret.conf'), 'utf8'), 'password=hunter2-very-secret\n');
    const json = JSON.stringify(report) + JSON.stringify(events);
    assert.ok(!json.includes('hunter2-very-secret'), 'secret leaked into output');
    assert.match(report.tasks[0].changes[0].diff!, /\+password=«secret db_pw»/);
    assert.match(report.tasks[1].error!, /pw is \*{8}/);
  });

  it('generates a secret once and reuses it (idempotent)', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - name: Generated secret
      copy: { dest: "{{ base }}/gen.conf", content: "{{ secret('gen') }}", mode: '0600' }
`;
    const a = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.equal(a.report.tasks[0].status, 'changed');
    const b = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.equal(b.report.tasks[0].status, 'ok');
    assert.equal(readFileSync(join(dir, 'gen.conf'), 'utf8').length, 24);
  });

  it('check mode reports unknown instead of guessing for checks after predicted changes', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - name: Change
      copy: { dest: "{{ base }}/f", content: "a" }
    - name: Check it
      assert: { cmd: "cat {{ base }}/f", expect_stdout: "^a$" }
`;
    const c = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    assert.deepEqual(statuses(c.report), ['h1|Change|changed', 'h1|Check it|unknown']);
    await runPlaybook({ inventory: inventory(dir), playbook, dir });
    const c2 = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    assert.deepEqual(statuses(c2.report), ['h1|Change|ok', 'h1|Check it|ok']);
  });
});

describe('loop', () => {
  it('runs a task once per item, reports one result, registers results, and stops at the first failure', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - name: Files per item
      copy: { dest: "{{ base }}/{{ item }}.txt", content: "{{ item }}" }
      loop: [a, b, c]
      register: made
    - name: Derived loop
      command: { cmd: "touch {{ base }}/{{ item.name }}", creates: "{{ base }}/{{ item.name }}" }
      loop: "{{ made.results.map((r) => ({ name: r.item + '.stamp' })) }}"
    - name: Fails on b
      command: { cmd: "test {{ item }} != b" }
      loop: [a, b, c]
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(statuses(report), ['h1|Files per item|changed', 'h1|Derived loop|changed', 'h1|Fails on b|failed']);
    assert.deepEqual(
      report.tasks[0].changes.map((c) => c.summary),
      ['[a] create ' + join(dir, 'a.txt') + ' (1 bytes)', '[b] create ' + join(dir, 'b.txt') + ' (1 bytes)', '[c] create ' + join(dir, 'c.txt') + ' (1 bytes)'],
    );
    assert.ok(existsSync(join(dir, 'c.stamp')));
    assert.match(report.tasks[2].error!, /^item b: .*exit code 1/);
    assert.equal(report.tasks[2].changes.length, 2, 'item a ran (changed), item b failed, item c never ran');
    const again = await runPlaybook({ inventory: inventory(dir), playbook: playbook.replace(/ {4}- name: Fails on b[\s\S]*$/, ''), dir });
    assert.deepEqual(statuses(again.report), ['h1|Files per item|ok', 'h1|Derived loop|ok']);
  });
});

describe('interrupt', () => {
  it('stops after the tasks in flight and says so in the report', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - { name: one, command: { cmd: "true" } }
    - { name: two, command: { cmd: "true" } }
- hosts: h1
  tasks:
    - { name: three, command: { cmd: "true" } }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir, interruptAfter: 1 });
    assert.deepEqual(statuses(report), ['h1|one|changed']);
    assert.equal(report.interrupted, true);
  });
});

describe('review regressions', () => {
  it('never evaluates host output as an expression', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - name: Output that looks like a template
      shell: { cmd: "printf '\\\\173\\\\173 process.pid \\\\175\\\\175 and \\\\173\\\\173 nope \\\\175\\\\175'" }
      register: out
    - name: Use it
      copy: { dest: "{{ base }}/echo.txt", content: "{{ out.stdout }}" }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(statuses(report), ['h1|Output that looks like a template|changed', 'h1|Use it|changed']);
    assert.equal(readFileSync(join(dir, 'echo.txt'), 'utf8'), '{{ process.pid }} and {{ nope }}');
  });

  it("--limit with only exclusions starts from every host; ignore_errors does not count as failed", async () => {
    const dir = tmp();
    const playbook = `
- hosts: all
  tasks:
    - name: Fails but ignored
      command: { cmd: "false" }
      ignore_errors: true
    - name: Goes on
      command: { cmd: "true" }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir, limit: '!h2' });
    assert.deepEqual(statuses(report), ['h1|Fails but ignored|failed', 'h1|Goes on|changed']);
    assert.equal(report.recap.h1.failed, 0);
    assert.equal(report.recap.h1.ignored, 1);
    assert.equal(report.tasks[0].ignored, true);
  });

  it('check mode: a handler notified only by an unknown task is unknown, not silently dropped', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - name: Creates a directory
      command: { cmd: "mkdir -p {{ base }}/made", creates: "{{ base }}/made" }
    - name: Manage what the command made
      file: { path: "{{ base }}/made", state: directory, mode: '0700' }
      notify: react
  handlers:
    - name: react
      command: { cmd: "true" }
`;
    const c = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    assert.deepEqual(statuses(c.report), ['h1|Creates a directory|unknown', 'h1|Manage what the command made|unknown', 'h1|react|unknown']);
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.equal(real.report.tasks.filter((t) => t.status === 'failed').length, 0);
  });

  it('a failing chdir stops the whole command', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - name: In a missing directory
      shell: { cmd: "pwd; touch {{ base }}/ran", chdir: "{{ base }}/missing" }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.equal(report.tasks[0].status, 'failed');
    assert.ok(!existsSync(join(dir, 'ran')));
  });

  it('masks every line of a multi-line secret in diffs', async () => {
    const dir = tmp();
    const pem = '-----BEGIN KEY-----\nQUFBQUJCQkJDQ0NDRERERA==\nRUVFRUZGRkZHR0dHSEhISA==\n-----END KEY-----';
    const playbook = `
- hosts: h1
  tasks:
    - name: Key file
      copy: { dest: "{{ base }}/key.pem", content: "{{ secret('tls_key') }}", mode: '0600' }
`;
    const { report, events } = await runPlaybook({ inventory: inventory(dir), playbook, dir, env: { PROVISION_SECRET_TLS_KEY: pem } });
    const text = JSON.stringify(report) + JSON.stringify(events);
    assert.ok(!text.includes('QUFBQUJCQkJDQ0NDRERERA=='), 'a line of the secret leaked');
    assert.equal(readFileSync(join(dir, 'key.pem'), 'utf8'), pem);
  });
});

describe('variable precedence', () => {
  it('play defaults < inventory (all < group < host) < play vars < extra vars', async () => {
    const dir = tmp();
    // every key is set at every level up to the one that must win
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const upTo = (n: number, level: string) => keys.slice(n).map((k) => `${k}: ${level}`).join(', ');
    writeFileSync(join(dir, 'defaults.yml'), keys.map((k) => `${k}: defaults-file`).join('\n') + '\n');
    const inv = `
hosts:
  h1: { vars: { ${upTo(3, 'host')} } }
groups:
  g: { hosts: [h1], vars: { ${upTo(2, 'group')} } }
vars: { base: ${dir}, ${upTo(1, 'all')} }
`;
    const playbook = `
- hosts: h1
  defaults_files: [defaults.yml]
  defaults: { ${keys.map((k) => `${k}: play-defaults`).join(', ')} }
  vars: { ${upTo(4, 'play-vars')} }
  tasks:
    - name: Register
      shell: { cmd: "printf registered" }
      register: f
    - name: Show
      copy: { dest: "{{ base }}/vars.txt", content: "{{ [a, b, c, d, e, typeof f === 'object' ? 'registered' : f, g].join(' ') }}" }
`;
    const { report } = await runPlaybook({ inventory: inv, playbook, dir, extraVars: { g: 'extra' } });
    assert.equal(report.tasks[1].status, 'changed', report.tasks[1].error);
    // a: play defaults beat the defaults file; b: all; c: group; d: host; e: play vars;
    // f: a registered result beats play vars; g: extra vars beat everything
    assert.equal(readFileSync(join(dir, 'vars.txt'), 'utf8'), 'play-defaults all group host play-vars registered extra');
  });
});

describe('interrupt and handlers', () => {
  it('runs the handlers of what changed before the interrupt, then stops', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - { name: one, copy: { dest: "{{ base }}/one", content: "1" }, notify: [react] }
    - { name: two, command: { cmd: "true" } }
  handlers:
    - { name: react, command: { cmd: "touch {{ base }}/reacted" } }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir, interruptAfter: 1 });
    assert.deepEqual(statuses(report), ['h1|one|changed', 'h1|react|changed']);
    assert.ok(existsSync(join(dir, 'reacted')));
    assert.equal(report.interrupted, true);
  });
});

describe('connections opened ahead', () => {
  const twoPlays = (dir: string, first = 'sleep 0.3') => `
- name: First
  hosts: h1
  tasks:
    - name: Slow
      command: { cmd: "${first}" }
- name: Second
  hosts: h2
  tasks:
    - name: Touch
      file: { path: "${dir}/two", state: touch }
`;

  it("a host whose first play comes later is connected while the earlier play runs, once, and reported when its play starts", async () => {
    const dir = tmp();
    const r = await runPlaybook({ inventory: inventory(dir), playbook: twoPlays(dir), dir });
    assert.deepEqual(statuses(r.report), ['h1|Slow|changed', 'h2|Touch|changed']);
    assert.ok(r.log.indexOf('connect h2') < r.log.indexOf('event play-end'), r.log.join(', '));
    assert.deepEqual(Object.fromEntries(r.connects), { h1: 1, h2: 1 });
    // its events still come with its play: connecting and connected after the first play ended
    const types = r.events.map((e) => `${e.type}${'host' in e ? ` ${e.host}` : ''}`);
    assert.ok(types.indexOf('host-connecting h2') > types.indexOf('play-end'), types.join(', '));
    assert.ok(types.indexOf('host-connected h2') > types.indexOf('host-connecting h2'));
  });

  it('a host that could not be reached ahead is tried again when its play starts, and reported once', async () => {
    const dir = tmp();
    const r = await runPlaybook({ inventory: inventory(dir), playbook: twoPlays(dir), dir, unreachable: ['h2'] });
    assert.deepEqual(statuses(r.report), ['h1|Slow|changed']);
    assert.equal(r.report.recap.h2.unreachable, true);
    assert.match(r.report.recap.h2.error ?? '', /connection refused/);
    assert.equal(r.log.filter((l) => l === 'connect h2').length, 2, r.log.join(', '));
    assert.equal(r.events.filter((e) => e.type === 'host-unreachable').length, 1);
  });

  it('a run that stops early (Ctrl-C) does not report hosts it never reached', async () => {
    const dir = tmp();
    const r = await runPlaybook({ inventory: inventory(dir), playbook: twoPlays(dir), dir, interruptAfter: 1 });
    assert.deepEqual(statuses(r.report), ['h1|Slow|changed']);
    assert.equal(r.report.interrupted, true);
    assert.equal(r.report.recap.h2.unreachable, false);
    assert.equal(r.events.filter((e) => e.type === 'host-connecting' && e.host === 'h2').length, 0);
  });
});
