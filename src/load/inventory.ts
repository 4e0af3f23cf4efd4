/**
 * Inventory: hosts, groups (with child groups) and variables, in YAML; Ansible inventories
 * (YAML, INI, directories) are read by ./ansible/ into the same Inventory.
 *
 * Variable precedence, lowest first:
 *   play `defaults_files` < play `defaults` < inventory `vars` (all hosts) < group `vars` (parent groups before their children,
 *   otherwise in file order) < host `vars` < play `vars_files` < play `vars` <
 *   registered results < `--extra-vars`.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import './zod-jitless.js';
import { detectInventoryFormat, loadAnsibleInventory } from './ansible/index.js';
import { templateSyntaxError } from '../engine/expr.js';
import { ConfigError, displayPath, formatPath, parseWith, where, type Path, type YamlSource } from './yaml.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const hostName = z.string().regex(NAME, 'a host name: letters, digits, . _ -');

const JUMP = /^(?:([^@\s]+)@)?([^:@\s]+)(?::(\d+))?$/;
const jumpSchema = z
  .string()
  .regex(JUMP, "expected 'user@host:port'")
  .describe('jump host');

export const MAX_CONNECT_TIMEOUT_S = 3600;

const connectionFields = {
  address: z.string().min(1).optional(),
  port: z.number().int('a whole number').min(1, 'a TCP port: 1-65535').max(65535, 'a TCP port: 1-65535').optional(),
  user: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  known_hosts: z.string().min(1).optional(),
  host_key_policy: z.enum(['strict', 'accept-new']).optional(),
  become: z.boolean().optional(),
  jump: jumpSchema.optional(),
  /** Seconds; Node's timers hold at most 2^31-1 ms, and an hour is already more than any sshd waits. */
  connect_timeout: z.number().positive('seconds, more than 0').max(MAX_CONNECT_TIMEOUT_S, `seconds, at most ${MAX_CONNECT_TIMEOUT_S}`).optional(),
};

const varsSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name: letters, digits, _'), z.unknown());

const hostSchema = z.object({ ...connectionFields, vars: varsSchema.optional() }).strict();
const groupSchema = z
  .object({
    hosts: z.array(hostName).optional(),
    children: z.array(hostName).optional(),
    vars: varsSchema.optional(),
  })
  .strict();

export const inventorySchema = z
  .object({
    defaults: z.object(connectionFields).strict().optional(),
    hosts: z.record(hostName, hostSchema.nullable()),
    groups: z.record(hostName, groupSchema.nullable()).optional(),
    vars: varsSchema.optional(),
  })
  .strict();

export interface InventoryHost {
  name: string;
  address: string;
  port: number;
  user: string;
  key?: string;
  knownHosts: string;
  hostKeyPolicy: 'strict' | 'accept-new';
  become: boolean;
  jump?: { address: string; port: number; user: string; key?: string };
  connectTimeoutMs: number;
  /** `ansible_connection: local`: the host's tasks run on the controller (as a `connection: local` play's) */
  local?: boolean;
  groups: string[];
  /** Inventory variables merged by precedence (all < groups < host). */
  vars: Record<string, unknown>;
}

export interface Inventory {
  name: string;
  file: string;
  hosts: Map<string, InventoryHost>;
  /** group -> host names (transitively through children), including `all`. */
  groups: Map<string, string[]>;
  /** the variables every host has (the inventory's `vars`): the implicit localhost's too */
  allVars?: Record<string, unknown>;
}

/** The controller as an implicit host, as Ansible has one: in no group, reached without SSH. */
export const IMPLICIT_LOCALHOST = 'localhost';

/**
 * Plays whose hosts are `localhost` (or 127.0.0.1) in an inventory without such a host target the
 * controller, as in Ansible: the implicit host is added (in no group, so `all` does not include
 * it) and those plays run locally (`connection: local`).
 */
