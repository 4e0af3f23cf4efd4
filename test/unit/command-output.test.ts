/**
 * Registered command output as Ansible registers it (pipeline/command-output.ts): stdout and
 * stderr without their trailing newlines, stdout_lines / stderr_lines as Python's splitlines().
 * Compared with Python itself and with Debian's ansible-playbook on the controller (a local
 * connection), through provision's CLI with an inventory without hosts (the implicit localhost).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { registeredOutput, splitLines } from '../../src/engine/pipeline/command-output.js';
import { runPlaybook, tmp } from '../helpers/fake.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');

const SAMPLES = ['', 'a', 'a\n', 'a\n\n\n', 'a\r\n', 'a\r\nb\rc\n', '\n\na', 'x\vy\fz\x1cw\u2028v', 'a\n \n', ' trailing space \n'];

describe('command output: splitLines and the registered form', () => {
  it("splitLines is Python's str.splitlines()", () => {
    const py = spawnSync('python3', ['-c', 'import json,sys; print(json.dumps([s.splitlines() for s in json.load(sys.stdin)]))'], { input: JSON.stringify(SAMPLES), encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    assert.deepEqual(SAMPLES.map(splitLines), JSON.parse(py.stdout));
  });
  it('strips every trailing \\r and \\n (not other space) and adds the lines; other fields as they are', () => {
    assert.deepEqual(registeredOutput({ rc: 0, stdout: 'a\nb\n\n', stderr: 'e\r\n' }), { rc: 0, stdout: 'a\nb', stderr: 'e', stdout_lines: ['a', 'b'], stderr_lines: ['e'] });
    assert.deepEqual(registeredOutput({ stdout: ' x \n' }), { stdout: ' x ', stdout_lines: [' x '] });
    const none = { rc: 1 };
    assert.equal(registeredOutput(none), none);
  });
  it('a loop registers each item so; check mode runs a check for real and registers the same; a changing command stays unknown', async () => {
    const dir = tmp();
    const inventory = `hosts:\n  h1: { address: 10.0.0.1 }\nvars:\n  base: ${dir}\n`;
    const playbook = `
- hosts: h1
  tasks:
    - name: probe
      assert: { cmd: "printf 'ready\\\\n\\\\n'" }
      register: probe
    - name: record
      copy: { dest: "{{ base }}/probe", content: "{{ JSON.stringify([probe.stdout, probe.stdout_lines]) }}" }
    - name: loop
      command: { cmd: "echo {{ item }}" }
      loop: [a, b]
      register: many
    - name: lines
      copy: { dest: "{{ base }}/many", content: "{{ many.results.map((r) => r.stdout_lines[0] + '|' + r.stdout).join(',') }}" }
`;
    const check = await runPlaybook({ inventory, playbook, dir, check: true });
    // the probe's output is known in check mode (it ran): what it writes is predicted; the loop's commands are not run
    assert.deepEqual(check.report.tasks.map((t) => t.status), ['ok', 'changed', 'unknown', 'unknown']);
    const real = await runPlaybook({ inventory, playbook, dir });
    assert.deepEqual(real.report.tasks.map((t) => t.status), ['ok', 'changed', 'changed', 'changed']);
    assert.equal(readFileSync(join(dir, 'probe'), 'utf8'), '["ready",["ready"]]');
    assert.equal(readFileSync(join(dir, 'many'), 'utf8'), 'a|a,b|b');
  });
});

const haveAnsible = spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8' }).status === 0;
// CI installs ansible (scripts/setup.sh): there its absence is a failure, not a skip
const skip = !haveAnsible && !process.env.CI ? 'ansible-playbook is not installed (apt-get install ansible)' : false;

describe('registered output against ansible-playbook', () => {
  it('stdout, stderr, stdout_lines and stderr_lines equal what Ansible registers, for the same commands on localhost', { skip }, () => {
    const dir = tmp('prov-output-');
    const home = join(dir, 'home');
    mkdirSync(join(home, 'tmp'), { recursive: true });
    const commands = ["printf 'a\\nb\\n\\n\\n'", "printf 'x\\r\\n\\r\\n'; printf 'e\\n\\n' >&2", "printf ''", "printf 'no newline'", "printf '\\n\\nlead\\n  \\n'", "printf 'tab\\t\\n'"];
    // one looped task (each Ansible task costs seconds); Ansible's registered items are read from its json callback
    const shell = `- hosts: localhost\n  gather_facts: false\n  tasks:\n    - shell: "{{ item }}"\n      loop: ${JSON.stringify(commands)}\n      register: r\n`;
    writeFileSync(join(dir, 'by-ansible.yml'), shell);
    writeFileSync(join(dir, 'by-provision.yml'), `${shell}    - copy: { dest: "${dir}/provision.json", content: "{{ JSON.stringify(r.results) }}" }\n`);
    writeFileSync(join(dir, 'empty.ini'), '# no hosts yet\n');
    const a = spawnSync('ansible-playbook', ['-i', 'localhost,', '-c', 'local', 'by-ansible.yml'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 240_000,
      env: { PATH: process.env.PATH, HOME: home, ANSIBLE_CONFIG: join(home, 'none.cfg'), ANSIBLE_HOME: home, ANSIBLE_LOCAL_TEMP: join(home, 'tmp'), ANSIBLE_NOCOLOR: '1', ANSIBLE_STDOUT_CALLBACK: 'json' },
    });
    assert.equal(a.status, 0, a.stdout + a.stderr);
    type Item = { stdout: string; stderr: string; stdout_lines: string[]; stderr_lines: string[] };
    const pick = (x: Item) => ({ stdout: x.stdout, stderr: x.stderr, stdout_lines: x.stdout_lines, stderr_lines: x.stderr_lines });
    const fromAnsible = (JSON.parse(a.stdout) as { plays: { tasks: { hosts: Record<string, { results: Item[] }> }[] }[] }).plays[0].tasks[0].hosts.localhost.results;
    const p = spawnSync(process.execPath, [BIN, '-i', 'empty.ini', 'by-provision.yml'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
    assert.equal(p.status, 0, p.stdout + p.stderr);
    assert.match(p.stderr, /warning: inventory .*empty\.ini has no hosts: only the implicit localhost is available/);
    const ours = (JSON.parse(readFileSync(join(dir, 'provision.json'), 'utf8')) as Item[]).map(pick);
    assert.equal(fromAnsible.length, commands.length);
    commands.forEach((c, i) => assert.deepEqual(ours[i], pick(fromAnsible[i]), c));
  });
});
