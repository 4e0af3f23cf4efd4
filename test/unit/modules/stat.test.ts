import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stat } from '../../../src/modules/probes/stat.js';
import { statFact, statFollowFact, type StatFact } from '../../../src/modules/probes/stat-facts.js';
import { UnknownValue } from '../../../src/engine/expr.js';
import { Unknown } from '../../../src/modules/contract.js';
import type { FileFact } from '../../../src/modules/files/facts.js';
import { spawnSync } from 'node:child_process';
import { makeCtx, parse } from './helpers.js';

/** The fact's script run here (no stdin: it reads none). */
const readStat = async (path: string, follow = false, algorithm: 'sha1' | 'md5' | 'sha256' = 'sha1'): Promise<StatFact> => {
  const p = { path, follow, algorithm };
  const r = spawnSync('sh', ['-c', statFact.script(p)], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return statFact.parse(r.stdout, p);
};

const result = (args: unknown, facts: { file: FileFact; live: StatFact }, check = false) => {
  const a = parse(stat, args);
  return stat.registerData!(a, facts, [], undefined, makeCtx({ check })).stat as Record<string, unknown>;
};

describe('stat: args and facts', () => {
  test('defaults as Ansible: follow false, sha1 checksums; unknown arguments refused', () => {
    assert.deepEqual(parse(stat, { path: '/etc/hosts' }), { path: '/etc/hosts', follow: false, get_checksum: true, checksum_algorithm: 'sha1' });
    assert.throws(() => parse(stat, { path: 'etc/hosts' }), /absolute/);
    assert.throws(() => parse(stat, { path: '/x', checksum_algorithm: 'crc32' }));
    assert.throws(() => parse(stat, { path: '/x', get_mime: true }));
  });

  test('follow: true reads through links, so check mode cannot read it ahead of predicted changes', () => {
    const f = stat.facts(parse(stat, { path: '/x', follow: true }), makeCtx());
    assert.equal(f.live.kind, statFollowFact);
    assert.equal(statFollowFact.readsAnything, true);
    assert.equal(statFact.volatile, true);
  });
});

describe('stat: the fact script on real files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provision-stat-'));
  const file = join(dir, 'f.txt');
  writeFileSync(file, 'hello\n');
  chmodSync(file, 0o640);
  mkdirSync(join(dir, 'd'));
  symlinkSync(file, join(dir, 'link'));
  symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));

  test('a regular file: mode, ids, size and the checksum in the asked algorithm', async () => {
    const live = await readStat(file);
    const r = result({ path: file }, { file: { type: 'file', parentExists: true }, live });
    assert.equal(r.exists, true);
    assert.equal(r.isreg, true);
    assert.equal(r.isdir, false);
    assert.equal(r.mode, '0640');
    assert.equal(r.size, 6);
    assert.equal(r.uid, process.getuid!());
    assert.equal(r.checksum, createHash('sha1').update('hello\n').digest('hex'));
    const md5 = result({ path: file, checksum_algorithm: 'md5' }, { file: { type: 'file', parentExists: true }, live: await readStat(file, false, 'md5') });
    assert.equal(md5.checksum, createHash('md5').update('hello\n').digest('hex'));
    assert.equal(result({ path: file, get_checksum: false }, { file: { type: 'file', parentExists: true }, live }).checksum, undefined);
  });

  test('a directory has no checksum; an absent path only exists: false', async () => {
    const d = result({ path: join(dir, 'd') }, { file: { type: 'directory', parentExists: true }, live: await readStat(join(dir, 'd')) });
    assert.equal(d.isdir, true);
    assert.equal(d.checksum, undefined);
    assert.deepEqual(result({ path: join(dir, 'no') }, { file: { type: 'absent', parentExists: true }, live: await readStat(join(dir, 'no')) }), { exists: false });
  });

  test('a link: itself without follow, its target with follow; a dangling link followed does not exist', async () => {
    const own = result({ path: join(dir, 'link') }, { file: { type: 'link', parentExists: true }, live: await readStat(join(dir, 'link')) });
    assert.equal(own.islnk, true);
    assert.equal(own.lnk_target, file);
    assert.equal(own.checksum, undefined);
    const followed = result({ path: join(dir, 'link'), follow: true }, { file: { type: 'link', parentExists: true }, live: await readStat(join(dir, 'link'), true) });
    assert.equal(followed.islnk, false);
    assert.equal(followed.isreg, true);
    assert.equal(followed.mode, '0640');
    assert.deepEqual(result({ path: join(dir, 'dangling'), follow: true }, { file: { type: 'link', parentExists: true }, live: await readStat(join(dir, 'dangling'), true) }), { exists: false });
  });
});

describe('stat: check mode answers from the predicted file fact', () => {
  const live: StatFact = { own: { type: 'file', mode: '0644', uid: 1000, gid: 1000, owner: 'deploy', group: 'deploy', size: 3, sha256: 'aa', checksum: 'bb' } };
  const same: FileFact = { type: 'file', parentExists: true, mode: '0644', owner: 'deploy', group: 'deploy', size: 3, sha256: 'aa' };

  test('nothing predicted to change it: the live answer', () => {
    assert.equal(result({ path: '/srv/f' }, { file: same, live }, true).checksum, 'bb');
  });

  test('new content predicted: checksum computed from it, the same owner keeps its uid', () => {
    const content = Buffer.from('new\n');
    const r = result({ path: '/srv/f' }, { file: { ...same, size: 4, sha256: 'cc', content: content.toString('base64') }, live }, true);
    assert.equal(r.checksum, createHash('sha1').update(content).digest('hex'));
    assert.equal(r.uid, 1000);
    assert.equal(r.size, 4);
  });

  test('a new owner: its name known, its uid unknown (reading it says why); root is 0', () => {
    const r = result({ path: '/srv/f' }, { file: { ...same, owner: 'www-data' }, live }, true);
    assert.equal(r.pw_name, 'www-data');
    assert.equal(r.exists, true);
    assert.throws(() => r.uid, (e: unknown) => e instanceof UnknownValue && /uid/.test(e.message));
    assert.equal(result({ path: '/srv/f' }, { file: { ...same, owner: 'root', group: 'root' }, live }, true).uid, 0);
  });

  test('predicted absent: exists false; a predicted link followed: unknown', () => {
    assert.deepEqual(result({ path: '/srv/f' }, { file: { type: 'absent', parentExists: true }, live }, true), { exists: false });
    assert.throws(() => result({ path: '/srv/f', follow: true }, { file: { type: 'link', parentExists: true, target: '/x' }, live }, true), Unknown);
  });

  test('a directory read live: its size is unknown in check mode (it follows its entries on tmpfs), the rest known', () => {
    const d: StatFact = { own: { type: 'directory', mode: '0755', uid: 0, gid: 0, owner: 'root', group: 'root', size: 4096 } };
    const r = result({ path: '/srv/d' }, { file: { type: 'directory', parentExists: true, mode: '0755', owner: 'root', group: 'root', size: 4096 }, live: d }, true);
    assert.equal(r.isdir, true);
    assert.equal(r.uid, 0);
    assert.throws(() => r.size, UnknownValue);
    assert.equal(result({ path: '/srv/d' }, { file: { type: 'directory', parentExists: true }, live: d }).size, 4096);
  });

  test('a directory made by an earlier task: its size unknown, isdir known', () => {
    const r = result({ path: '/srv/d' }, { file: { type: 'directory', parentExists: true, mode: '0755', owner: 'root', group: 'root' }, live: {} }, true);
    assert.equal(r.isdir, true);
    assert.throws(() => r.size, UnknownValue);
  });
});
