import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskError } from '../../../src/modules/contract.js';
import type { FileFact } from '../../../src/modules/files/facts.js';
import { copy } from '../../../src/modules/files/copy.js';
import { absentFile, assertConverges, cmds, directory, makeCtx, parse, regularFile, sh, ROOT_WHO, predictedFacts } from './helpers.js';

const isTaskError = (re: RegExp) => (e: unknown) => e instanceof TaskError && re.test(e.message);
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const existing = (content: string, over: Partial<FileFact> = {}) =>
  regularFile({ size: Buffer.byteLength(content), sha256: sha(content), content: Buffer.from(content).toString('base64'), ...over });

/** The parsed arguments and what prepare() made of them (the bytes to write). */
async function prepared(args: unknown, ctx = makeCtx()) {
  const a = parse(copy, args);
  return { args: a, bytes: await copy.prepare!(a, ctx) };
}
type Prepared = Awaited<ReturnType<typeof prepared>>;
const plan = (p: Prepared, facts: Parameters<typeof copy.plan>[1], ctx = makeCtx()) => copy.plan(p.args, facts, ctx, p.bytes);

const CONF = 'listen 8080\nworkers 4\n';

describe('copy: args and prepare', () => {
  test('exactly one of content or src', () => {
    assert.throws(() => parse(copy, { dest: '/etc/a' }), /exactly one of 'content' or 'src'/);
    assert.throws(() => parse(copy, { dest: '/etc/a', content: 'x', src: 'a' }), /exactly one of 'content' or 'src'/);
    assert.throws(() => parse(copy, { dest: 'etc/a', content: 'x' }), /absolute path/);
  });

  test('content is taken as UTF-8 bytes', async () => {
    const a = await prepared({ dest: '/etc/motd', content: 'héllo\n' });
    assert.deepEqual(a.bytes, Buffer.from('héllo\n', 'utf8'));
  });

  test('src is read from files/ under the project root, byte for byte', async () => {
    const root = mkdtempSync(join(tmpdir(), 'provision-copy-'));
    mkdirSync(join(root, 'files', 'app'), { recursive: true });
    const bin = Buffer.from([0, 1, 2, 255, 10]);
    writeFileSync(join(root, 'files', 'app', 'blob.bin'), bin);
    const a = await prepared({ dest: '/opt/blob.bin', src: 'app/blob.bin' }, makeCtx({ root }));
    assert.deepEqual(a.bytes, bin);
  });

  test('error: missing src', async () => {
    await assert.rejects(async () => prepared({ dest: '/etc/a', src: 'nope.txt' }), isTaskError(/cannot read files\/nope\.txt: ENOENT/));
  });

  test('facts: the file fact with content (for the diff)', async () => {
    const a = await prepared({ dest: '/etc/app.conf', content: CONF });
    assert.deepEqual(copy.facts(a.args, makeCtx()).file.params, { path: '/etc/app.conf', content: true });
  });
});

