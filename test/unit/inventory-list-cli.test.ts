/**
 * `provision inventory list` through the built CLI (node bin/provision.js): what a user sees for
 * Ansible and provision inventories, --vars with origins, --json, and exit code 2 on errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tmp } from '../helpers/fake.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const FIX = 'test/fixtures/ansible-inventories';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: '1', NO_COLOR: '1' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface ListJson {
  inventory: string;
  format: string;
  files: string[];
  hosts: { name: string; address: string; port: number; user: string; key: string | null; become: boolean; jump: { user: string; address: string; port: number } | null; groups: string[] }[];
  groups: { name: string; hosts: string[]; children: string[] }[];
  vars?: { host: string; variables: Record<string, { value: unknown; from: string }> };
  warnings: string[];
}

describe('provision inventory list', () => {
  it('prints hosts with address/port/user, groups with members and children, and warnings on stderr', () => {
    const r = cli(['inventory', 'list', '-i', `${FIX}/ini-site/hosts`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^inventory test\/fixtures\/ansible-inventories\/ini-site\/hosts \(ansible-ini\)$/m);
    assert.match(r.stdout, /^hosts \(4\):$/m);
    assert.match(r.stdout, /^ {2}web-02 +deploy@10\.0\.10\.12:2222 {2}become {2}via admin@203\.0\.113\.5:2222 {2}key \/etc\/provision\/keys\/deploy_ed25519$/m);
    assert.match(r.stdout, /^ {2}databases \(2\): web-01, web-02 {2}children: db_primary, db_replica$/m);
    assert.match(r.stdout, /^ {2}ungrouped \(1\): bastion\.foobar\.com$/m);
    assert.doesNotMatch(r.stdout, /^variables/m);
    assert.match(r.stderr, /^warning: not used by provision \(ignored\): ansible_python_interpreter/m);
  });

  it('--vars HOST prints the merged variables and where each value came from', () => {
    const r = cli(['inventory', 'list', '-i', `${FIX}/ini-site/hosts`, '--vars', 'web-01']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^variables of web-01 \(16; /m);
    assert.match(r.stdout, /^ {2}level += "host-file" {2}test\/fixtures\/ansible-inventories\/ini-site\/host_vars\/web-01\.yml:1:1 \(host\)$/m);
    assert.match(r.stdout, /^ {2}nginx_workers += 8 {2}test\/fixtures\/ansible-inventories\/ini-site\/group_vars\/webservers\/nginx\.yaml:2:1 \(group webservers\)$/m);
    assert.match(r.stdout, /^ {2}http_port += 80 {2}test\/fixtures\/ansible-inventories\/ini-site\/hosts:27:1 \(group webservers\)$/m);
  });

  it('--json: one JSON document with hosts, groups, variables with origins and warnings', () => {
    const r = cli(['inventory', 'list', '-i', `${FIX}/dir`, '--vars', 'web1.example.com', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as ListJson;
    assert.equal(j.format, 'ansible-dir');
    assert.equal(j.files.length, 3);
    assert.deepEqual(
      j.hosts.map((h) => `${h.user}@${h.address}:${h.port}`),
      ['ops@web1.example.com:2201', 'ops@web2.example.com:22', 'ops@10.0.0.21:22', 'ops@web3.example.com:22', 'ops@10.0.0.31:22'],
    );
    assert.deepEqual(j.groups.find((g) => g.name === 'webservers')!.hosts, ['web1.example.com', 'web2.example.com', 'web3.example.com']);
    assert.deepEqual(j.vars!.variables.role, { value: 'from-group-vars', from: `${FIX}/dir/group_vars/webservers.yml:1:1 (group webservers)` });
    assert.deepEqual(j.vars!.variables.ansible_port, { value: 2201, from: `${FIX}/dir/host_vars/web1.example.com.yml:1:1 (host)` });
    assert.deepEqual(j.warnings, []);
  });

  it('masks the values of variables whose name says they are secret', () => {
    const dir = tmp('prov-ainv-cli-');
    writeFileSync(join(dir, 'hosts'), "[db]\ndb1 mysql_root_password=Sup3rS3cret api_token='tok-123' db_name=shop ansible_ssh_private_key_file=/k/id\n");
    const r = cli(['inventory', 'list', '-i', join(dir, 'hosts'), '--vars', 'db1']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('Sup3rS3cret') && !r.stdout.includes('tok-123'), r.stdout);
    assert.match(r.stdout, /^ {2}mysql_root_password += "\*{8}" {2}.*hosts:2:5 \(host\)$/m);
    assert.match(r.stdout, /^ {2}api_token += "\*{8}"/m);
    assert.match(r.stdout, /^ {2}db_name += "shop"/m);
    const j = cli(['inventory', 'list', '-i', join(dir, 'hosts'), '--vars', 'db1', '--json']);
    assert.ok(!j.stdout.includes('Sup3rS3cret') && !j.stdout.includes('tok-123'), j.stdout);
    const v = (JSON.parse(j.stdout) as ListJson).vars!.variables;
    assert.equal(v.mysql_root_password.value, '********');
    assert.equal(v.api_token.value, '********');
    assert.equal(v.ansible_ssh_private_key_file.value, '/k/id', 'a key file path is not a secret');
  });

  it("works for provision's own inventories too", () => {
    const r = cli(['inventory', 'list', '-i', 'inventory/prod.yml', '--vars', 'web-01', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as ListJson;
    assert.equal(j.format, 'provision');
    assert.deepEqual(j.hosts.find((h) => h.name === 'web-02')!.address, '10.0.10.12');
    assert.equal(j.groups[0].name, 'all');
    assert.deepEqual(j.vars!.variables.db_server_id, { value: 1, from: 'inventory/prod.yml:36:27 (host)' });
  });

  it('errors exit 2 with file:line:col and no stack trace', () => {
    const dir = tmp('prov-ainv-cli-');
    const bad = join(dir, 'hosts');
    writeFileSync(bad, '[web]\nw1 ansible_password=hunter2\n');
    const r = cli(['inventory', 'list', '-i', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /hosts:2:4: host 'w1': ansible_password: SSH passwords are not supported/);
    assert.ok(!r.stderr.includes('hunter2') && !r.stderr.includes('    at '));
    const run = cli(['-i', bad, 'playbooks/site.yml', '--check']);
    assert.equal(run.code, 2, 'a run refuses it before contacting any host');
    assert.match(run.stderr, /hosts:2:4: host 'w1': ansible_password/);
    const nohost = cli(['inventory', 'list', '-i', `${FIX}/docs-yaml/inventory.yml`, '--vars', 'nosuch']);
    assert.equal(nohost.code, 2);
    assert.match(nohost.stderr, /--vars: no host named 'nosuch' in test\/fixtures\/ansible-inventories\/docs-yaml\/inventory\.yml/);
    const missing = cli(['inventory', 'list', '-i', join(dir, 'nope.ini')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /inventory '.*nope\.ini' not found/);
  });
});
