/**
 * --shard K/N and `provision report merge` on the test hosts (N = 3, one host per slice): three
 * controllers' worth of runs (at once, as a CI matrix runs them), in check mode and for real,
 * each contacting only its slice; the merged report covers every host once, with the recap and
 * exit code of the whole run (a failing host in one slice makes it non-zero); a task delegated
 * to a host of another slice fails saying so. Needs root (systemd-nspawn); run it under the
 * testbed lock:
 *   flock /tmp/provision-testbed.lock node --test dist/test/e2e/shard.test.js
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
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
const HOSTS = ['lb-01', 'web-01', 'web-02'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function provision(args: string[]): Promise<Run> {
  return new Promise((done) => {
    const { FORCE_COLOR: _color, ...env } = process.env;
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...env, CI: '1', NO_COLOR: '1' }, timeout: 5 * 60_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

const report = (r: Run): RunReport => {
  assert.ok(r.stdout.trim().startsWith('{'), `expected a JSON report, got exit ${r.code}: ${r.stdout.slice(0, 500)} ${r.stderr.slice(-2000)}`);
  return runReport.parse(JSON.parse(r.stdout));
};

function ssh(address: string, cmd: string): string {
  const dir = join(ROOT, '.provision', 'testbed');
  const r = spawnSync('ssh', ['-i', join(dir, 'id_ed25519'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${address}`, cmd], { encoding: 'utf8', timeout: 60_000 });
  return r.stdout ?? '';
}

const PLAYBOOK = `- name: Sliced
  hosts: all
  gather_facts: false
  tasks:
    - name: Marker
      copy: { dest: /etc/prov-shard.txt, content: "slice of {{ host.name }}\\n" }
    - name: Failing host
      fail: { msg: "{{ host.name }} fails on purpose" }
      when: "host.name == fail_host"
`;

describe('--shard 1..3/3 and report merge on the test hosts', { skip: !isRoot && 'needs root (systemd-nspawn test hosts)' }, () => {
  let addr: Record<string, string> = {};
  let dir = '';

  before(async () => {
    await provision(['testbed', 'down']);
    const up = await provision(['testbed', 'up', '--hosts', '3', '--quiet']);
    assert.equal(up.code, 0, `testbed up failed: ${up.stderr}`);
    addr = Object.fromEntries(Object.entries((parse(readFileSync(join(ROOT, 'inventory', 'testbed.yml'), 'utf8')) as { hosts: Record<string, { address: string }> }).hosts).map(([n, h]) => [n, h.address]));
    assert.deepEqual(Object.keys(addr).sort(), HOSTS);
    dir = mkdtempSync(join(tmpdir(), 'prov-shard-'));
    writeFileSync(join(dir, 'pb.yml'), PLAYBOOK);
  });

  after(async () => {
    if (!KEEP) await provision(['testbed', 'down']);
  });

  /** The three slices at once, each report written to a file; returns the runs and the files. */
  async function slices(extra: string[], tag: string): Promise<{ runs: Run[]; files: string[] }> {
    const runs = await Promise.all([1, 2, 3].map((k) => provision([join(dir, 'pb.yml'), '-i', 'testbed', '--shard', `${k}/3`, ...extra, '--json'])));
    const files = runs.map((r, i) => {
      const f = join(dir, `${tag}-${i + 1}.json`);
      writeFileSync(f, r.stdout);
      return f;
    });
    return { runs, files };
  }

  it('check mode per slice: each slice predicts its host only; the merge covers every host once, exit 0', async () => {
    const { runs, files } = await slices(['--check', '-e', 'fail_host=none'], 'check');
    // sorted lb-01, web-01, web-02 dealt round-robin: one host per slice
    runs.forEach((r, i) => {
      assert.equal(r.code, 0, r.stderr);
      const rep = report(r);
      assert.deepEqual(Object.keys(rep.recap), [HOSTS[i]]);
      assert.deepEqual(rep.run?.shard, { index: i + 1, count: 3, hosts: [HOSTS[i]], total: 3 });
      assert.match(r.stderr, new RegExp(`on 1 host\\(s\\)`));
    });
    const m = await provision(['report', 'merge', ...files, '--json']);
    assert.equal(m.code, 0, m.stderr);
    const merged = report(m);
    assert.equal(merged.check, true);
    assert.deepEqual(Object.keys(merged.recap), HOSTS);
    assert.deepEqual(merged.tasks.filter((t) => t.task === 'Marker').map((t) => [t.host, t.status]), HOSTS.map((h) => [h, 'changed']));
    assert.match(m.stderr, /RECAP \(check mode: nothing was changed\)/);
    for (const h of HOSTS) assert.equal(ssh(addr[h], 'cat /etc/prov-shard.txt 2>/dev/null'), '', `check mode wrote on ${h}`);
  });

  it('for real, web-02 failing in slice 3: every host done once, the merged recap and exit code are the run\'s', async () => {
    const { runs, files } = await slices(['-e', 'fail_host=web-02'], 'real');
    assert.deepEqual(runs.map((r) => r.code), [0, 0, 1]);
    for (const h of HOSTS) assert.equal(ssh(addr[h], 'cat /etc/prov-shard.txt'), `slice of ${h}\n`);
    const m = await provision(['report', 'merge', ...files]);
    assert.equal(m.code, 1, m.stderr);
    assert.match(m.stdout, /lb-01 +ok=0 +changed=1 +failed=0 +skipped=1/);
    assert.match(m.stdout, /web-02 +ok=0 +changed=1 +failed=1 +skipped=0/);
    assert.match(m.stdout, /FAILED/);
    const merged = report(await provision(['report', 'merge', ...files, '--json']));
    assert.deepEqual(Object.keys(merged.recap), HOSTS);
    assert.deepEqual(merged.tasks.map((t) => `${t.host} ${t.task} ${t.status}`).sort(), [...HOSTS.map((h) => `${h} Marker changed`), 'lb-01 Failing host skipped', 'web-01 Failing host skipped', 'web-02 Failing host failed'].sort());
    // a slice of the check run is not a slice of this run
    const mixed = await provision(['report', 'merge', files[0], files[1], join(dir, 'check-3.json')]);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /check-3.json is a slice of a different run than .*real-1.json: check mode true ≠ false/);
  });

  it('a task delegated to a host of another slice fails, naming both slices', async () => {
    // lb-01 is a target of the run, in slice 1/3: slice 2/3 (web-01) does not connect to it
    writeFileSync(join(dir, 'delegate-all.yml'), `- hosts: all\n  gather_facts: false\n  tasks:\n    - name: On the balancer\n      command: "true"\n      delegate_to: lb-01\n      when: "host.name == 'web-01'"\n`);
    const r = await provision([join(dir, 'delegate-all.yml'), '-i', 'testbed', '--shard', '2/3', '--json']);
    assert.equal(r.code, 1);
    const t = report(r).tasks.find((x) => x.host === 'web-01');
    assert.match(t?.error ?? '', /delegate_to: 'lb-01' is in slice 1\/3 of this sharded run, not in this controller's slice 2\/3/);
  });
});
