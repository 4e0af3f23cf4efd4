import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Scope, UndefinedVariable } from '../../src/engine/expr.js';
import { loadInventory, selectHosts } from '../../src/load/inventory.js';
import { loadPlaybook } from '../../src/load/playbook.js';
import { ConfigError } from '../../src/load/yaml.js';
import { builtinModules } from '../../src/modules/all.js';
import { tmp } from '../helpers/fake.js';

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

const GOOD_INV = `
defaults:
  user: deploy
  key: keys/id_ed25519
  known_hosts: known_hosts
  become: true
hosts:
  lb-01: { address: 10.1.0.10 }
  web-01: { address: 10.1.0.11, port: 2222, vars: { role: primary, level: host } }
  web-02: { address: 10.1.0.12, user: admin }
groups:
  webservers: { hosts: [web-01, web-02], vars: { level: webservers, web: true } }
  primary: { hosts: [web-01], vars: { level: primary } }
  site: { children: [webservers], hosts: [lb-01], vars: { level: site, sitewide: 1 } }
vars:
  level: all
  domain: example.org
`;

describe('inventory', () => {
  it('loads hosts, connection defaults, groups with children and variable precedence', () => {
    const dir = tmp();
    const inv = loadInventory(write(dir, 'inventory/prod.yml', GOOD_INV), dir);
    assert.equal(inv.name, 'prod');
    const w1 = inv.hosts.get('web-01')!;
    assert.equal(w1.port, 2222);
    assert.equal(w1.user, 'deploy');
    assert.equal(w1.key, join(dir, 'inventory', 'keys', 'id_ed25519'));
    assert.equal(w1.knownHosts, join(dir, 'inventory', 'known_hosts'));
    assert.equal(w1.become, true);
    assert.equal(inv.hosts.get('web-02')!.user, 'admin');
    assert.deepEqual(inv.groups.get('site'), ['lb-01', 'web-01', 'web-02']);
    // all < parent group (site) < child groups (webservers, primary) < host
    assert.equal(w1.vars.level, 'host');
    assert.equal(inv.hosts.get('web-02')!.vars.level, 'webservers');
    assert.equal(inv.hosts.get('lb-01')!.vars.level, 'site');
    assert.equal(w1.vars.sitewide, 1);
    assert.equal(w1.vars.domain, 'example.org');
  });

  it('resolves a name to inventory/NAME.yml', () => {
    const dir = tmp();
    write(dir, 'inventory/staging.yml', GOOD_INV);
    assert.equal(loadInventory('staging', dir).file, join(dir, 'inventory', 'staging.yml'));
    assert.match(configError(() => loadInventory('nope-missing', dir)), /inventory 'nope-missing' not found/);
  });

  it('selects hosts by name, group, glob, exclusion and intersection', () => {
    const dir = tmp();
    const inv = loadInventory(write(dir, 'i.yml', GOOD_INV), dir);
    assert.deepEqual(selectHosts(inv, 'webservers'), ['web-01', 'web-02']);
    assert.deepEqual(selectHosts(inv, 'lb-01,web-02'), ['lb-01', 'web-02']);
    assert.deepEqual(selectHosts(inv, 'web-*'), ['web-01', 'web-02']);
    assert.deepEqual(selectHosts(inv, 'all,!primary'), ['lb-01', 'web-02']);
    assert.deepEqual(selectHosts(inv, 'site,&primary'), ['web-01']);
  });

  it('names file, line and column for errors', () => {
    const dir = tmp();
    const bad = write(dir, 'bad.yml', `hosts:\n  web-01:\n    address: 10.0.0.1\n    port: "22"\n    colour: red\ngroups:\n  g: { hosts: [web-01, ghost] }\n`);
    const msg = configError(() => loadInventory(bad, dir));
    assert.match(msg, /bad\.yml:4:11: hosts\.web-01\.port: expected number, received string/);
    assert.match(msg, /bad\.yml:5:5: hosts\.web-01: unknown key 'colour'/);
    const bad2 = write(dir, 'bad2.yml', `hosts:\n  web-01: {}\ngroups:\n  g: { hosts: [web-01, ghost] }\n`);
    assert.match(configError(() => loadInventory(bad2, dir)), /bad2\.yml:4:24: groups\.g\.hosts\[1\]: unknown host 'ghost'/);
    const yamlErr = write(dir, 'bad3.yml', `hosts:\n  web-01: { address: [\n`);
    assert.match(configError(() => loadInventory(yamlErr, dir)), /bad3\.yml:\d+:\d+: invalid YAML/);
    const cyc = write(dir, 'cyc.yml', `hosts: { a: {} }\ngroups:\n  x: { children: [y] }\n  y: { children: [x] }\n`);
    assert.match(configError(() => loadInventory(cyc, dir)), /group cycle: x -> y -> x/);
  });
});

