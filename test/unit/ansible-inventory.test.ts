/**
 * Ansible inventories (INI, YAML, directories, group_vars/host_vars) read into provision's
 * Inventory: membership, precedence, connection variables, refusals and positioned errors.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadInventory, selectHosts, type Inventory } from '../../src/load/inventory.js';
import { isAnsibleInventory, type AnsibleInventory } from '../../src/load/ansible/index.js';
import { expandHostRange } from '../../src/load/ansible/model.js';
import { pyLiteral, shlexSplit } from '../../src/load/ansible/pyliteral.js';
import { ConfigError } from '../../src/load/yaml.js';
import { tmp } from '../helpers/fake.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const FIX = join(ROOT, 'test', 'fixtures', 'ansible-inventories');

function load(path: string): { inv: AnsibleInventory; warnings: string[] } {
  const warnings: string[] = [];
  const inv = loadInventory(path, ROOT, false, (w) => warnings.push(w));
  assert.ok(isAnsibleInventory(inv), 'read as an Ansible inventory');
  return { inv, warnings };
}

function write(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

/** Load an inline INI inventory (file `hosts` in a fresh dir). */
function ini(text: string, extra: Record<string, string> = {}) {
  const dir = tmp('prov-ainv-');
  for (const [n, t] of Object.entries(extra)) write(dir, n, t);
  return load(write(dir, 'hosts', text));
}
function iniError(text: string): string {
  const dir = tmp('prov-ainv-');
  return configError(() => loadInventory(write(dir, 'hosts', text), ROOT, false, () => {}));
}
function yamlError(text: string, name = 'inv.yml'): string {
  const dir = tmp('prov-ainv-');
  return configError(() => loadInventory(write(dir, name, text), ROOT, false, () => {}));
}
const vars = (inv: Inventory, h: string) => inv.hosts.get(h)!.vars;

