/**
 * .j2 templates end to end on the controller: strict undefined with file:line, bounded rendering,
 * secrets masked in the display render (--diff) as for .ejs, load-time refusals with file:line
 * through the CLI, and Ansible's fact names.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ExpressionError, Scope, UndefinedVariable, UnknownValue, partlyUnknown } from '../../src/engine/expr.js';
import { ansibleFacts } from '../../src/engine/ansible-facts.js';
import { parseHostFacts } from '../../src/engine/pipeline/facts.js';
import { runPlaybook, tmp } from '../helpers/fake.js';

const undefinedAt = (re: RegExp) => (e: unknown) => e instanceof UndefinedVariable && re.test(e.message);

describe('.j2 templates: an undefined variable is an error with file and line', () => {
  const s = new Scope({ port: 80, site: { name: 'www' } });
  it('in output, in {% if %}, in a for loop, as an attribute', () => {
    assert.throws(() => s.template('a\nb\nport={{ prot }}\n', 'templates/site.conf.j2'), undefinedAt(/undefined variable: prot \(in templates\/site\.conf\.j2:3\)/));
    assert.throws(() => s.template('a\n{% if enabled %}x{% endif %}\n', 'templates/t.j2'), undefinedAt(/undefined variable: enabled \(in templates\/t\.j2:2\)/));
    assert.throws(() => s.template('{% for h in hosts %}{{ h }}{% endfor %}', 'templates/t.j2'), undefinedAt(/undefined variable: hosts \(in templates\/t\.j2:1\)/));
    assert.throws(() => s.template('\n\n\n{{ site.nmae }}', 'templates/t.j2'), undefinedAt(/undefined variable: site\.nmae \(in templates\/t\.j2:4\)/));
  });
  it('never an empty string; default and is defined still see it', () => {
    assert.equal(s.template("{{ missing | default('fallback') }} {{ missing is defined }}", 'templates/t.j2'), 'fallback False');
    assert.equal(s.template('{{ port }}', 'templates/t.j2'), '80');
  });
  it('the same file rendered as .ejs is EJS (the extension decides)', () => {
    assert.equal(s.template('<%- port %> {{ port }}', 'templates/t.ejs'), '80 {{ port }}');
  });
});

describe('.j2 templates: check mode', () => {
  it('reading an unknown field of a registered result makes the render unknown (never a guess, not even through default)', () => {
    const s = new Scope({}, {}, { r: partlyUnknown({ changed: true }, 'the command has not run') });
    assert.equal(s.template('{{ r.changed }}', 'templates/t.j2'), 'True');
    for (const src of ['{{ r.stdout }}', "{{ r.stdout | default('x') }}", '{% if r.rc == 0 %}x{% endif %}', '{{ r }}']) {
      assert.throws(() => s.template(src, 'templates/t.j2'), (e: unknown) => e instanceof UnknownValue && /the command has not run/.test(e.message), src);
    }
  });
});

describe('.j2 templates: rendering is bounded', () => {
  it('a template that runs too long fails (ExpressionError), and the next render works', () => {
    const s = new Scope({ n: 1 });
    const t0 = Date.now();
    const src = '{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}';
    assert.throws(() => s.template(src, 'templates/loop.j2', 300), (e: unknown) => e instanceof ExpressionError && /template templates\/loop\.j2: rendering took more than 0\.3 s/.test(e.message));
    assert.ok(Date.now() - t0 < 5000);
    assert.throws(() => s.template('{{ range(100000000) | length }}', 'templates/big.j2'), (e: unknown) => e instanceof ExpressionError && /templates\/big\.j2:1: range\(\) of more than/.test(e.message));
    assert.equal(s.template('{{ n + 1 }}', 'templates/t.j2'), '2');
  });
});

const PW = 'pa$$w"ord-2024';
const APP_ENV = `APP_PORT=8080
DB_PASSWORD={{ db_app_password }}
DB_JSON={{ {'password': db_app_password} | to_json }}
DB_B64={{ db_app_password | b64encode }}
DB_DIRECT={{ secret('db_app_password') | quote }}
`;

describe('.j2 templates: secrets in the display render', () => {
  it('every secret-derived line shows the placeholder in the diff, never the value', async () => {
    const dir = tmp('prov-j2-secrets-');
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'templates', 'app.env.j2'), APP_ENV);
    const inventory = `hosts:\n  h1: { address: 10.0.0.1 }\nvars:\n  base: ${dir}\n  db_app_password: "{{ secret('db_app_password') }}"\n`;
    const playbook = `- hosts: h1\n  tasks:\n    - name: App env\n      template: { src: app.env.j2, dest: "{{ base }}/app.env", mode: '0600' }\n`;
    const env = { PROVISION_SECRET_DB_APP_PASSWORD: PW };
    const check = await runPlaybook({ inventory, playbook, dir, env, check: true, trace: true });
    const diff = check.report.tasks[0].changes[0].diff!;
    assert.match(diff, /^\+DB_PASSWORD=«secret db_app_password»$/m);
    // to_json escapes the placeholder's « » (\u00ab): that line is shown as an encoded secret
    assert.match(diff, /^\+DB_JSON=\{"password": "«secret [^»]+»"\}$/m);
    assert.match(diff, /^\+DB_B64=«secret [^»]+»$/m);
    assert.match(diff, /^\+DB_DIRECT='«secret db_app_password»'$/m);
    assert.match(diff, /^\+APP_PORT=8080$/m);
    const all = JSON.stringify(check.report) + JSON.stringify(check.events);
    for (const leak of [PW, Buffer.from(PW).toString('base64'), JSON.stringify(PW).slice(1, -1)]) assert.ok(!all.includes(leak), `leaked as ${leak}`);

    const real = await runPlaybook({ inventory, playbook, dir, env });
    assert.equal(real.report.tasks[0].status, 'changed');
    const written = readFileSync(join(dir, 'app.env'), 'utf8');
    assert.match(written, /^DB_PASSWORD=pa\$\$w"ord-2024$/m);
    assert.match(written, new RegExp(`^DB_B64=${Buffer.from(PW).toString('base64')}$`, 'm'));
    assert.match(written, /^DB_DIRECT='pa\$\$w"ord-2024'$/m);
    assert.ok(!(JSON.stringify(real.report) + JSON.stringify(real.events)).includes(PW));
  });
});

describe('Ansible fact names', () => {
  const out = [
    'hostname=web-01.example.net',
    'login_user=deploy',
    'fqdn=web-01.example.net',
    'os_id=debian',
    'os_version=12',
    'os_codename=bookworm',
    'uname=6.1.0-18-amd64 x86_64',
    'cpus=4',
    'mem_kb=8131484',
    'default via 10.0.0.1 dev eth0 proto static',
    '2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0',
    '3: eth1    inet 192.168.1.5/24 brd 192.168.1.255 scope global eth1',
  ].join('\n');

  it('map HostFacts to ansible_* (and ansible_facts without the prefix)', () => {
    const f = ansibleFacts({ name: 'web-01.prod' }, parseHostFacts(out));
    assert.equal(f.inventory_hostname, 'web-01.prod');
    assert.equal(f.inventory_hostname_short, 'web-01');
    assert.equal(f.ansible_hostname, 'web-01');
    assert.equal(f.ansible_fqdn, 'web-01.example.net');
    assert.equal(f.ansible_distribution, 'Debian');
    assert.equal(f.ansible_distribution_version, '12');
    assert.equal(f.ansible_distribution_major_version, '12');
    assert.equal(f.ansible_distribution_release, 'bookworm');
    assert.equal(f.ansible_os_family, 'Debian');
    assert.equal(f.ansible_architecture, 'x86_64');
    assert.equal(f.ansible_kernel, '6.1.0-18-amd64');
    assert.equal(f.ansible_processor_vcpus, 4);
    assert.equal(f.ansible_memtotal_mb, 7941);
    assert.deepEqual(f.ansible_default_ipv4, { address: '10.0.0.5', interface: 'eth0' });
    assert.deepEqual(f.ansible_all_ipv4_addresses, ['10.0.0.5', '192.168.1.5']);
    assert.equal(f.ansible_user_id, 'deploy');
    assert.equal((f.ansible_facts as Record<string, unknown>).distribution, 'Debian');
    assert.deepEqual((f.ansible_facts as Record<string, unknown>).default_ipv4, f.ansible_default_ipv4);
    const ubuntu = ansibleFacts({ name: 'h' }, parseHostFacts(out.replace('os_id=debian', 'os_id=ubuntu').replace('os_version=12', 'os_version=22.04')));
    assert.deepEqual([ubuntu.ansible_distribution, ubuntu.ansible_os_family, ubuntu.ansible_distribution_major_version], ['Ubuntu', 'Debian', '22']);
  });

  it('without facts only the inventory names exist', () => {
    assert.deepEqual(ansibleFacts({ name: 'db' }, undefined), { inventory_hostname: 'db', inventory_hostname_short: 'db' });
  });

  it('a template and an expression read them from the gathered facts', async () => {
    const dir = tmp('prov-j2-facts-');
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'templates', 'motd.j2'), '{{ inventory_hostname }} {{ ansible_hostname }} {{ ansible_facts.hostname }}\n');
    const playbook = `- hosts: h1\n  tasks:\n    - name: motd\n      template: { src: motd.j2, dest: "${dir}/motd" }\n    - name: js\n      copy: { dest: "${dir}/js", content: "{{ ansible_hostname }}" }\n`;
    const run = await runPlaybook({ inventory: 'hosts:\n  h1: { address: 10.0.0.1 }\n', playbook, dir });
    assert.deepEqual(run.report.tasks.map((t) => t.status), ['changed', 'changed'], JSON.stringify(run.report.tasks.map((t) => t.error)));
    const short = hostname().split('.')[0];
    assert.equal(readFileSync(join(dir, 'motd'), 'utf8'), `h1 ${short} ${short}\n`);
    assert.equal(readFileSync(join(dir, 'js'), 'utf8'), short);
  });
});

describe('load: .j2 templates and Jinja in expressions refused by --syntax-check (exit 2, file:line)', () => {
  const cli = resolve('bin/provision.js');
  function project(playbook: string, templates: Record<string, string>): string[] {
    const dir = tmp('prov-j2-load-');
    mkdirSync(join(dir, 'templates'));
    for (const [k, v] of Object.entries(templates)) writeFileSync(join(dir, 'templates', k), v);
    writeFileSync(join(dir, 'inventory.yml'), 'hosts:\n  web-01: { address: 127.0.0.1, port: 1 }\n');
    writeFileSync(join(dir, 'site.yml'), playbook);
    return [join(dir, 'site.yml'), '-i', join(dir, 'inventory.yml'), '--syntax-check'];
  }
  const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });
  const task = (body: string) => `- hosts: all\n  tasks:\n    - name: t\n${body}`;

  it('a .j2 template that does not compile, or uses an unknown filter, names the template file:line', () => {
    const r = run(project(task('      template: { src: bad.j2, dest: /tmp/a }\n'), { 'bad.j2': 'line 1\n{% if x %}\nline 3\n{% for %}\n' }));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /site\.yml:4:\d+: template: .*templates\/bad\.j2:4: .*unexpected token/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    const u = run(project(task('      template: { src: f.j2, dest: /tmp/a }\n'), { 'f.j2': 'a\n{{ x | to_jsn }}\n' }));
    assert.equal(u.status, 2, u.stderr);
    assert.match(u.stderr, /templates\/f\.j2:2: unknown filter 'to_jsn'/);
    const l = run(project(task('      template: { src: l.j2, dest: /tmp/a }\n'), { 'l.j2': "a\nb\nhome={{ lookup('env', 'HOME') }}\n" }));
    assert.equal(l.status, 2, l.stderr);
    assert.match(l.stderr, /templates\/l\.j2:3: Ansible's lookup\(\) is not supported/);
    const inc = run(project(task('      template: { src: i.j2, dest: /tmp/a }\n'), { 'i.j2': "{% include 'other.j2' %}\n" }));
    assert.equal(inc.status, 2, inc.stderr);
    assert.match(inc.stderr, /templates\/i\.j2:1: \{% include %\} is not supported/);
    const ok = run(project(task('      template: { src: ok.j2, dest: /tmp/a }\n'), { 'ok.j2': "{{ x | default('a') | to_json }}\n" }));
    assert.equal(ok.status, 0, ok.stderr + ok.stdout);
  });

  it("Jinja filters and tests in a playbook's {{ }} and when: are refused with the JavaScript to write", () => {
    const r = run(project(task(`      command: { cmd: "apt-get install {{ pkgs | join(' ') }}" }\n      when: nginx_enabled is defined and not skip\n`), {}));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /site\.yml:4:\d+: .*'pkgs \| join\(' '\)' is a Jinja filter.*write pkgs\.join\(' '\)/);
    assert.match(r.stderr, /site\.yml:5:\d+: when: .*write typeof nginx_enabled !== 'undefined'/);
    const fine = run(project(task(`      command: { cmd: "echo {{ a || b }} {{ 'x | join(y)' }}" }\n      when: a | b\n`), {}));
    assert.equal(fine.status, 0, fine.stderr + fine.stdout);
  });
});
