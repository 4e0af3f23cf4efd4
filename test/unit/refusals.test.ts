/**
 * Bad input is refused before any host is contacted: exit 2, file:line:column, never a stack
 * trace (issue 7). Each class has a test here; the CLI ones run main() in-process with
 * --syntax-check (loads and checks everything, contacts no host) or without it against an
 * inventory whose only host is unreachable, so that a refusal is visibly not a connection error.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ExpressionError, Scope } from '../../src/engine/expr.js';
import { loadInventory, selectHosts } from '../../src/load/inventory.js';
import { loadPlaybook } from '../../src/load/playbook.js';
import { ConfigError, loadYaml } from '../../src/load/yaml.js';
import { builtinModules } from '../../src/modules/all.js';
import { TaskError } from '../../src/modules/contract.js';
import { parseAnsiblePriv } from '../../src/modules/mysql/grants.js';
import { runPlaybook, tmp } from '../helpers/fake.js';
import { runMain } from '../helpers/cli.js';

const modules = builtinModules();

function write(dir: string, name: string, text: string | Buffer): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e instanceof Error ? e.stack : String(e)}`);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

const INV = 'hosts:\n  web-01: { address: 127.0.0.1, port: 1, connect_timeout: 2 }\n  web-02: { address: 127.0.0.1, port: 1, connect_timeout: 2 }\ngroups:\n  web: { hosts: [web-01, web-02] }\n';

/** A project dir with an inventory, a playbook and the dirs the modules look in. */
function project(playbook: string, extra: Record<string, string | Buffer> = {}): { dir: string; inv: string; pb: string } {
  const dir = tmp('prov-refuse-');
  const inv = write(dir, 'inventory.yml', INV);
  const pb = write(dir, 'site.yml', playbook);
  for (const [k, v] of Object.entries(extra)) write(dir, k, v);
  return { dir, inv, pb };
}

const task = (body: string) => `- hosts: all\n  tasks:\n    - name: t\n${body}`;

/** A refusal: exit 2, the message matches, no stack trace, no host contacted. */
async function refused(args: string[], re: RegExp): Promise<string> {
  const r = await runMain(args);
  assert.equal(r.code, 2, `exit ${r.code}, expected 2: ${r.stderr}${r.stdout}`);
  assert.match(r.stderr, re);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'stack trace');
  assert.doesNotMatch(r.stderr + r.stdout, /connecting|unreachable|refused/i, 'a host was contacted');
  return r.stderr;
}

