/**
 * unarchive: real archives (made with tar, xz, bzip2 and zip on this machine) extracted into a
 * temp directory by the module's own commands, with its facts read by the real fact scripts:
 * fresh, converged, one member changed, only a mode changed, creates; check mode's prediction
 * compared with the files as the real run leaves them. Bad archives fail with the member named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatherFacts } from '../../../src/engine/pipeline/facts.js';
import { TaskError, type Change } from '../../../src/modules/contract.js';
import { unarchive } from '../../../src/modules/files/unarchive.js';
import { MAX_MEMBERS, readArchive, ArchiveError } from '../../../src/modules/files/archive-read.js';
import type { FileFact } from '../../../src/modules/files/facts.js';
import { localConnection, makeCtx, parse, predictedFacts } from './helpers.js';
import { runMain } from '../../helpers/cli.js';

function project(): { root: string; dest: string } {
  const root = mkdtempSync(join(tmpdir(), 'provision-unarchive-'));
  mkdirSync(join(root, 'files'));
  const dest = join(root, 'dest');
  mkdirSync(dest);
  return { root, dest };
}

/** A tree to archive: a directory, files with distinct modes, a symlink, a nested directory. */
function tree(root: string): string {
  const t = join(root, 'tree');
  mkdirSync(join(t, 'app/bin'), { recursive: true });
  writeFileSync(join(t, 'app/README'), 'hello\n');
  writeFileSync(join(t, 'app/bin/run'), '#!/bin/sh\necho run\n');
  chmodSync(join(t, 'app/bin/run'), 0o750);
  chmodSync(join(t, 'app/bin'), 0o711);
  symlinkSync('bin/run', join(t, 'app/start'));
  return t;
}

function makeArchive(root: string, kind: 'tar' | 'tar.gz' | 'tar.xz' | 'tar.bz2' | 'zip'): string {
  const t = tree(root);
  const name = `app.${kind}`;
  const out = join(root, 'files', name);
  if (kind === 'zip') execFileSync('zip', ['-qry', out, 'app'], { cwd: t });
  else execFileSync('tar', [`-c${{ tar: '', 'tar.gz': 'z', 'tar.xz': 'J', 'tar.bz2': 'j' }[kind]}f`, out, 'app'], { cwd: t });
  return name;
}

async function run(args: Record<string, unknown>, root: string, check = false) {
  const a = parse(unarchive, args);
  const ctx = makeCtx({ root, check });
  const local = await unarchive.prepare!(a, ctx);
  const facts = (await gatherFacts(localConnection, unarchive.facts(a, ctx) as never, {})) as never;
  const changes = unarchive.plan(a, facts, ctx, local);
  return { a, ctx, local, facts, changes };
}

async function apply(changes: Change[]) {
  for (const c of changes)
    for (const cmd of c.commands) {
      const r = await localConnection.exec(cmd.cmd, { stdin: cmd.stdin });
      assert.equal(r.code, 0, `${cmd.cmd}\n${r.stderr}`);
    }
}

const shape = (f: FileFact) => ({ type: f.type, mode: f.type === 'link' ? undefined : f.mode, owner: f.owner, group: f.group, size: f.type === 'directory' ? undefined : f.size, sha256: f.sha256, target: f.target });

/** A real cycle: plan, the prediction, apply, then the plan is empty and the files are as predicted. */
async function cycle(args: Record<string, unknown>, root: string): Promise<Change[]> {
  const { a, local, facts, changes } = await run(args, root);
  const predicted = changes.length ? (predictedFacts(unarchive, a, facts, makeCtx({ root, check: true }), changes, local) as Record<string, FileFact>) : undefined;
  await apply(changes);
  const after = await run(args, root);
  assert.deepEqual(after.changes, [], 'converged after apply');
  if (predicted)
    for (const [k, live] of Object.entries(after.facts as Record<string, FileFact>)) {
      if (!k.startsWith('m:')) continue;
      assert.deepEqual(shape(predicted[k]), shape(live), `predicted ${k}`);
    }
  return changes;
}

for (const kind of ['tar', 'tar.xz', 'zip'] as const) {
  test(`unarchive ${kind}: fresh extract as predicted, then converged`, async () => {
    const { root, dest } = project();
    const src = makeArchive(root, kind);
    const first = await cycle({ src, dest }, root);
    assert.deepEqual(first.map((c) => c.action), ['extract']);
    assert.equal(readFileSync(join(dest, 'app/bin/run'), 'utf8'), '#!/bin/sh\necho run\n');
    assert.equal((await run({ src, dest }, root)).changes.length, 0);
  });
}

