/**
 * A project of one's own on the controller, through the built CLI: an inventory without hosts
 * (the implicit localhost, with a warning, as Ansible) and inventory hosts with
 * `ansible_connection: local` (their tasks run on the controller). End to end: nothing here
 * needs a test host, and no SSH connection is made (the hosts' addresses do not resolve).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunReport } from '../../src/engine/report.js';
import { tmp } from '../helpers/fake.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');

function provision(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const report = (stdout: string) => JSON.parse(stdout) as RunReport;

const haveAnsible = spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8' }).status === 0;
const skip = !haveAnsible && !process.env.CI ? 'ansible-playbook is not installed (apt-get install ansible)' : false;

describe('an inventory without hosts', () => {
  const dir = tmp('prov-empty-inv-');
  writeFileSync(join(dir, 'own.yml'), 'hosts: {}\nvars:\n  greeting: hello\n');
  writeFileSync(join(dir, 'ansible.yml'), 'all:\n  vars:\n    greeting: hello\n');
  writeFileSync(join(dir, 'hosts'), '# hosts come later\n');
  writeFileSync(
    join(dir, 'site.yml'),
    `- hosts: all
  gather_facts: false
  tasks:
    - name: on all
      copy: { dest: "${dir}/all-ran", content: "x" }
- hosts: localhost
  gather_facts: false
  tasks:
    - name: on the controller
      copy: { dest: "${dir}/{{ inventory_file_tag }}", content: "local\\n" }
`,
  );

  for (const [inv, tag] of [['own.yml', 'own'], ['ansible.yml', 'ansible'], ['hosts', 'ini']]) {
    it(`${inv}: accepted with a warning; 'all' matches no host and is skipped, localhost runs (check, then real)`, () => {
      const check = provision(dir, ['-i', inv, 'site.yml', '--check', '--json', '-e', `inventory_file_tag=${tag}`]);
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stderr, /warning: inventory .* has no hosts: only the implicit localhost is available/);
      assert.match(check.stderr, /PLAY hosts: all \[no hosts matched: skipped\]/);
      assert.deepEqual(report(check.stdout).tasks.map((t) => `${t.host}|${t.task}|${t.status}`), ['localhost|on the controller|changed']);
      assert.ok(!existsSync(join(dir, tag)), 'check changed nothing');
      const real = provision(dir, ['-i', inv, 'site.yml', '--json', '-e', `inventory_file_tag=${tag}`]);
      assert.equal(real.code, 0, real.stderr);
      assert.deepEqual(report(real.stdout).tasks.map((t) => `${t.host}|${t.task}|${t.status}`), ['localhost|on the controller|changed']);
      assert.equal(readFileSync(join(dir, tag), 'utf8'), 'local\n');
      assert.ok(!existsSync(join(dir, 'all-ran')));
    });
  }

  it('a play naming a group the inventory does not have is still refused, saying the inventory has no hosts', () => {
    writeFileSync(join(dir, 'web.yml'), '- hosts: web\n  tasks:\n    - debug: { msg: x }\n');
    const r = provision(dir, ['-i', 'hosts', 'web.yml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /web\.yml:1:3: hosts: no host or group named 'web' in inventory .*hosts \(it has no hosts: only the implicit localhost/);
  });

  it('Ansible runs the same playbook on the same inventory: exit 0, the all play skipped', { skip }, () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, 'tmp'), { recursive: true });
    const a = spawnSync('ansible-playbook', ['-i', 'hosts', 'site.yml', '-e', 'inventory_file_tag=by-ansible'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
      env: { PATH: process.env.PATH, HOME: home, ANSIBLE_CONFIG: join(home, 'none.cfg'), ANSIBLE_HOME: home, ANSIBLE_LOCAL_TEMP: join(home, 'tmp'), ANSIBLE_NOCOLOR: '1' },
    });
    assert.equal(a.status, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /PLAY \[all\] \*+\nskipping: no hosts matched/);
    assert.equal(readFileSync(join(dir, 'by-ansible'), 'utf8'), 'local\n');
  });
});

describe('ansible_connection: local on an inventory host', () => {
  const dir = tmp('prov-local-host-');
  writeFileSync(join(dir, 'hosts'), `[ctl]\nc1 ansible_connection=local greeting=one ansible_user=nobody\nc2 ansible_connection=local greeting=two\n`);
  writeFileSync(
    join(dir, 'site.yml'),
    `- hosts: ctl
  tasks:
    - command: id -un
      register: who
      changed_when: false
      check_mode: false
    - name: "write {{ greeting }}"
      copy: { dest: "${dir}/{{ inventory_hostname }}.txt", content: "{{ greeting }} {{ ansible_hostname }}\\n" }
    - name: delegated to the other local host
      copy: { dest: "${dir}/{{ inventory_hostname }}-via-c1.txt", content: "{{ who.stdout }}\\n" }
      delegate_to: c1
`,
  );

  it('its tasks run on the controller with its own variables and the controller\'s facts: check, real, then nothing to change', () => {
    const check = provision(dir, ['-i', 'hosts', 'site.yml', '--check', '--json']);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const checked = report(check.stdout).tasks.map((t) => `${t.host}|${t.title ?? t.task}|${t.status}`).sort();
    assert.deepEqual(checked, ['c1|command id -un|ok', 'c1|delegated to the other local host|changed', 'c1|write one|changed', 'c2|command id -un|ok', 'c2|delegated to the other local host|changed', 'c2|write two|changed']);
    const real = provision(dir, ['-i', 'hosts', 'site.yml', '--json']);
    assert.equal(real.code, 0, real.stdout + real.stderr);
    assert.deepEqual(report(real.stdout).tasks.map((t) => `${t.host}|${t.title ?? t.task}|${t.status}`).sort(), checked, 'the real run did what check said');
    assert.equal(readFileSync(join(dir, 'c1.txt'), 'utf8'), `one ${hostname().split('.')[0]}\n`);
    assert.equal(readFileSync(join(dir, 'c2.txt'), 'utf8'), `two ${hostname().split('.')[0]}\n`);
    const me = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout;
    assert.equal(readFileSync(join(dir, 'c2-via-c1.txt'), 'utf8'), me, "as the controller's user (ansible_user does not apply)");
    const again = provision(dir, ['-i', 'hosts', 'site.yml', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(report(again.stdout).tasks.every((t) => t.status === 'ok'), again.stdout);
  });

  it('inventory list shows it as local', () => {
    const r = provision(dir, ['inventory', 'list', '-i', 'hosts']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /c1 .*local \(on the controller, as /);
  });
});
