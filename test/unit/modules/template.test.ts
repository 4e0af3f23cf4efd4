import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UndefinedVariable } from '../../../src/engine/expr.js';
import { TaskError } from '../../../src/modules/contract.js';
import { template } from '../../../src/modules/files/template.js';
import { makeCtx, parse, SECRET } from './helpers.js';

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