describe('YAML: alias bombs, size, encoding', () => {
  const bomb = (indent: string) =>
    ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]', 'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]']
      .map((l) => indent + l)
      .join('\n');

  it('an alias bomb in an inventory is a ConfigError naming the file and the first alias', () => {
    const dir = tmp();
    const f = write(dir, 'inv.yml', `hosts:\n  h: {}\nvars:\n${bomb('  ')}\n`);
    assert.match(configError(() => loadInventory(f, dir)), /inv\.yml:5:\d+: too many YAML alias expansions/);
  });

  it('an alias bomb in play vars and in vars_files', async () => {
    const p = project(`- hosts: all\n  vars:\n${bomb('    ')}\n  tasks: []\n`);
    await refused([p.pb, '-i', p.inv, '--syntax-check'], /site\.yml:4:\d+: too many YAML alias expansions/);
    const q = project(`- hosts: all\n  vars_files: [vars/v.yml]\n  tasks: []\n`, { 'vars/v.yml': `${bomb('')}\n` });
    await refused([q.pb, '-i', q.inv, '--syntax-check'], /vars\/v\.yml:2:\d+: too many YAML alias expansions/);
  });

  it('Ansible inventories too: an alias bomb in YAML, non-UTF-8 bytes in INI', () => {
    const dir = tmp();
    const y = write(dir, 'ans.yml', `all:\n  vars:\n${bomb('    ')}\n  hosts:\n    h1:\n`);
    assert.match(configError(() => loadInventory(y, dir, false, () => undefined)), /ans\.yml:4:\d+: too many YAML alias expansions/);
    const i = write(dir, 'ans.ini', Buffer.concat([Buffer.from('[web]\nh1 x='), Buffer.from([0xff]), Buffer.from('\n')]));
    assert.match(configError(() => loadInventory(i, dir, false, () => undefined)), /ans\.ini:2:6: not valid UTF-8 \(byte offset 11: 0xff\)/);
  });

  it('a self-referencing alias and a too large file are refused', () => {
    const dir = tmp();
    assert.match(configError(() => loadYaml(write(dir, 'c.yml', 'a: &a [1, *a]\n'))), /c\.yml: a YAML alias refers to a node that contains it/);
    const big = write(dir, 'big.yml', `a: "${'x'.repeat(5 * 1024 * 1024)}"\n`);
    assert.match(configError(() => loadYaml(big)), /big\.yml: file too large \(\d+ bytes; the limit is 4194304\)/);
  });

  it('non-UTF-8 bytes are refused with line, column and byte offset (never replaced)', async () => {
    const dir = tmp();
    const f = write(dir, 'inv.yml', Buffer.concat([Buffer.from('hosts:\n  h: { address: "h\u00e9'), Buffer.from([0xff, 0xfe]), Buffer.from('" }\n')]));
    assert.match(configError(() => loadInventory(f, dir)), /inv\.yml:2:20: not valid UTF-8 \(byte offset 27: 0xff\)/);
    // a lone surrogate (CESU-8) and an overlong encoding are not UTF-8 either
    assert.match(configError(() => loadYaml(write(dir, 's.yml', Buffer.from([0x61, 0x3a, 0x20, 0xed, 0xa0, 0x80, 0x0a])))), /s\.yml:1:4: not valid UTF-8 \(byte offset 3/);
    assert.match(configError(() => loadYaml(write(dir, 'o.yml', Buffer.from([0x61, 0x3a, 0x20, 0xc0, 0xaf, 0x0a])))), /o\.yml:1:4: not valid UTF-8/);
    const p = project(task('      command: { cmd: "echo \u00e9" }\n'));
    writeFileSync(p.pb, Buffer.concat([readFileSync(p.pb).subarray(0, -4), Buffer.from([0xe9, 0x22, 0x20, 0x7d, 0x0a])]));
    await refused([p.pb, '-i', p.inv], /site\.yml:4:\d+: not valid UTF-8/);
  });

  it('a template that is not UTF-8 is refused at load, and at run time when its name is computed', async () => {
    const p = project(task('      template: { src: t.ejs, dest: /tmp/x }\n'), { 'templates/t.ejs': Buffer.from([0x61, 0x0a, 0x62, 0xc3, 0x28, 0x0a]) });
    await refused([p.pb, '-i', p.inv, '--syntax-check'], /site\.yml:4:\d+: template: .*templates\/t\.ejs:2:2: not valid UTF-8 \(byte offset 3: 0xc3\)/);
    const dir = tmp();
    write(dir, 'templates/t.ejs', Buffer.from([0x61, 0xff]));
    const { report } = await runPlaybook({
      dir,
      inventory: 'hosts: { h1: {} }\n',
      playbook: `- hosts: all\n  vars: { name: t.ejs }\n  tasks:\n    - name: t\n      template: { src: "{{ name }}", dest: ${dir}/out }\n`,
    });
    assert.equal(report.tasks[0].status, 'failed');
    assert.match(report.tasks[0].error ?? '', /templates\/t\.ejs:1:2: not valid UTF-8 \(byte offset 1: 0xff\)/);
  });
});

