/**
 * group_vars/ and host_vars/ next to an inventory, found as Ansible's host_group_vars plugin
 * finds them: for an entity NAME the first of NAME (file or directory), NAME.yml, NAME.yaml,
 * NAME.json that exists; a directory contributes every file in it (recursively, sorted,
 * skipping hidden files and ~ backups) whose extension is .yml, .yaml, .json or none.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { ConfigError, displayPath } from '../yaml.js';
import type { VarEntry } from './model.js';
import { isMapping, loadAnsibleYaml, originAt } from './yaml-source.js';

const EXTS = ['', '.yml', '.yaml', '.json'];
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function dirFiles(dir: string, depth = 0): string[] {
  if (depth > 20) throw new ConfigError(`${displayPath(dir)}: directories nested more than 20 deep (a symbolic link loop?)`);
  const out: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (f.startsWith('.') || f.endsWith('~')) continue;
    const full = join(dir, f);
    const ext = extname(f);
    const st = statSync(full, { throwIfNoEntry: false });
    if (!st) throw new ConfigError(`${displayPath(full)}: cannot read (a broken symbolic link?)`);
    if (st.isDirectory() && !ext) out.push(...dirFiles(full, depth + 1));
    else if (st.isFile() && EXTS.includes(ext)) out.push(full);
  }
  return out;
}

/** The files that hold NAME's variables in `dir` (group_vars or host_vars), in load order. */
export function varsFiles(dir: string, name: string, warnings: string[]): string[] {
  const found = EXTS.map((e) => join(dir, name + e)).filter((p) => existsSync(p));
  if (found.length === 0) return [];
  if (found.length > 1) {
    warnings.push(`${found.slice(1).map(displayPath).join(', ')} ignored: ${displayPath(found[0])} is read instead (Ansible reads only the first of NAME, NAME.yml, NAME.yaml, NAME.json)`);
  }
  return statSync(found[0]).isDirectory() ? dirFiles(found[0]) : [found[0]];
}

/** The variables of one vars file, with positions. An empty file has none. */
export function readVarsFile(file: string): Map<string, VarEntry> {
  const src = loadAnsibleYaml(file);
  const out = new Map<string, VarEntry>();
  if (src.value === null || src.value === undefined) return out;
  if (!isMapping(src.value)) throw new ConfigError(`${displayPath(file)}:1:1: expected a mapping of variables (name: value)`);
  const errors: string[] = [];
  for (const [k, v] of Object.entries(src.value)) {
    const origin = originAt(src, [k], true);
    if (!VAR_NAME.test(k)) errors.push(`${displayPath(file)}:${origin.line}:${origin.col}: invalid variable name '${k}' (letters, digits, _; not starting with a digit)`);
    else out.set(k, { value: v, origin });
  }
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return out;
}

/** Variables of an entity from `dir` (merged over its files in order), or an empty map. */
export function entityVars(dir: string, name: string, warnings: string[]): Map<string, VarEntry> {
  const out = new Map<string, VarEntry>();
  for (const f of varsFiles(dir, name, warnings)) for (const [k, v] of readVarsFile(f)) out.set(k, v);
  return out;
}

/** Names present in a group_vars/host_vars directory (to warn about those matching nothing). */
export function entityNames(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const names = new Set<string>();
  for (const f of readdirSync(dir)) {
    if (f.startsWith('.') || f.endsWith('~')) continue;
    const ext = extname(f);
    names.add(ext && EXTS.includes(ext) ? f.slice(0, -ext.length) : f);
  }
  return [...names].sort();
}
