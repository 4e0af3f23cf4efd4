#!/usr/bin/env node
// Entry point: the compiled CLI (run `npm run build` or scripts/setup.sh first).
import { main } from '../dist/src/cli/main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