describe('keys JavaScript would misread', () => {
  it("'__proto__' as a YAML key or an --extra-vars name is refused; inherited names are not hosts", async () => {
    const dir = tmp();
    assert.match(configError(() => loadInventory(write(dir, 'a.yml', 'hosts:\n  h: {}\n  __proto__: {}\n'), dir)), /a\.yml:3:3: '__proto__' cannot be used as a key/);
    assert.match(configError(() => loadInventory(write(dir, 'b.yml', 'hosts:\n  h: {}\ngroups:\n  g: { hosts: [toString] }\n'), dir)), /b\.yml:4:16: groups\.g\.hosts\[0\]: unknown host 'toString'/);
    const p = project(task('      command: { cmd: "true" }\n'));
    await refused([p.pb, '-i', p.inv, '-e', '{"__proto__": {"x": 1}}', '--syntax-check'], /--extra-vars: '__proto__' cannot be used/);
    await refused([p.pb, '-i', p.inv, '-e', '{"a": 1', '--syntax-check'], /--extra-vars: invalid JSON/);
  });
});

describe('expressions: balanced and compiling at load', () => {
  it('an unclosed {{ in task args, play vars and inventory vars is a load error with position', async () => {
    const p = project(task('      copy: { dest: "/tmp/out-{{ host.name", content: x }\n'));
    await refused([p.pb, '-i', p.inv, '--syntax-check'], /site\.yml:4:21: \[0\]\.tasks\[0\]\.copy\.dest: unclosed '\{\{' \(no '\}\}' after it\), at '\{\{ host\.name'/);
    const q = project(`- hosts: all\n  vars:\n    a: "x {{ b }} }}"\n  tasks: []\n`);
    await refused([q.pb, '-i', q.inv, '--syntax-check'], /site\.yml:3:8: \[0\]\.vars\.a: unbalanced '\}\}'/);
    const dir = tmp();
    const f = write(dir, 'i.yml', 'hosts:\n  h:\n    vars: { url: "http://{{ host.address:80/" }\n');
    assert.match(configError(() => loadInventory(f, dir)), /i\.yml:3:18: hosts\.h\.vars\.url: unclosed '\{\{'/);
  });

  it('an expression that does not compile is a load error; nothing is evaluated', () => {
    const dir = tmp();
    const f = write(dir, 'p.yml', task('      command: { cmd: "echo {{ a + }}" }\n      loop: "{{ [1, 2 }}"\n'));
    const msg = configError(() => loadPlaybook(f, modules));
    assert.match(msg, /p\.yml:4:23: \[0\]\.tasks\[0\]\.command\.cmd: invalid expression \{\{ a \+ \}\}/);
    assert.match(msg, /p\.yml:5:13: \[0\]\.tasks\[0\]\.loop: invalid expression/);
    // compiled, never run: a side effect in an expression does not happen at load
    const g = write(dir, 'q.yml', task('      command: { cmd: "echo {{ globalThis.__ran = 1 }}" }\n'));
    loadPlaybook(g, modules);
    assert.equal((globalThis as Record<string, unknown>).__ran, undefined);
  });

  it('a when: that does not compile is a load error with its position', () => {
    const dir = tmp();
    const f = write(dir, 'p.yml', task('      command: { cmd: "true" }\n      when: "host.name ==="\n'));
    assert.match(configError(() => loadPlaybook(f, modules)), /p\.yml:5:13: when: invalid condition 'host\.name ===': /);
    const g = write(dir, 'g.yml', task('      command: { cmd: "true" }\n      when: "{{ a ) }}"\n'));
    assert.match(configError(() => loadPlaybook(g, modules)), /g\.yml:5:13: when: invalid condition/);
    // valid forms still load
    const ok = write(dir, 'ok.yml', task('      command: { cmd: "echo {{ a }} {{ b.c }}" }\n      when: "{{ a > 1 }}"\n'));
    assert.equal(loadPlaybook(ok, modules).plays[0].tasks[0].when, '{{ a > 1 }}');
  });
});

