/**
 * The CLI against a real OpenSSH server started by the test (127.0.0.1): modules apply,
 * verify and converge; --check predicts the real run; host keys are enforced; unreachable
 * hosts and bad inventories give the documented exit codes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runReport, type RunReport } from '../../src/engine/report.js';
import { freePort, sshdAvailable, startSshd, type SshdHarness } from './sshd-harness.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const isRoot = process.getuid?.() === 0;

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1', NO_COLOR: '1', ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; report: RunReport; stderr: string } {
  const r = cli([...args, '--json'], env);
  assert.ok(r.stdout.startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  return { code: r.code, report: runReport.parse(JSON.parse(r.stdout)), stderr: r.stderr };
}

const changed = (r: RunReport) => r.tasks.filter((t) => t.status === 'changed').map((t) => `${t.host}|${t.task}`).sort();
const unknown = (r: RunReport) => r.tasks.filter((t) => t.status === 'unknown').map((t) => `${t.host}|${t.task}`).sort();

/** The check-mode rule: each pair check is sure of is what the real run did; what else changed was unknown in check. */
function assertCheckAgrees(check: RunReport, real: RunReport): void {
  const realStatus = new Map(real.tasks.map((t) => [`${t.host}|${t.task}`, t.status]));
  assert.deepEqual(check.tasks.filter((t) => t.status !== 'unknown' && realStatus.get(`${t.host}|${t.task}`) !== t.status).map((t) => `${t.host}|${t.task}: check ${t.status}, real ${realStatus.get(`${t.host}|${t.task}`)}`), []);
  assert.deepEqual(changed(real).filter((k) => !changed(check).includes(k) && !unknown(check).includes(k)), []);
}

