/**
 * The playbook language for real projects (issue 18): roles, includes, blocks, result control
 * and Ansible's habits, run on local fake hosts; real runs and check mode.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { runPlaybook, statuses, tmp } from '../helpers/fake.js';
import { loadPlaybook, type Task } from '../../src/load/playbook.js';
import { builtinModules } from '../../src/modules/all.js';

const inventory = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1, vars: { sub: one } }
groups:
  web: { hosts: [h1] }
vars:
  base: ${dir}
`;

function files(dir: string, tree: Record<string, string>): void {
  for (const [rel, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
}

const line = (r: { report: { tasks: { task: string; status: string }[] } }) => r.report.tasks.map((t) => `${t.task}=${t.status}`);

/** `text` written as `dir/name` (with `tree` beside it) is refused at load with a message matching `re`. */
function refuse(dir: string, name: string, text: string, re: RegExp, tree: Record<string, string> = {}): void {
  files(dir, { ...tree, [name]: text });
  assert.throws(() => loadPlaybook(join(dir, name), builtinModules(), { root: dir }), re);
}

describe('language: roles, includes, blocks, result control', () => {
  it('roles with a dependency (once per play), defaults below the inventory, vars above the play, role files first, handlers and listen', async () => {
    const dir = tmp();
    files(dir, {
      'roles/base/defaults/main.yml': 'greeting: hello\nsub: from-role-default\n',
      'roles/base/tasks/main.yml': '- name: base dir\n  file: { path: "{{ base }}/{{ sub }}", state: directory }\n',
      'roles/web/meta/main.yml': 'dependencies:\n  - base\n',
      'roles/web/defaults/main.yml': 'port: 80\n',
      'roles/web/vars/main.yml': 'flavour: role-var\n',
      'roles/web/files/motd': 'from the role\n',
      'roles/web/tasks/main.yml': [
        '- import_tasks: conf.yml',
        '- ansible.builtin.copy:',
        '    src: motd',
        '    dest: "{{ base }}/{{ sub }}/motd"',
        '  notify: web changed',
      ].join('\n'),
      'roles/web/tasks/conf.yml': '- name: conf\n  copy: { dest: "{{ base }}/{{ sub }}/conf", content: "{{ greeting }} {{ port }} {{ flavour }}\\n" }\n',
      'roles/web/handlers/main.yml': '- name: note it\n  listen: web changed\n  copy: { dest: "{{ base }}/{{ sub }}/handled", content: "yes\\n" }\n',
    });
    const playbook = `
- hosts: web
  gather_facts: no
  vars: { flavour: play-var, port: 8080 }
  roles:
    - base
    - role: web
`;
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(line(real), ['base : base dir=changed', 'web : conf=changed', 'web : copy {{ base }}/{{ sub }}/motd=changed', 'note it=changed']);
    // inventory (sub: one) beats role defaults; role vars beat play vars; play vars beat role defaults
    assert.equal(readFileSync(join(dir, 'one', 'conf'), 'utf8'), 'hello 8080 role-var\n');
    assert.equal(readFileSync(join(dir, 'one', 'motd'), 'utf8'), 'from the role\n');
    assert.equal(readFileSync(join(dir, 'one', 'handled'), 'utf8'), 'yes\n');
    const again = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.ok(again.report.tasks.every((t) => t.status === 'ok'), line(again).join(', '));
  });

  it("a play's ignore_errors, no_log, check_mode, run_once and throttle reach its pre_tasks, roles, tasks and handlers; a task's own wins", () => {
    const dir = tmp();
    files(dir, {
      'roles/r/tasks/main.yml': '- name: in the role\n  command: { cmd: "true" }\n',
      'p.yml':
        '- hosts: all\n  ignore_errors: true\n  no_log: true\n  check_mode: false\n  run_once: true\n  throttle: 2\n' +
        '  pre_tasks:\n    - name: pre\n      command: { cmd: "true" }\n  roles: [r]\n' +
        '  tasks:\n    - name: own\n      command: { cmd: "true" }\n      ignore_errors: false\n      check_mode: true\n      notify: h\n' +
        '  handlers:\n    - name: h\n      command: { cmd: "true" }\n',
    });
    const play = loadPlaybook(join(dir, 'p.yml'), builtinModules(), { root: dir }).plays[0];
    const of = (t: Task) => [t.name, t.ignoreErrors, t.noLog, t.checkMode, t.runOnce, t.throttle];
    assert.deepEqual([...play.tasks, ...play.handlers].filter((t) => t.name !== '(flush handlers)').map(of), [
      ['pre', true, true, false, true, 2],
      ['r : in the role', true, true, false, true, 2],
      ['own', false, true, true, true, 2],
      ['h', true, true, false, true, 2],
    ]);
  });

  it('block / rescue / always: the failure is rescued, always runs, the failed task is visible in rescue', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  gather_facts: false
  tasks:
    - block:
        - command: { cmd: "false", writes: [] }
        - name: not reached
          copy: { dest: "{{ base }}/never", content: x }
      rescue:
        - name: rescued
          copy: { dest: "{{ base }}/rescued", content: r }
        - name: which failed
          copy: { dest: "{{ base }}/which", content: "{{ ansible_failed_task.name }}" }
      always:
        - name: always
          copy: { dest: "{{ base }}/always", content: y }
    - name: after the block
      copy: { dest: "{{ base }}/after", content: z }
`;
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(line(real), ['command false=failed', 'rescued=changed', 'which failed=changed', 'always=changed', 'after the block=changed']);
    assert.equal(readFileSync(join(dir, 'which'), 'utf8'), 'command false');
    assert.equal(real.report.recap.h1.failed, 0);
    assert.equal(real.report.recap.h1.rescued, 1);
    // check mode: the command's outcome is unknown, so the rescue may run: unknown, never a guess
    const check = await runPlaybook({ inventory: inventory(tmp()), playbook, dir, check: true });
    // (what 'which failed' writes is unknown before the real run: it may have changed anything here)
    assert.deepEqual(line(check), ['command false=unknown', 'not reached=changed', 'rescued=unknown', 'which failed=unknown', 'always=unknown', 'after the block=unknown']);
    const precise = await runPlaybook({ inventory: inventory(tmp()), playbook: playbook.replace(/ {8}- name: which failed\n.*\n/, ''), dir, check: true });
    assert.deepEqual(line(precise), ['command false=unknown', 'not reached=changed', 'rescued=unknown', 'always=changed', 'after the block=changed']);
  });

  it('a failure in a block without rescue runs always, then stops the host', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  gather_facts: false
  tasks:
    - block:
        - fail: { msg: "stop here" }
      always:
        - debug: { msg: "cleanup" }
    - name: never
      debug: { msg: never }
`;
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(line(real), ['fail stop here=failed', 'debug cleanup=ok']);
    assert.equal(real.report.recap.h1.failed, 1);
  });

  it('changed_when / failed_when / until over the registered result; set_fact; when as a list; loop_control', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  gather_facts: no
  tasks:
    - name: probe
      command: "echo 3"
      register: out
      changed_when: false
      failed_when: out.rc != 0
    - set_fact: { count: "{{ Number(out.stdout) + 1 }}" }
    - name: exit 2 is fine
      shell: "exit 2"
      register: r2
      failed_when: r2.rc > 2
    - name: counts
      copy: { dest: "{{ base }}/n{{ i }}", content: "{{ thing }}" }
      loop: [a, b]
      loop_control: { loop_var: thing, index_var: i, label: "#{{ i }}" }
      when:
        - count == 4
        - true
    - name: until it holds
      shell: "n=$(cat {{ base }}/tries 2>/dev/null || echo 0); echo $((n+1)) > {{ base }}/tries; echo $((n+1))"
      register: t
      until: t.stdout.trim() == '3'
      retries: 5
      delay: 0
`;
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(line(real), ['probe=ok', 'set_fact count=ok', 'exit 2 is fine=changed', 'counts=changed', 'until it holds=changed']);
    assert.equal(readFileSync(join(dir, 'n1'), 'utf8'), 'b');
    assert.equal(readFileSync(join(dir, 'tries'), 'utf8'), '3\n');
    assert.match(real.report.tasks[3].changes.map((c) => c.summary).join(' '), /\[#0\].*\[#1\]/);
    // check mode: the probe's failure and change are settled without its output? No: failed_when reads rc
    const check = await runPlaybook({ inventory: inventory(tmp()), playbook, dir, check: true });
    assert.deepEqual(line(check).slice(0, 2), ['probe=unknown', 'set_fact count=unknown']);
    assert.equal(check.report.tasks[2].status, 'unknown');
  });

  it('check mode: failed_when: false and changed_when: false settle a command without its output', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  gather_facts: no
  tasks:
    - command: "true"
      changed_when: false
      failed_when: false
    - command: "true"
      failed_when: false
`;
    const check = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    assert.deepEqual(statuses(check.report), ['h1|command true|ok', 'h1|command true|changed']);
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(statuses(real.report), statuses(check.report));
  });

  it('include_tasks with a loop and vars; meta: flush_handlers; pre_tasks and post_tasks', async () => {
    const dir = tmp();
    files(dir, { 'inc.yml': '- name: "inc {{ f }}"\n  copy: { dest: "{{ base }}/{{ f }}-{{ suffix }}", content: x }\n  notify: h\n' });
    const playbook = `
- hosts: web
  gather_facts: false
  pre_tasks:
    - debug: { msg: pre }
  tasks:
    - include_tasks: inc.yml
      loop: [a, b]
      loop_control: { loop_var: f }
      vars: { suffix: s }
    - meta: flush_handlers
    - name: after flush
      copy: { dest: "{{ base }}/after", content: x }
  post_tasks:
    - debug: { msg: post }
  handlers:
    - name: h
      copy: { dest: "{{ base }}/handled", content: x }
`;
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(line(real), ['debug pre=ok', 'include_tasks inc.yml=ok', 'inc {{ f }}=changed', 'inc {{ f }}=changed', 'meta flush_handlers=ok', 'h=changed', 'after flush=changed', 'debug post=ok']);
    assert.equal(readFileSync(join(dir, 'b-s'), 'utf8'), 'x');
  });

  it('refuses at load: unknown role, dependency cycle, missing import_tasks file, rescue without block, loop_var hiding a var, unknown listen target', () => {
    const dir = tmp();
    refuse(dir, 'a.yml', '- hosts: all\n  roles: [nosuch]\n', /a\.yml:2:11: unknown role 'nosuch' \(looked in /);
    refuse(dir, 'b.yml', '- hosts: all\n  roles: [x]\n', /role dependency cycle: x -> y -> x/, {
      'roles/x/meta/main.yml': 'dependencies: [y]\n',
      'roles/y/meta/main.yml': 'dependencies: [x]\n',
    });
    refuse(dir, 'c.yml', '- hosts: all\n  tasks:\n    - import_tasks: missing.yml\n', /c\.yml:3:21: import_tasks: .*missing\.yml: no such file/);
    refuse(dir, 'd.yml', '- hosts: all\n  tasks:\n    - rescue: []\n', /d\.yml:3:7: 'rescue' belongs to a block/);
    refuse(dir, 'e.yml', '- hosts: all\n  tasks:\n    - block:\n        - debug: { msg: x }\n          loop: [1]\n          loop_control: { loop_var: v }\n      vars: { v: 1 }\n', /loop_control\.loop_var: 'v' would hide the variable/);
    refuse(dir, 'f.yml', '- hosts: all\n  tasks:\n    - command: x\n      notify: nobody\n  handlers:\n    - name: h\n      listen: somebody\n      debug: {}\n', /notifies 'nobody', but the play has no handler of that name \(the play's handlers: 'h', 'somebody'/);
    refuse(dir, 'g.yml', '- hosts: all\n  tasks:\n    - command: x\n      async: 10\n', /g\.yml:4:7: 'async': not supported/);
    refuse(dir, 'h.yml', '- hosts: all\n  strategy: free\n  tasks: []\n', /h\.yml:2:3: 'strategy': not supported/);
    refuse(dir, 'j.yml', '- hosts: all\n  remote_user: deploy\n  tasks: []\n', /j\.yml:2:3: 'remote_user': not supported: the login user is the inventory's \(`user:`, or `ansible_user`/);
    refuse(dir, 'k.yml', '- hosts: all\n  tasks:\n    - command: x\n      remote_user: deploy\n', /k\.yml:4:7: 'remote_user': not supported/);
    refuse(dir, 'l.yml', '- hosts: all\n  throttle: 0\n  tasks: []\n', /l\.yml:2:\d+: .*throttle/);
    refuse(dir, 'i.yml', '- hosts: all\n  any_errors_fatal: maybe\n  tasks: []\n', /i\.yml:2:\d+: .*any_errors_fatal: expected boolean/);
  });

  it('become_user runs as that user (owner, whoami); environment reaches every command; check_mode: false runs a probe for real in a dry run', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  gather_facts: false
  become: yes
  tasks:
    - name: as nobody
      command: { cmd: "whoami", writes: [] }
      become_user: nobody
      register: who
      changed_when: false
    - name: env
      shell: { cmd: "echo $GREETING-$N > {{ base }}/env", writes: ["{{ base }}/env"] }
      environment: { GREETING: hi, N: 2 }
    - name: probe
      command: { cmd: "cat {{ base }}/env", writes: [] }
      register: probe
      check_mode: no
      changed_when: false
    - name: record
      copy: { dest: "{{ base }}/who", content: "{{ who.stdout.trim() }}" }
`;
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(line(real), ['as nobody=ok', 'env=changed', 'probe=ok', 'record=changed']);
    assert.equal(readFileSync(join(dir, 'who'), 'utf8'), 'nobody');
    assert.equal(readFileSync(join(dir, 'env'), 'utf8'), 'hi-2\n');
    const check = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    // the probe ran for real (nothing was predicted to change before it? the env task was): unknown
    assert.equal(check.report.tasks[2].status, 'unknown');
    assert.match(check.report.tasks[2].note ?? '', /check_mode: false runs it for real in a dry run, but earlier tasks are predicted to change/);
    const probeFirst = await runPlaybook({ inventory: inventory(dir), playbook: playbook.replace(/ {4}- name: env\n(.*\n){2}/, ''), dir, check: true });
    assert.equal(probeFirst.report.tasks.find((t) => t.task === 'probe')?.status, 'ok');
    assert.match(probeFirst.report.tasks.find((t) => t.task === 'probe')?.note ?? '', /ran for real in check mode/);
  });

  it('check_mode: true shows what it would change and changes nothing, in a real run and in a dry run alike', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  gather_facts: false
  tasks:
    - name: write
      copy: { dest: "{{ base }}/a", content: "one" }
    - name: would rewrite
      copy: { dest: "{{ base }}/a", content: "two" }
      check_mode: yes
      register: would
      notify: note it
    - name: would run
      command: "touch {{ base }}/never"
      check_mode: true
    - name: would create
      command: { cmd: "touch {{ base }}/made", creates: "{{ base }}/made" }
      check_mode: true
    - name: after
      copy: { dest: "{{ base }}/b", content: "{{ String(would.changed) }}" }
  handlers:
    - name: note it
      copy: { dest: "{{ base }}/noted", content: "yes" }
`;
    const check = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    const expected = ['write=changed', 'would rewrite=changed', 'would run=skipped', 'would create=changed', 'after=changed', 'note it=changed'];
    assert.deepEqual(line(real), expected);
    assert.deepEqual(line(check), expected);
    // nothing the check_mode: true tasks would change was changed, in either run
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), 'one');
    assert.throws(() => readFileSync(join(dir, 'made')));
    assert.throws(() => readFileSync(join(dir, 'never')));
    // the registered result is known in both runs: what 'after' writes is predicted exactly
    assert.equal(readFileSync(join(dir, 'b'), 'utf8'), 'true');
    assert.match(real.report.tasks[1].note ?? '', /not applied: check_mode: true/);
    assert.ok(real.report.tasks[1].changes[0]?.diff?.includes('+two'));
    // a second dry run on the converged host: the copy still would rewrite, nothing else changes
    const again = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    assert.deepEqual(line(again), ['write=ok', 'would rewrite=changed', 'would run=skipped', 'would create=changed', 'after=ok', 'note it=ok']);
  });

  it('run_once runs on the first host and gives every host its result; throttle; hosts: localhost runs on the controller', async () => {
    const dir = tmp();
    const inv = `
hosts:
  h1: { address: 10.0.0.1 }
  h2: { address: 10.0.0.2 }
  h3: { address: 10.0.0.3 }
vars:
  base: ${dir}
`;
    const playbook = `
- hosts: all
  gather_facts: false
  tasks:
    - name: once
      shell: { cmd: "echo $FAKE_HOST >> {{ base }}/once; echo $FAKE_HOST", writes: ["{{ base }}/once"] }
      run_once: true
      register: o
    - name: each
      copy: { dest: "{{ base }}/{{ host.name }}", content: "{{ o.stdout }}" }
      throttle: 1
- hosts: localhost
  gather_facts: false
  tasks:
    - name: on the controller
      copy: { dest: "{{ base }}/local", content: "{{ host.name }}" }
`;
    const { runPlaybook: run } = await import('../helpers/fake.js');
    const real = await run({ inventory: inv, playbook, dir });
    assert.equal(readFileSync(join(dir, 'once'), 'utf8'), 'h1\n');
    // the registered stdout, without its trailing newline (as Ansible registers it)
    for (const h of ['h1', 'h2', 'h3']) assert.equal(readFileSync(join(dir, h), 'utf8'), 'h1');
    assert.deepEqual(real.report.tasks.filter((t) => t.task === 'once').map((t) => `${t.host}:${t.status}:${t.note ?? ''}`).sort(), ['h1:changed:', 'h2:changed:run once on h1: its result', 'h3:changed:run once on h1: its result']);
    assert.equal(readFileSync(join(dir, 'local'), 'utf8'), 'localhost');
  });

  it('differential regressions: failed_when: false settles a verification failure (seed 20036); what a block set before a task that may fail stays known (seed 20104)', async () => {
    const dir = tmp();
    const p20036 = `
- hosts: web
  gather_facts: false
  tasks:
    - name: t02 mkdir whose creates it does not make
      shell: { cmd: "mkdir -p {{ base }}/l1", writes: ["{{ base }}/l1"], creates: "{{ base }}/f.txt" }
      failed_when: false
`;
    const c1 = await runPlaybook({ inventory: inventory(dir), playbook: p20036, dir, check: true });
    const r1 = await runPlaybook({ inventory: inventory(dir), playbook: p20036, dir });
    assert.deepEqual(line(c1), ['t02 mkdir whose creates it does not make=changed']);
    assert.deepEqual(line(r1), line(c1));
    assert.match(r1.report.tasks[0].note ?? '', /failed_when does not hold, so this failure is not the task's: applied, but verification failed/);
    const p20104 = `
- hosts: web
  gather_facts: false
  tasks:
    - block:
        - set_fact: { f1: [a, b] }
        - name: t02 fails for real
          command: { cmd: "test -e {{ base }}/missing", writes: [] }
      rescue:
        - debug: { msg: rescued }
      always:
        - name: t04 when f1.length > 1
          file: { path: "{{ base }}/d4", state: directory }
          when: f1.length > 1
        - name: t05 reads what the block registered after the task that may fail
          debug: { var: r }
          when: false
`;
    const c2 = await runPlaybook({ inventory: inventory(dir), playbook: p20104, dir, check: true });
    const r2 = await runPlaybook({ inventory: inventory(dir), playbook: p20104, dir });
    assert.deepEqual(line(c2), ['set_fact f1=ok', 't02 fails for real=unknown', 'debug rescued=unknown', 't04 when f1.length > 1=changed', 't05 reads what the block registered after the task that may fail=skipped']);
    assert.deepEqual(line(r2), ['set_fact f1=ok', 't02 fails for real=failed', 'debug rescued=ok', 't04 when f1.length > 1=changed', 't05 reads what the block registered after the task that may fail=skipped']);
  });

  it("assert with that: (Ansible's form) evaluates its conditions on the controller; fail_msg, success_msg; unknown in check mode when a condition reads an unknown result; Jinja refused at load", async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  gather_facts: no
  vars: { port: 8080 }
  tasks:
    - name: probe
      command: "echo 3"
      register: out
    - name: holds
      assert:
        that:
          - port > 1024
          - sub == 'one'
        success_msg: "port {{ port }} is fine"
    - name: reads the probe
      assert: { that: "out.stdout == '3'" }
    - name: does not hold
      assert:
        that: [port > 1024, port < 1000]
        fail_msg: "port {{ port }} is too high"
      ignore_errors: true
    - name: quiet
      assert: { that: true, quiet: true }
`;
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(line(real), ['probe=changed', 'holds=ok', 'reads the probe=ok', 'does not hold=failed', 'quiet=ok']);
    assert.equal(real.report.tasks[1].note, 'port 8080 is fine');
    assert.match(real.report.tasks[3].error ?? '', /port 8080 is too high \(assertion: port < 1000, evaluated to false\)/);
    const check = await runPlaybook({ inventory: inventory(tmp()), playbook, dir, check: true });
    assert.deepEqual(line(check), ['probe=unknown', 'holds=ok', 'reads the probe=unknown', 'does not hold=failed', 'quiet=ok']);
    refuse(dir, 'j.yml', '- hosts: all\n  tasks:\n    - assert:\n        that:\n          - x is defined\n', /j\.yml:5:13: that: .*typeof x !== 'undefined'/);
    refuse(dir, 'k.yml', '- hosts: all\n  tasks:\n    - assert: { that: [], msg: x }\n', /k\.yml:3:\d+: /);
  });

  it('include_vars (read at load, role vars/ first, name:) and pause (waits in a real run, not in a dry run; prompt refused)', async () => {
    const dir = tmp();
    files(dir, {
      'vars/app.yml': 'app_port: 8080\napp_users: [a, b]\napp_url: "http://{{ sub }}:{{ app_port }}/"\n',
      'roles/r/vars/app.yml': 'app_port: 9090\n',
      'roles/r/tasks/main.yml': '- include_vars: app.yml\n- name: role sees its own\n  copy: { dest: "{{ base }}/role", content: "port {{ app_port }}" }\n',
    });
    const playbook = `
- hosts: web
  gather_facts: no
  tasks:
    - include_vars: vars/app.yml
    - name: uses them
      copy: { dest: "{{ base }}/out", content: "{{ app_url }} {{ app_users.length }}" }
    - include_vars: { file: vars/app.yml, name: app }
    - name: pause
      pause: { seconds: 1 }
    - name: under a name
      copy: { dest: "{{ base }}/named", content: "port {{ app.app_port }}" }
    - include_role: { name: r }
`;
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    const paused = (r: typeof real) => r.report.tasks.find((t) => t.task === 'pause')?.durationMs ?? -1;
    assert.ok(paused(real) >= 1000, 'the real run paused');
    assert.deepEqual(line(real), ['include_vars vars/app.yml=ok', 'uses them=changed', 'include_vars vars/app.yml=ok', 'pause=ok', 'under a name=changed', 'include_role r=ok', 'r : include_vars app.yml=ok', 'r : role sees its own=changed']);
    assert.equal(readFileSync(join(dir, 'out'), 'utf8'), 'http://one:8080/ 2');
    assert.equal(readFileSync(join(dir, 'named'), 'utf8'), 'port 8080');
    assert.equal(readFileSync(join(dir, 'role'), 'utf8'), 'port 9090');
    const check = await runPlaybook({ inventory: inventory(tmp()), playbook, dir, check: true });
    assert.ok(paused(check) < 900, 'a dry run does not pause');
    assert.deepEqual(line(check), line(real));
    refuse(dir, 'a.yml', '- hosts: all\n  tasks:\n    - include_vars: nosuch.yml\n', /a\.yml:3:21: include_vars: nosuch\.yml: no such file/);
    refuse(dir, 'b.yml', '- hosts: all\n  tasks:\n    - include_vars: "{{ x }}.yml"\n', /b\.yml:3:21: include_vars: the file is read at load/);
    refuse(dir, 'c.yml', '- hosts: all\n  tasks:\n    - pause: { prompt: "go on?" }\n', /c\.yml:3:\d+: .*pause.*prompt/);
    refuse(dir, 'd.yml', '- hosts: all\n  tasks:\n    - include_vars: { file: vars/app.yml, dir: vars }\n', /d\.yml:3:\d+: .*dir/);
  });
});
