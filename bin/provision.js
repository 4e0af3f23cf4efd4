#!/usr/bin/env node
// Entry point: the compiled CLI (run `npm run build` or scripts/setup.sh first). The bundle
// (scripts/bundle.mjs) starts faster; it is used only when it is newer than tsc's output. Its code
// cache (dist/bundle/cache, bin/code-cache.js) is used when it is as new as the bundle, except for
// the testbed tool (a chunk with a top-level await) and with PROVISION_NO_CODE_CACHE set.
// `provision --version`, the most common start, reads package.json and loads nothing else.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

if (process.argv.length === 3 && process.argv[2] === '--version') {
  // what main() prints
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  const dist = new URL('../dist/', import.meta.url);
  const mtime = (path) => {
    try {
      return statSync(new URL(path, dist)).mtimeMs;
    } catch {
      return -1;
    }
  };
  const bundle = mtime('bundle/cli/main.js');
  const bundled = !process.env.PROVISION_NO_BUNDLE && bundle >= mtime('src/cli/main.js');
  let main;
  if (bundled && !process.env.PROVISION_NO_CODE_CACHE && process.argv[2] !== 'testbed' && mtime('bundle/cache/main.js') >= bundle) {
    try {
      const { codeCacheLoader } = await import('./code-cache.js');
      main = codeCacheLoader(fileURLToPath(new URL('bundle/cli/', dist)), fileURLToPath(new URL('bundle/cache/', dist))).load('main.js').main;
    } catch {
      main = undefined; // the plain bundle below
    }
  }
  main ??= (await import(bundled ? '../dist/bundle/cli/main.js' : '../dist/src/cli/main.js')).main;
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