describe('tasks: delegate_to, notify, register', () => {
  it('delegate_to a host that is not in the inventory is refused where the playbook meets the inventory', async () => {
    const p = project(task('      command: { cmd: "true" }\n      delegate_to: web-03\n'));
    await refused([p.pb, '-i', p.inv], /site\.yml:5:20: delegate_to: 'web-03' is not a host of inventory .* \(use localhost, or one of: web-01, web-02\)/);
    for (const ok of ['localhost', '127.0.0.1', 'web-02', '"{{ groups.web[0] }}"']) {
      const q = project(task(`      command: { cmd: "true" }\n      delegate_to: ${ok}\n`));
      assert.equal((await runMain([q.pb, '-i', q.inv, '--syntax-check'])).code, 0, ok);
    }
  });

  it("a handler's notify is refused (no chained notification); a task's unknown handler names the known ones", () => {
    const dir = tmp();
    const f = write(
      dir,
      'p.yml',
      `- hosts: all\n  tasks:\n    - name: t\n      command: { cmd: "true" }\n      notify: a\n  handlers:\n    - name: a\n      command: { cmd: "true" }\n      notify: b\n    - name: b\n      command: { cmd: "true" }\n`,
    );
    assert.match(configError(() => loadPlaybook(f, modules)), /p\.yml:9:7: handler 'a': 'notify' is not supported on handlers \(chained notification is not supported\)/);
    const g = write(
      dir,
      'g.yml',
      `- hosts: all\n  tasks:\n    - name: broken\n      nosuchmodule: {}\n    - name: t\n      command: { cmd: "true" }\n      notify: restart ngnix\n  handlers:\n    - name: restart nginx\n      command: { cmd: "true" }\n    - name: reload nginx\n      command: { cmd: "true" }\n`,
    );
    // the position is the notifying task's, even after an earlier task failed to load
    assert.match(configError(() => loadPlaybook(g, modules)), /g\.yml:7:15: task 't' notifies 'restart ngnix', but the play has no handler of that name \(the play's handlers: 'restart nginx', 'reload nginx'\)/);
  });

  it('register: of a name the engine reserves is refused', () => {
    const dir = tmp();
    for (const name of ['host', 'groups', 'hostvars', 'facts', 'run', 'item', 'secret']) {
      const f = write(dir, `${name}.yml`, task(`      command: { cmd: "true" }\n      register: ${name}\n`));
      assert.match(configError(() => loadPlaybook(f, modules)), new RegExp(`${name}\\.yml:5:17: \\[0\\]\\.tasks\\[0\\]\\.register: a name the engine reserves`));
    }
    const ok = write(dir, 'ok.yml', task('      command: { cmd: "true" }\n      register: probe\n'));
    assert.equal(loadPlaybook(ok, modules).plays[0].tasks[0].register, 'probe');
  });
});

describe('referenced files exist at load', () => {
  it('template src, copy src, mysql_db import: the reference position, both places looked in', async () => {
    const p = project(
      `- hosts: all\n  tasks:\n    - name: a\n      template: { src: nope.ejs, dest: /tmp/a }\n    - name: b\n      copy: { src: nope.txt, dest: /tmp/b }\n    - name: c\n      mysql_db: { name: app, import: nope.sql }\n    - name: d\n      copy: { src: "{{ computed }}", dest: /tmp/d }\n`,
    );
    const err = await refused([p.pb, '-i', p.inv, '--syntax-check'], /site\.yml:4:24: template: src 'nope\.ejs' not found \(looked in .*templates\/nope\.ejs, .*\/nope\.ejs and .*templates\/nope\.ejs\)/);
    assert.match(err, /site\.yml:6:20: copy: src 'nope\.txt' not found/);
    assert.match(err, /site\.yml:8:38: mysql_db: import file 'nope\.sql' not found/);
    assert.doesNotMatch(err, /computed/);
  });

  it('files next to the playbook are found first, as the modules look them up', async () => {
    const p = project(task('      template: { src: t.ejs, dest: /tmp/a }\n    - name: u\n      copy: { src: f.bin, dest: /tmp/b }\n'), {
      'templates/t.ejs': 'x <%- 1 %>\n',
      'files/f.bin': Buffer.from([0, 255]),
    });
    const r = await runMain([p.pb, '-i', p.inv, '--syntax-check']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /syntax ok/);
  });

  it('as Ansible: a src beside the playbook itself, or naming its templates/ or files/ directory, is found', async () => {
    const p = project(task('      template: { src: beside.j2, dest: /tmp/a }\n    - name: u\n      copy: { src: files/f.txt, dest: /tmp/b }\n    - name: v\n      template: { src: templates/t.ejs, dest: /tmp/c }\n'), {
      'beside.j2': 'x {{ 1 }}\n',
      'files/f.txt': 'f\n',
      'templates/t.ejs': 'x <%- 1 %>\n',
    });
    const r = await runMain([p.pb, '-i', p.inv, '--syntax-check']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('vars_files, defaults_files and import_playbook name the reference', () => {
    const dir = tmp();
    const f = write(dir, 'p.yml', `- hosts: all\n  vars_files: [vars/nope.yml]\n  tasks: []\n`);
    assert.match(configError(() => loadPlaybook(f, modules)), /p\.yml:2:16: vars_files: .*vars\/nope\.yml: no such file/);
    const g = write(dir, 'g.yml', `- hosts: all\n  defaults_files:\n    - d.yml\n  tasks: []\n`);
    assert.match(configError(() => loadPlaybook(g, modules)), /g\.yml:3:7: defaults_files: .*d\.yml: no such file/);
    const h = write(dir, 'h.yml', `- hosts: all\n  tasks: []\n- import_playbook: other.yml\n`);
    assert.match(configError(() => loadPlaybook(h, modules)), /h\.yml:3:20: import_playbook: .*other\.yml: no such file/);
  });
});

describe('templates: EJS syntax errors name the file and line', () => {
  it('at load, for a literal src: exit 2 before any host', async () => {
    const p = project(task('      template: { src: bad.ejs, dest: /tmp/a }\n'), { 'templates/bad.ejs': 'line 1\nline 2\n<%- port( %>\nline 4\n' });
    await refused([p.pb, '-i', p.inv, '--syntax-check'], /site\.yml:4:\d+: template: .*templates\/bad\.ejs:3: missing \) after argument list/);
    const q = project(task('      template: { src: bad.ejs, dest: /tmp/a }\n'), { 'templates/bad.ejs': 'a\nb\n<%- port \nc\n' });
    await refused([q.pb, '-i', q.inv, '--syntax-check'], /templates\/bad\.ejs:3: Could not find matching close tag for "<%-"/);
  });

  it('at run time (a computed src): the task fails naming file:line, no stack trace', () => {
    const s = new Scope({ port: 1 });
    assert.throws(
      () => s.template('a\nb\n<% if (port) { %>\nc\n<% } } %>\n', 'templates/x.ejs'),
      (e: unknown) => e instanceof ExpressionError && /^template templates\/x\.ejs:5: Unexpected token '}'/.test(e.message) && !/\n\s+at /.test(e.message),
    );
  });
});

describe('templates: rendering is bounded in time', () => {
  it('an endless loop in a template fails its task (ExpressionError) instead of hanging the run', () => {
    const s = new Scope({ n: 1 });
    const t0 = Date.now();
    assert.throws(() => s.template('a\n<% for (;;) {} %>\n', 'templates/loop.ejs', 300), (e: unknown) => e instanceof ExpressionError && /template templates\/loop\.ejs: rendering took more than 0\.3 s \(an endless loop\?\)/.test(e.message));
    assert.ok(Date.now() - t0 < 5000);
    // errors thrown inside still arrive as themselves, and renders after a timeout work
    assert.equal(s.template('<%- n + 1 %>', 't.ejs'), '2');
  });
});

describe('host patterns: an empty part never selects every host', () => {
  for (const limit of [',', '!', '', ' ', 'web-01,', ',web-01', 'web-01,,web-02', '&', '!!web-01']) {
    it(`--limit ${JSON.stringify(limit)} is exit 2`, async () => {
      const p = project(task('      command: { cmd: "true" }\n'));
      await refused([p.pb, '-i', p.inv, '--limit', limit], /--limit: (empty host pattern|host pattern .* (has an empty part|needs exactly one))/);
    });
  }
  for (const tags of [',', '', 'web,']) {
    it(`--tags ${JSON.stringify(tags)} is exit 2 (it would run every task)`, async () => {
      const p = project(task('      command: { cmd: "true" }\n'));
      await refused([p.pb, '-i', p.inv, '--tags', tags], /--tags: .* has an empty tag/);
      await refused([p.pb, '-i', p.inv, '--skip-tags', tags], /--skip-tags: .* has an empty tag/);
    });
  }
  for (const hosts of ['","', '""', '"web-01,"', '[web-01, ","]', '"!"']) {
    it(`hosts: ${hosts} is exit 2 with the play's position`, async () => {
      const p = project(`- hosts: ${hosts}\n  tasks: []\n`);
      await refused([p.pb, '-i', p.inv], /site\.yml:1:\d+: \[0\]\.hosts: .*(empty|needs exactly one)/);
    });
  }
  it('selectHosts itself refuses an empty part (defence in depth)', () => {
    const dir = tmp();
    const inv = loadInventory(write(dir, 'i.yml', INV), dir);
    assert.throws(() => selectHosts(inv, ','), ConfigError);
    assert.throws(() => selectHosts(inv, '!'), ConfigError);
    assert.deepEqual(selectHosts(inv, '!web-01'), ['web-02']);
  });
});

describe('numeric settings are bounded', () => {
  it('connect_timeout, port in the inventory', () => {
    const dir = tmp();
    const f = write(dir, 'i.yml', 'hosts:\n  h: { connect_timeout: 3000000, port: 70000 }\n');
    const msg = configError(() => loadInventory(f, dir));
    assert.match(msg, /i\.yml:2:25: hosts\.h\.connect_timeout: seconds, at most 3600/);
    assert.match(msg, /i\.yml:2:40: hosts\.h\.port: a TCP port: 1-65535/);
  });

  it('--forks', async () => {
    const p = project(task('      command: { cmd: "true" }\n'));
    for (const f of ['0', '100000', '1.5', '1e3', 'x']) await refused([p.pb, '-i', p.inv, '--forks', f], /--forks: expected a whole number from 1 to 256/);
  });

  it('module settings: timeouts, retries, delays, statuses, uid/gid, cache_valid_time, connect_retry', () => {
    const dir = tmp();
    const cases: [string, RegExp][] = [
      ['wait_for: { port: 80, timeout: 3000000 }', /wait_for\.timeout: seconds: more than 0 up to 3600/],
      ['wait_for: { port: 0 }', /wait_for\.port: a TCP port: a whole number from 1 to 65535/],
      ['assert: { cmd: "true", retries: 1000000, delay: 5 }', /assert\.retries: retries: a whole number from 0 to 1000/],
      ['assert: { cmd: "true", delay: -1 }', /assert\.delay: seconds: from 0 up to 3600/],
      ['assert: { cmd: "true", expect_rc: 256 }', /assert\.expect_rc: an exit code/],
      ['http_check: { url: "http://x/", timeout: 1e9 }', /http_check\.timeout: seconds/],
      ['http_check: { url: "http://x/", expect_status: 1000 }', /http_check\.expect_status: an HTTP status: a whole number from 100 to 599/],
      ['apt: { update_cache: true, cache_valid_time: 1e12 }', /apt\.cache_valid_time: cache_valid_time \(seconds\): a whole number from 0 to 31536000/],
      ['user: { name: u, uid: 4294967295 }', /user\.uid: a uid: a whole number from 0 to 4294967294/],
      ['group: { name: g, gid: -1 }', /group\.gid: a gid: a whole number/],
      ['mysql_replication: { state: absent, connect_retry: 99999999999 }', /mysql_replication\.connect_retry: seconds: 1 to 31536000/],
    ];
    for (const [i, [body, re]] of cases.entries()) {
      const f = write(dir, `p${i}.yml`, task(`      ${body}\n`));
      assert.match(configError(() => loadPlaybook(f, modules)), re, body);
    }
  });
});

describe('mysql_user priv', () => {
  it('typos in a literal priv are load errors with the position', () => {
    const dir = tmp();
    const cases: [string, RegExp][] = [
      ['"`app.*:SELECT"', /unterminated identifier/],
      ['"app.*:"', /priv app\.\*: empty privilege list \(write USAGE for none\)/],
      ['"app.*:SELECT,,INSERT"', /empty privilege in/],
      ['"app.*:SELEKT"', /unknown privilege "SELEKT"/],
      ['"app.*:DELETE (c)"', /column lists are allowed only for/],
      ["\"app.*:'x\"", /unterminated string/],
      ['"app:SELECT"', /invalid privilege object/],
    ];
    for (const [i, [priv, re]] of cases.entries()) {
      const f = write(dir, `p${i}.yml`, task(`      mysql_user: { name: app, priv: ${priv} }\n`));
      const msg = configError(() => loadPlaybook(f, modules));
      assert.match(msg, new RegExp(`p${i}\\.yml:4:\\d+: \\[0\\]\\.tasks\\[0\\]\\.mysql_user\\.priv: `), priv);
      assert.match(msg, re, priv);
    }
    // still valid: aliases, column privileges, several objects, USAGE
    assert.deepEqual(parseAnsiblePriv('app.*:select,insert/*.*:REPLICATION CLIENT/x.t:SELECT (a, `b`)/y.*:USAGE'), {
      '*.*': ['BINLOG MONITOR'],
      '`app`.*': ['INSERT', 'SELECT'],
      '`x`.`t`': ['SELECT (`a`)', 'SELECT (`b`)'],
    });
  });

  it('a computed priv with a typo fails the task (exit 1 class), never an internal error', async () => {
    assert.throws(() => parseAnsiblePriv('`app.*:SELECT'), TaskError);
    const dir = tmp();
    const { report } = await runPlaybook({
      dir,
      inventory: 'hosts: { h1: {} }\n',
      playbook: "- hosts: all\n  vars: { db: '`app' }\n  tasks:\n    - name: u\n      mysql_user: { name: app, priv: \"{{ db }}.*:SELECT\" }\n",
    });
    assert.equal(report.tasks[0].status, 'failed');
    assert.match(report.tasks[0].error ?? '', /invalid arguments for mysql_user .*priv: unterminated identifier/);
    assert.doesNotMatch(report.tasks[0].error ?? '', /internal error|\n\s+at /);
  });
});

describe('copy src is carried as bytes, exactly', () => {
  it('a binary file (NUL, invalid UTF-8, CRLF) goes through plan and apply byte for byte', async () => {
    const dir = tmp();
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x7b, 0x7b, 0x20, 0x61, 0x0a, 0x80]);
    write(dir, 'files/blob.bin', bytes);
    const playbook = `- hosts: all\n  tasks:\n    - name: blob\n      copy: { src: blob.bin, dest: ${dir}/out/blob.bin }\n`;
    mkdirSync(join(dir, 'out'));
    const check = await runPlaybook({ dir, inventory: 'hosts: { h1: {} }\n', playbook, check: true });
    assert.equal(check.report.tasks[0].status, 'changed');
    assert.match(check.report.tasks[0].changes[0].summary, /create .*blob\.bin \(16 bytes\)/);
    const run = await runPlaybook({ dir, inventory: 'hosts: { h1: {} }\n', playbook });
    assert.equal(run.report.tasks[0].status, 'changed', run.report.tasks[0].error);
    assert.deepEqual(readFileSync(join(dir, 'out', 'blob.bin')), bytes);
    const again = await runPlaybook({ dir, inventory: 'hosts: { h1: {} }\n', playbook });
    assert.equal(again.report.tasks[0].status, 'ok');
  });
});