export function addImplicitLocalhost(inventory: Inventory, plays: { hosts: string; local?: boolean }[], loginUser: string): void {
  const local = plays.filter((p) => (p.hosts === 'localhost' || p.hosts === '127.0.0.1') && !inventory.hosts.has(p.hosts));
  if (local.length === 0) return;
  for (const p of local) {
    p.hosts = IMPLICIT_LOCALHOST;
    p.local = true;
  }
  inventory.hosts.set(IMPLICIT_LOCALHOST, {
    name: IMPLICIT_LOCALHOST,
    address: '127.0.0.1',
    port: 22,
    user: loginUser,
    knownHosts: '',
    hostKeyPolicy: 'strict',
    become: false,
    connectTimeoutMs: 10_000,
    groups: [],
    // as in Ansible, the implicit localhost has the variables of the group all
    vars: { ...(inventory.allVars ?? {}) },
  });
}

export function resolveInventoryPath(nameOrPath: string, root: string): string {
  const candidates = [
    resolve(nameOrPath),
    join(process.cwd(), 'inventory', `${nameOrPath}.yml`),
    join(root, 'inventory', `${nameOrPath}.yml`),
    join(root, 'inventory', `${nameOrPath}.yaml`),
  ];
  const found = candidates.find((c) => existsSync(c) && !c.endsWith('/'));
  if (!found) {
    const hint = nameOrPath === 'testbed' ? ' (run `provision testbed up` first to create the local test hosts)' : '';
    throw new ConfigError(`inventory '${nameOrPath}' not found: looked for ${candidates.slice(0, 3).map(displayPath).join(', ')}${hint}`);
  }
  return found;
}

function expand(p: string, base: string): string {
  if (p === '~' || p.startsWith('~/')) return join(homedir(), p.slice(1));
  return isAbsolute(p) ? p : resolve(base, p);
}

/**
 * Load an inventory: provision's own YAML format, or an Ansible inventory (YAML, INI or a
 * directory of them; see ansible/index.ts for how the format is detected). Ansible inventories
 * may produce warnings (variables provision does not use), passed to `warn`.
 */
export function loadInventory(
  nameOrPath: string,
  root: string,
  accepNewHostKeys = false,
  warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
): Inventory {
  const file = resolveInventoryPath(nameOrPath, root);
  const format = detectInventoryFormat(file);
  if (format.kind !== 'provision') {
    const inv = loadAnsibleInventory(file, format, accepNewHostKeys);
    inv.ansible.warnings.forEach((w) => warn(w));
    return inv;
  }
  const src = format.src;
  const inv = parseWith(src, inventorySchema);
  const errors: string[] = [];
  checkExpressions(src, inv.vars ?? {}, ['vars'], errors);
  for (const [g, def] of Object.entries(inv.groups ?? {})) checkExpressions(src, def?.vars ?? {}, ['groups', g, 'vars'], errors);
  for (const [h, def] of Object.entries(inv.hosts)) checkExpressions(src, def?.vars ?? {}, ['hosts', h, 'vars'], errors);
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return buildInventory(src, inv, accepNewHostKeys);
}

/** Variables are rendered when used: their `{{ }}` must be balanced and compile (nothing is evaluated). */
function checkExpressions(src: YamlSource, value: unknown, path: Path, errors: string[], depth = 0): void {
  if (typeof value === 'string') {
    const err = templateSyntaxError(value);
    if (err) errors.push(`${where(src, path)}: ${formatPath(path)}: ${err}`);
    return;
  }
  if (value === null || typeof value !== 'object' || depth > 64) return;
  if (Array.isArray(value)) value.forEach((v, k) => checkExpressions(src, v, [...path, k], errors, depth + 1));
  else for (const [k, v] of Object.entries(value)) checkExpressions(src, v, [...path, k], errors, depth + 1);
}

