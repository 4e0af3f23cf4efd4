/**
 * `provision inventory list -i PATH [--vars HOST] [--json]`: what was read from an inventory
 * (provision's format or Ansible's): hosts with their connection settings, groups with members
 * and children, and a host's merged variables with where each value came from.
 */
import { loadInventory, type Inventory, type InventoryHost } from '../load/inventory.js';
import { isAnsibleInventory } from '../load/ansible/index.js';
import { ConfigError, displayPath, loadYaml, where } from '../load/yaml.js';

export interface InventoryListOptions {
  inventory: string;
  vars?: string;
  json?: boolean;
  acceptNewHostKeys?: boolean;
}

interface Details {
  format: string;
  files: string[];
  children: Map<string, string[]>;
  origin: (host: string, key: string) => string;
}

/** Children and value origins of provision's own format (its loader keeps neither). */
function ownDetails(inv: Inventory): Details {
  const src = loadYaml(inv.file);
  const v = src.value as {
    hosts: Record<string, { vars?: Record<string, unknown> } | null>;
    groups?: Record<string, { children?: string[]; vars?: Record<string, unknown> } | null>;
    vars?: Record<string, unknown>;
  };
  const groups = v.groups ?? {};
  const nested = new Set(Object.values(groups).flatMap((d) => d?.children ?? []));
  const children = new Map<string, string[]>([['all', Object.keys(groups).filter((g) => !nested.has(g))]]);
  for (const [g, d] of Object.entries(groups)) children.set(g, d?.children ?? []);
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  return {
    format: 'provision',
    files: [inv.file],
    children,
    origin: (host, key) => {
      const final = inv.hosts.get(host)!.vars[key];
      const hv = v.hosts[host]?.vars;
      if (hv && key in hv) return `${where(src, ['hosts', host, 'vars', key])} (host)`;
      // the deepest group holding the value in effect (several with that same value: any of them)
      const gs = [...inv.hosts.get(host)!.groups].reverse();
      const g = gs.find((n) => groups[n]?.vars && key in groups[n]!.vars! && same(groups[n]!.vars![key], final));
      if (g) return `${where(src, ['groups', g, 'vars', key])} (group ${g})`;
      return `${where(src, ['vars', key])} (group all)`;
    },
  };
}

/**
 * Variables whose name says they hold a secret are shown masked: Ansible inventories often keep
 * passwords in group_vars, and this listing is meant to be pasted into tickets and logs.
 */
const SECRET_NAME = /(pass(word|wd|phrase)?|secret|token|api_?key|credential)/i;
export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name) && !/_(file|path|dir)$/.test(name);
}

/** JSON has no Infinity or NaN (YAML's .inf, .nan): they are shown as the strings "Infinity", "-Infinity", "NaN", not as null. */
function json(v: unknown, indent?: number): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x), indent) ?? 'null';
}

function conn(h: InventoryHost): string {
  let s = h.local ? `local (on the controller, as ${h.user})` : `${h.user}@${h.address}:${h.port}`;
  if (h.become) s += '  become';
  if (h.jump) s += `  via ${h.jump.user}@${h.jump.address}:${h.jump.port}`;
  if (h.key) s += `  key ${h.key}`;
  return s;
}

/** The JSON document of `inventory list --json` (and the warnings, which go to stderr). */
export function inventoryListJson(o: InventoryListOptions, root: string): { text: string; warnings: string[] } {
  let text = '';
  const warnings = render({ ...o, json: true }, root, (s) => (text += s));
  return { text, warnings };
}

export function inventoryList(o: InventoryListOptions, root: string): number {
  const warnings = render(o, root, (s) => process.stdout.write(s));
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  return 0;
}

/** Writes the listing (text or JSON) with `write`; returns the warnings. */
function render(o: InventoryListOptions, root: string, write: (s: string) => void): string[] {
  const warnings: string[] = [];
  const inv = loadInventory(o.inventory, root, Boolean(o.acceptNewHostKeys), (w) => warnings.push(w));
  const d: Details = isAnsibleInventory(inv)
    ? {
        format: inv.ansible.format,
        files: inv.ansible.files,
        children: inv.ansible.children,
        origin: (host, key) => inv.ansible.origins.get(host)?.get(key) ?? '?',
      }
    : ownDetails(inv);
  if (o.vars !== undefined && !inv.hosts.has(o.vars)) {
    throw new ConfigError(`--vars: no host named '${o.vars}' in ${displayPath(inv.file)}`);
  }
  const groups = [...inv.groups].map(([name, hosts]) => ({ name, hosts, children: d.children.get(name) ?? [] }));
  const vars =
    o.vars === undefined
      ? undefined
      : Object.keys(inv.hosts.get(o.vars)!.vars)
          .sort()
          .map((k) => ({ name: k, value: looksSecret(k) ? '********' : inv.hosts.get(o.vars!)!.vars[k], from: d.origin(o.vars!, k) }));
  if (o.json) {
    const out = {
      inventory: inv.file,
      name: inv.name,
      format: d.format,
      files: d.files,
      hosts: [...inv.hosts.values()].map((h) => ({
        name: h.name,
        address: h.address,
        port: h.port,
        user: h.user,
        key: h.key ?? null,
        become: h.become,
        jump: h.jump ? { user: h.jump.user, address: h.jump.address, port: h.jump.port } : null,
        knownHosts: h.knownHosts,
        hostKeyPolicy: h.hostKeyPolicy,
        connectTimeoutMs: h.connectTimeoutMs,
        groups: h.groups,
        ...(h.local ? { local: true } : {}),
      })),
      groups,
      ...(vars ? { vars: { host: o.vars, variables: Object.fromEntries(vars.map((v) => [v.name, { value: v.value, from: v.from }])) } } : {}),
      warnings,
    };
    write(`${json(out, 2)}\n`);
    return warnings;
  }
  const lines: string[] = [];
  lines.push(`inventory ${displayPath(inv.file)} (${d.format}${d.files.length > 1 ? `: ${d.files.map(displayPath).join(', ')}` : ''})`);
  lines.push('', `hosts (${inv.hosts.size}):`);
  const width = Math.min(40, Math.max(...[...inv.hosts.keys()].map((n) => n.length)));
  for (const h of inv.hosts.values()) lines.push(`  ${h.name.padEnd(width)}  ${conn(h)}`);
  lines.push('', `groups (${groups.length}):`);
  for (const g of groups) {
    const kids = g.children.length ? `  children: ${g.children.join(', ')}` : '';
    lines.push(`  ${g.name} (${g.hosts.length}): ${g.hosts.join(', ') || '-'}${kids}`);
  }
  if (vars) {
    lines.push('', `variables of ${o.vars} (${vars.length}; the value in effect, and where it came from):`);
    const vw = Math.min(30, Math.max(0, ...vars.map((v) => v.name.length)));
    for (const v of vars) {
      let value = json(v.value);
      if (value.length > 80) value = `${value.slice(0, 77)}...`;
      lines.push(`  ${v.name.padEnd(vw)} = ${value}  ${v.from}`);
    }
  }
  write(`${lines.join('\n')}\n`);
  return warnings;
}
