/**
 * Module plan tests as data (as pyinfra does with its operation fixtures): every JSON file under
 * test/unit/modules/fixtures/<module>/ is one case of args + facts -> changes (with their exact
 * commands), or -> an error, and optionally -> the facts check mode predicts after the changes.
 * The format is described in fixtures/README.md.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinModules } from '../../../src/modules/all.js';
import type { AnyStateModule } from '../../../src/modules/contract.js';
import { loadFixtures, runFixture } from '../../../src/modules/fixtures/runner.js';

/** The fixtures in the source tree (this file runs from <out>/test/unit/modules/). */
const FIXTURES = resolve(fileURLToPath(import.meta.url), '../../../../../test/unit/modules/fixtures');

const stateModules = [...builtinModules().values()].filter((m): m is AnyStateModule => m.type === 'state');
const MIN_FIXTURES = 3;

describe('module fixtures', () => {
  test('the fixtures directory is found, and every folder in it names a state module', () => {
    assert.ok(existsSync(FIXTURES), `no fixtures at ${FIXTURES}`);
    const names = new Set(stateModules.map((m) => m.name));
    for (const d of readdirSync(FIXTURES)) {
      if (statSync(join(FIXTURES, d)).isDirectory()) assert.ok(names.has(d), `fixtures/${d}: no state module of that name`);
    }
  });

  test(`every state module has at least ${MIN_FIXTURES} fixtures`, () => {
    const short = stateModules
      .map((m) => [m.name, existsSync(join(FIXTURES, m.name)) ? loadFixtures(join(FIXTURES, m.name)).length : 0] as const)
      .filter(([, n]) => n < MIN_FIXTURES);
    assert.deepEqual(short, []);
  });
});

for (const mod of stateModules) {
  const dir = join(FIXTURES, mod.name);
  if (!existsSync(dir)) continue;
  describe(`fixtures: ${mod.name}`, () => {
    for (const [file, f] of loadFixtures(dir)) {
      test(`${file}: ${f.description}`, () => runFixture(mod, f));
    }
  });
}
