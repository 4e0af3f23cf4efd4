import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskError } from '../../../src/modules/contract.js';
import type { FileFact } from '../../../src/modules/files/facts.js';
import { copy } from '../../../src/modules/files/copy.js';
import { absentFile, makeCtx, parse, regularFile, sh, ROOT_WHO } from './helpers.js';

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

describe('copy: backup and remote_src, for real in a temp directory', () => {
  test('backup: the old file is kept beside the new one, its name in the registered result', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provision-backup-'));
    const dest = join(dir, 'app.conf');
    writeFileSync(dest, 'old\n');
    chmodSync(dest, 0o640);
    const args = parse(copy, { dest, content: 'new\n', backup: true });
    const local = copy.prepare!(args, makeCtx()) as Buffer;
    const [change] = copy.plan(args, { file: existing('old\n', { mode: '0640' }), who: ROOT_WHO }, makeCtx(), local);
    const r = await sh(change.commands[0].cmd, change.commands[0].stdin);
    assert.equal(r.code, 0, r.stderr);
    const { backup_file } = copy.appliedData!(args, r) as { backup_file: string };
    assert.match(backup_file, new RegExp(`^${dest.replace(/\./g, '\\.')}\\.\\d+\\.\\d{4}-\\d\\d-\\d\\d@\\d\\d:\\d\\d:\\d\\d~$`));
    assert.equal(readFileSync(backup_file, 'utf8'), 'old\n');
    assert.equal(statSync(backup_file).mode & 0o777, 0o640);
    assert.equal(readFileSync(dest, 'utf8'), 'new\n');
    assert.deepEqual(readdirSync(dir).sort(), ['app.conf', backup_file.slice(dir.length + 1)].sort());
    // check mode: a file with the backup's name is unknown afterwards; the file itself is predicted
    const effects = copy.predict!(args, { file: existing('old\n', { mode: '0640' }), who: ROOT_WHO }, [change], makeCtx(), local);
    assert.ok(effects.some((e) => e.touches(`file:${backup_file}`)));
    assert.equal(effects.some((e) => e.touches(`file:${dir}/other~`)), false);
    // no backup when nothing is replaced
    assert.deepEqual(copy.appliedData!(args, { code: 0, stdout: '', stderr: '' }), {});
  });

  test('remote_src: the host file is copied on the host; a second plan is empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provision-remote-src-'));
    writeFileSync(join(dir, 'src.conf'), 'from the host\n');
    const args = parse(copy, { dest: join(dir, 'dest.conf'), src: join(dir, 'src.conf'), remote_src: true, mode: '0600' });
    assert.equal(copy.prepare!(args, makeCtx()), undefined);
    const src = existing('from the host\n');
    const changes = copy.plan(args, { file: absentFile(), who: ROOT_WHO, srcFile: src }, makeCtx(), undefined);
    assert.equal(changes.length, 1);
    assert.equal(changes[0].commands[0].stdin, undefined);
    const r = await sh(changes[0].commands[0].cmd);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(dir, 'dest.conf'), 'utf8'), 'from the host\n');
    assert.equal(statSync(join(dir, 'dest.conf')).mode & 0o777, 0o600);
    assert.deepEqual(copy.plan(args, { file: existing('from the host\n', { mode: '0600' }), who: ROOT_WHO, srcFile: src }, makeCtx(), undefined), []);
    assert.throws(() => parse(copy, { dest: '/x', src: 'rel.conf', remote_src: true }), /absolute path of a file on the host/);
    assert.throws(() => copy.plan(args, { file: absentFile(), who: ROOT_WHO, srcFile: { type: 'file', parentExists: true } }, makeCtx(), undefined), isTaskError(/cannot read/));
  });
});
