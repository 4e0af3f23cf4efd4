/**
 * file recurse and copy of a directory src, run for real in temp directories on this machine:
 * facts read by their own scripts, the plan applied, the facts read again (the plan is then
 * empty); symbolic modes against GNU chmod; check mode's rule for trees read as a whole.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatherFacts } from '../../../src/engine/pipeline/facts.js';
import { applyPlan } from '../../../src/engine/pipeline/apply.js';
import { HostPrediction } from '../../../src/engine/prediction.js';
import { Unknown, type AnyStateModule, type ModuleContext } from '../../../src/modules/contract.js';
import { file } from '../../../src/modules/files/file.js';
import { copy } from '../../../src/modules/files/copy.js';
import { applySymbolic } from '../../../src/modules/files/symbolic-mode.js';
import { treeFact, MAX_TREE_ENTRIES } from '../../../src/modules/files/tree-fact.js';
import { madeDirectory, pathBecomes } from '../../../src/modules/files/effects.js';
import { setsTo } from '../../../src/engine/prediction.js';
import { localConnection, makeCtx, parse, ROOT_WHO, sh } from './helpers.js';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
const modeOf = (p: string) => (statSync(p).mode & 0o7777).toString(8).padStart(4, '0');

/** facts, plan, apply, facts again: returns the applied plan's summaries and asserts the second plan is empty. */
async function converge(mod: AnyStateModule, raw: unknown, ctx: ModuleContext = makeCtx()): Promise<string[]> {
  const args = parse(mod, raw);
  const local = mod.prepare ? await mod.prepare(args, ctx) : undefined;
  const facts = await gatherFacts(localConnection, mod.facts(args, ctx), {});
  const changes = mod.plan(args, facts, ctx, local);
  const applied = await applyPlan(localConnection, changes, changes.map((c) => ({ action: c.action, target: c.target, summary: c.summary })), false, (s) => s);
  assert.ok(applied.ok, applied.ok ? '' : applied.error);
  const again = mod.plan(args, await gatherFacts(localConnection, mod.facts(args, ctx), {}), ctx, local);
  assert.deepEqual(again.map((c) => c.summary), [], 'the plan is empty after apply');
  return changes.map((c) => c.summary);
}

describe('symbolic modes', () => {
  test('match GNU chmod on files and directories (no special bits)', async () => {
    const dir = tmp('provision-sym-');
    const specs = ['u=rwX,g=rX,o=', 'a+rX', 'go-rwx', 'u+x,g=u', 'o=', 'a=r,u+w', 'ug+w,o-r', 'u=rwx,go=rX'].filter((s) => !s.includes('=u'));
    for (const start of ['0644', '0755', '0600', '0711', '0000', '0070']) {
      for (const spec of specs) {
        for (const isDir of [false, true]) {
          const p = join(dir, `x${isDir ? 'd' : 'f'}`);
          await sh(`rm -rf '${p}' && ${isDir ? 'mkdir' : 'touch'} '${p}' && chmod ${start} '${p}' && chmod '${spec}' '${p}'`);
          assert.equal(applySymbolic(spec, start, isDir), modeOf(p), `${spec} on a ${isDir ? 'directory' : 'file'} of mode ${start}`);
        }
      }
    }
  });

  test('setuid, setgid and sticky', () => {
    assert.equal(applySymbolic('u+s,g+s', '0755', false), '6755');
    assert.equal(applySymbolic('o+t', '0777', true), '1777');
    assert.equal(applySymbolic('u=rwx', '4755', false), '0755');
  });

  test('refused at load when it is neither octal nor symbolic clauses naming who', () => {
    for (const mode of ['+x', 'u=rwz', 'u+x,', 'rwxr-xr-x', '0999']) assert.throws(() => parse(file, { path: '/x', state: 'directory', mode }), /symbolic clauses/, mode);
    assert.throws(() => parse(file, { path: '/x', recurse: true }), /recurse: true needs state: directory/);
  });
});

describe('the tree fact', () => {
  test('reads every entry under the root, names with spaces and newlines included', async () => {
    const dir = tmp('provision-tree-');
    mkdirSync(join(dir, 'a b/c'), { recursive: true });
    writeFileSync(join(dir, 'a b/c/new\nline'), 'x');
    symlinkSync('/etc/hostname', join(dir, 'lnk'));
    chmodSync(join(dir, 'a b'), 0o750);
    const { t } = await gatherFacts(localConnection, { t: { kind: treeFact, params: { path: dir } } }, {});
    const byPath = Object.fromEntries(t.entries.map((e) => [e.path, e]));
    assert.equal(t.root, 'directory');
    assert.deepEqual(Object.keys(byPath).sort(), ['a b', 'a b/c', 'a b/c/new\nline', 'lnk']);
    assert.equal(byPath['a b'].mode, '0750');
    assert.equal(byPath['a b/c/new\nline'].type, 'file');
    assert.equal(byPath.lnk.type, 'link');
  });

  test('an absent root has no entries; more than the bound fails with a message', async () => {
    const { t } = await gatherFacts(localConnection, { t: { kind: treeFact, params: { path: '/nonexistent/provision' } } }, {});
    assert.deepEqual(t, { root: 'absent', entries: [] });
    const dir = tmp('provision-tree-big-');
    await sh(`cd '${dir}' && seq 1 ${MAX_TREE_ENTRIES + 1} | xargs touch`);
    await assert.rejects(gatherFacts(localConnection, { t: { kind: treeFact, params: { path: dir } } }, {}), new RegExp(`more than ${MAX_TREE_ENTRIES} entries`));
  });

  test('check mode: unknown once an earlier effect reaches under the root, the live tree otherwise', () => {
    const h = new HostPrediction('h1');
    h.record([setsTo('unit:nginx.service', {}), madeDirectory(['/srv'], ROOT_WHO, (b) => b, { type: 'directory', parentExists: true, mode: '0755', owner: 'root', group: 'root' })]);
    assert.equal(h.reachesUnder(['/srv/app']), undefined, 'a unit, and a directory above the tree, leave it as it is');
    h.record([pathBecomes(['/srv/app/new.conf'], (b) => b)]);
    assert.match(h.reachesUnder(['/srv/app']) ?? '', /what lies under \/srv\/app is changed by an earlier task/);
    const p = new HostPrediction('h1');
    p.record([{ touches: (k) => k.startsWith('file:'), apply: (b) => b }]);
    assert.ok(p.reachesUnder(['/opt']), 'an effect without within() that touches any file key reaches (probe)');
  });
});