describe('playbook', () => {
  const modules = builtinModules();
  it('loads plays, imports, vars_files, handlers and tags', () => {
    const dir = tmp();
    write(dir, 'pb/vars/common.yml', 'port: 80\nname: site\n');
    write(dir, 'pb/web.yml', `
- name: Web
  hosts: webservers
  become: true
  tags: [web]
  vars_files: [vars/common.yml]
  vars: { name: overridden }
  tasks:
    - name: Install
      apt: { name: nginx }
      notify: reload
      tags: packages
  handlers:
    - name: reload
      service: { name: nginx, state: reloaded }
`);
    const site = write(dir, 'pb/site.yml', '- import_playbook: web.yml\n');
    const pb = loadPlaybook(site, modules);
    assert.equal(pb.plays.length, 1);
    const play = pb.plays[0];
    assert.deepEqual(play.vars, { port: 80, name: 'overridden' });
    assert.deepEqual(play.tasks[0].tags, ['web', 'packages']);
    assert.deepEqual(play.tasks[0].notify, ['reload']);
    assert.equal(play.tasks[0].module, 'apt');
    assert.match(play.tasks[0].where, /web\.yml:9:7/);
  });

  it('rejects bad playbooks with file:line:col', () => {
    const dir = tmp();
    const p1 = write(dir, 'p1.yml', `- hosts: all\n  tasks:\n    - name: x\n      aptt: { name: nginx }\n`);
    assert.match(configError(() => loadPlaybook(p1, modules)), /p1\.yml:4:13: unknown module 'aptt'/);
    const p2 = write(dir, 'p2.yml', `- hosts: all\n  tasks:\n    - name: x\n      apt: { name: nginx, stat: present }\n`);
    assert.match(configError(() => loadPlaybook(p2, modules)), /p2\.yml:4:\d+: \[0\]\.tasks\[0\]\.apt: unknown key 'stat' \(module apt\)/);
    const p3 = write(dir, 'p3.yml', `- hosts: all\n  tasks:\n    - name: x\n      service: { name: nginx, state: runing }\n`);
    assert.match(configError(() => loadPlaybook(p3, modules)), /p3\.yml:4:38: \[0\]\.tasks\[0\]\.service\.state: .*expected one of "started"/);
    const p4 = write(dir, 'p4.yml', `- hosts: all\n  tasks:\n    - name: x\n      command: { cmd: "true" }\n      notify: missing\n`);
    assert.match(configError(() => loadPlaybook(p4, modules)), /p4\.yml:5:15: task 'x' notifies 'missing', but the play has no handler/);
    const p5 = write(dir, 'p5.yml', `- import_playbook: p6.yml\n`);
    write(dir, 'p6.yml', `- import_playbook: p5.yml\n`);
    assert.match(configError(() => loadPlaybook(p5, modules)), /import cycle/);
    const p7 = write(dir, 'p7.yml', `- hosts: all\n  tasks:\n    - command: { cmd: "true" }\n`);
    // a task without a name is named after its module and main argument, as Ansible users expect
    assert.equal(loadPlaybook(p7, modules).plays[0].tasks[0].name, 'command true');
    // templated values are checked after rendering, not statically
    const p8 = write(dir, 'p8.yml', `- hosts: all\n  tasks:\n    - name: x\n      wait_for: { port: "{{ app_port }}" }\n`);
    assert.equal(loadPlaybook(p8, modules).plays[0].tasks[0].args.port, '{{ app_port }}');
  });
});

describe('expressions and templates', () => {
  it('renders {{ }} keeping types, resolves variables lazily, and refuses undefined names', () => {
    const s = new Scope({ a: 1, list: ['x', 'y'], derived: '{{ a + 1 }}', o: { k: 'v' } }, { secret: (n: string) => `S-${n}` });
    assert.equal(s.render('{{ a }}'), 1);
    assert.deepEqual(s.render('{{ list }}'), ['x', 'y']);
    assert.equal(s.render('n={{ derived }} k={{ o.k }}'), 'n=2 k=v');
    assert.equal(s.render("{{ secret('x') }}"), 'S-x');
    assert.throws(() => s.render('{{ missing }}'), (e: unknown) => e instanceof UndefinedVariable && e.variable === 'missing');
    assert.throws(() => s.render('{{ o.nope }}'), (e: unknown) => e instanceof UndefinedVariable && e.variable === 'o.nope');
    assert.equal(s.condition('a === 1'), true);
    assert.equal(s.condition('{{ list.length > 5 }}'), false);
  });

  it('renders EJS templates raw, with undefined variables as errors naming the line', () => {
    const s = new Scope({ name: 'a&b', hosts: ['h1', 'h2'] });
    assert.equal(s.template('n=<%- name %>\n<% hosts.forEach(h => { %>server <%- h %>\n<% }) %>', 't.ejs'), 'n=a&b\nserver h1\nserver h2\n');
    assert.throws(() => s.template('line1\n<%- nothere %>', 'x.ejs'), /undefined variable: nothere \(in x\.ejs:2\)/);
  });
});
