#!/usr/bin/env node
// The local test hosts tool (needs root): provision-testbed up|down|status
import { testbedMain } from '../dist/src/testbed/main.js';

testbedMain(process.argv).then((code) => {
  process.exitCode = code;
});
