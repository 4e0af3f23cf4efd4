/**
 * End to end, on real hosts (lb-01, web-01, web-02): the site is provisioned once, then
 *  1. a rolling deploy of a new release, under a steady request loop through the load
 *     balancer, loses no request, and both web servers end on the new release;
 *  2. a release whose app fails its health check stops the deploy at the first web server,
 *     which stays drained, while the other keeps serving the old release;
 *  3. after rows are written, the nightly backup runs on the replica and the restore drill
 *     restores it into a scratch database and finds the rows.
 * Needs root (systemd-nspawn); skipped otherwise. Run it under the testbed lock:
 *   flock /tmp/provision-testbed.lock node --test dist/test/e2e/deploy.test.js
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { request } from 'node:http';
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
}

/** provision, asynchronously (the request loop runs meanwhile), bounded. */
function provision(args: string[], timeoutMs = 8 * 60_000): Promise<Run> {
  return new Promise((resolveP) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, CI: '1' }, timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => {
      if (stderr) process.stderr.write(stderr.split('\n').map((l) => `    | ${l}`).join('\n') + '\n');
      resolveP({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function runJson(args: string[]): Promise<{ report: RunReport; code: number }> {
  const r = await provision([...args, '--json']);
  assert.ok(r.stdout.trim().startsWith('{'), `expected a JSON report, got exit ${r.code}: ${r.stdout.slice(0, 500)}`);
  return { report: runReport.parse(JSON.parse(r.stdout)), code: r.code };
}

const failures = (r: RunReport) =>
  r.tasks
    .filter((t) => t.status === 'failed')
    .map((t) => `${t.host} ${t.task}: ${t.error}`)
    .join('\n');

interface Answer {
  status: number;
  servedBy: string;
  body: string;
}

function get(address: string, path: string): Promise<Answer> {
  return new Promise((resolveP, reject) => {
    const req = request({ host: address, port: 80, path, agent: false, headers: { Host: 'www.foobar.com' }, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolveP({ status: res.statusCode ?? 0, servedBy: String(res.headers['x-served-by'] ?? ''), body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/**
 * A bounded request loop through the load balancer: `perTick` requests every 100 ms, until
 * `until` settles (or `maxMs` passes). Every answer other than 200 is a failure.
 */
async function underLoad<T>(address: string, until: Promise<T>, perTick = 3, maxMs = 6 * 60_000): Promise<{ result: T; sent: number; failed: string[]; versions: Map<string, Set<string>> }> {
  let done = false;
  const failed: string[] = [];
  const versions = new Map<string, Set<string>>();
  const pending: Promise<void>[] = [];
  let sent = 0;
  const t0 = Date.now();
  const settled = until.finally(() => (done = true));
  while (!done && Date.now() - t0 < maxMs) {
    for (let i = 0; i < perTick; i++) {
      sent++;
      pending.push(
        get(address, '/').then(
          (a) => {
            if (a.status !== 200) failed.push(`${a.status} from ${a.servedBy || '?'}`);
            const v = /Version ([^<\s]+)/.exec(a.body)?.[1] ?? '?';
            if (!versions.has(a.servedBy)) versions.set(a.servedBy, new Set());
            versions.get(a.servedBy)!.add(v);
          },
          (e: Error) => void failed.push(e.message),
        ),
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const result = await settled;
  await Promise.all(pending);
  return { result, sent, failed, versions };
}

function ssh(address: string, cmd: string): string {
  const dir = join(ROOT, '.provision', 'testbed');
  const r = spawnSync('ssh', ['-i', join(dir, 'id_ed25519'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${address}`, cmd], {
    encoding: 'utf8',
    timeout: 60000,
  });
  assert.equal(r.status, 0, `ssh ${address} ${cmd}: ${r.stderr}`);
  return r.stdout;
}

/** srv_admin_state of a server in HAProxy on lb-01 (0 ready, 1 maint, 8 drain). */
const adminState = (lb: string, server: string) =>
  ssh(lb, `echo 'show servers state foobar_web' | socat -t 5 stdio unix-connect:/run/haproxy/admin.sock | awk '$4 == "${server}" { print $7 }'`).trim();

const health = (web: string) => JSON.parse(ssh(web, "curl -sS -H 'Host: www.foobar.com' http://127.0.0.1/health")) as { status: string; version: string };

describe('rolling deploys and backups on fresh test hosts (lb-01, web-01, web-02)', { skip: !isRoot && 'needs root (systemd-nspawn test hosts)' }, () => {
  let addr: Record<string, string> = {};

  before(async () => {
    await provision(['testbed', 'down']);
    const up = await provision(['testbed', 'up']);
    assert.equal(up.code, 0, 'testbed up failed');
    const inv = parse(readFileSync(join(ROOT, 'inventory', 'testbed.yml'), 'utf8')) as { hosts: Record<string, { address: string }> };
    addr = Object.fromEntries(Object.entries(inv.hosts).map(([n, h]) => [n, h.address]));
    const site = await runJson(['--inventory', 'testbed']);
    assert.equal(failures(site.report), '');
    assert.equal(site.code, 0);
    assert.equal(health(addr['web-01']).version, '1.0.0');
  });

  after(async () => {
    if (!KEEP) await provision(['testbed', 'down']);
  });

  it('a rolling deploy under load loses no request; both web servers end on the new release', async () => {
    const { result, sent, failed, versions } = await underLoad(addr['lb-01'], runJson(['--inventory', 'testbed', 'playbooks/deploy.yml', '-e', 'app_version=1.1.0']));
    assert.equal(failures(result.report), '');
    assert.equal(result.code, 0);
    assert.equal(result.report.stopped, undefined);
    // underLoad sends until the deploy ends; on a quiet machine with the code cache the deploy
    // takes ~3 s (~90 requests; 100 was once required and failed there): at least a second of traffic
    assert.ok(sent >= 30, `the loop ran during the deploy (${sent} requests)`);
    assert.deepEqual(failed, [], `${failed.length} of ${sent} requests failed`);
    // the deploy went one server at a time: each was drained, restarted, put back
    const drains = result.report.tasks.filter((t) => t.task.startsWith('Drain this web server') && t.status === 'changed').map((t) => t.host);
    assert.deepEqual(drains, ['web-01', 'web-02']);
    // during the deploy both releases answered, from the servers that had them
    assert.ok(versions.get('web-01')?.has('1.1.0') || versions.get('web-02')?.has('1.1.0'));
    for (const web of ['web-01', 'web-02']) {
      const h = health(addr[web]);
      assert.deepEqual([h.status, h.version], ['ok', '1.1.0'], `${web} /health`);
      assert.equal(adminState(addr['lb-01'], web), '0', `${web} is ready in HAProxy`);
    }
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const a = await get(addr['lb-01'], '/');
      assert.equal(a.status, 200);
      assert.match(a.body, /Version 1\.1\.0/);
      seen.add(a.servedBy);
    }
    assert.deepEqual([...seen].sort(), ['web-01', 'web-02']);
  });

  it('a release whose health check fails stops at the first server, which stays drained; the other keeps serving', async () => {
    const release = mkdtempSync(join(tmpdir(), 'foobar-broken-release-'));
    const good = readFileSync(join(ROOT, 'roles', 'app', 'files', 'app', 'server.js'), 'utf8');
    const broken = good.replace("sendJson(res, 200, { status: 'ok', db: 'ok', ...base });", "sendJson(res, 503, { status: 'broken', db: 'ok', ...base });");
    assert.notEqual(broken, good, 'the release under test really breaks /health');
    writeFileSync(join(release, 'server.js'), broken);
    copyFileSync(join(ROOT, 'roles', 'app', 'files', 'app', 'package.json'), join(release, 'package.json'));

    const { result, sent, failed } = await underLoad(
      addr['lb-01'],
      runJson(['--inventory', 'testbed', 'playbooks/deploy.yml', '-e', 'app_version=1.2.0', '-e', `app_source=${release}`]),
    );
    assert.equal(result.code, 1);
    assert.deepEqual(failed, [], `${failed.length} of ${sent} requests failed while the broken release was rolled out`);
    const stop = result.report.stopped;
    assert.ok(stop, 'the report says the deploy stopped');
    assert.equal(stop.play, 'Deploy: rolling release of the app, one web server at a time');
    assert.deepEqual([stop.batch, stop.batches, stop.failed, stop.notRun], [1, 2, ['web-01'], ['web-02']]);
    assert.match(stop.reason, /above max_fail_percentage 0%/);
    const failedTask = result.report.tasks.find((t) => t.status === 'failed')!;
    assert.equal(failedTask.task, 'The new release answers /health locally, with its version');
    assert.equal(result.report.tasks.filter((t) => t.host === 'web-02').length, 0, 'web-02 was not touched');

    assert.equal(adminState(addr['lb-01'], 'web-01'), '8', 'web-01 stays drained');
    assert.equal(health(addr['web-02']).version, '1.1.0');
    for (let i = 0; i < 6; i++) {
      const a = await get(addr['lb-01'], '/');
      assert.equal(a.status, 200);
      assert.equal(a.servedBy, 'web-02');
      assert.match(a.body, /Version 1\.1\.0/);
    }

    // the operator's fix: roll the good release out again; web-01 comes back
    const fixed = await runJson(['--inventory', 'testbed', 'playbooks/deploy.yml', '-e', 'app_version=1.1.0']);
    assert.equal(failures(fixed.report), '');
    assert.equal(adminState(addr['lb-01'], 'web-01'), '0');
    assert.equal(health(addr['web-01']).version, '1.1.0');
  });

  it('after rows are written, the nightly backup runs on the replica and the restore drill finds the rows', async () => {
    const token = `backup-e2e-${Date.now()}`;
    for (let i = 0; i < 5; i++) {
      const status = await new Promise<number>((resolveP, reject) => {
        const req = request({ host: addr['lb-01'], port: 80, path: '/api/messages', method: 'POST', agent: false, headers: { Host: 'www.foobar.com', 'Content-Type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolveP(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ body: `${token}-${i}` }));
      });
      assert.equal(status, 201);
    }
    const onReplica = () => ssh(addr['web-02'], `mysql -N -B -e "SELECT COUNT(*) FROM foobar.messages WHERE body LIKE '${token}-%'"`).trim();
    for (let i = 0; i < 20 && onReplica() !== '5'; i++) await new Promise((r) => setTimeout(r, 500));
    assert.equal(onReplica(), '5', 'the rows reached the replica');
    const total = ssh(addr['web-01'], 'mysql -N -B -e "SELECT COUNT(*) FROM foobar.messages"').trim();

    // the nightly job, started now (as its timer would)
    ssh(addr['web-02'], 'systemctl start foobar-backup.service');
    assert.match(ssh(addr['web-02'], 'systemctl list-timers foobar-backup.timer --all --no-legend'), /foobar-backup\.timer/);
    const b = '/var/backups/foobar/latest/';
    assert.equal(ssh(addr['web-02'], `stat -c '%a %U' /var/backups/foobar $(readlink -f ${b})`).trim(), '700 root\n700 root');
    assert.deepEqual(ssh(addr['web-02'], `cd ${b} && stat -c '%n %a %U' *`).trim().split('\n'), ['SHA256SUMS 600 root', 'counts.tsv 600 root', 'foobar.sql.gz 600 root', 'position 600 root']);
    assert.match(ssh(addr['web-02'], `cat ${b}position`), /^gtid_slave_pos=0-1-\d+$/m);
    assert.match(ssh(addr['web-02'], `cat ${b}counts.tsv`), new RegExp(`^messages\\t${total}$`, 'm'));
    assert.equal(ssh(addr['web-02'], `zcat ${b}foobar.sql.gz | grep -o '${token}-[0-9]' | sort -u | wc -l`).trim(), '5');
    assert.match(ssh(addr['web-02'], `curl -fsS http://127.0.0.1:9100/metrics | grep '^foobar_backup_last_success_timestamp_seconds'`), /^foobar_backup_last_success_timestamp_seconds \d/);

    // Prometheus (on lb-01) has the backup's age as a metric, minutes at most
    let age = NaN;
    for (let i = 0; i < 30 && !(age >= 0); i++) {
      const q = JSON.parse(ssh(addr['lb-01'], "curl -fsS 'http://127.0.0.1:9090/api/v1/query?query=foobar:backup_age_seconds'")) as { data: { result: { value: [number, string] }[] } };
      age = Number(q.data.result[0]?.value[1]);
      if (!(age >= 0)) await new Promise((r) => setTimeout(r, 2000));
    }
    assert.ok(age >= 0 && age < 600, `foobar:backup_age_seconds = ${age}`);

    // the drill, alone: restores into a scratch database, compares, drops it; replication untouched
    const binlogBefore = ssh(addr['web-02'], "mysql -N -B -e 'SELECT @@gtid_binlog_pos'").trim();
    const drill = await runJson(['--inventory', 'testbed', 'playbooks/backup-drill.yml']);
    assert.equal(failures(drill.report), '');
    assert.equal(drill.code, 0);
    const note = drill.report.tasks.find((t) => t.task === 'The newest backup restores, with the rows recorded at its position')?.note ?? '';
    assert.match(note, /the newest backup restores/);
    const out = ssh(addr['web-02'], '/usr/local/sbin/foobar-backup-drill');
    assert.match(out, /^drill ok: backup \d{8}T\d{6}Z \(gtid_slave_pos=0-1-\d+\): \d+ table\(s\), \d+ row\(s\) restored into foobar_restore_drill and matching/);
    assert.equal(ssh(addr['web-02'], "mysql -N -B -e \"SHOW DATABASES LIKE 'foobar_restore_drill'\"").trim(), '', 'the scratch database is dropped');
    assert.equal(ssh(addr['web-02'], "mysql -N -B -e 'SELECT @@gtid_binlog_pos'").trim(), binlogBefore, 'the drill wrote nothing to the binary log');
    const repl = ssh(addr['web-02'], "mysql -e 'SHOW SLAVE STATUS\\G'");
    assert.match(repl, /Slave_IO_Running: Yes/);
    assert.match(repl, /Slave_SQL_Running: Yes/);

    // a backup that does not restore to what was recorded fails the drill
    ssh(addr['web-02'], `cd ${b} && sed -i 's/^messages\\t.*/messages\\t999999/' counts.tsv && sha256sum foobar.sql.gz position counts.tsv > SHA256SUMS`);
    const bad = spawnSync('ssh', ['-i', join(ROOT, '.provision', 'testbed', 'id_ed25519'), '-o', `UserKnownHostsFile=${join(ROOT, '.provision', 'testbed', 'known_hosts')}`, '-o', 'BatchMode=yes', `root@${addr['web-02']}`, '/usr/local/sbin/foobar-backup-drill'], { encoding: 'utf8', timeout: 60000 });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /table messages: \d+ row\(s\) restored, 999999 recorded/);
    assert.equal(ssh(addr['web-02'], "mysql -N -B -e \"SHOW DATABASES LIKE 'foobar_restore_drill'\"").trim(), '', 'dropped after a failed drill too');
  });
});
