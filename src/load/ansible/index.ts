/**
 * Which format is an inventory in? Detected from explicit signs, never guessed:
 *  - a directory: an Ansible inventory directory (every inventory file in it, merged);
 *  - `.yml`/`.yaml`/`.json`: provision's format when its top-level keys are provision's
 *    (defaults, hosts, groups, vars), Ansible's YAML format when there is an `all:` group or
 *    every top-level value is a group (a mapping of hosts/children/vars); both or neither: error;
 *  - `.ini`, or any other name whose first meaningful line is a `[section]` or a host line
 *    (`name key=value ...`): Ansible INI; a first line `key:` or `---`: YAML as above.
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { ConfigError, displayPath, loadYaml, type YamlSource } from '../yaml.js';
import { readIni } from './ini-inventory.js';
import { AnsibleModel } from './model.js';
import { resolveModel, type AnsibleInventory } from './resolve.js';
import { readYamlInventory } from './yaml-inventory.js';
import { checkVaultFile, isMapping, loadAnsibleYaml, readText } from './yaml-source.js';

export type { AnsibleDetails, AnsibleInventory } from './resolve.js';

export type InventoryFormat =
  | { kind: 'provision'; src: YamlSource }
  | { kind: 'ansible-yaml'; text: string }
  | { kind: 'ansible-ini'; text: string }
  | { kind: 'ansible-dir' };

const OWN_KEYS = ['defaults', 'hosts', 'groups', 'vars'];
const GROUP_KEYS = ['hosts', 'children', 'vars'];
/** As ansible-core 2.19: hidden files, group_vars/host_vars/vars_plugins, and these endings. */
const IGNORED_NAMES = /^(\.|group_vars$|host_vars$|vars_plugins$)/;
const IGNORED_EXTS = ['.pyc', '.pyo', '.swp', '.bak', '~', '.rpm', '.md', '.txt', '.rst', '.orig', '.cfg', '.retry'];

function classifyYaml(file: string, text: string): InventoryFormat {
  checkVaultFile(file, text);
  const src = loadYaml(file);
  const v = src.value;
  const name = displayPath(file);
  if (!isMapping(v) || Object.keys(v).length === 0) {
    throw new ConfigError(`${name}:1:1: not an inventory: expected a mapping (provision's hosts:/groups:, or Ansible's all: with hosts/children/vars)`);
  }
  const keys = Object.keys(v);
  if (typeof v.plugin === 'string') {
    throw new ConfigError(`${name}: an Ansible inventory plugin configuration (plugin: ${v.plugin}) is not supported: provision reads static inventories (YAML or INI) only`);
  }
  const hasOwn = keys.some((k) => OWN_KEYS.includes(k));
  const groupShaped = keys.every((k) => v[k] === null || (isMapping(v[k]) && Object.keys(v[k]).every((s) => GROUP_KEYS.includes(s))));
  const hasAll = keys.includes('all');
  // `hosts: {}` is provision's (it will say a host is required), not a doubt
  const someGroupContent = keys.some((k) => isMapping(v[k]) && Object.keys(v[k]).length > 0);
  if (hasOwn && (hasAll || (groupShaped && someGroupContent))) {
    throw new ConfigError(
      `${name}: ambiguous inventory format: top-level ${keys.map((k) => `'${k}'`).join(', ')} ` +
        `could be provision's format (defaults/hosts/groups/vars) or Ansible's (groups with hosts/children/vars); ` +
        `use provision's keys only, or put Ansible groups under 'all:'`,
    );
  }
  if (hasOwn) return { kind: 'provision', src };
  if (hasAll || groupShaped) return { kind: 'ansible-yaml', text };
  throw new ConfigError(
    `${name}: unrecognised inventory format: top-level ${keys.slice(0, 5).map((k) => `'${k}'`).join(', ')} are neither ` +
      `provision's keys (defaults, hosts, groups, vars) nor Ansible groups (all: with hosts, children, vars)`,
  );
}

