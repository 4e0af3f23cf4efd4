/**
 * V8's code cache of the bundle (scripts/code-cache.mjs, bin/code-cache.js): the built CLI loads
 * its chunks with the cache and V8 accepts it; a corrupt, foreign or stale cache falls back to the
 * plain compile or the plain bundle with the same result; a run writes nothing into the package.
 * Observed with NODE_DEBUG=module, whose lines say for each chunk whether its cache was used.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tmp } from '../helpers/fake.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

interface Run {
  code: number | null;
  stdout: string;
  /** chunk file name -> 'used' | 'rejected' | 'none' (loaded through the code cache) */
  cache: Map<string, string>;
  /** chunks Node's ES module loader read (the plain bundle) */
  esm: Set<string>;
  stderr: string;
}

function run(root: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Run {
  const r = spawnSync(process.execPath, [...nodeArgs, join(root, 'bin', 'provision.js'), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 << 20,
    env: { ...process.env, CI: '1', NO_COLOR: '1', NODE_DEBUG: 'esm,module', PROVISION_NO_BUNDLE: '', PROVISION_NO_CODE_CACHE: '', ...env },
  });
  const cache = new Map<string, string>();
  for (const m of r.stderr.matchAll(/load "[^"]*\/dist\/bundle\/cli\/([^"/]+\.js)" for module \(code cache: (\w+),/g)) cache.set(m[1], m[2]);
  const esm = new Set<string>();
  for (const m of r.stderr.matchAll(/Storing file:\/\/\S*\/dist\/bundle\/cli\/([^/\s]+\.js)/g)) esm.add(m[1]);
  const stderr = r.stderr
    .split('\n')
    .filter((l) => !/^(ESM|MODULE) \d+: /.test(l) && !/^\s/.test(l) && !/^[}\]]/.test(l))
    .join('\n');
  return { code: r.status, stdout: r.stdout, cache, esm, stderr };
}

/** Every file under `dir` with its size and mtime. */
function listing(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const s = statSync(p);
        out.set(p, `${s.size} ${s.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out;
}

describe('the code cache of the bundle', () => {
  let dir: string;
  let args: string[];
  let reference: Run;

  before(() => {
    const main = join(ROOT, 'dist', 'bundle', 'cache', 'main.js');
    assert.ok(existsSync(main) && statSync(main).mtimeMs >= statSync(join(ROOT, 'dist', 'bundle', 'cli', 'main.js')).mtimeMs, 'build first (npm run build)');
    dir = tmp();
    writeFileSync(join(dir, 'inv.yml'), 'hosts:\n  h1: { address: 127.0.0.1, port: 1, user: root }\n');
    args = ['-i', join(dir, 'inv.yml'), '--syntax-check', join(ROOT, 'bench', 'scale.yml')];
    reference = run(ROOT, args, { PROVISION_NO_CODE_CACHE: '1' });
    assert.equal(reference.code, 0, reference.stderr);
    assert.match(reference.stdout, /syntax ok/);
    assert.equal(reference.cache.size, 0, 'PROVISION_NO_CODE_CACHE: the plain bundle');
    assert.ok(reference.esm.has('main.js'), [...reference.esm].join(', '));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of the built package (bin, dist/bundle, package.json; node_modules linked), mtimes kept. */
  function copy(name: string): string {
    const c = join(dir, name);
    mkdirSync(join(c, 'dist'), { recursive: true });
    for (const p of ['bin', 'dist/bundle', 'package.json']) cpSync(join(ROOT, p), join(c, p), { recursive: true, preserveTimestamps: true });
    symlinkSync(join(ROOT, 'node_modules'), join(c, 'node_modules'));
    return c;
  }

  it('is used by the built CLI, accepted by V8 for every chunk, and gives the plain bundle\'s result', () => {
    const r = run(ROOT, args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, reference.stdout);
    assert.equal(r.cache.get('main.js'), 'used');
    assert.ok(r.cache.size >= 5, `chunks through the cache: ${[...r.cache.keys()].join(', ')}`);
    assert.deepEqual([...r.cache].filter(([, s]) => s !== 'used'), [], 'chunks whose cache was rejected or missing');
    assert.deepEqual([...r.esm], [], 'no chunk loaded as an ES module as well');
  });

  it('a damaged cache, another chunk\'s cache or none: the chunk is compiled without it and the run is the same', () => {
    const c = copy('corrupt');
    const cache = join(c, 'dist', 'bundle', 'cache');
    const used = [...run(ROOT, args).cache.keys()].filter((n) => n !== 'main.js');
    assert.ok(used.length >= 4, used.join(', '));
    const [victim, donor, damaged, missing] = used;
    // main.js's cache and another one damaged past their header (V8 itself would not notice: the
    // hash in front of the data does), one chunk given another chunk's (whole, valid) cache file,
    // which V8 rejects, and one with no cache at all
    for (const name of ['main.js', damaged]) {
      const data = readFileSync(join(cache, `${name}.cache`));
      for (let i = 84; i < data.length; i += 7) data[i] ^= 0x5a;
      writeFileSync(join(cache, `${name}.cache`), data);
    }
    cpSync(join(cache, `${donor}.cache`), join(cache, `${victim}.cache`));
    rmSync(join(cache, `${missing}.cache`));

    const r = run(c, args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, reference.stdout);
    assert.equal(r.stderr.trim(), '');
    assert.equal(r.cache.get('main.js'), 'corrupt');
    assert.equal(r.cache.get(damaged), 'corrupt');
    assert.equal(r.cache.get(victim), 'rejected', `${victim} with ${donor}'s cache`);
    assert.equal(r.cache.get(missing), 'none');
    assert.equal(r.cache.get(donor), 'used');
  });

  it('V8 rejects the cache under other V8 flags (as under another Node); the run is the same', () => {
    const r = run(ROOT, args, {}, ['--no-flush-bytecode']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, reference.stdout);
    assert.ok(r.cache.size >= 5);
    assert.deepEqual([...new Set(r.cache.values())], ['rejected']);
  });

  it('a cache older than the bundle, or one whose sources are missing, is not used: the plain bundle runs', () => {
    const stale = copy('stale');
    const t = statSync(join(stale, 'dist', 'bundle', 'cli', 'main.js')).mtimeMs / 1000;
    utimesSync(join(stale, 'dist', 'bundle', 'cache', 'main.js'), t - 10, t - 10);
    const r = run(stale, args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, reference.stdout);
    assert.equal(r.cache.size, 0);
    assert.ok(r.esm.has('main.js'));

    const broken = copy('broken');
    writeFileSync(join(broken, 'dist', 'bundle', 'cache', 'main.js'), '(function () { throw new Error("not the function form"); })');
    utimesSync(join(broken, 'dist', 'bundle', 'cache', 'main.js'), new Date(), new Date());
    const b = run(broken, args);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, reference.stdout);
    assert.ok(b.esm.has('main.js'), 'fell back to the plain bundle');
  });

  it('a run writes nothing into the package', () => {
    const c = copy('readonly');
    const before = listing(c + '/dist');
    const binBefore = listing(c + '/bin');
    const r = run(c, args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.cache.get('main.js'), 'used');
    assert.deepEqual(listing(c + '/dist'), before);
    assert.deepEqual(listing(c + '/bin'), binBefore);
  });
});