for (const kind of ['tar.gz', 'zip'] as const) {
  test(`unarchive remote_src ${kind}: the host's archive read as a fact, extracted, then converged`, async () => {
    const { root, dest } = project();
    const src = join(root, 'files', makeArchive(root, kind));
    const first = await cycle({ src, dest, remote_src: true, extra_opts: kind === 'zip' ? [] : ['--strip-components=1'] }, root);
    assert.deepEqual(first.map((c) => c.action), ['extract']);
    assert.equal(first[0].commands[0].stdin, undefined);
    assert.equal(readFileSync(join(dest, kind === 'zip' ? 'app/bin/run' : 'bin/run'), 'utf8'), '#!/bin/sh\necho run\n');
    writeFileSync(join(dest, kind === 'zip' ? 'app/README' : 'README'), 'changed\n');
    assert.match((await cycle({ src, dest, remote_src: true, extra_opts: kind === 'zip' ? [] : ['--strip-components=1'] }, root))[0].summary, /README \(size differs\)/);
  });
}

test('unarchive remote_src: a missing or corrupt archive fails with the path and reason', async () => {
  const { root, dest } = project();
  await assert.rejects(run({ src: join(root, 'nope.tgz'), dest, remote_src: true }, root), /src .*nope\.tgz does not exist on the host/);
  writeFileSync(join(root, 'bad.tgz'), 'not gzip at all');
  await assert.rejects(run({ src: join(root, 'bad.tgz'), dest, remote_src: true }, root), /bad\.tgz: not a tar.*unknown format/);
});

test('unarchive: one changed member is extracted again; a mode alone is only chmod', async () => {
  const { root, dest } = project();
  const src = makeArchive(root, 'tar.gz');
  await cycle({ src, dest }, root);
  writeFileSync(join(dest, 'app/README'), 'hellO\n');
  const again = await cycle({ src, dest }, root);
  assert.equal(again[0].action, 'extract');
  assert.match(again[0].summary, /app\/README \(content differs\)/);
  assert.equal(readFileSync(join(dest, 'app/README'), 'utf8'), 'hello\n');
  chmodSync(join(dest, 'app/bin/run'), 0o755);
  const modes = await cycle({ src, dest }, root);
  assert.deepEqual(modes.map((c) => [c.action, c.summary]), [['chmod', `${dest}: app/bin/run: mode 0755 -> 0750`]]);
});

test('unarchive: mode and owner applied to every member; strip-components; list_files', async () => {
  const { root, dest } = project();
  const src = makeArchive(root, 'tar.gz');
  await cycle({ src, dest, mode: '0700', owner: 'root', group: 'root', extra_opts: ['--strip-components=1'] }, root);
  assert.ok(existsSync(join(dest, 'bin/run')) && !existsSync(join(dest, 'app')));
  const { a, facts, changes, local, ctx } = await run({ src, dest, list_files: true, extra_opts: ['--strip-components=1'], mode: '0700' }, root);
  assert.deepEqual(changes, []);
  assert.deepEqual((unarchive.registerData!(a, facts, changes, local, ctx).files as string[]).sort(), ['README', 'bin', 'bin/run', 'start']);
});

test("unarchive: --strip-components counts a leading './' as GNU tar does (seed 32271)", async () => {
  for (const remote of [false, true]) {
    const { root, dest } = project();
    const t = tree(root);
    // members ./app/README, ./app/bin/run...: stripping 1 removes '.', not 'app'
    execFileSync('tar', ['-cf', join(root, 'files', 'dot.tar'), './app'], { cwd: t });
    const src = remote ? join(root, 'files', 'dot.tar') : 'dot.tar';
    const first = await cycle({ src, dest, remote_src: remote, extra_opts: ['--strip-components=1'] }, root);
    assert.match(first[0].summary, /app\/README \(missing\)/);
    assert.equal(readFileSync(join(dest, 'app/bin/run'), 'utf8'), '#!/bin/sh\necho run\n');
    await cycle({ src, dest, remote_src: remote, extra_opts: ['--strip-components=2'] }, root);
    assert.equal(readFileSync(join(dest, 'bin/run'), 'utf8'), '#!/bin/sh\necho run\n');
  }
});

test('unarchive: creates skips; dest must be an existing directory', async () => {
  const { root, dest } = project();
  const src = makeArchive(root, 'tar');
  writeFileSync(join(dest, 'marker'), '');
  const r = await run({ src, dest, creates: join(dest, 'marker') }, root);
  assert.deepEqual(r.changes, []);
  assert.deepEqual(r.ctx.notes, [`skipped: ${join(dest, 'marker')} exists`]);
  await assert.rejects(run({ src, dest: join(dest, 'nope') }, root), (e) => e instanceof TaskError && /does not exist .*existing directory/.test(e.message));
});

