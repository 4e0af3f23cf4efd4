// V8's code cache of the bundle, made at build time (bin/code-cache.js loads it; bench/README.md,
// "Issue 21: code cache"). For each chunk of dist/bundle/cli, dist/bundle/cache/ gets:
//   NAME.js        the chunk as one function expression (exports, require, module, __provisionImport,
//                  __provisionImportMeta): its import() expressions and import.meta rewritten
//                  (acorn), then its import/export statements made CommonJS (esbuild's transform)
//   NAME.js.cache  its SHA-1 and V8's code cache of NAME.js: after a warm-up run of typical commands
//                  (scripts/code-cache-warm.mjs) for the chunks those load, so the cache also holds
//                  the functions they ran; of a plain compile for the others.
// The caches are made by a child `node` without flags: V8 rejects a cache made under other flags or
// another Node (bin/code-cache.js then compiles the source as without it).
import { Parser } from 'acorn';
import { transform } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The bundle's banner (scripts/bundle.mjs): the function form gets its `require` as a parameter. */
export const BANNER = "import { createRequire as __provisionRequire } from 'node:module'; const require = __provisionRequire(import.meta.url);";

/** Every node of an ESTree. */
function* nodes(node) {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const n of node) yield* nodes(n);
    return;
  }
  if (typeof node.type === 'string') yield node;
  for (const [k, v] of Object.entries(node)) if (k !== 'loc' && typeof v === 'object') yield* nodes(v);
}

/** The chunk `source` (an ES module) as the text of a function expression bin/code-cache.js runs; undefined if it has none. */
export async function functionForm(source, name) {
  if (!source.startsWith(BANNER)) throw new Error(`${name}: no banner`);
  let text = ' '.repeat(BANNER.length) + source.slice(BANNER.length);
  const edits = [];
  for (const n of nodes(Parser.parse(text, { ecmaVersion: 'latest', sourceType: 'module' }))) {
    if (n.type === 'ImportExpression') edits.push([n.start, n.start + 'import'.length, '__provisionImport']);
    else if (n.type === 'MetaProperty' && n.meta.name === 'import') edits.push([n.start, n.end, '__provisionImportMeta']);
  }
  edits.sort((a, b) => b[0] - a[0]);
  for (const [s, e, t] of edits) text = text.slice(0, s) + t + text.slice(e);
  let code;
  try {
    ({ code } = await transform(text, { format: 'cjs', target: 'node20', loader: 'js', logLevel: 'silent' }));
  } catch (e) {
    // a chunk with a top-level await (the testbed tool's, run as a script) has no function form:
    // bin/code-cache.js imports it as an ES module
    if (e.errors?.length && e.errors.every((m) => /Top-level await/.test(m.text))) return undefined;
    throw e;
  }
  // an ES module is strict; so stays its function form
  return `(function (exports, require, module, __provisionImport, __provisionImportMeta) {"use strict";\n${code}\n})`;
}

/** Write dist/bundle/cache/ for the bundle in `cliDir`; `root` is the package (for the warm-up). */
export async function buildCodeCache(root, cliDir) {
  const cacheDir = join(cliDir, '..', 'cache');
  rmSync(cacheDir, { recursive: true, force: true });
  mkdirSync(cacheDir, { recursive: true });
  const names = readdirSync(cliDir).filter((f) => f.endsWith('.js'));
  const formed = [];
  for (const name of names) {
    const text = await functionForm(readFileSync(join(cliDir, name), 'utf8'), name);
    if (text === undefined) continue;
    writeFileSync(join(cacheDir, name), text);
    formed.push(name);
  }
  // the warm-up writes the caches of the chunks it loaded
  const warm = spawnSync(process.execPath, [join(root, 'scripts', 'code-cache-warm.mjs'), root], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (warm.status !== 0) throw new Error(`code cache warm-up failed (${warm.status}):\n${warm.stderr}`);
  const warmed = new Set(warm.stdout.trim().split('\n').filter(Boolean));
  const rest = spawnSync(process.execPath, ['--input-type=module', '-e', PLAIN, cacheDir, ...formed.filter((n) => !warmed.has(n))], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (rest.status !== 0) throw new Error(`code cache of the other chunks failed:\n${rest.stderr}`);
  return { warmed: warmed.size, plain: formed.length - warmed.size, esm: names.length - formed.length };
}

// the cache of a plain compile, in a child without flags as the warm-up
const PLAIN = `
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { withHash } from ${JSON.stringify(new URL('../bin/code-cache.js', import.meta.url).href)};
const [dir, ...names] = process.argv.slice(1);
for (const n of names) {
  const f = join(dir, n);
  writeFileSync(f + '.cache', withHash(new Script(readFileSync(f, 'utf8'), { filename: f }).createCachedData()));
}`;
