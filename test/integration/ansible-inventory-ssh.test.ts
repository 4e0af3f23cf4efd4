/**
 * An Ansible INI inventory (with group_vars/ and host_vars/) drives a real run against a local
 * OpenSSH server started by the test: connection variables reach the SSH connection, and the
 * variables reach the tasks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runReport, type RunReport } from '../../src/engine/report.js';
import { sshdAvailable, startSshd, type SshdHarness } from './sshd-harness.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const isRoot = process.getuid?.() === 0;

function run(args: string[]): { code: number | null; report: RunReport; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args, '--json'], { encoding: 'utf8', env: { ...process.env, CI: '1', NO_COLOR: '1' }, timeout: 120_000 });
  assert.ok(r.stdout.startsWith('{'), `no JSON report (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  return { code: r.status, report: runReport.parse(JSON.parse(r.stdout)), stderr: r.stderr };
}

describe('an Ansible INI inventory drives a run over SSH (local sshd)', { skip: (!isRoot || !sshdAvailable()) && 'needs root and openssh-server' }, () => {
  let h: SshdHarness;
  let dir: string;

  before(async () => {
    h = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'prov-ansible-inv-'));
    writeFileSync(join(dir, 'known_hosts'), `${h.knownHostsLine}\n`);
    mkdirSync(join(dir, 'inv', 'group_vars'), { recursive: true });
    mkdirSync(join(dir, 'inv', 'host_vars'));
    writeFileSync(
      join(dir, 'inv', 'hosts'),
      [
        '# Ansible INI inventory',
        '[app]',
        `node-a ansible_host=127.0.0.1 ansible_port=${h.port} which=a`,
        'node-b ansible_host=127.0.0.1',
        '',
        '[app:vars]',
        'ansible_user=root',
        `ansible_ssh_private_key_file=${h.clientKey}`,
        `ansible_ssh_common_args='-o UserKnownHostsFile=${join(dir, 'known_hosts')} -o StrictHostKeyChecking=yes'`,
        'greeting=from-ini',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'inv', 'group_vars', 'app.yml'), `greeting: hello\nbase: ${join(dir, 'remote')}\n`);
    writeFileSync(join(dir, 'inv', 'host_vars', 'node-b.yml'), `ansible_port: ${h.port}\nwhich: b\n`);
    writeFileSync(
      join(dir, 'site.yml'),
      `- name: Through an Ansible inventory
  hosts: app
  tasks:
    - name: Directory
      file: { path: "{{ base }}/{{ which }}", state: directory }
    - name: Marker
      copy: { dest: "{{ base }}/{{ which }}/{{ host.name }}.txt", content: "{{ greeting }}-{{ which }} {{ groups.app.join(',') }}\\n" }
    - name: Marker is there
      assert: { cmd: "cat {{ base }}/{{ which }}/{{ host.name }}.txt", expect_stdout: "^{{ greeting }}-{{ which }} " }
`,
    );
  });

  after(async () => {
    await h?.stop();
  });

  it('check, apply, converge', () => {
    const inv = join(dir, 'inv', 'hosts');
    const check = run(['-i', inv, join(dir, 'site.yml'), '--check']);
    assert.equal(check.code, 0, check.stderr);
    const real = run(['-i', inv, join(dir, 'site.yml')]);
    assert.equal(real.code, 0, real.report.tasks.filter((t) => t.status === 'failed').map((t) => `${t.host} ${t.task}: ${t.error}`).join('\n') + real.stderr);
    assert.deepEqual(Object.keys(real.report.recap).sort(), ['node-a', 'node-b']);
    // both hosts are this machine: each writes under its own directory (no race between them)
    assert.equal(readFileSync(join(dir, 'remote', 'a', 'node-a.txt'), 'utf8'), 'hello-a node-a,node-b\n');
    assert.equal(readFileSync(join(dir, 'remote', 'b', 'node-b.txt'), 'utf8'), 'hello-b node-a,node-b\n');
    const changed = real.report.tasks.filter((t) => t.status === 'changed').map((t) => `${t.host}|${t.task}`).sort();
    assert.deepEqual(changed, check.report.tasks.filter((t) => t.status === 'changed').map((t) => `${t.host}|${t.task}`).sort());
    const again = run(['-i', inv, join(dir, 'site.yml')]);
    assert.equal(again.code, 0);
    assert.deepEqual(again.report.tasks.filter((t) => t.status === 'changed'), []);
  });

  it('a host key not in the known_hosts given by ansible_ssh_common_args is refused', () => {
    const inv = join(dir, 'inv', 'hosts');
    writeFileSync(join(dir, 'empty_known_hosts'), '');
    const text = readFileSync(inv, 'utf8').replace(join(dir, 'known_hosts'), join(dir, 'empty_known_hosts'));
    const inv2 = join(dir, 'inv', 'hosts-strict');
    writeFileSync(inv2, text);
    const r = run(['-i', inv2, join(dir, 'site.yml'), '--check']);
    assert.equal(r.code, 1);
    assert.equal(r.report.recap['node-a'].unreachable, true);
    assert.match(r.report.recap['node-a'].error!, /known_hosts|host key/i);
  });
});
