#!/usr/bin/env node
// Entry point: the compiled CLI (run `npm run build` or scripts/setup.sh first). The bundle
// (scripts/bundle.mjs) starts faster; it is used only when it is newer than tsc's output.
import { statSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url);
const mtime = (path) => {
  try {
    return statSync(new URL(path, dist)).mtimeMs;
  } catch {
    return -1;
  }
};
const bundled = !process.env.PROVISION_NO_BUNDLE && mtime('bundle/cli/main.js') >= mtime('src/cli/main.js');
const { main } = await import(bundled ? '../dist/bundle/cli/main.js' : '../dist/src/cli/main.js');

main(process.argv).then((code) => {
  process.exitCode = code;
});
