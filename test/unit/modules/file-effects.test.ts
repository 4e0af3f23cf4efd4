/**
 * madeDirectory (`mkdir -p` in check mode): what it does to the facts of paths under the
 * directories it makes or changes, and whether a non-root user may then create there.
 * Cases from the differential tester: seeds 1470 (a deeper descendant kept its old nearest
 * ancestor) and 1273 (a directory made 0600 cannot be entered by its owner).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { madeDirectory } from '../../../src/modules/files/effects.js';
import { notPermitted, type FileFact, type IdentityFact } from '../../../src/modules/files/facts.js';

const root: IdentityFact = { user: 'root', group: 'root', umask: '0022' };
const deploy: IdentityFact = { user: 'deploy', group: 'deploy', umask: '0002' };
const create = [{ action: 'create' }];

/** Apply the effect of `mkdir -p path` (by `who`, final mode/owner given) to the fact of `key`. */
function after(path: string, made: FileFact, who: IdentityFact, key: string, before: FileFact, final: Partial<FileFact> = {}): FileFact {
  const e = madeDirectory([path], who, (b) => (b.type === 'absent' ? { type: 'directory', parentExists: true, mode: '0755', owner: who.user, group: who.group, ...final } : { ...b, ...final }), made);
  assert.ok(e.touches(`file:${key}`), `mkdir -p ${path} touches ${key}`);
  return e.apply(before, `file:${key}`) as FileFact;
}

describe('check mode: mkdir -p and the access to what lies under it', () => {
  test('seed 1470: root makes /home/deploy/dt; deploy may not create two levels under it', () => {
    const made: FileFact = { type: 'absent', parentExists: true, dirWritable: true, near: '/home/deploy' };
    const deep: FileFact = { type: 'absent', parentExists: false, dirWritable: true, near: '/home/deploy' };
    const f = after('/home/deploy/dt', made, root, '/home/deploy/dt/b/h.txt', deep);
    assert.deepEqual(f, { ...deep, near: '/home/deploy/dt', nearDir: { owner: 'root', mode: '0755' } });
    assert.match(notPermitted(f, deploy, create) ?? '', /without become/);
  });

  test('seed 1273: deploy makes a/b with mode 0600; it may not create a/b/c (no search permission)', () => {
    const made: FileFact = { type: 'absent', parentExists: false, dirWritable: true, near: '/home/deploy/dt' };
    const child: FileFact = { type: 'absent', parentExists: false, dirWritable: true, near: '/home/deploy/dt' };
    const f = after('/home/deploy/dt/a/b', made, deploy, '/home/deploy/dt/a/b/c', child, { mode: '0600' });
    assert.deepEqual(f.nearDir, { owner: 'deploy', mode: '0600' });
    assert.equal(f.parentExists, true);
    assert.ok(notPermitted(f, deploy, create));
    // with 0700 it may
    const g = after('/home/deploy/dt/a/b', made, deploy, '/home/deploy/dt/a/b/c', child, { mode: '0700' });
    assert.equal(notPermitted(g, deploy, create), undefined);
  });

  test('an ancestor made on the way: what lies beside the path gets it as its nearest ancestor', () => {
    const made: FileFact = { type: 'absent', parentExists: false, near: '/srv' };
    const beside: FileFact = { type: 'absent', parentExists: false, dirWritable: false, near: '/srv' };
    const f = after('/srv/a/b/c', made, deploy, '/srv/a/x/y', beside);
    assert.deepEqual(f, { ...beside, near: '/srv/a', nearDir: { owner: 'deploy', mode: '0775' } });
    assert.equal(notPermitted(f, deploy, create), undefined);
    // nothing is made at or above /srv, which existed
    const e = madeDirectory(['/srv/a/b/c'], deploy, (b) => b, made);
    assert.equal(e.touches('file:/srv/z'), false);
    assert.equal(e.touches('file:/opt/q'), false);
  });

  test("an existing directory's new owner or mode: direct children follow it, deeper paths become not known", () => {
    const made: FileFact = { type: 'directory', parentExists: true, mode: '0755', owner: 'deploy', group: 'deploy' };
    const child: FileFact = { type: 'absent', parentExists: true, dirWritable: true, near: '/d' };
    const deepFile: FileFact = { type: 'file', parentExists: true, dirWritable: true, owner: 'deploy', mode: '0644' };
    const c = after('/d', made, root, '/d/x', child, { mode: '0500' });
    assert.deepEqual(c.nearDir, { owner: 'deploy', mode: '0500' });
    assert.ok(notPermitted(c, deploy, create));
    const d = after('/d', made, root, '/d/x/y', deepFile, { mode: '0500' });
    assert.equal(d.nearDir, null);
    assert.ok(notPermitted(d, deploy, [{ action: 'update' }]));
    // root is not concerned
    assert.equal(notPermitted(d, root, [{ action: 'update' }]), undefined);
  });

  test('an existing directory left as it is changes nothing under it', () => {
    const made: FileFact = { type: 'directory', parentExists: true, mode: '0755', owner: 'root', group: 'root' };
    const e = madeDirectory(['/d'], root, (b) => b, made);
    assert.equal(e.touches('file:/d/x'), false);
    assert.equal(e.touches('file:/d/x/y'), false);
  });

  test("where the path's existing ancestors are not known, what may have been made is not known either", () => {
    const made: FileFact = { type: 'absent', parentExists: false };
    const beside: FileFact = { type: 'absent', parentExists: false, dirWritable: true };
    const f = after('/a/b/c', made, deploy, '/a/x/y', beside);
    assert.equal(f.nearDir, null);
    assert.ok(notPermitted(f, deploy, create));
    // unless its own nearest ancestor says the made one was missing
    const g = after('/a/b/c', made, deploy, '/a/x/y', { ...beside, near: '/' });
    assert.deepEqual(g.nearDir, { owner: 'deploy', mode: '0775' });
  });
});