describe('copy: plan', () => {
  test('converged: same content and attributes', async () => {
    const a = await prepared({ dest: '/etc/app.conf', content: CONF, mode: '0644', owner: 'root', group: 'root' });
    assert.deepEqual(plan(a, { who: ROOT_WHO, file: existing(CONF) }, makeCtx()), []);
  });

  test('create: mktemp in the same directory, content on stdin, chmod, mv', async () => {
    const a = await prepared({ dest: '/etc/app/app.conf', content: CONF });
    const changes = plan(a, { who: ROOT_WHO, file: absentFile() }, makeCtx());
    assert.equal(changes.length, 1);
    const [c] = changes;
    assert.equal(c.action, 'create');
    assert.equal(c.target, '/etc/app/app.conf');
    assert.equal(c.summary, `create /etc/app/app.conf (${CONF.length} bytes)`);
    assert.match(c.diff!, /^--- \/dev\/null\n\+\+\+ \/etc\/app\/app\.conf\tafter\n/);
    assert.match(c.diff!, /^\+listen 8080$/m);
    assert.equal(c.commands.length, 1);
    assert.deepEqual(c.commands[0].stdin, Buffer.from(CONF));
    assert.equal(
      c.commands[0].cmd,
      [
        'set -e',
        'tmp=$(mktemp /etc/app/.provision-tmp.XXXXXX)',
        `trap 'rm -f "$tmp"' EXIT`,
        'cat > "$tmp"',
        'chmod 0644 "$tmp"',
        'mv -fT "$tmp" /etc/app/app.conf',
        'trap - EXIT',
      ].join('\n'),
    );
  });

  test('create with validate (%s), mode and owner:group', async () => {
    const a = await prepared({ dest: '/etc/nginx/nginx.conf', content: 'events {}\n', validate: 'nginx -t -c %s', mode: '640', owner: 'root', group: 'www-data' });
    const [cmd] = cmds(plan(a, { who: ROOT_WHO, file: absentFile() }, makeCtx()));
    assert.deepEqual(cmd.split('\n'), [
      'set -e',
      'tmp=$(mktemp /etc/nginx/.provision-tmp.XXXXXX)',
      `trap 'rm -f "$tmp"' EXIT`,
      'cat > "$tmp"',
      'if ! ( nginx -t -c "$tmp" ) >&2; then echo "validation failed: nginx -t -c %s" >&2; exit 3; fi',
      'chmod 0640 "$tmp"',
      'chown root:www-data "$tmp"',
      'mv -fT "$tmp" /etc/nginx/nginx.conf',
      'trap - EXIT',
    ]);
  });

  test('validate without %s gets the temp file appended; quotes in the message are escaped', async () => {
    const a = await prepared({ dest: '/etc/sudoers.d/app', content: 'x\n', validate: 'visudo -cf' });
    assert.match(cmds(plan(a, { who: ROOT_WHO, file: absentFile() }, makeCtx()))[0], /^if ! \( visudo -cf "\$tmp" \) >&2; then echo "validation failed: visudo -cf" >&2; exit 3; fi$/m);
    const b = await prepared({ dest: '/etc/x', content: 'x\n', validate: 'grep -q "$HOME" %s' });
    assert.match(cmds(plan(b, { who: ROOT_WHO, file: absentFile() }, makeCtx()))[0], /^if ! \( grep -q "\$HOME" "\$tmp" \) >&2; then echo "validation failed: grep -q \\"\\\$HOME\\" %s" >&2; exit 3; fi$/m);
  });

  test('update: diff against the old content; keeps mode and owner/group by reference', async () => {
    const a = await prepared({ dest: '/etc/app.conf', content: CONF });
    const changes = plan(a, { who: ROOT_WHO, file: existing('listen 80\nworkers 4\n', { mode: '0640', group: 'app' }) }, makeCtx());
    assert.deepEqual(
      changes.map((c) => [c.action, c.summary]),
      [['update', `update /etc/app.conf (${CONF.length} bytes)`]],
    );
    assert.match(changes[0].diff!, /^--- \/etc\/app\.conf\tbefore$/m);
    assert.match(changes[0].diff!, /^-listen 80$/m);
    assert.match(changes[0].diff!, /^\+listen 8080$/m);
    assert.match(changes[0].diff!, /^ workers 4$/m);
    const lines = cmds(changes)[0].split('\n');
    assert.ok(lines.includes('chmod --reference=/etc/app.conf "$tmp"'));
    assert.ok(lines.includes('chown --reference=/etc/app.conf "$tmp"'));
  });

  test('update with only owner given keeps the existing group', async () => {
    const a = await prepared({ dest: '/etc/app.conf', content: CONF, owner: 'app' });
    const lines = cmds(plan(a, { who: ROOT_WHO, file: existing('old\n', { group: 'www-data' }) }, makeCtx()))[0].split('\n');
    const ref = lines.indexOf('chown --reference=/etc/app.conf "$tmp"');
    const own = lines.indexOf('chown app "$tmp"');
    assert.ok(ref >= 0 && own > ref, lines.join('\n'));
  });

  test('same content, different attributes: only chmod/chown/chgrp', async () => {
    const a = await prepared({ dest: '/etc/app.conf', content: CONF, mode: '0600', owner: 'app', group: 'app' });
    const changes = plan(a, { who: ROOT_WHO, file: existing(CONF) }, makeCtx());
    assert.deepEqual(
      changes.map((c) => [c.action, c.summary, c.diff]),
      [
        ['chmod', 'mode 0644 -> 0600', undefined],
        ['chown', 'owner root -> app', undefined],
        ['chgrp', 'group root -> app', undefined],
      ],
    );
    assert.deepEqual(cmds(changes), ['chmod 0600 /etc/app.conf', 'chown app /etc/app.conf', 'chgrp app /etc/app.conf']);
  });

  test('a previous content too large to fetch, and binary content, are not diffed', async () => {
    const a = await prepared({ dest: '/var/big', content: 'small\n' });
    const [c] = plan(a, { who: ROOT_WHO, file: regularFile({ sha256: 'f'.repeat(64), size: 10_000_000 }) }, makeCtx());
    assert.equal(c.diff, '(/var/big: previous content too large to diff)\n');
    const root = mkdtempSync(join(tmpdir(), 'provision-copy-'));
    mkdirSync(join(root, 'files'));
    writeFileSync(join(root, 'files', 'b.bin'), Buffer.from([1, 0, 2]));
    const b = await prepared({ dest: '/opt/b.bin', src: 'b.bin' }, makeCtx({ root }));
    assert.equal(plan(b, { who: ROOT_WHO, file: absentFile() }, makeCtx())[0].diff, 'Binary file /opt/b.bin differs\n');
  });

  test('error: copy into a missing directory', async () => {
    const a = await prepared({ dest: '/etc/newapp/app.conf', content: CONF });
    assert.throws(() => plan(a, { who: ROOT_WHO, file: absentFile(false) }, makeCtx()), isTaskError(/parent directory of \/etc\/newapp\/app\.conf does not exist/));
  });

  test('check mode: a missing directory a pending package install may create is fine', async () => {
    const a = await prepared({ dest: '/etc/newapp/app.conf', content: CONF });
    const changes = plan(a, { who: ROOT_WHO, file: { ...absentFile(false), parentByInstall: true } }, makeCtx({ check: true }));
    assert.deepEqual(
      changes.map((c) => c.action),
      ['create'],
    );
  });

  test('error: dest is a directory or a special file', async () => {
    const a = await prepared({ dest: '/etc/app', content: CONF });
    assert.throws(() => plan(a, { who: ROOT_WHO, file: directory() }, makeCtx()), isTaskError(/\/etc\/app is a directory; give the full path/));
    assert.throws(() => plan(a, { who: ROOT_WHO, file: { type: 'other', parentExists: true } }, makeCtx()), isTaskError(/exists and is not a regular file/));
  });
});

