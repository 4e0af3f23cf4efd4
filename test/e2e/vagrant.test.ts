/**
 * End to end with Vagrant's docker provider (the Vagrantfile, inventory/vagrant.yml): the image
 * built from the test hosts' base (`provision testbed image --docker`, which starts dockerd when
 * none answers) -> `vagrant up --provider=docker` -> the whole site provisioned through
 * inventory/vagrant.yml and verified (both back ends through the load balancer, a write carried
 * to the replica) -> a second run changes nothing -> `vagrant destroy -f`, also after a failure.
 * A dockerd this test started is stopped again; its firewall changes (FORWARD policy DROP,
 * br_netfilter) stay, and the nspawn e2e tests run after this one (scripts/test-all.sh).
 * Needs root (docker); skipped otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runReport, type RunReport } from '../../src/engine/report.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const isRoot = process.getuid?.() === 0;
const MACHINES = { 'lb-01': '192.168.56.10', 'web-01': '192.168.56.11', 'web-02': '192.168.56.12' } as const;
const KNOWN_HOSTS = join(ROOT, '.provision', 'vagrant_known_hosts');
const timings: Record<string, number> = {};

function sh(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0 };
}

function vagrant(args: string[], timeoutMs = 5 * 60_000) {
  const r = sh('vagrant', args, timeoutMs, { VAGRANT_DISABLE_VERSION_CHECKPOINT: '1', VAGRANT_DEFAULT_PROVIDER: 'docker' });
  if (r.code !== 0) process.stderr.write(`vagrant ${args.join(' ')} failed (exit ${r.code}):\n${(r.stdout + r.stderr).trim().split('\n').slice(-30).join('\n')}\n`);
  return r;
}

function runSite(): { report: RunReport; code: number; ms: number } {
  const r = sh(process.execPath, [BIN, '-i', 'inventory/vagrant.yml', 'playbooks/site.yml', '--json'], 15 * 60_000, { CI: '1' });
  if (r.stderr) process.stderr.write(r.stderr.split('\n').map((l) => `    | ${l}`).join('\n') + '\n');
  assert.ok(r.stdout.trim().startsWith('{'), `expected a JSON report, got exit ${r.code}: ${r.stdout.slice(0, 500)}`);
  return { report: runReport.parse(JSON.parse(r.stdout)), code: r.code, ms: r.ms };
}

const changed = (r: RunReport) => r.tasks.filter((t) => t.status === 'changed').map((t) => `${t.host} | ${t.task}`);
const failures = (r: RunReport) => r.tasks.filter((t) => t.status === 'failed').map((t) => `${t.host} ${t.task}: ${t.error}`).join('\n');

/** A command on a machine as Vagrant's user, with the key and host key the run used. */
function ssh(name: keyof typeof MACHINES, cmd: string): string {
  const r = sh('ssh', ['-i', join(ROOT, '.vagrant', 'keys', name), '-o', `UserKnownHostsFile=${KNOWN_HOSTS}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `vagrant@${MACHINES[name]}`, cmd], 30_000);
  assert.equal(r.code, 0, `ssh ${name} ${cmd}: ${r.stderr}`);
  return r.stdout;
}

function http(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; servedBy: string }> {
  return new Promise((resolveP, reject) => {
    const headers: Record<string, string> = { Host: 'www.foobar.com', ...(body ? { 'Content-Type': 'application/json' } : {}) };
    const req = request({ host: MACHINES['lb-01'], port: 80, path, method, headers, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolveP({ status: res.statusCode ?? 0, servedBy: String(res.headers['x-served-by']) }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

function dockerAnswers(): boolean {
  return sh('docker', ['info', '--format', '{{.ServerVersion}}'], 15_000).code === 0;
}

/** Stop the dockerd this test started (no systemd here: its pid file). */
function stopDockerd(): void {
  const pid = Number(readFileSync('/var/run/docker.pid', 'utf8').trim());
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 60; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    spawnSync('sleep', ['0.5']);
  }
  process.stderr.write(`dockerd (pid ${pid}) did not stop within 30s\n`);
}

describe('www.foobar.com on Vagrant machines (docker provider)', { skip: !isRoot && 'needs root (docker)' }, () => {
  let dockerWasRunning = false;

  before(() => {
    dockerWasRunning = dockerAnswers();
    const image = sh(process.execPath, [BIN, 'testbed', 'image', '--docker'], 10 * 60_000);
    timings.imageMs = image.ms;
    assert.equal(image.code, 0, `provision testbed image --docker: ${image.stderr}`);
    vagrant(['destroy', '-f']); // leftovers of an interrupted run
    // and containers of the same names that another checkout's interrupted run left (its .vagrant
    // is not this one's, so its destroy above does not see them)
    const stale = sh('docker', ['ps', '-aq', '--filter', 'name=^foobar-'], 30_000).stdout.trim().split('\n').filter(Boolean);
    if (stale.length) assert.equal(sh('docker', ['rm', '-f', ...stale], 60_000).code, 0, 'docker rm -f of stale foobar- containers');
    rmSync(KNOWN_HOSTS, { force: true }); // new machines, new host keys
    const up = vagrant(['up', '--provider=docker']);
    timings.vagrantUpMs = up.ms;
    assert.equal(up.code, 0, 'vagrant up --provider=docker');
  });

  after(() => {
    const down = vagrant(['destroy', '-f']);
    timings.vagrantDestroyMs = down.ms;
    rmSync(KNOWN_HOSTS, { force: true });
    const left = sh('docker', ['ps', '-a', '--filter', 'name=foobar-', '--format', '{{.Names}}'], 30_000).stdout.trim();
    if (!dockerWasRunning) stopDockerd();
    const line = `${new Date().toISOString()} vagrant ${JSON.stringify(timings)}\n`;
    mkdirSync(join(ROOT, '.provision'), { recursive: true });
    appendFileSync(join(ROOT, '.provision', 'e2e-timings.log'), line);
    process.stderr.write(`e2e timings: ${line}`);
    assert.equal(down.code, 0, 'vagrant destroy -f');
    assert.equal(left, '', 'no container is left after vagrant destroy');
  });

  it('the three machines run systemd, with sshd and passwordless sudo for vagrant', () => {
    for (const name of Object.keys(MACHINES) as (keyof typeof MACHINES)[]) {
      assert.ok(existsSync(join(ROOT, '.vagrant', 'keys', name)), `the generated key of ${name} is in .vagrant/keys`);
      const r = sh('docker', ['exec', `foobar-${name}`, 'sh', '-c', 'hostname; systemctl is-system-running --wait; systemctl is-active ssh; sudo -u vagrant sudo -n true && echo sudo-ok'], 60_000);
      assert.equal(r.stdout.trim().split('\n').join(' '), `${name} running active sudo-ok`, r.stderr);
    }
  });

  it('provision -i inventory/vagrant.yml applies the site and its verification passes', () => {
    const { report, code, ms } = runSite();
    timings.firstRunMs = ms;
    assert.equal(failures(report), '');
    assert.equal(code, 0);
    assert.ok(changed(report).length > 20, `a fresh site changes much, got ${changed(report).length}`);
    for (const name of [
      'Home page is served round robin by every web server',
      'HAProxy stats report every web server backend UP',
      'Replication IO and SQL threads are running',
      'The message written through the load balancer reached the replica',
    ]) {
      assert.ok(report.tasks.some((t) => t.task === name && t.status === 'ok'), `verification '${name}' passed`);
    }
  });

  it('serves the site through the load balancer from both web servers', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await http('GET', '/');
      assert.equal(r.status, 200);
      seen.add(r.servedBy);
    }
    assert.deepEqual([...seen].sort(), ['web-01', 'web-02']);
  });

  it('a row written through the load balancer is read back on the replica', async () => {
    const token = `vagrant-e2e-${Date.now()}`;
    assert.equal((await http('POST', '/api/messages', JSON.stringify({ body: token }))).status, 201);
    let count = '';
    for (let i = 0; i < 20 && count !== '1'; i++) {
      count = ssh('web-02', `sudo mysql -N -B -e "SELECT COUNT(*) FROM foobar.messages WHERE body='${token}'"`).trim();
      if (count !== '1') await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(count, '1', 'the row reached web-02');
  });

  it('nspawn test hosts work beside the running Docker machines (its FORWARD policy, br_netfilter)', () => {
    // a testbed of its own (bridge, subnet, state dir, root): the main one is untouched
    const root = mkdtempSync(join(tmpdir(), 'provision-vagrant-coexist-'));
    const opts = ['--names', 'vg-a,vg-b', '--bridge', 'provvg0', '--subnet', '10.76.0.0/24', '--root', root, '-q'];
    const env = { PROVISION_TESTBED_DIR: '/var/lib/provision/vagrant-coexist' };
    try {
      process.stderr.write(`FORWARD chain with Docker running:\n${sh('iptables', ['-w', '-S', 'FORWARD'], 30_000).stdout}`);
      const up = sh(process.execPath, [BIN, 'testbed', 'up', ...opts], 5 * 60_000, env);
      timings.coexistUpMs = up.ms;
      assert.equal(up.code, 0, `testbed up beside Docker: ${up.stderr}`);
      const dir = join(root, '.provision', 'testbed');
      // controller -> host (routed), and host -> host across the bridge (bridged: FORWARD under br_netfilter)
      const r = sh('ssh', ['-i', join(dir, 'id_ed25519'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', 'root@10.76.0.10',
        "timeout 5 bash -c '</dev/tcp/10.76.0.11/22' && echo bridged-ok"], 60_000);
      assert.equal(r.stdout.trim(), 'bridged-ok', r.stderr);
    } finally {
      const down = sh(process.execPath, [BIN, 'testbed', 'down', ...opts], 2 * 60_000, env);
      rmSync(root, { recursive: true, force: true });
      assert.equal(down.code, 0, `testbed down: ${down.stderr}`);
    }
  });

  it('a second run changes nothing', () => {
    const { report, code, ms } = runSite();
    timings.secondRunMs = ms;
    assert.equal(failures(report), '');
    assert.equal(code, 0);
    assert.deepEqual(changed(report), []);
  });
});
