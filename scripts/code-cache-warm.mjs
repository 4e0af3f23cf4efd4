// The warm-up of the code cache (scripts/code-cache.mjs): loads the bundle through bin/code-cache.js
// and runs typical commands in this process (`--version`, `--syntax-check` and a run of
// bench/scale.yml against an unreachable host: the CLI, the loader, the modules, the scheduler and
// ssh2's set-up), then writes each loaded chunk's cache, which now holds the functions those ran.
// Prints the chunks it wrote, one a line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeCacheLoader, withHash } from '../bin/code-cache.js';

const root = process.argv[2];
const cliDir = join(root, 'dist', 'bundle', 'cli');
const cacheDir = join(root, 'dist', 'bundle', 'cache');
const loader = codeCacheLoader(cliDir, cacheDir, true);
const { main } = loader.load('main.js');
const dir = mkdtempSync(join(tmpdir(), 'provision-warm-'));
try {
  writeFileSync(join(dir, 'inv.yml'), 'hosts:\n  h1: { address: 127.0.0.1, port: 1, user: root }\n  h2: { address: 127.0.0.1, port: 1, user: root }\n');
  const quiet = { stdout: { write: () => true }, stderr: { write: () => true } };
  const playbook = join(root, 'bench', 'scale.yml');
  const inv = join(dir, 'inv.yml');
  for (const args of [['--version'], ['-i', inv, '--syntax-check', playbook], ['-i', inv, '--forks', '2', playbook]]) {
    await main(['node', 'provision', ...args], quiet);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = 0;
for (const [name, script] of loader.scripts) {
  writeFileSync(join(cacheDir, `${name}.cache`), withHash(script.createCachedData()));
  process.stdout.write(`${name}\n`);
}
