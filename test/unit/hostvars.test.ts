import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { taskScope } from '../../src/engine/scope.js';
import type { Inventory, InventoryHost } from '../../src/load/inventory.js';

// hostvars is built on first read (scope.ts): what a template sees of it must not change.
const host = (name: string, vars: Record<string, unknown>): InventoryHost => ({
  name,
  address: `10.0.0.${name.length}`,
  port: 22,
  user: 'root',
  knownHosts: '/dev/null',
  hostKeyPolicy: 'strict',
  become: false,
  connectTimeoutMs: 1000,
  groups: ['all', 'web'],
  vars,
});

describe('hostvars', () => {
  const hosts = new Map([
    ['web-01', host('web-01', { port_no: 80, greeting: 'hi from {{ host.name }}' })],
    ['web-02', host('web-02', { port_no: 81, greeting: 'hi from {{ host.name }}' })],
  ]);
  const inventory = { hosts, groups: new Map([['all', ['web-01', 'web-02']], ['web', ['web-01', 'web-02']]]) } as unknown as Inventory;
  const scope = () => taskScope({ inventory, host: hosts.get('web-01')!, play: { defaults: {}, vars: {} }, data: {}, run: { id: 't', check: false }, secret: (s) => s });

  it("renders another host's variables in that host's own context", () => {
    assert.equal(scope().render("{{ hostvars['web-02'].greeting }}"), 'hi from web-02');
    assert.equal(scope().render('{{ hostvars["web-01"].port_no + 1 }}'), 81);
  });

  it('enumerates every inventory host, in order, and knows which are there', () => {
    assert.equal(scope().render("{{ Object.keys(hostvars).join(',') }}"), 'web-01,web-02');
    assert.equal(scope().render("{{ 'web-02' in hostvars }}"), true);
    assert.equal(scope().render("{{ 'db-01' in hostvars }}"), false);
    assert.equal(scope().render("{{ Object.entries(hostvars).map(([k, v]) => k + '=' + v.port_no).join(',') }}"), 'web-01=80,web-02=81');
  });

  it('an unknown host or variable is an error, as before', () => {
    assert.throws(() => scope().render("{{ hostvars['web-02'].nope }}"), /hostvars\.web-02\.nope/);
  });
});