describe('Ansible INI inventory (site fixture with group_vars/ and host_vars/)', () => {
  const { inv, warnings } = load(join(FIX, 'ini-site', 'hosts'));

  it('hosts, ranges, groups and children', () => {
    assert.equal(inv.ansible.format, 'ansible-ini');
    assert.equal(inv.name, 'hosts');
    assert.deepEqual([...inv.hosts.keys()], ['bastion.foobar.com', 'lb-01', 'web-01', 'web-02']);
    assert.deepEqual(inv.groups.get('webservers'), ['web-01', 'web-02']);
    assert.deepEqual(inv.groups.get('databases'), ['web-01', 'web-02']);
    assert.deepEqual(inv.groups.get('site'), ['lb-01', 'web-01', 'web-02']);
    assert.deepEqual(inv.groups.get('ungrouped'), ['bastion.foobar.com']);
    assert.deepEqual(inv.ansible.children.get('databases'), ['db_primary', 'db_replica']);
    assert.deepEqual(inv.hosts.get('web-01')!.groups, ['webservers', 'db_primary', 'databases', 'site']);
    assert.deepEqual(selectHosts(inv, 'site:!loadbalancers'.replace(':', ',')), ['web-01', 'web-02']);
  });

  it('connection variables become host settings', () => {
    const w2 = inv.hosts.get('web-02')!;
    assert.equal(w2.address, '10.0.10.12');
    assert.equal(w2.port, 2222);
    assert.equal(w2.user, 'deploy');
    assert.equal(w2.key, '/etc/provision/keys/deploy_ed25519');
    assert.equal(w2.become, true);
    assert.deepEqual(w2.jump, { user: 'admin', address: '203.0.113.5', port: 2222, key: '/etc/provision/keys/deploy_ed25519' });
    assert.equal(w2.knownHosts, join(homedir(), '.ssh', 'known_hosts'));
    assert.equal(w2.hostKeyPolicy, 'strict');
    const lb = inv.hosts.get('lb-01')!;
    assert.equal(lb.user, userInfo().username, 'no ansible_user: the local user, as ssh and Ansible');
    const b = inv.hosts.get('bastion.foobar.com')!;
    assert.equal(b.jump, undefined, "the host's own empty ansible_ssh_common_args overrides all:vars");
    assert.equal(b.address, '203.0.113.5');
    assert.equal(b.user, 'admin');
  });

  it("variable precedence is Ansible's: inventory groups < group_vars/all < group_vars/GROUP < inventory host < host_vars", () => {
    assert.equal(vars(inv, 'web-01').level, 'host-file');
    assert.equal(vars(inv, 'web-02').level, 'webservers-file');
    assert.equal(vars(inv, 'lb-01').level, 'all-file', 'group_vars/all beats [all:vars]');
    assert.equal(vars(inv, 'web-01').nginx_workers, 8, 'group_vars/webservers/nginx.yaml beats [webservers:vars]');
    assert.equal(vars(inv, 'web-01').app_port, 3000);
    assert.equal(vars(inv, 'web-01').nginx_gzip, true, 'YAML 1.1 as Ansible: yes is a boolean');
    assert.equal(vars(inv, 'web-01').nginx_log, 'y', 'but y is a string, as in PyYAML');
    assert.equal(vars(inv, 'lb-01').haproxy_maxconn, 2000, 'host_vars file without extension');
    assert.equal(vars(inv, 'web-01').db_server_id, 1);
    assert.equal(vars(inv, 'web-02').db_server_id, 2);
    assert.equal(vars(inv, 'web-01').http_port, 80);
    assert.equal(vars(inv, 'lb-01').http_port, undefined);
  });

  it('INI values are Python literals when they are one, else strings', () => {
    const v = vars(inv, 'web-01');
    assert.equal(v.ansible_become, true);
    assert.equal(v.domain, 'www.foobar.com');
    assert.deepEqual(v.backends, ['web-01', 'web-02']);
    assert.equal(v.ansible_python_interpreter, '/usr/bin/python3');
  });

  it('records where every value came from', () => {
    const o = inv.ansible.origins.get('web-01')!;
    assert.match(o.get('level')!, /ini-site\/host_vars\/web-01\.yml:1:1 \(host\)$/);
    assert.match(o.get('nginx_workers')!, /group_vars\/webservers\/nginx\.yaml:2:1 \(group webservers\)$/);
    assert.match(o.get('http_port')!, /ini-site\/hosts:27:1 \(group webservers\)$/);
    assert.match(o.get('ansible_user')!, /ini-site\/hosts:9:13 \(host\)$/);
    assert.match(o.get('domain')!, /ini-site\/hosts:35:1 \(group all\)$/);
  });

  it('warns once about ansible_* variables and ssh options provision does not use, naming them', () => {
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0], /not used by provision \(ignored\): ansible_python_interpreter \(bastion\.foobar\.com, lb-01, web-01 and 1 more host\)/);
    assert.match(warnings[1], /ansible_ssh_common_args option 'ServerAliveInterval' \(lb-01, web-01, web-02\)/);
    assert.ok(!warnings.some((w) => w.includes('notes.md')), 'a non-vars file in group_vars/NAME/ is skipped silently, as in Ansible');
  });
});

describe('Ansible INI inventory in the style of the documentation (roles x data centers)', () => {
  const { inv, warnings } = load(join(FIX, 'docs-ini', 'production'));

  it('groups of groups, ranges, ports and inline host variables', () => {
    assert.deepEqual(warnings, []);
    assert.equal(inv.hosts.size, 9);
    assert.deepEqual(inv.groups.get('ungrouped'), ['192.168.1.1', 'other']);
    assert.deepEqual(inv.groups.get('atlanta'), ['www-atl-1.example.com', 'www-atl-2.example.com', 'db-atl-1.example.com', 'db-atl-2.example.com']);
    assert.deepEqual(inv.groups.get('dbservers'), ['db-atl-1.example.com', 'db-atl-2.example.com', 'db-bos-1.example.com']);
    assert.equal(inv.hosts.get('db-bos-1.example.com')!.port, 2222);
    assert.deepEqual([inv.hosts.get('other')!.address, inv.hosts.get('other')!.port], ['192.0.2.50', 5555]);
    assert.equal(vars(inv, 'www-atl-2.example.com').maxRequestsPerChild, 909);
    assert.equal(vars(inv, 'db-atl-1.example.com').ntp_server, 'ntp.atlanta.example.com');
    assert.equal(vars(inv, 'www-bos-1.example.com').ntp_server, undefined);
  });

  it('group_vars and host_vars files without extension, most specific wins', () => {
    const port = (h: string) => vars(inv, h).apache_port;
    assert.deepEqual(
      ['192.168.1.1', 'www-atl-1.example.com', 'www-atl-2.example.com', 'www-bos-1.example.com', 'www-bos-2.example.com', 'db-bos-1.example.com'].map(port),
      [80, 1080, 1080, 8080, 8111, 80],
    );
  });
});

