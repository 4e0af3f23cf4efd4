import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UndefinedVariable } from '../../../src/engine/expr.js';
import { TaskError } from '../../../src/modules/contract.js';
import type { FileFact } from '../../../src/modules/files/facts.js';
import { template } from '../../../src/modules/files/template.js';
import { absentFile, assertConverges, cmds, makeCtx, parse, regularFile, SECRET, ROOT_WHO, predictedFacts } from './helpers.js';

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** A project root with templates/ holding the given files. */
function projectRoot(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'provision-tpl-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(root, 'templates', name, '..'), { recursive: true });
    writeFileSync(join(root, 'templates', name), text);
  }
  return root;
}

const APP_ENV = ['# managed by provision', 'APP_PORT=<%= port %>', 'DB_HOST=<%= db.host %>', 'DB_PASSWORD=<%= db.password %>', 'BANNER=<%- banner %>', 'ESCAPED=<%= banner %>', ''].join('\n');
const VARS = { port: 8080, db: { host: 'db1.internal', password: SECRET }, banner: '<b>Tom & Jerry</b>' };
const RENDERED = [
  '# managed by provision',
  'APP_PORT=8080',
  'DB_HOST=db1.internal',
  `DB_PASSWORD=${SECRET}`,
  'BANNER=<b>Tom & Jerry</b>',
  'ESCAPED=&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;',
  '',
].join('\n');

async function prepared(args: unknown, files: Record<string, string> = { 'app.env.ejs': APP_ENV }, vars: Record<string, unknown> = VARS) {
  const ctx = makeCtx({ root: projectRoot(files), vars });
  const a = parse(template, args);
  return { args: a, bytes: await template.prepare!(a, ctx), ctx };
}

