/** The shipped inventories and playbooks load and validate (static checks, no hosts). */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
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
  it("no configuration template uses EJS's HTML-escaping <%= (config files need <%-)", () => {
    for (const dir of [join(ROOT, 'templates'), join(ROOT, 'bench', 'templates')]) {
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.ejs'))) {
        const text = readFileSync(join(dir, f), 'utf8');
        assert.ok(!/<%=/.test(text), `${f} uses <%= (HTML-escapes & < > " ')`);
        assert.ok(/<%-/.test(text) || !/<%/.test(text), `${f} has no raw output tags`);
      }
    }
  });

  it('every playbook loads and validates', () => {
    const files = readdirSync(join(ROOT, 'playbooks')).filter((f) => f.endsWith('.yml'));
    assert.ok(files.includes('site.yml'));
    for (const f of [...files.map((x) => join(ROOT, 'playbooks', x)), join(ROOT, 'bench', 'scale.yml')]) {
      const pb = loadPlaybook(f, modules);
      assert.ok(pb.plays.length > 0, f);
    }
  });
});
