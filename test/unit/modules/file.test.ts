import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { file } from '../../../src/modules/files/file.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hardLinkFact } from '../../../src/modules/files/hardlink.js';
import { makeCtx, parse, regularFile, ROOT_WHO, sh } from './helpers.js';

describe('file: args', () => {
  test('defaults to state file; modes are normalised', () => {
    assert.deepEqual(parse(file, { path: '/etc/x' }), { path: '/etc/x', state: 'file' });
    // a number is refused: YAML reads an unquoted 0640 as the decimal 640
    assert.throws(() => parse(file, { path: '/etc/x', mode: 0o640 }), /quoted octal mode/);
    assert.equal(parse(file, { path: '/etc/x', mode: '0o750' }).mode, '0o750');
  });

  test('rejects relative paths, bad modes, a link without src', () => {
    assert.throws(() => parse(file, { path: 'etc/x' }), /absolute path/);
    assert.throws(() => parse(file, { path: '/etc/x', mode: '0999' }), /octal mode/);
    assert.throws(() => parse(file, { path: '/etc/x', state: 'link' }), /needs 'src'/);
  });

  test('facts: one file fact without content', () => {
    const f = file.facts(parse(file, { path: '/srv/app' }), makeCtx());
    assert.equal(f.file.kind.kind, 'file');
    assert.deepEqual(f.file.params, { path: '/srv/app' });
  });
});

describe('file: state hard, for real in a temp directory', () => {
  test('the hard-link fact tells one inode from two files, and ln -f makes them one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provision-hard-'));
    await sh(`printf hello > a; printf other > b`, undefined, dir);
    const read = async (path: string, src: string) => hardLinkFact.parse((await sh(hardLinkFact.script({ path, src }))).stdout, { path, src });
    assert.deepEqual(await read(`${dir}/b`, `${dir}/a`), { kind: 'hardlink', same: false, realPath: `${dir}/b`, realSrc: `${dir}/a` });
    assert.equal((await read(`${dir}/missing`, `${dir}/a`)).same, false);
    const args = parse(file, { path: `${dir}/b`, state: 'hard', src: `${dir}/a` });
    const changes = file.plan(args, { file: regularFile({ sha256: 'x' }), who: ROOT_WHO, srcFile: regularFile(), link: await read(`${dir}/b`, `${dir}/a`) }, makeCtx());
    for (const c of changes) for (const cmd of c.commands) assert.equal((await sh(cmd.cmd)).code, 0);
    assert.equal((await read(`${dir}/b`, `${dir}/a`)).same, true);
    assert.equal((await sh(`cat b; stat -c %h a`, undefined, dir)).stdout, 'hello2\n');
    assert.deepEqual(hardLinkFact.aliases!({ path: `${dir}/b`, src: `${dir}/a` }, await read(`${dir}/b`, `${dir}/a`)), [`file:${dir}/b`, `file:${dir}/a`]);
    assert.throws(() => parse(file, { path: '/x', state: 'hard' }), /absolute path of the file to link to/);
    assert.throws(() => parse(file, { path: '/x', state: 'hard', src: 'relative' }), /absolute path/);
  });
});

describe('file: footprint', () => {
  test('a directory task whose outcome is unknown may have made the missing directories above it (mkdir -p)', () => {
    const effects = file.footprint!(parse(file, { path: '/opt/dt/a', state: 'directory' }), makeCtx());
    const parent = effects.find((e) => e.touches('file:/opt/dt'));
    assert.ok(parent, 'the parent /opt/dt is touched');
    assert.throws(() => {
      const v = parent.apply({ type: 'absent', parentExists: true }, 'file:/opt/dt');
      if (v instanceof Error || (v as { reason?: string }).reason) throw new Error((v as { reason: string }).reason);
    }, /unknown in check mode/);
    // what has no parent yet below it (a link into /opt/dt) is unknown too
    assert.ok(effects.some((e) => e.touches('file:/opt/dt/l1')));
  });
});
