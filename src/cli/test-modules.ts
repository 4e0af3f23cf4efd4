/**
 * `provision test-modules [DIR]`: the JSON fixtures shipped beside a project's own modules
 * (`fixtures/NAME/*.json` in DIR's modules/ or library/, or in a module_paths directory), run
 * with the generic runner the built-in modules' fixtures use (modules/fixtures/runner.ts).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, displayPath } from '../load/yaml.js';
import type { CliIO } from './main.js';

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** 0: every fixture passes; 1: one fails (its file and what differed are printed); 2: bad input. */
export async function testModules(dirArg: string | undefined, io: CliIO): Promise<number> {
  const [{ loadProject }, { moduleRegistry }, { loadFixtures, runFixture }] = await Promise.all([
    import('../load/project.js'),
    import('../modules/own.js'),
    import('../modules/fixtures/runner.js'),
  ]);
  try {
    const project = loadProject();
    const base = dirArg === undefined ? project.root : resolve(dirArg);
    if (!isDir(base)) throw new ConfigError(`test-modules: ${displayPath(base)} is not a directory`);
    const dirs = [join(base, 'modules'), join(base, 'library'), ...(dirArg === undefined ? project.modulePaths : [])];
    const registry = moduleRegistry(dirs);
    let passed = 0;
    let failed = 0;
    for (const dir of dirs) {
      const fixtures = join(dir, 'fixtures');
      if (!isDir(fixtures)) continue;
      for (const name of readdirSync(fixtures).sort()) {
        const folder = join(fixtures, name);
        if (!isDir(folder)) continue;
        if (!registry.isModuleName(name)) throw new ConfigError(`${displayPath(folder)}: no module named '${name}' in ${dirs.map(displayPath).join(', ')}`);
        const mod = (await registry.load([name])).get(name)!;
        if (mod.type !== 'state') throw new ConfigError(`${displayPath(folder)}: '${name}' is a ${mod.type} module: fixtures are for state modules (facts -> plan)`);
        for (const [file, f] of loadFixtures(folder)) {
          const where = displayPath(join(folder, file));
          try {
            await runFixture(mod, f);
            passed++;
            io.stdout.write(`ok   ${where}: ${f.description}\n`);
          } catch (e) {
            failed++;
            io.stdout.write(`FAIL ${where}: ${f.description}\n  ${(e instanceof Error ? e.message : String(e)).replaceAll('\n', '\n  ')}\n`);
          }
        }
      }
    }
    if (passed + failed === 0) {
      io.stderr.write(`test-modules: no fixtures (fixtures/NAME/*.json) in ${dirs.filter(existsSync).map(displayPath).join(', ') || displayPath(base)}\n`);
      return 2;
    }
    io.stdout.write(`${passed} passed, ${failed} failed\n`);
    return failed ? 1 : 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    io.stderr.write(`error: ${e.message}\n`);
    return 2;
  }
}