describe('provision over SSH (local sshd)', { skip: (!isRoot || !sshdAvailable()) && 'needs root and openssh-server' }, () => {
  let h: SshdHarness;
  let dir: string;
  let inv: string;
  let pb: string;
  const SECRET = 'sup3r-s3cret-value-xyz';

  before(async () => {
    spawnSync('sh', ['-c', 'userdel provtest-usr 2>/dev/null; groupdel provtest-grp 2>/dev/null; true']);
    h = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'prov-cli-'));
    writeFileSync(join(dir, 'known_hosts'), `${h.knownHostsLine}\n`);
    inv = join(dir, 'inventory.yml');
    writeFileSync(
      inv,
      `defaults:\n  user: root\n  key: ${h.clientKey}\n  known_hosts: known_hosts\nhosts:\n  local-a: { address: 127.0.0.1, port: ${h.port}, vars: { which: a } }\n  local-b: { address: 127.0.0.1, port: ${h.port}, vars: { which: b } }\ngroups:\n  app: { hosts: [local-a, local-b] }\nvars:\n  base: ${dir}/remote\n`,
    );
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'templates', 'app.conf.ejs'), `# <%- host.name %>\nlisten = <%- port %>\nsecret = <%- secret('api_key') %>\nhosts = <%- groups.app.join(',') %>\n`);
    writeFileSync(join(dir, 'noop.yml'), '- hosts: all\n  tasks:\n    - name: nothing\n      assert: { cmd: "true" }\n');
    pb = join(dir, 'site.yml');
    writeFileSync(
      pb,
      `- name: Engine over SSH
  hosts: app
  vars: { port: 8080 }
  tasks:
    - name: Group
      group: { name: provtest-grp, system: true }
      when: "host.name === 'local-a'"
    - name: User
      user: { name: provtest-usr, system: true, group: provtest-grp, create_home: false }
      when: "host.name === 'local-a'"
    - name: Directory
      file: { path: "{{ base }}/{{ which }}", state: directory, mode: '0750' }
    - name: Config from a template
      template: { src: app.conf.ejs, dest: "{{ base }}/{{ which }}/app.conf", mode: '0640', group: "{{ host.name === 'local-a' ? 'provtest-grp' : 'root' }}", validate: "grep -q listen %s" }
      notify: restarted
    - name: Link
      file: { path: "{{ base }}/{{ which }}/current", state: link, src: "{{ base }}/{{ which }}/app.conf" }
    - name: One-time initialisation
      shell: { cmd: "echo init > {{ base }}/{{ which }}/init.done", creates: "{{ base }}/{{ which }}/init.done" }
    - name: Converged config is in place
      assert: { cmd: "grep -c listen {{ base }}/{{ which }}/app.conf", expect_stdout: "^1$" }
  handlers:
    - name: restarted
      shell: { cmd: "date > {{ base }}/{{ which }}/restarted" }
`,
    );
  });

  after(async () => {
    await h?.stop();
    spawnSync('sh', ['-c', 'userdel provtest-usr 2>/dev/null; groupdel provtest-grp 2>/dev/null; true']);
  });

  it('check predicts, the real run applies exactly that, the second run changes nothing', () => {
    const env = { PROVISION_SECRET_API_KEY: SECRET };
    const check = json(['-i', inv, pb, '--check', '--diff'], env);
    assert.equal(check.code, 0, check.stderr);
    assert.ok(!existsSync(join(dir, 'remote')), 'check mode changed nothing');
    const real = json(['-i', inv, pb], env);
    assert.equal(real.code, 0, real.report.tasks.filter((t) => t.status === 'failed').map((t) => `${t.host} ${t.task}: ${t.error}`).join('\n'));
    assertCheckAgrees(check.report, real.report);
    // the commands (one-time initialisation, the handler) would run: unknown in check, changed in
    // the real run; the assert cannot run for real while changes are pending; the template's
    // validate command runs only in the real run
    assert.deepEqual(unknown(check.report), ['Config from a template', 'Converged config is in place', 'One-time initialisation', 'restarted'].flatMap((n) => [`local-a|${n}`, `local-b|${n}`]).sort());
    assert.ok(changed(real.report).length >= 12);
    const conf = readFileSync(join(dir, 'remote', 'b', 'app.conf'), 'utf8');
    assert.equal(conf, `# local-b\nlisten = 8080\nsecret = ${SECRET}\nhosts = local-a,local-b\n`);
    assert.equal((statSync(join(dir, 'remote', 'b', 'app.conf')).mode & 0o777).toString(8), '640');
    assert.ok(existsSync(join(dir, 'remote', 'a', 'restarted')), 'handler ran');
    const all = JSON.stringify(check.report) + check.stderr + JSON.stringify(real.report) + real.stderr;
    assert.ok(!all.includes(SECRET), 'secret leaked into the output');
    assert.match(check.stderr, /\+secret = «secret api_key»/, 'diff shown from the display render');

    const again = json(['-i', inv, pb], env);
    assert.equal(again.code, 0);
    assert.deepEqual(changed(again.report), []);
    assert.match(again.stderr, /no changes: every host is converged/);
    const check2 = json(['-i', inv, pb, '--check'], env);
    assert.deepEqual(changed(check2.report), []);
  });

  it('a local edit is detected, shown as a diff and repaired', () => {
    const env = { PROVISION_SECRET_API_KEY: SECRET };
    const f = join(dir, 'remote', 'a', 'app.conf');
    writeFileSync(f, readFileSync(f, 'utf8').replace('listen = 8080', 'listen = 9999'));
    const check = json(['-i', inv, pb, '--check', '--diff', '--limit', 'local-a'], env);
    // a change to a validated file: unknown in check (whether 'grep -q listen %s' accepts it is known only when it runs)
    assert.deepEqual(changed(check.report), []);
    assert.deepEqual(unknown(check.report), ['local-a|Config from a template', 'local-a|Converged config is in place', 'local-a|restarted']);
    assert.match(check.stderr, /-listen = 9999\n.*\+listen = 8080/);
    const real = json(['-i', inv, pb, '--limit', 'local-a'], env);
    assertCheckAgrees(check.report, real.report);
    assert.deepEqual(changed(real.report), ['local-a|Config from a template', 'local-a|restarted']);
    assert.match(readFileSync(f, 'utf8'), /listen = 8080/);
  });

  it('refuses an unknown host key (exit 1) and accepts it with --accept-new-host-keys', () => {
    const kh = join(dir, 'kh-empty');
    const inv2 = join(dir, 'inv-newkey.yml');
    writeFileSync(inv2, `defaults: { key: ${h.clientKey}, known_hosts: kh-empty }\nhosts:\n  fresh: { address: 127.0.0.1, port: ${h.port} }\n`);
    const refused = json(['-i', inv2, join(dir, 'noop.yml'), '--check']);
    assert.equal(refused.code, 1);
    assert.equal(refused.report.recap.fresh.unreachable, true);
    assert.match(refused.report.recap.fresh.error!, /known_hosts|kh-empty/);
    assert.ok(!refused.stderr.includes('    at '), 'no stack trace');
    const ok = json(['-i', inv2, join(dir, 'noop.yml'), '--accept-new-host-keys']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(readFileSync(kh, 'utf8'), /ssh-ed25519/);
    // what was accepted is said on stderr, as OpenSSH does, with the fingerprint (stdout is the JSON)
    const fp = `SHA256:${createHash('sha256').update(Buffer.from(h.knownHostsLine.split(' ')[2], 'base64')).digest('base64').replace(/=+$/, '')}`;
    assert.ok(ok.stderr.includes(`Warning: Permanently added '[127.0.0.1]:${h.port}' (ED25519) to the list of known hosts`), ok.stderr);
    assert.ok(ok.stderr.includes(fp), `fingerprint ${fp} not in: ${ok.stderr}`);
    // inventory setting host_key_policy: accept-new, without the flag: same notice
    const kh2 = join(dir, 'kh-empty2');
    const inv4 = join(dir, 'inv-newkey2.yml');
    writeFileSync(inv4, `defaults: { key: ${h.clientKey}, known_hosts: kh-empty2, host_key_policy: accept-new }\nhosts:\n  fresh2: { address: 127.0.0.1, port: ${h.port} }\n`);
    const ok2 = json(['-i', inv4, join(dir, 'noop.yml')]);
    assert.equal(ok2.code, 0, ok2.stderr);
    assert.match(readFileSync(kh2, 'utf8'), /ssh-ed25519/);
    assert.ok(ok2.stderr.includes(`(ED25519) to the list of known hosts`) && ok2.stderr.includes(fp), ok2.stderr);
    const quiet = json(['-i', inv4, join(dir, 'noop.yml')]);
    assert.ok(!quiet.stderr.includes('Permanently added'), 'said only once, when added');
    const strictAgain = cli(['-i', inv2, join(dir, 'noop.yml')]);
    assert.equal(strictAgain.code, 0, 'the recorded key is now known');
  });

  it('an unreachable host fails with exit 1 while the others proceed', async () => {
    const closed = await freePort();
    const inv3 = join(dir, 'inv-unreach.yml');
    writeFileSync(inv3, `defaults: { key: ${h.clientKey}, known_hosts: known_hosts, connect_timeout: 3 }\nhosts:\n  up: { address: 127.0.0.1, port: ${h.port} }\n  down: { address: 127.0.0.1, port: ${closed} }\n`);
    const r = json(['-i', inv3, join(dir, 'noop.yml')]);
    assert.equal(r.code, 1);
    assert.equal(r.report.recap.down.unreachable, true);
    assert.match(r.report.recap.down.error!, /refused/i);
    assert.equal(r.report.recap.up.ok, 1);
  });

  it('invalid inventories and playbooks exit 2 before contacting any host, naming file:line:col', () => {
    const bad = join(dir, 'bad-inv.yml');
    writeFileSync(bad, `hosts:\n  x: { address: 127.0.0.1, port: "22" }\n`);
    const r = cli(['-i', bad, pb]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad-inv\.yml:2:34: hosts\.x\.port: expected number/);
    assert.ok(!r.stderr.includes('    at '), 'no stack trace');
    const badPb = join(dir, 'bad-pb.yml');
    writeFileSync(badPb, `- hosts: app\n  tasks:\n    - name: typo\n      servce: { name: x }\n`);
    const r2 = cli(['-i', inv, badPb]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /bad-pb\.yml:4:7: .*unknown module 'servce'|bad-pb\.yml:4:\d+: unknown module 'servce'/);
    const r3 = cli(['-i', inv, pb, '--limit', 'nosuchhost']);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /--limit: no host or group named 'nosuchhost'/);
    const r4 = cli(['--bogus-flag']);
    assert.equal(r4.code, 2);
  });
});