describe('Ansible YAML inventory', () => {
  it("reads the example of Ansible's inventory documentation", () => {
    const { inv } = load(join(FIX, 'docs-yaml', 'inventory.yml'));
    assert.equal(inv.ansible.format, 'ansible-yaml');
    assert.equal(inv.hosts.size, 6);
    assert.deepEqual(inv.groups.get('prod'), ['foo.example.com', 'one.example.com', 'two.example.com']);
    assert.deepEqual(inv.groups.get('test'), ['bar.example.com', 'three.example.com']);
    assert.deepEqual(inv.groups.get('ungrouped'), ['mail.example.com']);
    assert.deepEqual(inv.hosts.get('foo.example.com')!.groups, ['webservers', 'east', 'prod']);
    assert.deepEqual(selectHosts(inv, 'webservers,&east'), ['foo.example.com']);
  });

  it('nested children to any depth, ranges with ports, variables at every level', () => {
    const { inv, warnings } = load(join(FIX, 'docs-yaml', 'nested.yaml'));
    assert.deepEqual(warnings, []);
    assert.deepEqual(inv.groups.get('webservers'), ['www01.example.com', 'www02.example.com', 'www03.example.com', 'www04.example.com']);
    assert.deepEqual(inv.groups.get('databases'), ['db-a.example.com', 'db-b.example.com', 'db-c.example.com']);
    assert.deepEqual(inv.groups.get('usa'), ['host1', 'host2', 'host3']);
    assert.deepEqual(inv.groups.get('northwest'), []);
    assert.deepEqual(inv.ansible.children.get('usa'), ['southeast', 'northeast', 'northwest', 'southwest']);
    const db = inv.hosts.get('db-b.example.com')!;
    assert.equal(db.port, 2222);
    assert.equal(db.become, true, 'ansible_become: yes');
    assert.equal(db.user, 'deploy');
    const j = inv.hosts.get('jumper')!;
    assert.equal(j.address, '192.0.2.50');
    assert.equal(j.port, 5555);
    assert.equal(vars(inv, 'host1').ntp_server, 'ntp.atlanta.example.com', 'the child group beats all');
    assert.equal(vars(inv, 'host3').ntp_server, 'ntp.example.com');
    assert.equal(vars(inv, 'host3').escape_pods, 2, 'inherited from a grandparent group');
    assert.equal(vars(inv, 'host2').proxy, 'proxy.atlanta.example.com');
    assert.equal(vars(inv, 'www02.example.com').http_port, 8080);
    assert.deepEqual(inv.hosts.get('host2')!.groups, ['usa', 'southeast', 'atlanta', 'raleigh']);
  });

  it('groups at the same depth merge by name; ansible_group_priority reorders them', () => {
    const dir = tmp('prov-ainv-');
    const base = `all:\n  children:\n    zeta:\n      hosts: { h1: }\n      vars: { v: zeta }\n    alpha:\n      hosts: { h1: }\n      vars: { v: alpha }\n`;
    assert.equal(vars(load(write(dir, 'a.yml', base)).inv, 'h1').v, 'zeta', 'same depth: by name, so zeta wins over alpha');
    const prio = base.replace('{ v: alpha }', '{ v: alpha, ansible_group_priority: 10 }');
    assert.equal(vars(load(write(dir, 'b.yml', prio)).inv, 'h1').v, 'alpha');
  });

  it('top-level groups without all:, and a host defined twice merges its variables', () => {
    const dir = tmp('prov-ainv-');
    const { inv } = load(write(dir, 'i.yml', `web:\n  hosts:\n    w1: { a: 1, b: 1 }\ndb:\n  hosts:\n    w1: { b: 2 }\n    d1:\n`));
    assert.deepEqual(inv.groups.get('all'), ['w1', 'd1']);
    assert.deepEqual(vars(inv, 'w1'), { a: 1, b: 2 });
  });
});

