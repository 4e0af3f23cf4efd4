/**
 * Secrets never reach output, whatever the encoding: display renders, rotation, the store's
 * validation, check mode writing nothing, -vv hiding hashes, digests and salts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { Masker, SecretStore, encodedForms } from '../../src/engine/secrets.js';
import { traceCommand, traceOutput } from '../../src/engine/display.js';
import { ConfigError } from '../../src/load/yaml.js';
import { runPlaybook, tmp } from '../helpers/fake.js';
import type { RunEvent } from '../../src/engine/events.js';
import type { RunReport } from '../../src/engine/report.js';

const PW = 'pa$$w"ord-2024';
const inventory = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1 }
vars:
  base: ${dir}
  db_app_password: "{{ secret('db_app_password') }}"
`;

// The site's systemd EnvironmentFile escaping (templates/app.env.ejs)
const APP_ENV = `<% const envQ = (v) => '"' + String(v).replace(/[\\\\"\`$]/g, (c) => '\\\\' + c) + '"'; -%>
APP_PORT=8080
DB_PASSWORD=<%- envQ(db_app_password) %>
DB_JSON=<%- JSON.stringify({ password: db_app_password }) %>
DB_URL=mysql://app:<%- encodeURIComponent(db_app_password) %>@db1/app
DB_B64=<%- Buffer.from(db_app_password).toString('base64') %>
DB_HEX=<%- Buffer.from(db_app_password).toString('hex') %>
`;

/** Every way the value can show up in text, for the leak checks. */
function leakForms(v: string): string[] {
  return [
    v,
    v.replace(/[\\"`$]/g, (c) => `\\${c}`),
    JSON.stringify(v).slice(1, -1),
    encodeURIComponent(v),
    Buffer.from(v).toString('base64'),
    Buffer.from(v).toString('hex'),
    `'${v.replace(/'/g, `'\\''`)}'`,
  ];
}

function assertNoLeak(text: string, value: string, what: string): void {
  for (const f of leakForms(value)) assert.ok(!text.includes(f), `${what}: leaked as ${JSON.stringify(f)}`);
}

function allText(report: RunReport, events: RunEvent[]): string {
  return JSON.stringify(report) + '\n' + JSON.stringify(events);
}

function setup(): string {
  const dir = tmp('prov-secrets-');
  mkdirSync(join(dir, 'templates'));
  writeFileSync(join(dir, 'templates', 'app.env.ejs'), APP_ENV);
  return dir;
}

const PLAYBOOK = `
- hosts: h1
  tasks:
    - name: App env
      template: { src: app.env.ejs, dest: "{{ base }}/app.env", mode: '0600' }
    - name: Encoded in a command
      shell: { cmd: "printf '%s' {{ Buffer.from(db_app_password).toString('base64') }} > {{ base }}/b64; echo {{ JSON.stringify(db_app_password) }} > {{ base }}/json; printf '%s\\\\n' '{{ encodeURIComponent(db_app_password) }}'" }
    - name: Inline content
      copy: { dest: "{{ base }}/inline.json", content: "{{ JSON.stringify({ pw: db_app_password }) }}\\n" }
`;

describe('secrets: display renders', () => {
  it('every encoding is shown as the placeholder in diffs, the report and -v/-vv output', async () => {
    const dir = setup();
    const env = { PROVISION_SECRET_DB_APP_PASSWORD: PW };
    const check = await runPlaybook({ inventory: inventory(dir), playbook: PLAYBOOK, dir, env, check: true, trace: true });
    const diff = check.report.tasks[0].changes[0].diff!;
    assert.match(diff, /^\+DB_PASSWORD="«secret db_app_password»"$/m);
    assert.match(diff, /^\+DB_JSON=\{"password":"«secret db_app_password»"\}$/m);
    assert.match(diff, /^\+APP_PORT=8080$/m, 'lines without a secret are shown as they are');
    assertNoLeak(allText(check.report, check.events), PW, 'check');

    const real = await runPlaybook({ inventory: inventory(dir), playbook: PLAYBOOK, dir, env, trace: true });
    assert.deepEqual(real.report.tasks.map((t) => t.status), ['changed', 'changed', 'changed']);
    // the host got the real bytes
    assert.match(readFileSync(join(dir, 'app.env'), 'utf8'), /^DB_PASSWORD="pa\\\$\\\$w\\"ord-2024"$/m);
    assert.equal(readFileSync(join(dir, 'b64'), 'utf8'), Buffer.from(PW).toString('base64'));
    const out = allText(real.report, real.events);
    assertNoLeak(out, PW, 'real run');
    const cmds = real.events.filter((e) => e.type === 'command').map((e) => (e as { cmd: string }).cmd);
    assert.ok(cmds.some((c) => c.includes('«secret db_app_password»')), 'the command is shown from the display render');
    // -vv: the command printed the URL-encoded value: shown redacted
    const outputs = real.events.filter((e) => e.type === 'command-output').map((e) => (e as { stdout: string }).stdout);
    assert.ok(outputs.length > 0);
    assertNoLeak(outputs.join('\n'), PW, '-vv output');
  });

  it('an unchanged secret line stays context; a rotated secret never shows its old value', async () => {
    const dir = setup();
    const OLD = 'old-Secret/value+1';
    const NEW = 'new-Secret/value+2';
    await runPlaybook({ inventory: inventory(dir), playbook: PLAYBOOK, dir, env: { PROVISION_SECRET_DB_APP_PASSWORD: OLD } });
    // another line changes, the secret does not: the secret line is context, shown as the placeholder
    writeFileSync(join(dir, 'app.env'), readFileSync(join(dir, 'app.env'), 'utf8').replace('APP_PORT=8080', 'APP_PORT=80'));
    const same = await runPlaybook({ inventory: inventory(dir), playbook: PLAYBOOK, dir, env: { PROVISION_SECRET_DB_APP_PASSWORD: OLD }, check: true });
    const d1 = same.report.tasks[0].changes[0].diff!;
    assert.match(d1, /^-APP_PORT=80$/m);
    assert.match(d1, /^ DB_PASSWORD="«secret db_app_password»"$/m);

    // rotation: a new value from the environment; the old one is on the host
    const rot = await runPlaybook({ inventory: inventory(dir), playbook: PLAYBOOK, dir, env: { PROVISION_SECRET_DB_APP_PASSWORD: NEW }, trace: true });
    const d2 = rot.report.tasks[0].changes[0].diff!;
    assert.match(d2, /^-DB_PASSWORD="«previous value not shown»"$/m);
    assert.match(d2, /^\+DB_PASSWORD="«secret db_app_password»"$/m);
    assert.match(d2, /^-DB_B64=«previous value not shown»$/m);
    assert.match(d2, /^\+DB_B64=«secret value \(encoded\)»$/m);
    assert.match(d2, /^\+DB_URL=mysql:\/\/app:«secret value \(encoded\)»@db1\/app$/m);
    assert.match(d2, /^-APP_PORT=80$/m, 'an old line replaced by a line without a secret is shown');
    const out = allText(rot.report, rot.events);
    assertNoLeak(out, OLD, 'old value');
    assertNoLeak(out, NEW, 'new value');
  });

  it('a previous value is recognised by its salted hash in any output (store history)', async () => {
    const dir = setup();
    const OLD = 'rotated-away-value-9';
    const pb = `
- hosts: h1
  tasks:
    - name: Write
      copy: { dest: "{{ base }}/f", content: "{{ db_app_password }}" }
`;
    await runPlaybook({ inventory: inventory(dir), playbook: pb, dir, env: { PROVISION_SECRET_DB_APP_PASSWORD: OLD } });
    const hist = readFileSync(join(dir, 'secrets.history.json'), 'utf8');
    assert.ok(!hist.includes(OLD), 'the history holds no value');
    const show = `
- hosts: h1
  tasks:
    - name: Show the old file
      shell: { cmd: "cat {{ base }}/f; echo; cat {{ base }}/f >&2; exit 1" }
`;
    // the environment no longer has the old value: only the history knows it
    const r = await runPlaybook({ inventory: inventory(dir), playbook: show, dir, env: {}, trace: true });
    assert.equal(r.report.tasks[0].status, 'failed');
    assert.ok(allText(r.report, r.events).includes('********'));
    assert.ok(!allText(r.report, r.events).includes(OLD), 'old value leaked');
  });
});

describe('secrets: store', () => {
  it('refuses short values, invalid JSON and non-strings with the file name (ConfigError)', () => {
    const dir = tmp('prov-store-');
    const file = join(dir, 'inv.json');
    const cases: [string, RegExp][] = [
      ['{"a": "abc"}', /inv\.json: secret 'a' is shorter than 4 characters/],
      ['{"a": ', /inv\.json: invalid secret store: .*JSON/],
      ['{"a": 12345}', /inv\.json: secret 'a' must be a string, got number/],
      ['["x"]', /inv\.json: invalid secret store: expected a JSON object/],
      ['{"bad-name": "abcdef"}', /inv\.json: invalid secret name 'bad-name'/],
    ];
    for (const [text, re] of cases) {
      writeFileSync(file, text);
      assert.throws(() => new SecretStore(file, new Masker(), {}), (e: unknown) => e instanceof ConfigError && re.test(e.message), text);
    }
    assert.throws(() => new SecretStore(join(dir, 'none.json'), new Masker(), { PROVISION_SECRET_X: 'abc' }), ConfigError);
  });

  it('the CLI exits 2 with the file name and no stack trace, before any host is contacted', () => {
    const root = resolve(import.meta.dirname, '..', '..', '..');
    const name = `secrets-test-${process.pid}`;
    const dir = tmp('prov-cli-');
    const inv = join(dir, `${name}.yml`);
    // an address nothing listens on: a contacted host would fail differently (exit 1)
    writeFileSync(inv, 'hosts:\n  h1: { address: 127.0.0.1, port: 1 }\n');
    const pb = join(dir, 'pb.yml');
    writeFileSync(pb, '- hosts: h1\n  tasks:\n    - name: t\n      command: { cmd: "true" }\n');
    const store = join(root, '.provision', 'secrets', `${name}.json`);
    mkdirSync(join(root, '.provision', 'secrets'), { recursive: true });
    try {
      for (const text of ['{"x": "ab"}', '{ not json', '{"x": true}']) {
        writeFileSync(store, text);
        const r = spawnSync(process.execPath, [join(root, 'bin', 'provision.js'), '-i', inv, pb], { encoding: 'utf8' });
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, new RegExp(`${name}\\.json`));
        assert.ok(!/\n\s+at /.test(r.stderr), `stack trace: ${r.stderr}`);
        assert.ok(!/h1/.test(r.stdout), 'a host was contacted');
      }
    } finally {
      rmSync(store, { force: true });
    }
  });

  it('--check generates and records nothing; the output says the secret is generated on the first real run', async () => {
    const dir = setup();
    const check = await runPlaybook({ inventory: inventory(dir), playbook: PLAYBOOK, dir, check: true });
    assert.equal(existsSync(join(dir, 'secrets.json')), false, 'check mode wrote the store');
    assert.equal(existsSync(join(dir, 'secrets.history.json')), false, 'check mode wrote the history');
    assert.equal(check.report.tasks[0].status, 'changed');
    assert.match(check.report.tasks[0].changes[0].diff!, /^\+DB_PASSWORD="«secret db_app_password \(generated on the first real run\)»"$/m);
    const real = await runPlaybook({ inventory: inventory(dir), playbook: PLAYBOOK, dir });
    assert.equal(real.report.tasks[0].status, 'changed');
    const stored = JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')) as Record<string, string>;
    assert.equal(stored.db_app_password.length, 24);
    // the check run's stand-in never reached the host
    assert.ok(readFileSync(join(dir, 'app.env'), 'utf8').includes(stored.db_app_password));
  });

  it('the masker catches the usual encodings of a known value in host output', () => {
    const m = new Masker();
    m.add(PW);
    for (const f of encodedForms(PW)) assert.equal(m.mask(`x ${f} y`).includes(f), false, f);
    // base64 inside a longer base64 text, at every alignment
    for (const pre of ['', 'a', 'ab']) {
      const b64 = Buffer.from(`${pre}${PW}-and-more`).toString('base64');
      assert.ok(!m.mask(b64).includes(Buffer.from(PW).toString('base64').slice(4, 12)), `alignment ${pre.length}`);
    }
  });
});

describe('secrets: -vv shows no hash, digest or salt', () => {
  it('filters password hashes, digests and salts', () => {
    const out = traceOutput(
      [
        "#mysql:create",
        "CREATE USER `app`@`localhost` IDENTIFIED BY PASSWORD '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9'",
        "CREATE USER `x`@`%` IDENTIFIED VIA ed25519 USING 'ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY' OR unix_socket",
        '#mysql:pwdigest 0f3a9c4e5b6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b',
        'sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
        'content=cGFzc3dvcmQ=',
        'app:$6$rounds=5000$saltsalt$HashHashHash/abc.:19000:0:99999:7:::',
      ].join('\n'),
    );
    for (const bad of ['6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9', 'ZIgUREUg5PVgQ6Lsk', '0f3a9c4e5b6d', '9f86d081884c', 'cGFzc3dvcmQ=', 'saltsalt', 'HashHashHash']) {
      assert.ok(!out.includes(bad), `${bad} in ${out}`);
    }
    assert.match(out, /IDENTIFIED VIA ed25519 USING '<not shown>' OR unix_socket/);
    assert.equal(traceCommand(`__mysalt='a1b2c3d4e5'; printf '%s' "$__mysalt"`), `__mysalt=<not shown>; printf '%s' "$__mysalt"`);
  });

  it('through the runner: command output with a hash is filtered in -vv events', async () => {
    const dir = setup();
    const pb = `
- hosts: h1
  tasks:
    - name: Prints a hash
      command: { cmd: "echo \\"CREATE USER 'a'@'b' IDENTIFIED BY PASSWORD '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9'\\"" }
`;
    const r = await runPlaybook({ inventory: inventory(dir), playbook: pb, dir, trace: true });
    const outs = r.events.filter((e) => e.type === 'command-output');
    assert.ok(outs.length > 0);
    assert.ok(!JSON.stringify(outs).includes('6BB4837EB743'), JSON.stringify(outs));
  });
});

describe('secrets: previous values by hash', () => {
  it('finds a previous value anywhere in large output in linear time', () => {
    const dir = tmp('prov-hist-');
    const file = join(dir, 'inv.json');
    const OLD = 'prev-value-ÄÖ-12345';
    new SecretStore(file, new Masker(), { PROVISION_SECRET_K: OLD }).get('k');
    new SecretStore(file, new Masker(), { PROVISION_SECRET_K: 'other-value-123', PROVISION_SECRET_J: 'another-one-4567' }).get('j');
    const m = new Masker();
    new SecretStore(file, m, {}); // nothing in the environment any more: only the history knows them
    const text = 'a'.repeat(2_000_000) + OLD + 'b' + OLD + 'c'.repeat(2_000_000) + 'another-one-4567';
    const t0 = Date.now();
    const out = m.mask(text);
    assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms`);
    assert.ok(!out.includes(OLD) && !out.includes('another-one-4567'));
    assert.equal(out.length, text.length - 2 * OLD.length - 'another-one-4567'.length + 3 * 8);
  });
});

