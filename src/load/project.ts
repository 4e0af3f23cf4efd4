/**
 * The user's project: its root is the nearest directory upward from the current one that holds
 * a `provision.yml`, else the current directory. Everything a run reads or writes (inventories,
 * playbooks, roles, templates, files, own modules, the secrets store, the testbed's keys)
 * resolves there, never inside the installed package.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import './zod-jitless.js';
import { ConfigError, displayPath, loadYaml, parseWith, where } from './yaml.js';

export const PROJECT_FILE = 'provision.yml';

/** Hosts in parallel at most (each holds an SSH connection and its channels). */
export const MAX_FORKS = 256;

export interface Project {
  /** The project directory. */
  root: string;
  /** Its provision.yml, if it has one. */
  file?: string;
  /** Default inventory: a name (inventory/NAME.yml under root) or an absolute path. */
  inventory?: string;
  /** Default playbook, absolute. */
  playbook?: string;
  /** Role directories after the playbook's own roles/ (absolute), before root/roles. */
  rolesPath: string[];
  /** Directories of the project's own modules after the playbook's library/ (absolute). */
  modulePaths: string[];
  /** Default --forks. */
  forks?: number;
}

const relPath = z.string().min(1, 'expected a path').refine((s) => !s.includes('\0'), 'a path cannot contain a NUL byte');

const projectSchema = z
  .object({
    inventory: relPath.optional(),
    playbook: relPath.optional(),
    roles_path: z.array(relPath).optional(),
    module_paths: z.array(relPath).optional(),
    forks: z.number().int('expected a whole number').min(1).max(MAX_FORKS).optional(),
  })
  .strict();

const isFile = (p: string) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** The project root for a run started in `cwd`: the nearest directory upward with a provision.yml, else `cwd`. */
export function findProjectRoot(cwd: string = process.cwd()): string {
  const start = resolve(cwd);
  for (let dir = start; ; dir = dirname(dir)) {
    if (isFile(join(dir, PROJECT_FILE))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

/** An inventory value: a name stays a name (inventory/NAME.yml), anything that looks like a path becomes absolute. */
function inventoryRef(root: string, v: string): string {
  if (isAbsolute(v)) return v;
  const looksLikePath = v.includes('/') || /\.(ya?ml|ini|cfg)$/i.test(v) || existsSync(join(root, v));
  return looksLikePath ? resolve(root, v) : v;
}

/** Load the project for a run started in `cwd`: its root and its provision.yml (validated, exit 2 with file:line:col). */
export function loadProject(cwd: string = process.cwd()): Project {
  const root = findProjectRoot(cwd);
  const file = join(root, PROJECT_FILE);
  if (!isFile(file)) return { root, rolesPath: [], modulePaths: [] };
  const src = loadYaml(file);
  // an empty file is a project with every default
  const value = src.value ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${where(src, [])}: provision.yml is a mapping of settings (inventory, playbook, roles_path, module_paths, forks)`);
  }
  const cfg = parseWith(src, projectSchema, value);
  const errors: string[] = [];
  const dirs = (key: 'roles_path' | 'module_paths') =>
    (cfg[key] ?? []).map((p, i) => {
      const abs = resolve(root, p);
      let dir = false;
      try {
        dir = statSync(abs).isDirectory();
      } catch {
        // reported below
      }
      if (!dir) errors.push(`${where(src, [key, i])}: ${key}[${i}]: ${displayPath(abs)} is not a directory`);
      return abs;
    });
  const project: Project = { root, file, rolesPath: dirs('roles_path'), modulePaths: dirs('module_paths') };
  if (cfg.playbook !== undefined) {
    project.playbook = resolve(root, cfg.playbook);
    if (!isFile(project.playbook)) errors.push(`${where(src, ['playbook'])}: playbook: ${displayPath(project.playbook)}: no such file`);
  }
  if (cfg.inventory !== undefined) project.inventory = inventoryRef(root, cfg.inventory);
  if (cfg.forks !== undefined) project.forks = cfg.forks;
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return project;
}
