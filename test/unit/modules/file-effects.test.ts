/**
 * madeDirectory (`mkdir -p` in check mode): what it does to the facts of paths under the
 * directories it makes or changes, and whether a non-root user may then create there.
 * Cases from the differential tester: seeds 1470 (a deeper descendant kept its old nearest
 * ancestor) and 1273 (a directory made 0600 cannot be entered by its owner).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { madeDirectory, pathBecomes } from '../../../src/modules/files/effects.js';
import { fileFact, notPermitted, type FileFact, type IdentityFact } from '../../../src/modules/files/facts.js';

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
    assert.deepEqual(f, { ...deep, near: '/home/deploy/dt', nearDir: { owner: 'root', mode: '0755' }, gates: [{ owner: 'root', mode: '0755' }] });
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
    assert.deepEqual(f, { ...beside, near: '/srv/a', nearDir: { owner: 'deploy', mode: '0775' }, gates: [{ owner: 'deploy', mode: '0775' }] });
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

  // found by an audit of the change (helper-8)
  test('a path spelled through a symlink: an existing ancestor of its other name keeps its attributes', () => {
    // base/link -> real; file base/link/app directory mode=0700 (app existed, mode changes)
    const made: FileFact = { type: 'directory', parentExists: true, mode: '0755', owner: 'nobody', group: 'nogroup', real: '/base/real/app' };
    const e = madeDirectory(['/base/link/app', '/base/real/app'], root, (b) => ({ ...b, mode: '0700' }), made);
    const beside: FileFact = { type: 'absent', parentExists: false, dirWritable: false, near: '/base' };
    const f = e.apply(beside, 'file:/base/newdir/x') as FileFact;
    assert.equal(f.nearDir, undefined, 'base was not made nor changed: its writability stays as read');
    assert.ok(notPermitted(f, { user: 'nobody', group: 'nogroup', umask: '0022' }, create));
  });

  test('the owner\'s class of permissions applies to the owner, not the others\' class', () => {
    assert.ok(notPermitted({ type: 'absent', parentExists: true, nearDir: { owner: 'deploy', mode: '0007' } }, deploy, create));
    assert.equal(notPermitted({ type: 'absent', parentExists: true, nearDir: { owner: 'root', mode: '0777' } }, deploy, create), undefined);
    // another user: the group's and the others' class must both grant it (group membership is not modelled)
    assert.ok(notPermitted({ type: 'absent', parentExists: true, nearDir: { owner: 'root', mode: '0707' } }, deploy, create));
  });

  test('what lies under a directory made or changed is seen by a non-root reader only if it may search it (gates)', () => {
    // root makes lock/app with mode 0700: nobody cannot reach lock/app/x
    const made: FileFact = { type: 'absent', parentExists: true, near: '/lock' };
    const e = madeDirectory(['/lock/app'], root, () => ({ type: 'directory', parentExists: true, mode: '0700', owner: 'root', group: 'root' }), made);
    const under = e.apply({ type: 'absent', parentExists: false, near: '/lock' }, 'file:/lock/app/x') as FileFact;
    assert.match(fileFact.seenBy!(under, 'nobody') ?? '', /may not search/);
    assert.equal(fileFact.seenBy!(under, 'root'), undefined);
    // the owner chmods its own directory 0600: even the owner cannot reach what is in it
    const own: FileFact = { type: 'directory', parentExists: true, mode: '0755', owner: 'deploy', group: 'deploy' };
    const chmod = madeDirectory(['/home/deploy/d'], deploy, (b) => ({ ...b, mode: '0600' }), own);
    const file = chmod.apply({ type: 'file', parentExists: true, mode: '0644', owner: 'deploy', sha256: 'x' }, 'file:/home/deploy/d/f') as FileFact;
    assert.match(fileFact.seenBy!(file, 'deploy') ?? '', /may not search/);
    // a later change of the file itself keeps what is above it
    const rewritten = pathBecomes(['/home/deploy/d/f'], () => ({ type: 'file', parentExists: true, mode: '0644', owner: 'deploy' })).apply(file, 'file:/home/deploy/d/f') as FileFact;
    assert.deepEqual(rewritten.gates, file.gates);
    // a reader that could not search the directory when the fact was read (hidden) sees no predicted change as predicted
    assert.match(fileFact.seenBy!({ type: 'directory', parentExists: true, hidden: true }, 'nobody') ?? '', /not modelled/);
  });

  test('a file whose content check mode knows is seen with it only by a reader it grants reading (seed 32309)', () => {
    // root wrote it 0700: deploy's fact would have no content (the real copy then plans an update and fails)
    const rootOnly: FileFact = { type: 'file', parentExists: true, mode: '0700', owner: 'root', group: 'root', size: 19, sha256: 'x' };
    assert.match(fileFact.seenBy!(rootOnly, 'deploy') ?? '', /does not grant reading its content/);
    assert.equal(fileFact.seenBy!({ ...rootOnly, mode: '0644' }, 'deploy'), undefined);
    assert.equal(fileFact.seenBy!({ ...rootOnly, owner: 'deploy', mode: '0600' }, 'deploy'), undefined);
    // the group's class alone does not grant it (membership is not modelled)
    assert.ok(fileFact.seenBy!({ ...rootOnly, mode: '0640' }, 'deploy'));
    // no content known: nothing to hide
    assert.equal(fileFact.seenBy!({ ...rootOnly, sha256: undefined }, 'deploy'), undefined);
  });
});
