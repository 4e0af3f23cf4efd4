/**
 * Two provision runs at once on one test host (README, "Concurrent runs"): both install
 * packages (with an index update) and write the same 2 MB file. Neither corrupts the host:
 * both succeed, dpkg is consistent, no service was started by either install (each kept its
 * policy-rc.d for its whole install), and the file is exactly one run's content with no
 * temporary file left. Then a run that finds the apt lock held waits for it and says so.
 * Needs root (systemd-nspawn); run it under the testbed lock:
 *   flock /tmp/provision-testbed.lock node --test dist/test/e2e/concurrent.test.js
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runReport, type RunReport } from '../../src/engine/report.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const isRoot = process.getuid?.() === 0;
const KEEP = process.env.PROVISION_KEEP_TESTBED === '1';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function provision(args: string[], timeoutMs = 10 * 60_000): Promise<Run> {
  const t0 = Date.now();
  return new Promise((done) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, CI: '1', NO_COLOR: '1' }, timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => done({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0 }));
  });
}

const report = (r: Run): RunReport => {
  assert.ok(r.stdout.trim().startsWith('{'), `expected a JSON report, got exit ${r.code}: ${r.stdout.slice(0, 500)} ${r.stderr.slice(-2000)}`);
  return runReport.parse(JSON.parse(r.stdout));
};
const failures = (r: RunReport) => r.tasks.filter((t) => t.status === 'failed').map((t) => `${t.host} ${t.task}: ${t.error}`).join('\n');

function ssh(address: string, cmd: string): { code: number; stdout: string } {
  const dir = join(ROOT, '.provision', 'testbed');
  const r = spawnSync('ssh', ['-i', join(dir, 'id_ed25519'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${address}`, cmd], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '' };
}

const playbook = (packages: string[], fill: string) => `- name: One of two runs at once
  hosts: lb-01
  tasks:
    - name: Index
      apt: { update_cache: true, cache_valid_time: 0 }
    - name: Packages
      apt: { name: [${packages.join(', ')}] }
    - name: The same file from both runs
      copy: { dest: /etc/prov-concurrent.conf, content: "{{ '${fill}'.repeat(2 * 1024 * 1024) }}" }
`;

describe('two runs at once on one host', { skip: !isRoot && 'needs root (systemd-nspawn test hosts)' }, () => {
  let address = '';
  let dir = '';

  before(async () => {
    await provision(['testbed', 'down']);
    const up = await provision(['testbed', 'up', '--hosts', '1', '--quiet']);
    assert.equal(up.code, 0, `testbed up failed: ${up.stderr}`);
    address = (parse(readFileSync(join(ROOT, 'inventory', 'testbed.yml'), 'utf8')) as { hosts: Record<string, { address: string }> }).hosts['lb-01'].address;
    dir = mkdtempSync(join(tmpdir(), 'prov-concurrent-'));
  });

  after(async () => {
    if (!KEEP) await provision(['testbed', 'down']);
  });

  it('both succeed; dpkg consistent, no service started, the file is one run\'s whole content', async () => {
    writeFileSync(join(dir, 'a.yml'), playbook(['at'], 'A'));
    writeFileSync(join(dir, 'b.yml'), playbook(['cron'], 'B'));
    const [a, b] = await Promise.all([
      provision(['--inventory', 'testbed', join(dir, 'a.yml'), '--json']),
      provision(['--inventory', 'testbed', join(dir, 'b.yml'), '--json']),
    ]);
    // the apt tasks never fail; the file task of the run whose write the other replaced between
    // its write and its verification may honestly report that the host still differs
    for (const r of [report(a), report(b)]) {
      const other = r.tasks.filter((t) => t.status === 'failed' && !(t.task === 'The same file from both runs' && /verification failed: the host still differs/.test(t.error ?? '')));
      assert.deepEqual(other.map((t) => `${t.task}: ${t.error}`), [], failures(r));
      assert.ok(r.tasks.some((t) => t.task === 'Packages' && t.status === 'changed'));
    }
    assert.equal(ssh(address, 'dpkg --audit').stdout, '', 'dpkg is consistent');
    assert.equal(ssh(address, "dpkg-query -W -f '${Status}\\n' at cron").stdout, 'install ok installed\ninstall ok installed\n');
    // each install ran with its own policy-rc.d in place: neither run's services were started
    assert.equal(ssh(address, 'systemctl is-active atd cron').stdout, 'inactive\ninactive\n');
    assert.equal(ssh(address, 'test -e /usr/sbin/policy-rc.d').code, 1, 'no policy-rc.d left behind');
    assert.equal(ssh(address, 'flock -n /run/provision-apt.lock true').code, 0, 'the apt lock is free after both runs');
    const sum = ssh(address, 'sha256sum < /etc/prov-concurrent.conf').stdout.split(' ')[0];
    const whole = (c: string) => createHash('sha256').update(c.repeat(2 * 1024 * 1024)).digest('hex');
    assert.ok(sum === whole('A') || sum === whole('B'), 'the file is exactly one run\'s content');
    assert.equal(ssh(address, 'ls -a /etc | grep -c provision-tmp').stdout.trim(), '0', 'no temporary file left');
  });

  it('a run that finds another run\'s apt lock held waits for it, and says so', async () => {
    assert.equal(ssh(address, 'nohup flock /run/provision-apt.lock sleep 8 >/dev/null 2>&1 & sleep 0.5').code, 0);
    writeFileSync(join(dir, 'c.yml'), `- hosts: lb-01\n  tasks:\n    - name: Install while the lock is held\n      apt: { name: bc }\n`);
    const c = await provision(['--inventory', 'testbed', join(dir, 'c.yml'), '-vv']);
    assert.equal(c.code, 0, `${c.stdout}\n${c.stderr}`);
    assert.match(c.stdout, /provision: another run is using apt on this host: waiting up to 300 s for it \(lock \/run\/provision-apt\.lock\)/);
    assert.match(c.stdout, /provision: the other run's apt is done, going on/);
    assert.equal(ssh(address, "dpkg-query -W -f '${Status}' bc").stdout, 'install ok installed');
  });
});