function buildInventory(src: YamlSource, inv: z.infer<typeof inventorySchema>, acceptNew: boolean): Inventory {
  const base = dirname(src.file);
  const groupsDef = inv.groups ?? {};
  const hostNames = Object.keys(inv.hosts);
  const errors: string[] = [];

  // no hosts: the run warns (only the implicit localhost is available), as Ansible does
  for (const g of Object.keys(groupsDef)) {
    if (g === 'all') errors.push(`${where(src, ['groups', g])}: groups.all: 'all' is implicit; put its variables under top-level 'vars'`);
    if (Object.hasOwn(inv.hosts, g)) errors.push(`${where(src, ['groups', g])}: groups.${g}: a group cannot have the same name as a host`);
    const def = groupsDef[g] ?? {};
    (def.hosts ?? []).forEach((h, i) => {
      if (!Object.hasOwn(inv.hosts, h)) errors.push(`${where(src, ['groups', g, 'hosts', i])}: groups.${g}.hosts[${i}]: unknown host '${h}' (not under 'hosts')`);
    });
    (def.children ?? []).forEach((c, i) => {
      if (!Object.hasOwn(groupsDef, c)) errors.push(`${where(src, ['groups', g, 'children', i])}: groups.${g}.children[${i}]: unknown group '${c}'`);
    });
  }
  if (errors.length) throw new ConfigError(errors.join('\n'));

  // Resolve group membership through children, detecting cycles; remember depth for precedence.
  const members = new Map<string, Set<string>>();
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const resolveGroup = (g: string, trail: string[]): Set<string> => {
    const known = members.get(g);
    if (known) return known;
    if (visiting.has(g)) throw new ConfigError(`${where(src, ['groups', g])}: group cycle: ${[...trail, g].join(' -> ')}`);
    visiting.add(g);
    const def = groupsDef[g] ?? {};
    const set = new Set<string>(def.hosts ?? []);
    for (const c of def.children ?? []) for (const h of resolveGroup(c, [...trail, g])) set.add(h);
    visiting.delete(g);
    members.set(g, set);
    return set;
  };
  const groupDepth = (g: string): number => {
    if (depth.has(g)) return depth.get(g)!;
    const parents = Object.keys(groupsDef).filter((p) => (groupsDef[p]?.children ?? []).includes(g));
    const d = parents.length === 0 ? 1 : 1 + Math.max(...parents.map(groupDepth));
    depth.set(g, d);
    return d;
  };
  const groupOrder = Object.keys(groupsDef);
  for (const g of groupOrder) resolveGroup(g, []);

  const groups = new Map<string, string[]>();
  groups.set('all', hostNames);
  for (const g of groupOrder) groups.set(g, hostNames.filter((h) => members.get(g)!.has(h)));

  const d = inv.defaults ?? {};
  const hosts = new Map<string, InventoryHost>();
  for (const name of hostNames) {
    const h = inv.hosts[name] ?? {};
    const hostGroups = groupOrder.filter((g) => members.get(g)!.has(name));
    const ordered = [...hostGroups].sort((a, b) => groupDepth(a) - groupDepth(b) || groupOrder.indexOf(a) - groupOrder.indexOf(b));
    const vars: Record<string, unknown> = { ...(inv.vars ?? {}) };
    for (const g of ordered) Object.assign(vars, groupsDef[g]?.vars ?? {});
    Object.assign(vars, h.vars ?? {});
    const key = h.key ?? d.key;
    const jumpSpec = h.jump ?? d.jump;
    let jump: InventoryHost['jump'];
    if (jumpSpec) {
      const m = JUMP.exec(jumpSpec)!;
      jump = { user: m[1] ?? h.user ?? d.user ?? 'root', address: m[2], port: m[3] ? Number(m[3]) : 22 };
      if (key) jump.key = expand(key, base);
    }
    hosts.set(name, {
      name,
      address: h.address ?? name,
      port: h.port ?? d.port ?? 22,
      user: h.user ?? d.user ?? 'root',
      key: key ? expand(key, base) : undefined,
      knownHosts: expand(h.known_hosts ?? d.known_hosts ?? '~/.ssh/known_hosts', base),
      hostKeyPolicy: acceptNew ? 'accept-new' : (h.host_key_policy ?? d.host_key_policy ?? 'strict'),
      become: h.become ?? d.become ?? false,
      jump,
      connectTimeoutMs: (h.connect_timeout ?? d.connect_timeout ?? 10) * 1000,
      groups: hostGroups,
      vars,
    });
  }
  const name = src.file.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
  return { name, file: src.file, hosts, groups, allVars: { ...(inv.vars ?? {}) } };
}

