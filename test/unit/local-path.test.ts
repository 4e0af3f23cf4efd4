/**
 * Where a task's controller files are looked for (modules/files/local-path.ts): Ansible's order,
 * then the project's; and the same files found as Debian's ansible-playbook finds them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localCandidates, localPath } from '../../src/modules/files/local-path.js';

const BIN = join(resolve(fileURLToPath(import.meta.url), '../../../..'), 'bin', 'provision.js');
const haveAnsible = spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8' }).status === 0;
const skip = !haveAnsible && !process.env.CI ? 'ansible-playbook is not installed (apt-get install ansible)' : false;

test('the role (templates/, tasks/), then beside the playbook (templates/, itself), then the project; the first that exists wins', () => {
  const root = mkdtempSync(join(tmpdir(), 'provision-local-path-'));
  try {
    const ctx = { root, playbookDir: join(root, 'playbooks'), roleDir: join(root, 'roles', 'web') };
    assert.deepEqual(
      localCandidates(ctx, 'templates', 'a.j2').map((p) => p.slice(root.length)),
      ['/roles/web/templates/a.j2', '/roles/web/tasks/a.j2', '/playbooks/templates/a.j2', '/playbooks/a.j2', '/templates/a.j2'],
    );
    // a src that names the directory is not looked for under it twice
    assert.deepEqual(
      localCandidates({ root, playbookDir: root }, 'files', 'files/b.txt').map((p) => p.slice(root.length)),
      ['/files/b.txt', '/files/files/b.txt'],
    );
    assert.equal(localCandidates(ctx, 'files', '/etc/hosts')[0], '/etc/hosts');
    // nothing exists: the project's place (where errors name it)
    assert.equal(localPath(ctx, 'templates', 'a.j2'), join(root, 'templates', 'a.j2'));
    const put = (rel: string) => {
      mkdirSync(dirname(join(root, rel)), { recursive: true });
      writeFileSync(join(root, rel), 'x');
    };
    for (const [rel, expect] of [
      ['templates/a.j2', 'templates/a.j2'],
      ['playbooks/a.j2', 'playbooks/a.j2'],
      ['playbooks/templates/a.j2', 'playbooks/templates/a.j2'],
      ['roles/web/tasks/a.j2', 'roles/web/tasks/a.j2'],
      ['roles/web/templates/a.j2', 'roles/web/templates/a.j2'],
    ]) {
      put(rel);
      assert.equal(localPath(ctx, 'templates', 'a.j2'), join(root, expect), rel);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('template and copy src: the same files as ansible-playbook finds, where a name is in several places', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'provision-local-path-ansible-'));
  try {
    const put = (rel: string, text: string) => {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    };
    // the playbook in pb/ (the project root, where provision also looks last, holds none of them)
    put('pb/a.j2', 'a beside the playbook {{ 1 + 1 }}\n');
    put('pb/templates/b.j2', 'b in templates/\n');
    put('pb/b.j2', 'b beside the playbook\n');
    put('pb/templates/c.j2', 'c named with templates/\n');
    put('pb/files/d.txt', 'd named with files/\n');
    put('pb/files/e.txt', 'e in files/\n');
    put('pb/e.txt', 'e beside the playbook\n');
    put('pb/roles/r/tasks/f.j2', 'f in the role tasks/\n');
    put('pb/templates/f.j2', 'f in the playbook templates/\n');
    put('pb/roles/r/templates/g.j2', 'g in the role templates/\n');
    put('pb/roles/r/tasks/g.j2', 'g in the role tasks/\n');
    put('pb/roles/r/files/h.txt', 'h in the role files/\n');
    put('pb/files/h.txt', 'h in the playbook files/\n');
    put(
      'pb/roles/r/tasks/main.yml',
      ['f.j2', 'g.j2'].map((s) => `- name: ${s}\n  template: { src: ${s}, dest: "{{ out }}/${s}" }\n`).join('') + '- name: h.txt\n  copy: { src: h.txt, dest: "{{ out }}/h.txt" }\n',
    );
    put(
      'pb/site.yml',
      '- hosts: localhost\n  gather_facts: false\n  tasks:\n' +
        ['a.j2', 'b.j2', 'templates/c.j2'].map((s) => `    - name: ${s}\n      template: { src: ${s}, dest: "{{ out }}/${s.replace('templates/', '')}" }\n`).join('') +
        ['files/d.txt', 'e.txt'].map((s) => `    - name: ${s}\n      copy: { src: ${s}, dest: "{{ out }}/${s.replace('files/', '')}" }\n`).join('') +
        '  roles: [r]\n',
    );
    mkdirSync(join(dir, 'by-provision'));
    mkdirSync(join(dir, 'by-ansible'));
    writeFileSync(join(dir, 'pb/hosts'), '');
    const p = spawnSync(process.execPath, [BIN, 'pb/site.yml', '-i', 'pb/hosts', '-e', `out=${join(dir, 'by-provision')}`], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    const home = join(dir, 'home');
    mkdirSync(join(home, 'tmp'), { recursive: true });
    const a = spawnSync('ansible-playbook', ['-i', 'pb/hosts', 'pb/site.yml', '-e', `out=${join(dir, 'by-ansible')}`], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
      env: { PATH: process.env.PATH, HOME: home, ANSIBLE_CONFIG: join(home, 'none.cfg'), ANSIBLE_HOME: home, ANSIBLE_LOCAL_TEMP: join(home, 'tmp'), ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'false' },
    });
    assert.equal(a.status, 0, a.stdout + a.stderr);
    const read = (d: string) => Object.fromEntries(readdirSync(join(dir, d)).sort().map((f) => [f, readFileSync(join(dir, d, f), 'utf8')]));
    const ansible = read('by-ansible');
    assert.deepEqual(Object.keys(ansible), ['a.j2', 'b.j2', 'c.j2', 'd.txt', 'e.txt', 'f.j2', 'g.j2', 'h.txt']);
    assert.equal(p.status, 0, p.stdout + p.stderr);
    assert.deepEqual(read('by-provision'), ansible);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