export function detectInventoryFormat(path: string): InventoryFormat {
  if (statSync(path).isDirectory()) return { kind: 'ansible-dir' };
  const ext = extname(path).toLowerCase();
  const text = readText(path);
  const name = displayPath(path);
  if (text.startsWith('#!') || ext === '.py' || ext === '.sh') {
    throw new ConfigError(`${name}: dynamic inventory scripts are not supported: run it and save its output as a YAML or INI inventory`);
  }
  if (['.yml', '.yaml', '.json'].includes(ext)) return classifyYaml(path, text);
  if (ext === '.ini') return { kind: 'ansible-ini', text };
  checkVaultFile(path, text);
  const lines = text.split(/\r?\n/);
  const n = lines.findIndex((l) => l.trim() !== '' && !/^\s*[#;]/.test(l));
  // nothing but comments: an inventory without hosts (the run warns, as Ansible does)
  if (n < 0) return { kind: 'ansible-ini', text };
  const first = lines[n].trim();
  if (first.startsWith('[')) return { kind: 'ansible-ini', text };
  if (first === '---' || first.startsWith('{') || /^[^\s=]+:(\s|$)/.test(first)) return classifyYaml(path, text);
  if (/^[^\s=:]+(:\d+)?(\s+[^\s=]+=.*)?(\s+#.*)?$/.test(first)) return { kind: 'ansible-ini', text };
  throw new ConfigError(
    `${name}:${n + 1}:1: unrecognised inventory format: the first line is neither an INI section ([group]), ` +
      `an INI host line (name key=value ...) nor YAML (key:); name the file .yml or .ini to say which`,
  );
}

/** Inventory files of an Ansible inventory directory, in Ansible's order (sorted, recursive). */
export function inventoryDirFiles(dir: string, seen = new Set<string>()): string[] {
  // a symbolic link back to a parent directory would recurse forever
  const real = realpathSync(dir);
  if (seen.has(real)) throw new ConfigError(`${displayPath(dir)}: directory loop (a symbolic link to a parent directory)`);
  seen.add(real);
  const out: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (IGNORED_NAMES.test(f) || IGNORED_EXTS.some((e) => f.endsWith(e))) continue;
    const full = join(dir, f);
    const st = statSync(full, { throwIfNoEntry: false });
    if (!st) throw new ConfigError(`${displayPath(full)}: cannot read (a broken symbolic link?)`);
    if (st.isDirectory()) out.push(...inventoryDirFiles(full, seen));
    else out.push(full);
  }
  return out;
}

function readInto(model: AnsibleModel, file: string, format: InventoryFormat): void {
  if (format.kind === 'ansible-ini') readIni(file, format.text, model);
  else if (format.kind === 'ansible-yaml') readYamlInventory(loadAnsibleYaml(file, format.text), model);
}

/** Load an Ansible inventory (file or directory) as provision's Inventory. */
export function loadAnsibleInventory(path: string, format: Exclude<InventoryFormat, { kind: 'provision' }>, acceptNew: boolean): AnsibleInventory {
  const model = new AnsibleModel();
  if (format.kind === 'ansible-dir') {
    const files = inventoryDirFiles(path);
    if (files.length === 0) throw new ConfigError(`${displayPath(path)}: no inventory files in this directory`);
    for (const f of files) {
      const fmt = detectInventoryFormat(f);
      if (fmt.kind === 'provision') {
        throw new ConfigError(`${displayPath(f)}: a provision-format inventory inside an Ansible inventory directory: give it alone with -i, or convert it`);
      }
      readInto(model, f, fmt);
    }
  } else readInto(model, path, format);
  const isDir = format.kind === 'ansible-dir';
  return resolveModel(model, {
    name: basename(path).replace(/\.(ya?ml|ini|json)$/i, ''),
    file: path,
    varsDir: isDir ? path : dirname(path),
    format: format.kind,
    acceptNew,
  });
}

export function isAnsibleInventory(inv: unknown): inv is AnsibleInventory {
  return typeof inv === 'object' && inv !== null && 'ansible' in inv;
}
