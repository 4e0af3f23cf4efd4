/** The shipped inventories and playbooks load and validate (static checks, no hosts). */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadInventory, selectHosts } from '../../src/core/inventory.js';
import { loadPlaybook } from '../../src/core/playbook.js';
import { builtinModules } from '../../src/modules/index.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

describe('shipped examples', () => {
  const modules = builtinModules();
  for (const name of ['prod', 'vagrant']) {
    it(`inventory/${name}.yml loads, with the groups the site playbooks use`, () => {
      const inv = loadInventory(name, ROOT);
      for (const g of ['loadbalancers', 'webservers', 'db_primary', 'db_replica']) assert.ok((inv.groups.get(g) ?? []).length > 0, `group ${g}`);
      assert.deepEqual(selectHosts(inv, 'webservers'), ['web-01', 'web-02']);
    });
  }
  it('every playbook loads and validates', () => {
    const files = readdirSync(join(ROOT, 'playbooks')).filter((f) => f.endsWith('.yml'));
    assert.ok(files.includes('site.yml'));
    for (const f of files) {
      const pb = loadPlaybook(join(ROOT, 'playbooks', f), modules);
      assert.ok(pb.plays.length > 0, f);
    }
  });
});
