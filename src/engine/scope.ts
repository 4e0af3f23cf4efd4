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
  // Every host's variables, rendered lazily in that host's own context, only when read. Each
  // host's scope is made on first read too: one per inventory host for every task of every host
  // made a run's scopes quadratic in its hosts (and most tasks read no hostvars at all).
  const made = new Map<string, unknown>();
  const hostScope = (name: string): unknown => {
    const ih = o.inventory.hosts.get(name);
    if (!ih) return undefined;
    if (!made.has(name)) made.set(name, new Scope(ih.vars, fns, { ...hostInfo(ih), host: hostInfo(ih) }).proxy(`hostvars.${name}`));
    return made.get(name);
  };
  const isHost = (key: string | symbol): key is string => typeof key === 'string' && o.inventory.hosts.has(key);
  const hostvars = new Proxy({} as Record<string, unknown>, {
    get: (target, key, receiver) => (isHost(key) ? hostScope(key) : Reflect.get(target, key, receiver)),
    has: (target, key) => isHost(key) || Reflect.has(target, key),
    ownKeys: () => [...o.inventory.hosts.keys()],
    getOwnPropertyDescriptor: (_t, key) => (isHost(key) ? { configurable: true, enumerable: true, writable: true, value: hostScope(key) } : undefined),
  });
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