describe('copy: the write command, run for real in a temp directory', () => {
  test('creates the file atomically with content from stdin and the mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provision-copy-run-'));
    const dest = join(dir, 'app.conf');
    const a = await prepared({ dest, content: CONF, mode: '0600', validate: 'grep -q workers' });
    const [c] = plan(a, { who: ROOT_WHO, file: absentFile() }, makeCtx())[0].commands;
    const r = await sh(c.cmd, c.stdin);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(dest, 'utf8'), CONF);
    assert.equal(statSync(dest).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['app.conf']);
  });

  test('a failing validation exits 3 and leaves the old file and no temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provision-copy-run-'));
    const dest = join(dir, 'app.conf');
    writeFileSync(dest, 'old\n');
    const a = await prepared({ dest, content: 'no such key\n', validate: 'grep -q workers %s' });
    const [c] = plan(a, { who: ROOT_WHO, file: existing('old\n') }, makeCtx())[0].commands;
    const r = await sh(c.cmd, c.stdin);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /validation failed: grep -q workers %s/);
    assert.equal(readFileSync(dest, 'utf8'), 'old\n');
    assert.deepEqual(readdirSync(dir), ['app.conf']);
  });

  test('an update keeps the mode and group of the replaced file', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provision-copy-run-'));
    const dest = join(dir, 'app.conf');
    writeFileSync(dest, 'old\n');
    chmodSync(dest, 0o640);
    chownSync(dest, 0, 65534);
    const a = await prepared({ dest, content: CONF, owner: 'root' });
    const [c] = plan(a, { who: ROOT_WHO, file: existing('old\n', { mode: '0640', group: 'nogroup' }) }, makeCtx())[0].commands;
    const r = await sh(c.cmd, c.stdin);
    assert.equal(r.code, 0, r.stderr);
    const st = statSync(dest);
    assert.equal(readFileSync(dest, 'utf8'), CONF);
    assert.equal(st.mode & 0o777, 0o640);
    assert.equal(st.gid, 65534);
    assert.equal(st.uid, 0);
  });
});

describe('copy: predict and convergence', () => {
  test('predict the written file', async () => {
    const a = await prepared({ dest: '/etc/app.conf', content: CONF, owner: 'app' });
    const p = predictedFacts(copy, a.args, { who: ROOT_WHO, file: absentFile() }, makeCtx(), undefined, a.bytes);
    assert.deepEqual(p.file, { type: 'file', parentExists: true, mode: '0644', owner: 'app', group: 'root', size: CONF.length, sha256: sha(CONF), content: Buffer.from(CONF).toString('base64') });
  });

  const cases: [string, unknown, FileFact, boolean?][] = [
    ['create', { dest: '/etc/a', content: CONF }, absentFile()],
    ['create with attrs', { dest: '/etc/a', content: CONF, mode: '0400', owner: 'app', group: 'app', validate: 'true' }, absentFile()],
    ['update keeping attrs', { dest: '/etc/a', content: CONF }, existing('old', { mode: '0600', owner: 'app', group: 'adm' })],
    ['update with attrs', { dest: '/etc/a', content: CONF, mode: '0644', owner: 'root' }, existing('old', { mode: '0600', owner: 'app' })],
    ['attrs only', { dest: '/etc/a', content: CONF, mode: '0600', group: 'app' }, existing(CONF)],
    ['replace a link', { dest: '/etc/a', content: CONF }, { type: 'link', parentExists: true, target: '/etc/b', mode: '0777', owner: 'root', group: 'root' }],
    ['parent from a pending install', { dest: '/new/a', content: CONF }, { ...absentFile(false), parentByInstall: true }, true],
    ['converged', { dest: '/etc/a', content: CONF }, existing(CONF)],
  ];
  for (const [name, args, f, predicted] of cases) {
    test(`convergence: ${name}`, async () => {
      const ctx = makeCtx({ check: !!predicted });
      const p = await prepared(args);
      assertConverges(copy, p.args, { who: ROOT_WHO, file: f }, ctx, p.bytes);
    });
  }
});