/**
 * Select hosts by pattern: comma-separated host names, group names and globs (* ?),
 * with `!pattern` to exclude and `&pattern` to intersect. Keeps inventory order.
 */
export function selectHosts(inv: Inventory, pattern: string): string[] {
  const all = inv.groups.get('all')!;
  // an empty pattern or part must never widen the selection to every host
  const bad = patternError(pattern);
  if (bad) throw new ConfigError(bad);
  const parts = pattern.split(',').map((p) => p.trim());
  let selected = new Set<string>();
  const matchOne = (p: string): Set<string> => {
    if (inv.groups.has(p)) return new Set(inv.groups.get(p));
    if (inv.hosts.has(p)) return new Set([p]);
    if (/[*?[]/.test(p)) {
      let re: RegExp;
      try {
        re = new RegExp(`^${p.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
      } catch {
        throw new ConfigError(`invalid host pattern '${p}' (globs: * ? [abc])`);
      }
      const out = new Set<string>();
      for (const h of all) if (re.test(h)) out.add(h);
      for (const [g, hs] of inv.groups) if (re.test(g)) hs.forEach((h) => out.add(h));
      return out;
    }
    return new Set();
  };
  const positive = parts.filter((p) => !p.startsWith('!') && !p.startsWith('&'));
  // only exclusions/intersections ('!web-02'): start from every host
  if (positive.length === 0) selected = new Set(all);
  for (const p of positive) for (const h of matchOne(p)) selected.add(h);
  for (const p of parts.filter((p) => p.startsWith('&'))) {
    const keep = matchOne(p.slice(1));
    selected = new Set([...selected].filter((h) => keep.has(h)));
  }
  for (const p of parts.filter((p) => p.startsWith('!'))) for (const h of matchOne(p.slice(1))) selected.delete(h);
  // in inventory order; the implicit localhost (in no group) last
  return [...all, ...[...selected].filter((h) => !all.includes(h))].filter((h) => selected.has(h));
}

/**
 * Why a host pattern is malformed, or undefined: an empty pattern, an empty part (`a,,b`, a
 * trailing comma), or a bare `!` / `&`. Such a pattern must be refused: read leniently it would
 * select every host.
 */
export function patternError(pattern: string): string | undefined {
  const shown = JSON.stringify(pattern);
  if (pattern.trim() === '') return `empty host pattern ${shown}: name hosts, groups or globs (use 'all' for every host)`;
  const parts = pattern.split(',').map((p) => p.trim());
  if (parts.some((p) => p === '')) return `host pattern ${shown} has an empty part (a stray comma?)`;
  const bare = parts.find((p) => /^[!&]+$/.test(p) || /^[!&]{2,}/.test(p));
  if (bare) return `host pattern ${shown}: '${bare}' needs exactly one host, group or glob after '!' or '&'`;
  return undefined;
}

/** Names in a pattern that match neither a host, a group nor anything by glob (for error messages). */
export function unknownPatternParts(inv: Inventory, pattern: string): string[] {
  return pattern
    .split(',')
    .map((p) => p.trim().replace(/^[!&]/, ''))
    .filter((p) => p && !/[*?[]/.test(p) && !inv.groups.has(p) && !inv.hosts.has(p));
}
