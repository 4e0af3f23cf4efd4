// The CLI as one bundle (dist/bundle/cli/): `npm run build` runs it after tsc. A run then loads a
// few files instead of ~300 (zod alone is ~100 modules, most of them locales it never uses): its
// start-up is ~150 ms shorter on the 2-core test machine (bench/README.md). bin/provision.js uses
// the bundle only when it is newer than tsc's output, so a bare `npx tsc` never runs stale code.
//
// ssh2 is in the bundle (the connection chunk): loaded from node_modules it was ~40 CommonJS files
// read and compiled at the first connection. Its native bindings stay in node_modules
// (nativeFromPackage below). Left out, loaded from node_modules when needed: diff,
// ejs and nunjucks (loaded with createRequire on first use), esbuild (its binary; loaded to compile
// a project's own module written in TypeScript).
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
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
// A bundled package that loads a native binding (ssh2's optional sshcrypto.node, cpu-features'
// cpufeatures.node) still loads it from node_modules at run time, found as Node finds the package
// (require.resolve from the bundle), so a missing or unbuilt binding falls back exactly as ssh2
// does (its require is inside a try). __dirname and __filename, which an ES module bundle does not
// have, are the file's own place in node_modules (ssh2's agent.js and poly1305.js use them).
const NATIVE_PACKAGES = ['ssh2', 'cpu-features'];
const nativeFromPackage = {
  name: 'native-from-package',
  setup(b) {
    const filter = new RegExp(`[\\\\/]node_modules[\\\\/](${NATIVE_PACKAGES.join('|')})[\\\\/].*\\.js$`);
    b.onLoad({ filter }, (args) => {
      const pkg = NATIVE_PACKAGES.find((p) => args.path.includes(`${sep}node_modules${sep}${p}${sep}`));
      const pkgRoot = args.path.slice(0, args.path.lastIndexOf(`${sep}node_modules${sep}${pkg}${sep}`) + `${sep}node_modules${sep}${pkg}`.length);
      const rel = (p) => relative(pkgRoot, p).split(sep).join('/');
      const fileRel = rel(args.path);
      // the package's directory at run time, e.g. ".../node_modules/ssh2/"
      const at = (path) => `(require.resolve(${JSON.stringify(`${pkg}/package.json`)}).slice(0, -"package.json".length) + ${JSON.stringify(path)})`;
      let contents = readFileSync(args.path, 'utf8').replace(/require\((['"])(\.{1,2}\/[^'"]+\.node)\1\)/g, (_, _q, spec) =>
        `require(${at(rel(join(dirname(args.path), spec)))})`,
      );
      if (/\b__(dirname|filename)\b/.test(contents)) {
        const dirRel = rel(dirname(args.path));
        const vars =
          `var __filename = (() => { try { return ${at(fileRel)}; } catch { return ${JSON.stringify(fileRel)}; } })();\n` +
          `var __dirname = (() => { try { return ${at(dirRel)}; } catch { return ${JSON.stringify(dirRel)}; } })();\n`;
        // after a 'use strict' directive, which must stay the file's first statement
        const strict = /^\s*(['"])use strict\1;?\n?/.exec(contents)?.[0] ?? '';
        contents = strict + vars + contents.slice(strict.length);
      }
      return { contents, loader: 'js', resolveDir: dirname(args.path) };
    });
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
  external: ['diff', 'ejs', 'nunjucks', 'esbuild'],
  // CommonJS packages inside an ES module bundle call require() for Node's built-ins
  banner: { js: "import { createRequire as __provisionRequire } from 'node:module'; const require = __provisionRequire(import.meta.url);" },
  plugins: [englishOnlyZod, nativeFromPackage],
  logLevel: 'warning',
});

// V8's code cache of the chunks (scripts/code-cache.mjs, loaded by bin/code-cache.js)
const { buildCodeCache } = await import('./code-cache.mjs');
await buildCodeCache(root, outdir);

// the published types (scripts/types.mjs)
await import('./types.mjs');