describe('Ansible inventory directory', () => {
  const { inv, warnings } = load(join(FIX, 'dir'));

  it('merges every inventory file (sorted, recursive), skipping what Ansible skips', () => {
    assert.equal(inv.ansible.format, 'ansible-dir');
    assert.equal(inv.name, 'dir');
    assert.deepEqual(
      inv.ansible.files.map((f) => f.slice(join(FIX, 'dir').length + 1)),
      ['01-static.ini', '02-cloud.yml', 'more/03-extra'],
      'README.md, hosts.orig, 01-static.ini~, .hidden, group_vars/, host_vars/ are not inventory sources',
    );
    assert.deepEqual(inv.groups.get('webservers'), ['web1.example.com', 'web2.example.com', 'web3.example.com']);
    assert.deepEqual(inv.groups.get('monitoring'), ['mon1.example.com']);
    assert.deepEqual(warnings, []);
  });

  it("reads the directory's group_vars/ and host_vars/ (host names with dots)", () => {
    assert.equal(inv.hosts.get('db1.example.com')!.user, 'ops');
    assert.equal(inv.hosts.get('db1.example.com')!.address, '10.0.0.21');
    assert.equal(inv.hosts.get('web1.example.com')!.port, 2201);
    assert.equal(vars(inv, 'web2.example.com').role, 'from-group-vars', 'group_vars beats both files');
  });
});

describe('group_vars/ and host_vars/ lookup', () => {
  it('the first of NAME, NAME.yml, NAME.yaml, NAME.json is read (a directory first); the others are reported', () => {
    const { inv, warnings } = ini('[web]\nw1\n', {
      'group_vars/web/10-a.yml': 'x: a\ny: a\n',
      'group_vars/web/20-b/nested.yml': 'y: b\n',
      'group_vars/web/.hidden.yml': 'x: hidden\n',
      'group_vars/web/old.yml~': 'x: backup\n',
      'group_vars/web.yml': 'x: file\n',
      'group_vars/nosuchgroup.yml': 'x: 1\n',
      'host_vars/w1.json': '{"j": 1}',
      'group_vars/all': '---\nz: 1\n',
    });
    assert.equal(vars(inv, 'w1').x, 'a');
    assert.equal(vars(inv, 'w1').y, 'b', 'subdirectories are read after, in sorted order');
    assert.equal(vars(inv, 'w1').j, 1);
    assert.equal(vars(inv, 'w1').z, 1);
    assert.ok(warnings.some((w) => /group_vars\/web\.yml ignored: .*group_vars\/web is read instead/.test(w)), warnings.join('\n'));
    assert.ok(warnings.some((w) => /group_vars\/nosuchgroup: no group 'nosuchgroup'/.test(w)), warnings.join('\n'));
  });

  it('errors in vars files name file:line:col', () => {
    const dir = tmp('prov-ainv-');
    write(dir, 'group_vars/all.yml', 'a: 1\nbad-name: 2\n');
    assert.match(configError(() => loadInventory(write(dir, 'hosts', 'h1\n'), ROOT, false, () => {})), /group_vars\/all\.yml:2:1: invalid variable name 'bad-name'/);
    write(dir, 'group_vars/all.yml', 'a: [1\n');
    assert.match(configError(() => loadInventory(join(dir, 'hosts'), ROOT, false, () => {})), /group_vars\/all\.yml:\d+:\d+: invalid YAML/);
    write(dir, 'group_vars/all.yml', 'db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6130\n');
    assert.match(configError(() => loadInventory(join(dir, 'hosts'), ROOT, false, () => {})), /group_vars\/all\.yml:1:\d+: Ansible Vault encrypted content is not supported/);
    write(dir, 'group_vars/all.yml', '$ANSIBLE_VAULT;1.1;AES256\n6130\n');
    assert.match(configError(() => loadInventory(join(dir, 'hosts'), ROOT, false, () => {})), /group_vars\/all\.yml:1:1: Ansible Vault/);
  });
});

