/**
 * AnsibleModel (+ group_vars/host_vars) -> provision's Inventory, with Ansible's variable
 * precedence (lowest first), as ansible-core's VariableManager with its default settings:
 *   1. inventory-file vars of `all`
 *   2. inventory-file vars of the host's other groups, parents before children (by depth, then
 *      ansible_group_priority, then name)
 *   3. group_vars/all
 *   4. group_vars/<group>, same order as 2
 *   5. inventory-file vars of the host
 *   6. host_vars/<host>
 * So any group_vars file beats any group variable written in the inventory file, and the
 * inventory's host variables beat every group variable.
 */
import { join } from 'node:path';
import type { Inventory, InventoryHost } from '../inventory.js';
import { ConfigError, displayPath } from '../yaml.js';
import { mapConnection, type Problems } from './connection.js';
import { at, type AnsibleModel, type VarEntry } from './model.js';
import { entityNames, entityVars } from './vars-dirs.js';

export interface AnsibleDetails {
  format: 'ansible-ini' | 'ansible-yaml' | 'ansible-dir';
  files: string[];
  /** The directory whose group_vars/ and host_vars/ were read. */
  varsDir: string;
  /** host -> variable -> where its value came from. */
  origins: Map<string, Map<string, string>>;
  /** group -> direct child groups. */
  children: Map<string, string[]>;
  warnings: string[];
}

export type AnsibleInventory = Inventory & { ansible: AnsibleDetails };