describe('secrets: loops', () => {
  it('a loop over secrets shows placeholders in labels, diffs and commands', async () => {
    const dir = setup();
    const pb = `
- hosts: h1
  tasks:
    - name: Per secret
      copy: { dest: "{{ base }}/{{ item.n }}.txt", content: "v={{ Buffer.from(item.v).toString('base64') }}\\n" }
      loop:
        - { n: a, v: "{{ secret('loop_a') }}" }
        - { n: b, v: "{{ secret('loop_b') }}" }
`;
    const env = { PROVISION_SECRET_LOOP_A: 'loop-secret-aaaa', PROVISION_SECRET_LOOP_B: 'loop-secret-bbbb' };
    const r = await runPlaybook({ inventory: inventory(dir), playbook: pb, dir, env, trace: true });
    assert.equal(r.report.tasks[0].status, 'changed');
    assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), `v=${Buffer.from('loop-secret-aaaa').toString('base64')}\n`);
    const out = allText(r.report, r.events);
    assertNoLeak(out, 'loop-secret-aaaa', 'loop a');
    assertNoLeak(out, 'loop-secret-bbbb', 'loop b');
    assert.match(r.report.tasks[0].changes[0].summary, /«secret loop_a»/);
    assert.match(r.report.tasks[0].changes[0].diff!, /^\+v=«secret value \(encoded\)»$/m);
  });
});
