// Loads the bundle (dist/bundle/cli) with V8's code cache, made at build time (scripts/code-cache.mjs).
// Node 20's ES module loader cannot use a code cache (module.enableCompileCache is Node 22), so
// the build also writes every chunk as a CommonJS-style function (dist/bundle/cache/NAME.js) and,
// after a warm-up run of typical commands, V8's cache of it (NAME.js.cache): here each chunk is
// compiled with vm.Script and that cache, so V8 neither parses it nor compiles the functions the
// warm-up ran. A cache V8 rejects (another Node or V8 flags, another chunk's cache) or whose hash
// does not match (a damaged file, which V8 would not notice) only costs the compile: the source is compiled as without it. Nothing is ever written here at run time.
//
// Chunks import each other (static and dynamic) through `require`/`__provisionImport` below; any
// other import (a package left out of the bundle, a project's own module) is Node's own import().
// NODE_DEBUG=module logs each chunk as Node's loader would, and whether its cache was used.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { debuglog } from 'node:util';
import { Script } from 'node:vm';

/**
 * The V8 data of a cache file (its SHA-1, then the data), or undefined if the data does not match
 * its hash. V8 checks a cache's version, flags and source length, but (a release build) not its
 * payload: a damaged cache would crash the process instead of being rejected.
 */
export function checked(file) {
  const data = file.subarray(HASH_LENGTH);
  return file.length > HASH_LENGTH && createHash('sha1').update(data).digest().equals(file.subarray(0, HASH_LENGTH)) ? data : undefined;
}
const HASH_LENGTH = 20;

/** A cache file's contents for V8's `data` (what checked() reads). */
export function withHash(data) {
  return Buffer.concat([createHash('sha1').update(data).digest(), data]);
}

/**
 * A loader of the chunks in `cliDir` (dist/bundle/cli) from their function form in `cacheDir`.
 * `keep`: remember each chunk's Script (the build's warm-up asks for their caches afterwards).
 */
export function codeCacheLoader(cliDir, cacheDir, keep = false) {
  const log = debuglog('module');
  const modules = new Map();
  const scripts = new Map();
  /** chunk name -> 'used' | 'rejected' (by V8) | 'corrupt' (its hash) | 'none' */
  const cache = new Map();

  // a chunk without a function form (one with a top-level await) is imported as the ES module it is
  const formed = (name) => modules.has(name) || existsSync(join(cacheDir, name));
  const chunkName = (spec) => (spec.startsWith('./') && !spec.includes('/', 2) ? spec.slice(2) : undefined);

  function load(name) {
    const known = modules.get(name);
    if (known) return known.exports;
    const file = join(cliDir, name);
    const formFile = join(cacheDir, name);
    const source = readFileSync(formFile, 'utf8');
    let cachedData;
    let state = 'none';
    try {
      cachedData = checked(readFileSync(join(cacheDir, `${name}.cache`)));
      if (cachedData === undefined) state = 'corrupt';
    } catch {
      cachedData = undefined;
    }
    // stack traces name the file that runs, the function form
    const script = new Script(source, { filename: formFile, cachedData });
    if (cachedData !== undefined) state = script.cachedDataRejected ? 'rejected' : 'used';
    cache.set(name, state);
    if (keep) scripts.set(name, script);
    log('load %j for module (code cache: %s, function form %j)', file, state, formFile);

    const module = { exports: {} };
    modules.set(name, module);
    const url = pathToFileURL(file).href;
    const nodeRequire = createRequire(file);
    const require = (id) => {
      const chunk = chunkName(id);
      return chunk === undefined ? nodeRequire(id) : load(chunk);
    };
    require.resolve = nodeRequire.resolve;
    require.cache = nodeRequire.cache;
    const importDynamic = (spec) => {
      const chunk = typeof spec === 'string' ? chunkName(spec) : undefined;
      if (chunk !== undefined && formed(chunk)) return new Promise((ok) => ok(load(chunk)));
      // anything else as the chunk itself would have imported it
      return import(typeof spec === 'string' && /^\.{1,2}\//.test(spec) ? new URL(spec, url).href : spec);
    };
    const meta = { url, filename: file, dirname: dirname(file) };
    script.runInThisContext()(module.exports, require, module, importDynamic, meta);
    return module.exports;
  }
  return { load, cache, scripts };
}
