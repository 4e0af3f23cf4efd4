/** The shipped inventories and playbooks load and validate (static checks, no hosts). */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadInventory, selectHosts } from '../../src/load/inventory.js';
import { loadPlaybook } from '../../src/load/playbook.js';
import { taskScope } from '../../src/engine/scheduler.js';
import type { HostFacts } from '../../src/modules/contract.js';
import { builtinModules } from '../../src/modules/all.js';

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
    const roleTemplates = readdirSync(join(ROOT, 'roles')).map((r) => join(ROOT, 'roles', r, 'templates')).filter((d) => existsSync(d));
    for (const dir of [...roleTemplates, join(ROOT, 'bench', 'templates')]) {
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
      const pb = loadPlaybook(f, modules, { root: ROOT });
      assert.ok(pb.plays.length > 0, f);
    }
  });

  // Every template of every play renders for every host of the shipped inventories
  // (with made-up facts), and every task's arguments render: catches undefined variables
  // and inventory shapes the templates do not handle, without any host.
  for (const name of ['prod', 'vagrant']) {
    it(`site.yml renders every task and template for every host of inventory/${name}.yml`, () => {
      const inv = loadInventory(name, ROOT);
      const pb = loadPlaybook(join(ROOT, 'playbooks', 'site.yml'), modules, { root: ROOT });
      let rendered = 0;
      for (const play of pb.plays) {
        for (const hostName of selectHosts(inv, play.hosts)) {
          const host = inv.hosts.get(hostName)!;
          const facts: HostFacts = {
            hostname: hostName, loginUser: 'root', fqdn: `${hostName}.example.org`, os: { id: 'debian', version: '12', codename: 'bookworm' },
            arch: 'x86_64', kernel: '6.1.0', cpus: 2, memoryMb: 2048, defaultIPv4: host.address, defaultInterface: 'eth0', ipv4: [host.address],
          };
          // a result each task registers, as a run that changed it would leave it (a `when` may ask)
          const registered = Object.fromEntries([...play.tasks, ...play.handlers].flatMap((t) => (t.register ? [[t.register, { changed: true, failed: false, ok: true, rc: 0, stdout: '', stderr: '' }]] : [])));
          const scope = taskScope({ inventory: inv, host, play, data: { item: 'x', ...registered }, facts, run: { id: 'static', check: true }, secret: (s) => `secret-${s}-value` });
          for (const task of [...play.tasks, ...play.handlers]) {
            if (task.when !== undefined && !scope.condition(task.when)) continue;
            const args = scope.render(task.args) as Record<string, unknown>;
            const parsed = modules.get(task.module)!.schema.safeParse(args);
            assert.ok(parsed.success, `${name}/${hostName}: ${task.name}: ${parsed.success ? '' : parsed.error.message}`);
            if (task.module === 'template') {
              const src = String(args.src);
              const out = scope.template(readFileSync(join(task.role?.dir ?? ROOT, 'templates', src), 'utf8'), `templates/${src}`);
              assert.ok(!out.includes('undefined') || src.endsWith('.js'), `${src} for ${hostName} renders 'undefined'`);
              rendered++;
            }
          }
        }
      }
      assert.ok(rendered >= 10, `rendered ${rendered} templates`);
    });
  }
});