describe('file recurse, for real', () => {
  test('symbolic mode and group over a tree; follow: false leaves a link target alone', async () => {
    const dir = tmp('provision-recurse-');
    mkdirSync(join(dir, 'conf'));
    writeFileSync(join(dir, 'conf/app.ini'), 'x');
    writeFileSync(join(dir, 'run'), 'x', { mode: 0o755 });
    const outside = join(tmp('provision-outside-'), 'target');
    writeFileSync(outside, 'x', { mode: 0o644 });
    symlinkSync(outside, join(dir, 'lnk'));
    await assert.rejects(converge(file, { path: dir, state: 'directory', recurse: true, mode: 'u=rwX,g=rX,o=' }), /lnk is a symlink: with follow: true/);
    const done = await converge(file, { path: dir, state: 'directory', recurse: true, mode: 'u=rwX,g=rX,o=', group: 'daemon', follow: false });
    assert.ok(done.includes(`${dir}/conf/app.ini: mode 0644 -> 0640`));
    assert.equal(modeOf(join(dir, 'conf')), '0750');
    assert.equal(modeOf(join(dir, 'conf/app.ini')), '0640');
    assert.equal(modeOf(join(dir, 'run')), '0750');
    assert.equal(modeOf(outside), '0644', 'the link target is not changed');
    assert.equal(lstatSync(join(dir, 'lnk')).gid, 1, 'the link itself gets the group (daemon)');
  });
});

describe('copy a directory src, for real', () => {
  const project = () => {
    const root = tmp('provision-copydir-');
    mkdirSync(join(root, 'files/site/sub'), { recursive: true });
    writeFileSync(join(root, 'files/site/index.html'), '<h1>hi</h1>\n');
    writeFileSync(join(root, 'files/site/sub/app.js'), 'x = 1\n');
    mkdirSync(join(root, 'files/site/empty'));
    return root;
  };

  test("'dir/' copies its contents into dest, 'dir' the directory itself; directory_mode on new directories", async () => {
    const root = project();
    const ctx = makeCtx({ root });
    const dest = join(tmp('provision-copydest-'), 'www');
    const first = await converge(copy, { src: 'site/', dest, directory_mode: '0750', mode: '0640' }, ctx);
    assert.deepEqual(first.filter((s) => s.startsWith('create directory')), [`create directory ${dest}`, `create directory ${dest}/empty`, `create directory ${dest}/sub`]);
    assert.equal(readFileSync(join(dest, 'sub/app.js'), 'utf8'), 'x = 1\n');
    assert.equal(modeOf(join(dest, 'sub')), '0750');
    assert.equal(modeOf(join(dest, 'index.html')), '0640');
    await converge(copy, { src: 'site', dest }, ctx);
    assert.equal(readFileSync(join(dest, 'site/index.html'), 'utf8'), '<h1>hi</h1>\n');
    // a changed file is the only change, with its diff
    writeFileSync(join(root, 'files/site/sub/app.js'), 'x = 2\n');
    const args = parse(copy, { src: 'site/', dest });
    const local = await copy.prepare!(args, ctx);
    const changes = copy.plan(args, await gatherFacts(localConnection, copy.facts(args, ctx), {}), ctx, local);
    assert.deepEqual(changes.map((c) => c.summary), [`update ${dest}/sub/app.js (6 bytes)`]);
    assert.match(changes[0].diff ?? '', /-x = 1\n\+x = 2/);
  });

  test('symlinks in src and remote_src directories are refused', async () => {
    const root = project();
    symlinkSync('/etc/hostname', join(root, 'files/site/lnk'));
    await assert.rejects(async () => copy.prepare!(parse(copy, { src: 'site/', dest: '/tmp/x' }), makeCtx({ root })), /files\/site\/lnk is a symlink/);
    assert.throws(() => parse(copy, { src: '/srv/dir/', dest: '/tmp/x', remote_src: true }), /remote_src: a directory src on the host is not supported/);
  });

  test('check mode: the plan is exact after an earlier task makes dest (no unknown)', async () => {
    const root = project();
    const ctx = makeCtx({ root, check: true });
    const dest = join(tmp('provision-copycheck-'), 'new');
    const args = parse(copy, { src: 'site/', dest });
    const local = await copy.prepare!(args, ctx);
    const h = new HostPrediction('h1');
    h.record([madeDirectory([dest], ROOT_WHO, () => ({ type: 'directory', parentExists: true, mode: '0700', owner: 'root', group: 'root' }), { type: 'absent', parentExists: true })]);
    const facts = await gatherFacts(localConnection, copy.facts(args, ctx), { prediction: h });
    const changes = copy.plan(args, facts, ctx, local);
    assert.deepEqual(changes.map((c) => c.summary), [`create directory ${dest}/empty`, `create ${dest}/index.html (12 bytes)`, `create directory ${dest}/sub`, `create ${dest}/sub/app.js (6 bytes)`]);
    assert.ok(!(changes.some((c) => c.uncertain) || facts instanceof Unknown));
  });
});
