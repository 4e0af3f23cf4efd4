#!/usr/bin/env node
// Entry point: the compiled CLI (run `npm run build` first; `npm install` does it via `prepare`).
import { main } from '../dist/src/cli.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