describe('template: rendering (prepare)', () => {
  test('renders with the variables: <%- %> raw, <%= %> HTML-escaped', async () => {
    const { bytes } = await prepared({ src: 'app.env.ejs', dest: '/etc/app.env' });
    assert.equal(bytes.toString('utf8'), RENDERED);
  });

  test('an undefined variable throws, naming the variable and the template', async () => {
    await assert.rejects(
      async () => prepared({ src: 'bad.ejs', dest: '/etc/x' }, { 'bad.ejs': 'ok=<%= port %>\nhost=<%= listen_host %>\n' }),
      (e: unknown) => e instanceof UndefinedVariable && e.variable.startsWith('listen_host') && /undefined variable: listen_host \(in templates\/bad\.ejs/.test(e.message),
    );
  });

  test('an undefined property of a defined variable throws, naming the path', async () => {
    await assert.rejects(
      async () => prepared({ src: 'bad.ejs', dest: '/etc/x' }, { 'bad.ejs': 'port=<%= db.port %>\n' }),
      (e: unknown) => e instanceof UndefinedVariable && /undefined variable: db\.port/.test(e.message),
    );
  });

  test('templates in sub-directories; a missing template is a TaskError', async () => {
    const { bytes } = await prepared({ src: 'nginx/site.conf.ejs', dest: '/etc/nginx/sites-available/app' }, { 'nginx/site.conf.ejs': 'listen <%= port %>;\n' });
    assert.equal(bytes.toString(), 'listen 8080;\n');
    await assert.rejects(
      async () => prepared({ src: 'missing.ejs', dest: '/etc/x' }),
      (e: unknown) => e instanceof TaskError && /cannot read templates\/missing\.ejs: ENOENT/.test(e.message),
    );
  });

  test('loops and conditionals', async () => {
    const tpl = '<% for (const b of backends) { %>server <%= b.name %> <%= b.ip %>:<%= port %><% if (b.backup) { %> backup<% } %>\n<% } %>';
    const { bytes } = await prepared({ src: 'hap.ejs', dest: '/etc/haproxy/backends' }, { 'hap.ejs': tpl }, { port: 80, backends: [{ name: 'a', ip: '10.0.0.1', backup: false }, { name: 'b', ip: '10.0.0.2', backup: true }] });
    assert.equal(bytes.toString(), 'server a 10.0.0.1:80\nserver b 10.0.0.2:80 backup\n');
  });
});

describe('template: plan', () => {
  test('create: the diff is masked, the bytes written are not', async () => {
    const { args, bytes, ctx } = await prepared({ src: 'app.env.ejs', dest: '/etc/app.env', mode: '0600' });
    const changes = template.plan(args, { who: ROOT_WHO, file: absentFile() }, ctx, bytes);
    assert.equal(changes.length, 1);
    const [c] = changes;
    assert.equal(c.action, 'create');
    assert.equal(c.summary, `create /etc/app.env (${Buffer.byteLength(RENDERED)} bytes)`);
    assert.ok(!c.diff!.includes(SECRET), c.diff);
    assert.match(c.diff!, /^\+DB_PASSWORD=\*{8}$/m);
    assert.match(c.diff!, /^\+BANNER=<b>Tom & Jerry<\/b>$/m);
    assert.ok(!c.summary.includes(SECRET));
    assert.equal(c.commands[0].stdin!.toString(), RENDERED);
    assert.match(c.commands[0].cmd, /^chmod 0600 "\$tmp"$/m);
    assert.match(c.commands[0].cmd, /^mv -fT "\$tmp" \/etc\/app\.env$/m);
  });

  test('update: the old secret in the previous content is masked too', async () => {
    const { args, bytes, ctx } = await prepared({ src: 'app.env.ejs', dest: '/etc/app.env' });
    const old = RENDERED.replace('APP_PORT=8080', 'APP_PORT=80');
    const f = regularFile({ sha256: sha(old), size: old.length, content: Buffer.from(old).toString('base64') });
    const [c] = template.plan(args, { who: ROOT_WHO, file: f }, ctx, bytes);
    assert.equal(c.action, 'update');
    assert.match(c.diff!, /^-APP_PORT=80$/m);
    assert.match(c.diff!, /^\+APP_PORT=8080$/m);
    assert.match(c.diff!, /^ DB_PASSWORD=\*{8}$/m);
    assert.ok(!c.diff!.includes(SECRET));
  });

  test('converged when the rendered content is in place', async () => {
    const { args, bytes, ctx } = await prepared({ src: 'app.env.ejs', dest: '/etc/app.env' });
    const f = regularFile({ sha256: sha(RENDERED), size: RENDERED.length, content: Buffer.from(RENDERED).toString('base64') });
    assert.deepEqual(template.plan(args, { who: ROOT_WHO, file: f }, ctx, bytes), []);
  });

  test('validate is run on the temp file', async () => {
    const { args, bytes, ctx } = await prepared({ src: 'app.env.ejs', dest: '/etc/app.env', validate: 'sh -n %s' });
    assert.match(cmds(template.plan(args, { who: ROOT_WHO, file: absentFile() }, ctx, bytes))[0], /^if ! \( sh -n "\$tmp" \) >&2; then/m);
  });

  test('error: parent directory missing (not predicted)', async () => {
    const { args, bytes, ctx } = await prepared({ src: 'app.env.ejs', dest: '/etc/app/app.env' });
    assert.throws(
      () => template.plan(args, { who: ROOT_WHO, file: absentFile(false) }, ctx, bytes),
      (e: unknown) => e instanceof TaskError && /parent directory of \/etc\/app\/app\.env does not exist/.test(e.message),
    );
  });
});

describe('template: predict and convergence', () => {
  const cases: [string, unknown, FileFact][] = [
    ['create', { src: 'app.env.ejs', dest: '/etc/app.env', mode: '0640', owner: 'root', group: 'app' }, absentFile()],
    ['update', { src: 'app.env.ejs', dest: '/etc/app.env' }, regularFile({ sha256: sha('old'), size: 3, content: Buffer.from('old').toString('base64') })],
    ['attrs', { src: 'app.env.ejs', dest: '/etc/app.env', mode: '0600' }, regularFile({ sha256: sha(RENDERED), size: RENDERED.length })],
  ];
  for (const [name, a, f] of cases) {
    test(`convergence: ${name}`, async () => {
      const { args, bytes, ctx } = await prepared(a);
      assertConverges(template, args, { who: ROOT_WHO, file: f }, ctx, bytes);
    });
  }

  test('predict carries the rendered checksum', async () => {
    const { args, bytes, ctx } = await prepared({ src: 'app.env.ejs', dest: '/etc/app.env' });
    const p = predictedFacts(template, args, { who: ROOT_WHO, file: absentFile() }, ctx, undefined, bytes);
    assert.equal(p.file.sha256, sha(RENDERED));
    assert.equal(p.file.type, 'file');
  });
});