/** A tar built by hand (ustar headers), for members no tar tool writes willingly. */
function rawTar(members: { name: string; type?: string; body?: string; link?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const h = Buffer.alloc(512);
    const body = Buffer.from(m.body ?? '');
    h.write(m.name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(body.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.write(m.type ?? '0', 156);
    if (m.link) h.write(m.link, 157, 100);
    h.write('ustar\x0000', 257, 'latin1');
    h.fill(' ', 148, 156);
    let sum = 0;
    for (const x of h) sum += x;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

test('unarchive: a member escaping dest is refused by name, nothing written', async () => {
  assert.throws(() => readArchive(rawTar([{ name: 'ok' }, { name: '../evil', body: 'x' }])), /member "\.\.\/evil" has a '\.\.' in its path/);
  assert.throws(() => readArchive(rawTar([{ name: '/etc/evil', body: 'x' }])), /member "\/etc\/evil" has an absolute path/);
  assert.throws(() => readArchive(rawTar([{ name: 'l', type: '2', link: '/etc' }, { name: 'l/passwd', body: 'x' }])), /member l\/passwd lies under member l, which is a symlink/);
  assert.throws(() => readArchive(rawTar([{ name: 'h', type: '1', link: '../../etc/shadow' }])), /'\.\.' in its path/);
  const { root, dest } = project();
  writeFileSync(join(root, 'files', 'evil.tar'), rawTar([{ name: 'a/../../evil', body: 'x' }]));
  await assert.rejects(run({ src: 'evil.tar', dest }, root), (e) => e instanceof TaskError && /^evil\.tar: member "a\/\.\.\/\.\.\/evil"/.test(e.message));
  assert.ok(!existsSync(join(root, 'evil')));
});

test('unarchive: tar.bz2 is read on the controller (bzip2) and sent to the host as a plain tar', () => {
  const { root } = project();
  const l = readArchive(readFileSync(join(root, 'files', makeArchive(root, 'tar.bz2'))));
  assert.equal(l.format, 'tar.bz2');
  assert.ok(l.tar && l.tar.subarray(257, 262).toString('latin1') === 'ustar');
  const run = l.members.find((m) => m.path === 'app/bin/run')!;
  assert.deepEqual([run.type, run.mode.toString(8), run.size], ['file', '750', 19]);
  assert.deepEqual(l.members.find((m) => m.path === 'app/start'), { path: 'app/start', type: 'link', mode: 0o777, size: 0, target: 'bin/run' });
});

test('unarchive: corrupt, truncated, unknown format and too many members fail with the reason', () => {
  assert.throws(() => readArchive(Buffer.from('just text, not an archive\n'.repeat(40))), /unknown format/);
  const gz = execFileSync('gzip', ['-c'], { input: rawTar([{ name: 'a', body: 'x'.repeat(2000) }]) });
  assert.throws(() => readArchive(gz.subarray(0, gz.length - 20)), /corrupt tar\.gz/);
  const tar = rawTar([{ name: 'a', body: 'x'.repeat(2000) }]);
  assert.throws(() => readArchive(tar.subarray(0, 1024)), /runs past the end/);
  const bad = Buffer.from(tar);
  bad[10] ^= 1;
  assert.throws(() => readArchive(bad), /bad header checksum/);
  const many = rawTar(Array.from({ length: MAX_MEMBERS + 1 }, (_, i) => ({ name: `f${i}` })));
  assert.throws(() => readArchive(many), (e) => e instanceof ArchiveError && /more than 5000 members/.test(e.message));
});

test('unarchive: arguments checked at load', () => {
  const bad = (args: Record<string, unknown>, re: RegExp) => {
    const r = unarchive.schema.safeParse(args);
    assert.ok(!r.success, JSON.stringify(args));
    assert.match(r.error.issues.map((i) => i.message).join('; '), re);
  };
  bad({ src: 'https://example.invalid/a.tgz', dest: '/opt' }, /download it first with get_url/);
  bad({ src: 'a.tgz', dest: 'opt' }, /absolute path/);
  bad({ src: 'a.tgz', dest: '/opt', extra_opts: ['--no-same-permissions'] }, /only '--strip-components=N'/);
  bad({ src: 'a.tgz', dest: '/opt', remote_src: true }, /remote_src: 'src' is the absolute path of an archive on the host/);
  bad({ src: 'a.tgz', dest: '/opt', exclude: ['x'] }, /exclude|Unrecognized/i);
});

test('unarchive at load: a literal src missing from files/, a URL src, an unknown argument: exit 2 with file:line:col', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'provision-unarchive-load-'));
  writeFileSync(join(dir, 'inventory.yml'), 'hosts:\n  web-01: { address: 127.0.0.1, port: 1, connect_timeout: 2 }\n');
  const pb = join(dir, 'site.yml');
  writeFileSync(
    pb,
    '- hosts: all\n  tasks:\n    - name: a\n      unarchive: { src: nope.tgz, dest: /opt }\n    - name: b\n      unarchive: { src: "https://example.invalid/x.tgz", dest: /opt }\n    - name: c\n      unarchive: { src: "{{ computed }}", dest: /opt, exclude: [x] }\n    - name: d\n      unarchive: { src: /srv/x.tgz, dest: /opt, remote_src: true }\n',
  );
  const r = await runMain([pb, '-i', join(dir, 'inventory.yml'), '--syntax-check']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /site\.yml:4:25: unarchive: src 'nope\.tgz' not found \(looked in .*files\/nope\.tgz/);
  assert.match(r.stderr, /site\.yml:6:\d+: .*download it first with get_url .* remote_src: true/);
  assert.match(r.stderr, /site\.yml:8:\d+: .*exclude/);
  assert.doesNotMatch(r.stderr, /x\.tgz' not found|computed| {4}at /);
});
