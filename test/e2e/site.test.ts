/**
 * End to end, on real hosts: fresh test hosts -> provision --check --json -> real run whose
 * changed (host, task) set equals the prediction -> verification passes -> a second run
 * changes nothing -> --check predicts nothing -> test hosts destroyed.
 * Needs root (systemd-nspawn); skipped otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runReport, type RunReport } from '../../src/engine/report.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const isRoot = process.getuid?.() === 0;
const KEEP = process.env.PROVISION_KEEP_TESTBED === '1';
const timings: Record<string, number> = {};

function provision(args: string[], timeoutMs = 40 * 60_000, env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, CI: '1', ...env } });
  const ms = Date.now() - t0;
  if (r.stderr) process.stderr.write(r.stderr.split('\n').map((l) => `    | ${l}`).join('\n') + '\n');
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms };
}

/** `audit`: every fact read ahead is also read when its task runs, and must be equal (pipeline/fact-cache.ts). */
function runJson(args: string[], opts: { audit?: boolean } = {}): { report: RunReport; code: number; ms: number } {
  const r = provision([...args, '--json'], undefined, opts.audit ? { PROVISION_FACT_CACHE: 'audit' } : {});
  assert.ok(r.stdout.trim().startsWith('{'), `expected a JSON report, got exit ${r.code}: ${r.stdout.slice(0, 500)}`);
  const report = runReport.parse(JSON.parse(r.stdout));
  return { report, code: r.code, ms: r.ms };
}

const pairs = (r: RunReport, status: string) =>
  r.tasks
    .filter((t) => t.status === status)
    .map((t) => `${t.host} | ${t.handler ? 'handler: ' : ''}${t.task}`)
    .sort();

const changed = (r: RunReport) =>
  r.tasks
    .filter((t) => t.status === 'changed')
    .map((t) => `${t.host} | ${t.handler ? 'handler: ' : ''}${t.task}`)
    .sort();

function failures(r: RunReport): string {
  return r.tasks
    .filter((t) => t.status === 'failed')
    .map((t) => `${t.host} ${t.task}: ${t.error}`)
    .join('\n');
}

