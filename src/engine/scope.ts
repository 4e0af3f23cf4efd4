/**
 * The variables of one task on one host (precedence: see load/inventory.ts): configuration
 * is rendered lazily when used; data from hosts and the engine never is.
 */
import { Scope } from './expr.js';
import { ansibleFacts } from './ansible-facts.js';
import type { Inventory, InventoryHost } from '../load/inventory.js';
import type { Play } from '../load/playbook.js';
import type { HostFacts } from '../modules/contract.js';

export function taskScope(o: {
  inventory: Inventory;
  host: InventoryHost;
  play: Pick<Play, 'defaults' | 'vars'>;
  /** registered results, extra vars, loop item: data, never rendered */
  data: Record<string, unknown>;
  facts?: HostFacts;
  run: { id: string; check: boolean };
  secret: (name: string) => string;
}): Scope {
  const fns = { secret: (name: string) => o.secret(String(name)) };
  const groups: Record<string, string[]> = {};
  for (const [g, hs] of o.inventory.groups) groups[g] = [...hs];
  const hostInfo = (ih: InventoryHost) => ({ name: ih.name, address: ih.address, port: ih.port, user: ih.user, groups: ih.groups });
  // Every host's variables, rendered lazily in that host's own context, only when read.
  const hostvars: Record<string, unknown> = {};
  for (const [name, ih] of o.inventory.hosts) {
    hostvars[name] = new Scope(ih.vars, fns, { ...hostInfo(ih), host: hostInfo(ih) }).proxy(`hostvars.${name}`);
  }
  const raw: Record<string, unknown> = { ...o.play.defaults, ...o.host.vars, ...o.play.vars };
  const literal: Record<string, unknown> = {
    ...o.data,
    host: hostInfo(o.host),
    groups,
    hostvars,
    // not gathered (gather_facts: false in every play of the host): an undefined variable
    ...(o.facts ? { facts: o.facts } : {}),
    ...ansibleFacts(o.host, o.facts),
    run: o.run,
  };
  return new Scope(raw, fns, literal);
}
