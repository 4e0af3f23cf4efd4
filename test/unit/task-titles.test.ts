/**
 * Task names are rendered when shown (engine/task-title.ts): per host, with the variables known
 * when the task starts; a name that cannot be rendered shows as written and never fails its task;
 * secrets show as placeholders. The name as written stays the task's identity (the report's
 * `task`, --list-tasks, --start-at-task), as in Ansible: compared with Debian's ansible-playbook.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Scope } from '../../src/engine/expr.js';
import { MAX_TITLE_LENGTH, renderTitle } from '../../src/engine/task-title.js';
import { runPlaybook, tmp } from '../helpers/fake.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');

describe('task names: renderTitle', () => {
  const scope = () => new Scope({ pkg: 'nginx', list: ['a', 'b'], none: null }, {}, { multi: 'one\ntwo\n' });
  it('renders {{ }} with the scope; a name without one is returned as it is (no scope made)', () => {
    assert.equal(renderTitle('Install {{ pkg }}', scope), 'Install nginx');
    assert.equal(renderTitle('{{ list }}', scope), '["a","b"]');
    assert.equal(renderTitle('plain', () => assert.fail('no scope for a plain name')), 'plain');
    assert.equal(renderTitle('lines {{ multi }}', scope), 'lines one two', 'one line');
    assert.equal(renderTitle('{{ "x".repeat(500) }}', scope).length, MAX_TITLE_LENGTH);
  });
  it('a name it cannot render is shown as written: undefined, an error, empty, too slow', () => {
    for (const name of ['Install {{ nope }}', "{{ (() => { throw new Error('x') })() }}", '{{ none }}', '{{ (() => { while (true) {} })() }}']) {
      const t0 = Date.now();
      assert.equal(renderTitle(name, scope), name);
      assert.ok(Date.now() - t0 < 2000, `${name} took ${Date.now() - t0} ms`);
    }
  });
});

describe('task names in a run', () => {
  const inventory = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1, vars: { pkg: nginx } }
  h2: { address: 10.0.0.2, vars: { pkg: haproxy } }
vars:
  base: ${dir}
`;
  const playbook = `
- hosts: all
  vars:
    pw: "{{ secret('db') }}"
  tasks:
    - name: "Install {{ pkg }}"
      command: { cmd: "echo {{ pkg }}-out" }
      register: r
    - name: "Saw {{ r.stdout }}"
      debug: { msg: ok }
    - name: "Item {{ item }}"
      debug: { msg: "{{ item }}" }
      loop: [1, 2]
    - name: "Broken {{ missing.deeper }}"
      debug: { msg: still runs }
    - name: "Pass {{ pw }} {{ pw.toUpperCase() }}"
      debug: { msg: shown }
`;
  const SECRET = 'Sup3rSecretValue';

  it('each host shows its own rendering; `task` keeps the name as written; failures show as written and the task runs', async () => {
    const dir = tmp();
    const { report, events } = await runPlaybook({ inventory: inventory(dir), playbook, dir, env: { PROVISION_SECRET_DB: SECRET } });
    const shown = (host: string) => report.tasks.filter((t) => t.host === host).map((t) => [t.task, t.title ?? null, t.status]);
    assert.deepEqual(shown('h1'), [
      ['Install {{ pkg }}', 'Install nginx', 'changed'],
      ['Saw {{ r.stdout }}', 'Saw nginx-out', 'ok'],
      ['Item {{ item }}', null, 'ok'],
      ['Broken {{ missing.deeper }}', null, 'ok'],
      ['Pass {{ pw }} {{ pw.toUpperCase() }}', 'Pass «secret db» «SECRET DB»', 'ok'],
    ]);
    assert.equal(shown('h2')[0][1], 'Install haproxy');
    const starts = events.filter((e) => e.type === 'task-start' && e.host === 'h2').map((e) => (e.type === 'task-start' ? (e.title ?? e.task) : ''));
    assert.equal(starts[1], 'Saw haproxy-out', 'the live line shows it too');
    const all = JSON.stringify({ report, events });
    assert.ok(!all.includes(SECRET) && !all.includes(SECRET.toUpperCase()), 'no secret, nor one derived from it, in the report or the events');
  });

  it('check mode: a name over a value known only after the real run shows as written; one over known values renders', async () => {
    const dir = tmp();
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true, env: { PROVISION_SECRET_DB: SECRET } });
    const h1 = report.tasks.filter((t) => t.host === 'h1');
    assert.equal(h1[0].title, 'Install nginx');
    assert.equal(h1[1].title, undefined, 'r.stdout is unknown in check mode');
  });
});

const haveAnsible = spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8' }).status === 0;
// CI installs ansible (scripts/setup.sh): there its absence is a failure, not a skip
const skip = !haveAnsible && !process.env.CI ? 'ansible-playbook is not installed (apt-get install ansible)' : false;

describe('templated names: --list-tasks and --start-at-task use the name as written, as ansible-playbook does', () => {
  const dir = tmp('prov-titles-');
  const home = join(dir, 'home');
  mkdirSync(join(home, 'tmp'), { recursive: true });
  writeFileSync(join(dir, 'inv.ini'), 'here ansible_connection=local\n');
  writeFileSync(
    join(dir, 'site.yml'),
    `- hosts: all
  gather_facts: false
  vars: { pkg: nginx }
  tasks:
    - name: "first {{ pkg }}"
      debug: { msg: one }
    - name: "Install {{ pkg }}"
      debug: { msg: two }
`,
  );
  const provision = (args: string[]) => spawnSync(process.execPath, [BIN, '-i', 'inv.ini', 'site.yml', ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
  const ansible = (args: string[]) =>
    spawnSync('ansible-playbook', ['-i', 'inv.ini', 'site.yml', ...args], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
      env: { PATH: process.env.PATH, HOME: home, ANSIBLE_CONFIG: join(home, 'none.cfg'), ANSIBLE_HOME: home, ANSIBLE_LOCAL_TEMP: join(home, 'tmp'), ANSIBLE_NOCOLOR: '1' },
    });

  it('--list-tasks lists the names as written', { skip }, () => {
    const p = provision(['--list-tasks']);
    assert.equal(p.status, 0, p.stderr);
    const tasks = (s: string) => s.split('\n').filter((l) => l.startsWith('      ')).map((l) => l.trim());
    assert.deepEqual(tasks(p.stdout), ['first {{ pkg }}\tTAGS: []', 'Install {{ pkg }}\tTAGS: []']);
    assert.deepEqual(tasks(p.stdout), tasks(ansible(['--list-tasks']).stdout));
  });

  it('--start-at-task matches the name as written (and the run shows it rendered)', { skip }, () => {
    const p = provision(['--start-at-task', 'Install {{ pkg }}']);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /here +ok +Install nginx \(debug/);
    assert.doesNotMatch(p.stdout, /first/);
    const a = ansible(['--start-at-task', 'Install {{ pkg }}']);
    assert.match(a.stdout, /TASK \[Install nginx\]/);
    assert.doesNotMatch(a.stdout, /TASK \[first/);
    // the rendered name matches nothing, in Ansible (nothing runs) as here (refused before any host)
    assert.doesNotMatch(ansible(['--start-at-task', 'Install nginx']).stdout, /TASK \[/);
    assert.equal(provision(['--start-at-task', 'Install nginx']).status, 2);
  });

  it('Jinja in a name is refused at load with the JavaScript to write, as everywhere in {{ }}', () => {
    writeFileSync(join(dir, 'jinja.yml'), '- hosts: all\n  tasks:\n    - name: "Install {{ pkgs | join(\',\') }}"\n      debug: { msg: x }\n');
    const r = spawnSync(process.execPath, [BIN, '-i', 'inv.ini', 'jinja.yml', '--syntax-check'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /jinja\.yml:3:\d+: .*name: Jinja in \{\{ pkgs \| join\(.*write pkgs\.join\(/);
  });
});