export function resolveModel(
  model: AnsibleModel,
  o: { name: string; file: string; varsDir: string; format: AnsibleDetails['format']; acceptNew: boolean },
): AnsibleInventory {
  model.check();
  const groups = model.groups;
  const implicit = { file: o.file, line: 1, col: 1 };
  if (!groups.has('ungrouped')) model.group('ungrouped', implicit);
  const all = groups.get('all')!;
  const isChild = new Set<string>();
  for (const g of groups.values()) for (const c of g.children) isChild.add(c);
  for (const g of groups.keys()) if (g !== 'all' && !isChild.has(g) && !all.children.includes(g)) all.children.push(g);

  const errors: string[] = [];
  // cycles
  const state = new Map<string, 1 | 2>();
  const visit = (g: string, trail: string[]): void => {
    if (state.get(g) === 2) return;
    if (state.get(g) === 1) {
      const from = trail.indexOf(g);
      throw new ConfigError(`${at(groups.get(trail[trail.length - 1])!.origin)}: group cycle: ${[...trail.slice(from), g].join(' -> ')}`);
    }
    state.set(g, 1);
    for (const c of groups.get(g)!.children) visit(c, [...trail, g]);
    state.set(g, 2);
  };
  for (const g of groups.keys()) visit(g, []);
  for (const g of groups.values()) {
    if (model.hosts.has(g.name)) errors.push(`${at(g.origin)}: '${g.name}' is both a group and a host (${at(model.hosts.get(g.name)!.origin)}); provision needs distinct names`);
  }
  if (errors.length) throw new ConfigError(errors.join('\n'));

  const parents = new Map<string, string[]>();
  for (const g of groups.values()) for (const c of g.children) parents.set(c, [...(parents.get(c) ?? []), g.name]);
  const depthCache = new Map<string, number>();
  const depth = (g: string): number => {
    if (g === 'all') return 0;
    if (!depthCache.has(g)) depthCache.set(g, 1 + Math.max(0, ...(parents.get(g) ?? ['all']).map(depth)));
    return depthCache.get(g)!;
  };
  const priority = (g: string): number => {
    const v = groups.get(g)!.vars.get('ansible_group_priority')?.value;
    const n = Number(v);
    return v === undefined || !Number.isFinite(n) ? 1 : n;
  };
  // host -> every group it is in (directly or through children), 'all' excluded
  const hostGroups = new Map<string, Set<string>>();
  for (const h of model.hosts.keys()) hostGroups.set(h, new Set());
  const addUp = (h: string, g: string): void => {
    if (g === 'all' || hostGroups.get(h)!.has(g)) return;
    hostGroups.get(h)!.add(g);
    for (const p of parents.get(g) ?? []) addUp(h, p);
  };
  for (const g of groups.values()) for (const h of g.hosts) addUp(h, g.name);
  // ungrouped: hosts in no group but all (and ungrouped)
  const ungrouped = groups.get('ungrouped')!;
  ungrouped.hosts = [...model.hosts.keys()].filter((h) => [...hostGroups.get(h)!].every((g) => g === 'ungrouped'));
  ungrouped.hostSet = new Set(ungrouped.hosts);
  for (const [h, set] of hostGroups) {
    if (ungrouped.hostSet.has(h)) set.add('ungrouped');
    else set.delete('ungrouped');
  }

  const warnings: string[] = [...model.warnings];
  const groupVarsDir = join(o.varsDir, 'group_vars');
  const hostVarsDir = join(o.varsDir, 'host_vars');
  const groupFileVars = new Map<string, Map<string, VarEntry>>();
  for (const g of groups.keys()) groupFileVars.set(g, entityVars(groupVarsDir, g, warnings));
  for (const n of entityNames(groupVarsDir)) if (!groups.has(n)) warnings.push(`${displayPath(join(groupVarsDir, n))}: no group '${n}' in the inventory (not read, as in Ansible)`);
  for (const n of entityNames(hostVarsDir)) if (!model.hosts.has(n)) warnings.push(`${displayPath(join(hostVarsDir, n))}: no host '${n}' in the inventory (not read, as in Ansible)`);

  const problems: Problems = { errors: [], warnings: new Map() };
  const hostOrder = [...model.hosts.keys()];
  const hosts = new Map<string, InventoryHost>();
  const origins = new Map<string, Map<string, string>>();
  for (const h of hostOrder) {
    const sorted = [...hostGroups.get(h)!].sort((a, b) => depth(a) - depth(b) || priority(a) - priority(b) || (a < b ? -1 : a > b ? 1 : 0));
    const merged = new Map<string, VarEntry>();
    const from = new Map<string, string>();
    // ansible_group_priority written in the inventory sets the group's priority, not a variable
    // (Ansible's Group.set_variable); in group_vars/ it is an ordinary variable
    const layer = (vars: Map<string, VarEntry> | undefined, label: string, inventoryGroup = false) => {
      for (const [k, e] of vars ?? []) {
        if (inventoryGroup && k === 'ansible_group_priority') continue;
        merged.set(k, e);
        from.set(k, `${at(e.origin)} (${label})`);
      }
    };
    layer(all.vars, 'group all', true);
    for (const g of sorted) layer(groups.get(g)!.vars, `group ${g}`, true);
    layer(groupFileVars.get('all'), 'group all');
    for (const g of sorted) layer(groupFileVars.get(g), `group ${g}`);
    layer(model.hosts.get(h)!.vars, 'host');
    layer(entityVars(hostVarsDir, h, warnings), 'host');
    const conn = mapConnection(h, merged, o.acceptNew, problems);
    const vars: Record<string, unknown> = {};
    for (const [k, e] of merged) vars[k] = e.value;
    const names = [...groups.keys()].filter((g) => hostGroups.get(h)!.has(g));
    hosts.set(h, { name: h, ...conn, groups: names, vars });
    origins.set(h, from);
  }
  if (problems.errors.length) throw new ConfigError(problems.errors.join('\n'));
  for (const [msg, hs] of problems.warnings) {
    warnings.push(`${msg} (${hs.length > 3 ? `${hs.slice(0, 3).join(', ')} and ${hs.length - 3} more host${hs.length - 3 > 1 ? "s" : ""}` : hs.join(', ')})`);
  }

  const members = new Map<string, string[]>();
  members.set('all', hostOrder);
  const children = new Map<string, string[]>();
  for (const g of groups.values()) {
    children.set(g.name, [...g.children]);
    if (g.name !== 'all') members.set(g.name, hostOrder.filter((h) => hostGroups.get(h)!.has(g.name)));
  }
  return {
    name: o.name,
    file: o.file,
    hosts,
    groups: members,
    ansible: { format: o.format, files: model.files, varsDir: o.varsDir, origins, children, warnings },
  };
}
