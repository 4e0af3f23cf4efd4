/**
 * The common model of an Ansible inventory, filled by the INI and YAML readers (one or more files)
 * and turned into provision's Inventory by resolve.ts. Every value remembers where it came from.
 */
import { ConfigError, displayPath } from '../yaml.js';

export interface Origin {
  file: string;
  line: number;
  col: number;
}

export function at(o: Origin): string {
  return `${displayPath(o.file)}:${o.line}:${o.col}`;
}

export interface VarEntry {
  value: unknown;
  origin: Origin;
}

export interface GroupDef {
  name: string;
  /** Hosts listed directly in the group, in order. */
  hosts: string[];
  /** The same, for lookups. */
  hostSet: Set<string>;
  children: string[];
  vars: Map<string, VarEntry>;
  origin: Origin;
}

export interface HostDef {
  name: string;
  vars: Map<string, VarEntry>;
  /** Where the host was first declared. */
  origin: Origin;
}

const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class AnsibleModel {
  readonly groups = new Map<string, GroupDef>();
  readonly hosts = new Map<string, HostDef>();
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  /** The inventory files read, in order. */
  readonly files: string[] = [];

  constructor() {
    this.groups.set('all', { name: 'all', hosts: [], hostSet: new Set(), children: [], vars: new Map(), origin: { file: '(implicit)', line: 0, col: 0 } });
  }

  error(origin: Origin, msg: string): void {
    this.errors.push(`${at(origin)}: ${msg}`);
  }

  group(name: string, origin: Origin): GroupDef | undefined {
    let g = this.groups.get(name);
    if (g) return g;
    if (!HOST_NAME.test(name)) {
      this.error(origin, `invalid group name '${name}' (provision allows letters, digits, . _ - and a letter or digit first)`);
      return undefined;
    }
    g = { name, hosts: [], hostSet: new Set(), children: [], vars: new Map(), origin };
    this.groups.set(name, g);
    return g;
  }

  /** Declare `host` as a member of `group` (creating both as needed). */
  addHost(groupName: string, host: string, origin: Origin): HostDef | undefined {
    if (!HOST_NAME.test(host)) {
      this.error(origin, `invalid host name '${host}' (provision allows letters, digits, . _ - and a letter or digit first)`);
      return undefined;
    }
    const g = this.group(groupName, origin);
    if (!g) return undefined;
    let h = this.hosts.get(host);
    if (!h) {
      h = { name: host, vars: new Map(), origin };
      this.hosts.set(host, h);
    }
    if (!g.hostSet.has(host)) {
      g.hostSet.add(host);
      g.hosts.push(host);
    }
    return h;
  }

  addChild(parent: string, child: string, origin: Origin): void {
    const p = this.group(parent, origin);
    const c = this.group(child, origin);
    if (!p || !c) return;
    if (child === 'all') {
      this.error(origin, `group 'all' cannot be a child of '${parent}'`);
      return;
    }
    if (!p.children.includes(child)) p.children.push(child);
  }

  private setVar(vars: Map<string, VarEntry>, key: string, value: unknown, origin: Origin): void {
    if (!VAR_NAME.test(key)) {
      this.error(origin, `invalid variable name '${key}' (letters, digits, _; not starting with a digit)`);
      return;
    }
    vars.set(key, { value, origin });
  }

  setGroupVar(group: string, key: string, value: unknown, origin: Origin): void {
    const g = this.group(group, origin);
    if (g) this.setVar(g.vars, key, value, origin);
  }

  setHostVar(host: string, key: string, value: unknown, origin: Origin): void {
    const h = this.hosts.get(host);
    if (h) this.setVar(h.vars, key, value, origin);
  }

  /** Throw every collected error at once. */
  check(): void {
    if (this.errors.length) throw new ConfigError(this.errors.join('\n'));
  }
}

/**
 * Expand an Ansible host pattern with ranges: `web[01:04]`, `db-[a:c]`, `h[0:10:2]` (several
 * ranges multiply). Returns the names, or an error message.
 */
export function expandHostRange(pattern: string): string[] | string {
  const open = pattern.indexOf('[');
  if (open < 0) return [pattern];
  const close = pattern.indexOf(']', open);
  if (close < 0) return `unclosed '[' in host pattern '${pattern}'`;
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = pattern.slice(open + 1, close).split(':');
  if (bounds.length !== 2 && bounds.length !== 3) return `host range '[${bounds.join(':')}]' must be [begin:end] or [begin:end:step]`;
  const [beg0, end] = bounds;
  const beg = beg0 === '' ? '0' : beg0;
  const step = bounds.length === 3 ? Number(bounds[2]) : 1;
  if (!end) return `host range in '${pattern}' must specify an end value`;
  if (!Number.isInteger(step) || step < 1) return `host range step in '${pattern}' must be a positive integer`;
  let seq: string[];
  if (/^[A-Za-z]$/.test(beg) && /^[A-Za-z]$/.test(end)) {
    const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const i = letters.indexOf(beg);
    const j = letters.indexOf(end);
    if (i > j) return `host range in '${pattern}' must have begin <= end`;
    seq = [];
    for (let k = i; k <= j; k += step) seq.push(letters[k]);
  } else if (/^\d+$/.test(beg) && /^\d+$/.test(end)) {
    const width = beg.length > 1 && beg.startsWith('0') ? beg.length : 0;
    if (width && width !== end.length) return `host range in '${pattern}' must have begin and end of equal length (${beg}, ${end})`;
    const b = Number(beg);
    const e = Number(end);
    if (b > e) return `host range in '${pattern}' must have begin <= end`;
    if ((e - b) / step > 10_000) return `host range in '${pattern}' expands to more than 10000 hosts`;
    seq = [];
    for (let k = b; k <= e; k += step) seq.push(width ? String(k).padStart(width, '0') : String(k));
  } else {
    return `host range '[${bounds.join(':')}]' in '${pattern}': expected numbers ([01:10]) or single letters ([a:f])`;
  }
  const out: string[] = [];
  for (const s of seq) {
    const more = expandHostRange(`${head}${s}${tail}`);
    if (typeof more === 'string') return more;
    out.push(...more);
    if (out.length > 10_000) return `host range in '${pattern}' expands to more than 10000 hosts`;
  }
  return out;
}

/**
 * Split `host:port` (the port outside any range brackets) as Ansible's parse_address does for
 * inventory host patterns. Returns the pattern and the port, or an error message.
 */
export function splitHostPort(token: string): { pattern: string; port?: number } | string {
  const m = /^(.*?):(\d+)$/.exec(token);
  if (m && !/\[[^\]]*$/.test(m[1])) {
    const port = Number(m[2]);
    if (port < 1 || port > 65535) return `port ${m[2]} out of range in '${token}'`;
    return { pattern: m[1], port };
  }
  if (token.startsWith('[') || /::/.test(token)) return `IPv6 host '${token}': give the host a name and set ansible_host to the address`;
  return { pattern: token };
}