describe('connection variables', () => {
  it('each one is mapped', () => {
    const { inv, warnings } = ini(
      [
        'a ansible_host=10.0.0.1 ansible_port=2200 ansible_user=alice ansible_ssh_private_key_file=~/.ssh/id_a ansible_become=yes',
        'b ansible_ssh_host=10.0.0.2 ansible_ssh_port="2201" ansible_ssh_user=bob ansible_private_key_file=keys/id_b ansible_become=false ansible_become_user=root ansible_become_method=sudo',
        "c ansible_ssh_common_args='-J jumper@bastion:2022' ansible_connection=ssh ansible_ssh_timeout=5",
        "d ansible_ssh_common_args='-Jbastion' ansible_connection=smart",
        `e ansible_ssh_extra_args='-o ProxyCommand="ssh -W %h:%p -q ops@bastion -p 2200" -o StrictHostKeyChecking=accept-new -o ConnectTimeout=7 -o UserKnownHostsFile=/etc/ssh/kh'`,
        "f ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'",
      ].join('\n'),
    );
    const h = (n: string) => inv.hosts.get(n)!;
    assert.deepEqual([h('a').address, h('a').port, h('a').user, h('a').key, h('a').become], ['10.0.0.1', 2200, 'alice', join(homedir(), '.ssh/id_a'), true]);
    assert.deepEqual([h('b').address, h('b').port, h('b').user, h('b').key, h('b').become], ['10.0.0.2', 2201, 'bob', resolve('keys/id_b'), false]);
    assert.deepEqual(h('c').jump, { user: 'jumper', address: 'bastion', port: 2022 });
    assert.equal(h('c').connectTimeoutMs, 5000);
    assert.deepEqual(h('d').jump, { user: userInfo().username, address: 'bastion', port: 22 }, "the jump user defaults to the host's user");
    assert.deepEqual(h('e').jump, { user: 'ops', address: 'bastion', port: 2200 });
    assert.equal(h('e').hostKeyPolicy, 'accept-new');
    assert.equal(h('e').connectTimeoutMs, 7000);
    assert.equal(h('e').knownHosts, '/etc/ssh/kh');
    assert.equal(h('f').hostKeyPolicy, 'accept-new');
    assert.equal(h('f').knownHosts, join(homedir(), '.ssh', 'known_hosts'));
    assert.ok(warnings.some((w) => /StrictHostKeyChecking=no is treated as accept-new.*\(f\)/.test(w)), warnings.join('\n'));
    assert.ok(warnings.some((w) => /UserKnownHostsFile=\/dev\/null is not honoured.*\(f\)/.test(w)), warnings.join('\n'));
  });

  const refused: [string, RegExp][] = [
    ['ansible_password=s3cret', /hosts:2:4: host 'h1': ansible_password: SSH passwords are not supported/],
    ['ansible_ssh_pass=s3cret', /hosts:2:4: host 'h1': ansible_ssh_pass: SSH passwords are not supported/],
    ['ansible_become_password=s3cret', /hosts:2:4: host 'h1': ansible_become_password: .*--ask-become-pass or PROVISION_BECOME_PASSWORD/],
    ['ansible_become_pass=s3cret', /hosts:2:4: host 'h1': ansible_become_pass: .*--ask-become-pass/],
    ['ansible_connection=winrm', /hosts:2:4: host 'h1': ansible_connection: connection 'winrm' is not supported/],
    ['ansible_connection=docker', /hosts:2:4: host 'h1': ansible_connection: connection 'docker' is not supported: .*or runs the host's tasks on the controller \(local\)/],
    ['ansible_become_user=postgres', /hosts:2:4: host 'h1': ansible_become_user: becoming 'postgres' is not supported/],
    ['ansible_become_method=su', /hosts:2:4: host 'h1': ansible_become_method: become method 'su' is not supported/],
    ['ansible_become=maybe', /hosts:2:4: host 'h1': ansible_become: expected a boolean/],
    ['ansible_port=ssh', /hosts:2:4: host 'h1': ansible_port: expected a port number/],
    ["ansible_ssh_common_args='-J a@b,c@d'", /hosts:2:4: host 'h1': ansible_ssh_common_args: several jump hosts/],
    [`ansible_ssh_common_args='-o ProxyCommand="nc -x proxy %h %p"'`, /hosts:2:4: host 'h1': ansible_ssh_common_args: ProxyCommand .* is not supported/],
    ['ansible_host="{{ inventory_hostname }}.example.com"', /hosts:2:4: host 'h1': ansible_host: Jinja templates in connection variables are not supported/],
  ];
  for (const [assignment, re] of refused) {
    it(`refuses ${assignment.split('=')[0]}${assignment.includes('connection') || assignment.includes('method') ? `=${assignment.split('=')[1]}` : ''}, naming host and file:line:col`, () => {
      const msg = iniError(`[web]\nh1 ${assignment}\n`);
      assert.match(msg, re);
      assert.ok(!msg.includes('s3cret'), 'the secret value is not echoed');
    });
  }

  it('ansible_connection=local: the host runs on the controller, as the controller\'s user (ansible_user does not apply)', () => {
    const dir = tmp('prov-ainv-');
    const inv = loadInventory(write(dir, 'hosts', '[ctl]\nc1 ansible_connection=local ansible_user=nobody\nc2 ansible_connection=ansible.builtin.local\n[web]\nw1 ansible_connection=ssh\n'), ROOT, false, () => {});
    assert.deepEqual(['c1', 'c2', 'w1'].map((n) => inv.hosts.get(n)!.local ?? false), [true, true, false]);
    assert.equal(inv.hosts.get('c1')!.user, userInfo().username);
  });

  it('a refused variable from group_vars names that file and the host', () => {
    const dir = tmp('prov-ainv-');
    write(dir, 'group_vars/web.yml', 'x: 1\nansible_password: hunter2\n');
    const msg = configError(() => loadInventory(write(dir, 'hosts', '[web]\nw1\nw2\n'), ROOT, false, () => {}));
    assert.match(msg, /group_vars\/web\.yml:2:1: host 'w1': ansible_password/);
    assert.match(msg, /group_vars\/web\.yml:2:1: host 'w2': ansible_password/);
    assert.ok(!msg.includes('hunter2'));
  });
});

describe('errors with file:line:col', () => {
  const cases: [string, string, RegExp][] = [
    ['unknown section type', '[web]\nw1\n\n[web:hostz]\nw2\n', /hosts:4:1: section \[web:hostz\] has unknown type 'hostz'/],
    ['vars for an undefined group', '[web]\nw1\n[db:vars]\nx=1\n', /hosts:3:1: section \[db:vars\] is for a group that is not defined/],
    ['host line without key=value', '[web]\nw1 ansible_port=22 oops\n', /hosts:2:20: expected key=value host variable, got 'oops'/],
    ['range without end', '[web]\nweb[1:]\n', /hosts:2:1: host range in 'web\[1:\]' must specify an end value/],
    ['range of unequal widths', '[web]\nweb[01:100]\n', /hosts:2:1: host range .* equal length/],
    ['unclosed quote', '[web]\nw1 x="abc\n', /hosts:2:4: no closing quotation/],
    ['invalid variable name', '[web]\nw1\n[web:vars]\nbad-name=1\n', /hosts:4:1: invalid variable name 'bad-name'/],
    ['vars line without =', '[web:vars]\njust words\n[web]\nw1\n', /hosts:2:1: expected key=value in \[web:vars\]/],
    ['group cycle', '[a:children]\nb\n[b:children]\na\n[a]\nh1\n', /hosts:\d+:1: group cycle: (a -> b -> a|b -> a -> b)/],
    ['group named like a host', '[web]\ndb\n[db]\nh2\n', /hosts:3:1: 'db' is both a group and a host \(.*hosts:2:1\)/],
    ['invalid host name', '[web]\nweb_01!\n', /hosts:2:1: invalid host name 'web_01!'/],
  ];
  for (const [name, text, re] of cases) {
    it(`INI: ${name}`, () => assert.match(iniError(text), re));
  }
  it('INI: several errors are reported together', () => {
    const msg = iniError('[web]\nw1 oops\n[x:bogus]\n');
    assert.match(msg, /hosts:2:4: expected key=value/);
    assert.match(msg, /hosts:3:1: section \[x:bogus\]/);
  });

  const ycases: [string, string, RegExp][] = [
    ['unknown key in a group', 'all:\n  children:\n    web:\n      host:\n        w1:\n', /inv\.yml:4:7: group 'web': unknown key 'host'/],
    ['hosts as a list', 'all:\n  hosts:\n    - w1\n    - w2\n', /inv\.yml:3:5: group 'all': 'hosts' must be a mapping, got a list/],
    ['host vars not a mapping', 'all:\n  hosts:\n    w1: 10.0.0.1\n', /inv\.yml:3:5: host 'w1': expected a mapping of variables/],
    ['bad range', 'all:\n  hosts:\n    web[a:3]:\n', /inv\.yml:3:5: host range '\[a:3\]'/],
    ['invalid YAML', 'all:\n  hosts:\n    w1: {\n', /inv\.yml:\d+:\d+: invalid YAML/],
    ['vault value', 'all:\n  hosts:\n    w1:\n      ansible_become_password: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        3131\n', /inv\.yml:4:\d+: Ansible Vault encrypted content is not supported/],
  ];
  for (const [name, text, re] of ycases) {
    it(`YAML: ${name}`, () => assert.match(yamlError(text), re));
  }
});

describe('format detection', () => {
  it("provision's own format is still read as before", () => {
    const inv = loadInventory(join(ROOT, 'inventory', 'prod.yml'), ROOT, false, () => assert.fail('no warnings'));
    assert.ok(!isAnsibleInventory(inv));
    assert.equal(inv.hosts.get('web-01')!.address, '10.0.10.11');
    assert.match(yamlError('hosts:\n  x: { adress: 1.2.3.4 }\n'), /inv\.yml:2:8: hosts\.x: unknown key 'adress'/, "provision's errors unchanged");
  });

  it('an ambiguous or unrecognised file is an error naming the file', () => {
    assert.match(yamlError('hosts:\n  vars: { x: 1 }\n'), /inv\.yml: ambiguous inventory format/);
    assert.match(yamlError('all:\n  hosts: { a: }\nhosts:\n  a:\n'), /inv\.yml: ambiguous inventory format/);
    assert.match(yamlError('servers:\n  - a\n  - b\n'), /inv\.yml: unrecognised inventory format: top-level 'servers'/);
    assert.match(yamlError('- a\n- b\n'), /inv\.yml:1:1: not an inventory/);
    assert.match(yamlError('plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n', 'aws_ec2.yml'), /aws_ec2\.yml: an Ansible inventory plugin configuration .* not supported/);
    assert.match(yamlError('#!/usr/bin/env python3\nprint("{}")\n', 'ec2'), /ec2: dynamic inventory scripts are not supported/);
    // comments only: an inventory without hosts, as Ansible reads it (the run warns)
    assert.equal(loadInventory(write(tmp('prov-ainv-'), 'hosts', '# nothing\n\n'), ROOT, false, () => {}).hosts.size, 0);
    assert.match(yamlError('web1, web2\n', 'hosts'), /hosts:1:1: unrecognised inventory format/);
  });

  it('a file without extension is INI or YAML by its first line', () => {
    const dir = tmp('prov-ainv-');
    assert.equal(load(write(dir, 'y', '# comment\nall:\n  hosts:\n    a:\n')).inv.ansible.format, 'ansible-yaml');
    assert.equal(load(write(dir, 'i1', '; comment\nweb1:2222 x=1\nweb2\n')).inv.ansible.format, 'ansible-ini');
    assert.equal(load(write(dir, 'i1', 'web1:2222 x=1\n')).inv.hosts.get('web1')!.port, 2222);
    assert.equal(load(write(dir, 'i2.ini', 'web[1:3]\n')).inv.hosts.size, 3);
  });

  it('in a directory, [group:vars] of a later file applies to a group of an earlier file', () => {
    const dir = tmp('prov-ainv-');
    write(dir, 'a.ini', '[web]\nw1\n');
    write(dir, 'b.ini', '[web:vars]\nport_x=8\n');
    assert.equal(vars(load(dir).inv, 'w1').port_x, 8);
  });

  it('a symbolic link loop in an inventory directory is an error, not a crash', () => {
    const dir = tmp('prov-ainv-');
    write(dir, 'sub/a.ini', '[web]\nw1\n');
    symlinkSync(dir, join(dir, 'sub', 'loop'));
    assert.match(configError(() => loadInventory(dir, ROOT, false, () => {})), /directory loop/);
  });

  it('an inventory directory with a provision-format file is refused', () => {
    const dir = tmp('prov-ainv-');
    write(dir, 'a.ini', '[web]\nw1\n');
    write(dir, 'b.yml', 'hosts:\n  x: {}\n');
    assert.match(configError(() => loadInventory(dir, ROOT, false, () => {})), /b\.yml: a provision-format inventory inside an Ansible inventory directory/);
  });
});

describe('INI value and line syntax', () => {
  it('Python literals as ast.literal_eval, anything else a string', () => {
    assert.equal(pyLiteral('22'), 22);
    assert.equal(pyLiteral('-1.5e3'), -1500);
    assert.equal(pyLiteral('0x1F'), 31);
    assert.equal(pyLiteral('True'), true);
    assert.equal(pyLiteral('None'), null);
    assert.equal(pyLiteral('true'), 'true');
    assert.equal(pyLiteral('yes'), 'yes');
    assert.equal(pyLiteral('0644'), '0644', 'leading zeros are not a Python int');
    assert.equal(pyLiteral('"quoted # text"'), 'quoted # text');
    assert.equal(pyLiteral("'a' 'b'"), 'ab');
    assert.deepEqual(pyLiteral("['a', 1, [True]]"), ['a', 1, [true]]);
    assert.deepEqual(pyLiteral("{'k': 'v', 2: (1, 2)}"), { k: 'v', 2: [1, 2] });
    assert.deepEqual(pyLiteral('(1,)'), [1]);
    assert.equal(pyLiteral('/usr/bin/python3'), '/usr/bin/python3');
    assert.equal(pyLiteral('1.2.3.4'), '1.2.3.4');
    assert.equal(pyLiteral("{'unclosed': 1"), "{'unclosed': 1");
  });

  it('host lines split like shlex (quotes, escapes, # comments)', () => {
    const t = shlexSplit(`h1 a="x y" b='p q' c=a\\ b # trailing`);
    assert.ok(Array.isArray(t));
    assert.deepEqual(t.map((x) => x.text), ['h1', 'a=x y', 'b=p q', 'c=a b']);
    assert.deepEqual(t.map((x) => x.col), [0, 3, 11, 19]);
  });

  it('host ranges', () => {
    assert.deepEqual(expandHostRange('www[01:03].example.com'), ['www01.example.com', 'www02.example.com', 'www03.example.com']);
    assert.deepEqual(expandHostRange('db-[a:c]'), ['db-a', 'db-b', 'db-c']);
    assert.deepEqual(expandHostRange('h[0:6:3]'), ['h0', 'h3', 'h6']);
    assert.deepEqual(expandHostRange('r[1:2]-[a:b]'), ['r1-a', 'r1-b', 'r2-a', 'r2-b']);
    assert.deepEqual(expandHostRange('plain'), ['plain']);
    assert.match(String(expandHostRange('h[1:2')), /unclosed/);
    assert.match(String(expandHostRange('h[0:99999]')), /more than 10000/);
    assert.match(String(expandHostRange('h[1:9999]-[1:9999]')), /more than 10000/);
  });
});
