/**
 * The batched file facts (src/modules/files/file-batch.ts) against each file's own script, on
 * real files with this machine's sh, stat, sha256sum, tail and base64: every file's parsed fact
 * must be the same. Also: the fallback when a command of the batch fails, and a content whose
 * size changes during the read, which must fail the read rather than be misread.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileFact, MAX_CONTENT, type FileParams } from '../../src/modules/files/facts.js';
import { SMALL_HASHED } from '../../src/modules/files/file-batch.js';

let dir = '';
let shims = '';

function sh(script: string, env: NodeJS.ProcessEnv = {}, asNobody = false): string {
  const argv = asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', script] : ['sh', '-c', script];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.error, undefined);
  return r.stdout;
}

/** Each file's fact from its own script, and from the batch (split, then parsed alike). */
function both(ps: FileParams[], env: NodeJS.ProcessEnv = {}, asNobody = false) {
  const own = ps.map((p) => fileFact.parse(sh(fileFact.script(p), env, asNobody), p));
  const outs = fileFact.batch!.split(sh(fileFact.batch!.script(ps), env, asNobody), ps);
  return { own, batched: outs.map((o, i) => fileFact.parse(o, ps[i])) };
}

const path = (name: string) => join(dir, name);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'provision-file-batch-'));
  chmodSync(dir, 0o755);
  writeFileSync(path('plain.txt'), 'hello\n');
  writeFileSync(path('empty'), '');
  writeFileSync(path('binary'), Buffer.from([0, 1, 2, 255, 10, 13, 0]));
  writeFileSync(path('big'), Buffer.alloc(MAX_CONTENT + 1, 97));
  writeFileSync(path("odd 'name' \\ with\nnewline"), 'odd\n');
  writeFileSync(path('secret'), 'only root\n', { mode: 0o600 });
  mkdirSync(path('sub'));
  symlinkSync(path('plain.txt'), path('link'));
  symlinkSync(path('nowhere'), path('dangling'));
  symlinkSync(path('sub'), path('sublink'));
  shims = path('shims');
  mkdirSync(shims);
  // stat that fails when asked for several files at once (as after a file removed meanwhile)
  writeFileSync(join(shims, 'stat'), '#!/bin/sh\nfor a; do [ "$a" = -- ] && exit 1; done\nexec /usr/bin/stat "$@"\n', { mode: 0o755 });
});

after(() => rmSync(dir, { recursive: true, force: true }));

const mixed = (): FileParams[] => [
  { path: path('plain.txt'), content: true },
  { path: path('plain.txt') },
  { path: path('empty'), content: true },
  { path: path('binary'), content: true },
  { path: path('big'), content: true },
  { path: path('big') },
  { path: path("odd 'name' \\ with\nnewline"), content: true },
  { path: path('sub') },
  { path: path('link'), content: true },
  { path: path('dangling') },
  { path: path('sublink') },
  { path: path('sublink/x'), content: true },
  { path: path('absent'), content: true },
  { path: path('no/such/dir/file') },
  { path: path('plain.txt/under-a-file') },
  { path: `${path('sub')}/../plain.txt`, content: true },
  { path: `${path('sub')}/` },
  { path: path('secret'), content: true },
];

describe('batched file facts', () => {
  it('read every kind of path as its own script does', () => {
    const { own, batched } = both(mixed());
    assert.deepEqual(batched, own);
    // and the facts are real ones, not two empty answers
    assert.equal(own[0].content, Buffer.from('hello\n').toString('base64'));
    assert.equal(own[5].sha256?.length, 64);
    assert.equal(own[4].content, undefined);
    assert.equal(own[8].type, 'link');
    assert.equal(own[14].blocked, path('plain.txt'));
  });

  it('read files a user may not read as its own script does (run as nobody)', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to switch to nobody');
    const ps: FileParams[] = [
      { path: path('secret'), content: true },
      { path: path('secret') },
      { path: path('plain.txt'), content: true },
    ];
    const { own, batched } = both(ps, {}, true);
    assert.deepEqual(batched, own);
    assert.equal(own[0].content, '');
    assert.equal(own[1].sha256, undefined);
    assert.equal(own[2].content, Buffer.from('hello\n').toString('base64'));
  });

  it('fall back to each own script when stat of several files fails', () => {
    const env = { PATH: `${shims}:${process.env.PATH}` };
    const out = sh(fileFact.batch!.script(mixed()), env);
    assert.match(out, /fallback/);
    const { own, batched } = both(mixed(), env);
    assert.deepEqual(batched, own);
  });

  it('fail the read, not misread, when a content changes size between stat and its read', () => {
    const other = path('tail-shim');
    mkdirSync(other);
    const ps: FileParams[] = [{ path: path('plain.txt'), content: true }, { path: path('empty'), content: true }, { path: path('plain.txt') }];
    const read = (shim: string) => {
      writeFileSync(join(other, 'tail'), `#!/bin/sh\n${shim}\n`, { mode: 0o755 });
      return sh(fileFact.batch!.script(ps), { PATH: `${other}:${process.env.PATH}` });
    };
    // the real tail through the shim: read as the own scripts read
    const { own } = both(ps);
    assert.deepEqual(fileFact.batch!.split(read('exec /usr/bin/tail "$@"'), ps).map((o, i) => fileFact.parse(o, ps[i])), own);
    // the first file shorter than stat said: the next header is not where the sizes put it
    assert.throws(() => fileFact.batch!.split(read('/usr/bin/tail "$@" | sed s/hello/hi/'), ps), /changed while (its|their) facts were read/);
    // the last file longer than stat said
    assert.throws(() => fileFact.batch!.split(read('/usr/bin/tail "$@"; echo more'), ps), /changed while (its|their) facts were read/);
    // no headers (a tail that ignores -v): never taken for contents
    assert.throws(() => fileFact.batch!.split(read('shift 4; cat "$@"'), ps), /changed while (its|their) facts were read/);
  });

  it('hash a small file on the controller and a larger one with sha256sum, as its own script does', () => {
    writeFileSync(path('medium'), Buffer.alloc(SMALL_HASHED + 1, 98));
    writeFileSync(path('small'), Buffer.alloc(SMALL_HASHED, 98));
    const ps: FileParams[] = [{ path: path('small') }, { path: path('medium') }];
    const out = sh(fileFact.batch!.script(ps));
    // the small one is in the content read, the larger one in sha256sum's list
    assert.match(out, /content 0\n/);
    assert.match(out, /sha 1\n/);
    const { own, batched } = both(ps);
    assert.deepEqual(batched, own);
    assert.equal(own[0].sha256?.length, 64);
    assert.equal(own[0].content, undefined);
  });
});
