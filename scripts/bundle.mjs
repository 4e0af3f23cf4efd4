// The CLI as one bundle (dist/bundle/cli/): `npm run build` runs it after tsc. A run then loads a
// few files instead of ~300 (zod alone is ~100 modules, most of them locales it never uses): its
// start-up is ~150 ms shorter on the 2-core test machine (bench/README.md). bin/provision.js uses
// the bundle only when it is newer than tsc's output, so a bare `npx tsc` never runs stale code.
//
// Left out, loaded from node_modules when needed: ssh2 and node-ssh (a native binding, loaded at
// the first connection), diff, ejs and nunjucks (loaded with createRequire on first use), esbuild
// (its binary; loaded to compile a project's own module written in TypeScript).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// zod's z.locales holds ~45 translations of its error messages (~0.4 MB of the bundle, parsed at
// every start); provision uses only English (its default, imported by zod's schemas directly).
const englishOnlyZod = {
  name: 'english-only-zod',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: 'export { default as en } from "./en.js";\n',
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};
const outdir = join(root, 'dist', 'bundle', 'cli');
rmSync(outdir, { recursive: true, force: true });
await build({
  // same depth as dist/src/cli/main.js: paths it derives from import.meta.url stay right
  entryPoints: [join(root, 'dist', 'src', 'cli', 'main.js')],
  outdir,
  bundle: true,
  splitting: true, // the dynamic imports (modules, testbed, ora…) stay lazy, as separate chunks
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ssh2', 'node-ssh', 'cpu-features', 'diff', 'ejs', 'nunjucks', 'esbuild'],
  // CommonJS packages inside an ES module bundle call require() for Node's built-ins
  banner: { js: "import { createRequire as __provisionRequire } from 'node:module'; const require = __provisionRequire(import.meta.url);" },
  plugins: [englishOnlyZod],
  logLevel: 'warning',
});

// the published types (scripts/types.mjs)
await import('./types.mjs');