function httpGet(address: string, path: string, host = 'www.foobar.com'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolveP, reject) => {
    const req = request({ host: address, port: 80, path, headers: { Host: host }, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolveP({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

function ssh(address: string, cmd: string): string {
  const dir = join(ROOT, '.provision', 'testbed');
  const r = spawnSync('ssh', ['-i', join(dir, 'id_ed25519'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${address}`, cmd], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `ssh ${address} ${cmd}: ${r.stderr}`);
  return r.stdout;
}

interface TestbedInventory {
  hosts: Record<string, { address: string }>;
  vars: { lb_vip?: string };
}

describe('www.foobar.com on fresh test hosts (lb-01 + lb-02 with a virtual IP, web-01, web-02)', { skip: !isRoot && 'needs root (systemd-nspawn test hosts)' }, () => {
  let addr: Record<string, string> = {};
  let vip = '';

  before(() => {
    provision(['testbed', 'down']);
    const up = provision(['testbed', 'up', '--lb-pair']);
    assert.equal(up.code, 0, 'testbed up failed');
    timings.testbedUpMs = up.ms;
    const inv = parse(readFileSync(join(ROOT, 'inventory', 'testbed.yml'), 'utf8')) as TestbedInventory;
    addr = Object.fromEntries(Object.entries(inv.hosts).map(([n, h]) => [n, h.address]));
    vip = inv.vars.lb_vip ?? '';
    assert.ok(vip, 'the testbed inventory has lb_vip');
  });

  after(() => {
    const line = `${new Date().toISOString()} ${JSON.stringify(timings)}\n`;
    mkdirSync(join(ROOT, '.provision'), { recursive: true });
    appendFileSync(join(ROOT, '.provision', 'e2e-timings.log'), line);
    process.stderr.write(`e2e timings: ${line}`);
    if (!KEEP) provision(['testbed', 'down']);
  });

  let predicted: string[] = [];
  let unknown: string[] = [];
  let checkStatus = new Map<string, string>();

  it('--check on fresh hosts predicts the changes, with no failures', () => {
    const { report, code, ms } = runJson(['--inventory', 'testbed', '--check']);
    timings.checkFreshMs = ms;
    assert.equal(failures(report), '');
    assert.equal(code, 0);
    assert.equal(report.check, true);
    predicted = changed(report);
    unknown = pairs(report, 'unknown');
    checkStatus = new Map(report.tasks.map((t) => [`${t.host} | ${t.handler ? 'handler: ' : ''}${t.task}`, t.status]));
    // the rule: exact, or unknown with a reason. Checks (assert, http_check, wait_for) cannot run
    // while changes are pending; the state tasks unknown are the site's few commands that would
    // run (a certificate, the first backup) and what reads what they write, nothing else
    const unknownState = report.tasks.filter((t) => t.status === 'unknown' && !['assert', 'http_check', 'wait_for'].includes(t.module)).map((t) => `${t.host} | ${t.task}: ${t.note}`);
    // and the configurations a validator must accept (haproxy -c, keepalived -t, promtool), the
    // handlers they notify and what follows them: check mode cannot run the validator
    assert.deepEqual(unknownState.filter((u) => !/known only when it runs|written by the command|may fail|notified by a task whose outcome is unknown/.test(u)), [], `state tasks unknown for another reason on fresh hosts:\n${unknownState.join('\n')}`);
    assert.ok(unknownState.length <= 40, `state tasks unknown in check mode on fresh hosts:\n${unknownState.join('\n')}`);
    process.stderr.write(`check on fresh hosts: ${predicted.length} changed, ${unknown.length} unknown, of which state tasks: ${unknownState.join('; ')}\n`);
    assert.ok(predicted.length > 20, `expected many predicted changes, got ${predicted.length}`);
  });

  it('the real run changes exactly the predicted (host, task) set, and its verification passes (every fact read ahead audited)', () => {
    const { report, code, ms } = runJson(['--inventory', 'testbed'], { audit: true });
    timings.firstRunMs = ms;
    assert.equal(failures(report), '');
    assert.equal(code, 0);
    // every pair check was sure of is what the real run did; the rest were unknown in check
    const real = new Map(report.tasks.map((t) => [`${t.host} | ${t.handler ? 'handler: ' : ''}${t.task}`, t.status]));
    const wrong = [...checkStatus].filter(([k, s]) => s !== 'unknown' && real.get(k) !== s).map(([k, s]) => `${k}: check ${s}, real ${real.get(k)}`);
    assert.deepEqual(wrong, []);
    assert.deepEqual(changed(report).filter((k) => !predicted.includes(k)).filter((k) => !unknown.includes(k)), []);
    const verify = report.tasks.filter((t) => t.play.toLowerCase().startsWith('verify'));
    assert.ok(verify.length >= 5, 'site.yml ends with the verification plays');
    // every check passed (some run on one load balancer only, and are skipped on the other)
    assert.ok(verify.every((t) => t.status === 'ok' || t.status === 'skipped'), verify.map((t) => `${t.host} ${t.task}: ${t.status}`).join('\n'));
    for (const name of [
      'Home page is served round robin by every web server',
      'Static files come from Nginx',
      'HAProxy stats report every web server backend UP',
      'The site answers on the virtual IP (keepalived), from both web servers',
      'Replication IO and SQL threads are running',
      'The message written through the load balancer reached the replica',
      'Prometheus scrapes every target (node exporters, HAProxy, itself)',
      'The alert rules are loaded and none is firing',
    ]) {
      assert.ok(verify.some((t) => t.task === name && t.status === 'ok'), `verification '${name}' passed`);
    }
  });

  it('serves the site through the load balancer from both web servers, round-robin', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await httpGet(addr['lb-01'], '/');
      assert.equal(r.status, 200);
      seen.push(String(r.headers['x-served-by']));
    }
    assert.deepEqual([...new Set(seen)].sort(), ['web-01', 'web-02']);
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], `round robin alternates: ${seen.join(',')}`);
    const stat = await httpGet(addr['lb-01'], '/static/hello.txt');
    assert.equal(stat.status, 200);
    assert.equal(stat.headers['x-static'], 'nginx');
    assert.match(stat.body, /foobar static ok/);
  });

  it('a row written through the app on the primary is read back on the replica', async () => {
    const token = `e2e-${Date.now()}`;
    const status = await new Promise<number>((resolveP, reject) => {
      const req = request({ host: addr['lb-01'], port: 80, path: '/api/messages', method: 'POST', headers: { Host: 'www.foobar.com', 'Content-Type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolveP(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ body: token }));
    });
    assert.equal(status, 201);
    let count = '';
    for (let i = 0; i < 20 && count !== '1'; i++) {
      count = ssh(addr['web-02'], `mysql -N -B -e "SELECT COUNT(*) FROM foobar.messages WHERE body='${token}'"`).trim();
      if (count !== '1') await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(count, '1', 'row replicated to web-02');
    const status2 = ssh(addr['web-02'], `mysql -e 'SHOW REPLICA STATUS\\G'`);
    assert.match(status2, /Slave_IO_Running: Yes/);
    assert.match(status2, /Slave_SQL_Running: Yes/);
    // the replica is read-only: the app's account cannot write there
    assert.match(ssh(addr['web-02'], 'mysql -N -B -e "SELECT @@read_only"'), /^1/);
    const pw = (JSON.parse(readFileSync(join(ROOT, '.provision', 'secrets', 'testbed.json'), 'utf8')) as Record<string, string>).db_app_password;
    const denied = spawnSync('ssh', ['-i', join(ROOT, '.provision', 'testbed', 'id_ed25519'), '-o', `UserKnownHostsFile=${join(ROOT, '.provision', 'testbed', 'known_hosts')}`, '-o', 'BatchMode=yes', `root@${addr['web-02']}`,
      `MYSQL_PWD='${pw}' mysql -h 127.0.0.1 -u foobar -e "INSERT INTO foobar.messages (body) VALUES ('must-fail')"`], { encoding: 'utf8', timeout: 30000 });
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /read-only|1290/);
  });

  it('a second run changes nothing', () => {
    const { report, code, ms } = runJson(['--inventory', 'testbed']);
    timings.secondRunMs = ms;
    assert.equal(failures(report), '');
    assert.equal(code, 0);
    assert.deepEqual(changed(report), []);
  });

  it('--check on the converged hosts predicts nothing', () => {
    const { report, code, ms } = runJson(['--inventory', 'testbed', '--check']);
    timings.checkConvergedMs = ms;
    assert.equal(code, 0);
    assert.deepEqual(changed(report), []);
    assert.equal(failures(report), '');
  });

  it('when HAProxy on lb-01 stops, the virtual IP moves to lb-02 and the site stays up', async () => {
    const hasVip = (host: string) => ssh(addr[host], 'ip -4 -o addr show').includes(` ${vip}/`);
    const waitFor = async (what: string, cond: () => boolean) => {
      for (let i = 0; i < 40; i++) {
        if (cond()) return;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.fail(`timed out waiting until ${what}`);
    };
    await waitFor('lb-01 holds the virtual IP', () => hasVip('lb-01'));
    assert.equal(hasVip('lb-02'), false);
    ssh(addr['lb-01'], 'systemctl stop haproxy');
    try {
      await waitFor('lb-02 takes the virtual IP over', () => hasVip('lb-02'));
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const r = await httpGet(vip, '/');
        assert.equal(r.status, 200);
        seen.add(String(r.headers['x-served-by']));
      }
      assert.deepEqual([...seen].sort(), ['web-01', 'web-02']);
    } finally {
      ssh(addr['lb-01'], 'systemctl start haproxy');
    }
    await waitFor('lb-01 takes the virtual IP back', () => hasVip('lb-01') && !hasVip('lb-02'));
  });

  it('database failover: with the primary down and the groups swapped, a run promotes web-02 and writes work again', async () => {
    ssh(addr['web-01'], 'systemctl stop mariadb');
    // The operator's move: swap db_primary and db_replica in the inventory, run without the dead host.
    const invFile = join(ROOT, 'inventory', 'testbed.yml');
    const inv = readFileSync(invFile, 'utf8');
    const swapped = inv.replace('db_primary: { hosts: [web-01] }', 'db_primary: { hosts: [web-02] }').replace('db_replica: { hosts: [web-02] }', 'db_replica: { hosts: [web-01] }');
    assert.notEqual(swapped, inv);
    writeFileSync(invFile, swapped);
    const { report, code, ms } = runJson(['--inventory', 'testbed', '--limit', '!web-01', '--skip-tags', 'verify']);
    timings.failoverRunMs = ms;
    assert.equal(failures(report), '');
    assert.equal(code, 0);
    assert.ok(changed(report).includes('web-02 | replication : The primary is not a replica'), changed(report).join('\n'));
    assert.match(ssh(addr['web-02'], 'mysql -N -B -e "SELECT @@read_only"'), /^0/);
    assert.equal(ssh(addr['web-02'], "mysql -N -B -e 'SHOW REPLICA STATUS'").trim(), '');
    // HAProxy takes web-01 out once its /health fails (its database is down); then every write lands on web-02.
    const token = `failover-${Date.now()}`;
    let ok = 0;
    for (let i = 0; i < 60 && ok < 4; i++) {
      const status = await new Promise<number>((resolveP, reject) => {
        const req = request({ host: vip, port: 80, path: '/api/messages', method: 'POST', headers: { Host: 'www.foobar.com', 'Content-Type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolveP(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ body: `${token}-${i}` }));
      });
      ok = status === 201 ? ok + 1 : 0;
      if (ok < 4) await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(ok, 4, 'writes through the load balancer succeed again after the failover');
    assert.notEqual(ssh(addr['web-02'], `mysql -N -B -e "SELECT COUNT(*) FROM foobar.messages WHERE body LIKE '${token}-%'"`).trim(), '0');
  });
});
