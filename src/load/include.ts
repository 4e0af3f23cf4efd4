/**
 * Includes loaded at run time (include_tasks with a templated file name), through the same
 * loader as everything else: the same checks, the same tree. A problem fails the include.
 */
import { resolve } from 'node:path';
import { ConfigError } from './yaml.js';
import { loadTaskFile, type LoadCtx } from './tasks.js';
import { loadRole } from './roles.js';
import type { Include, Node } from './tree.js';
import type { Module } from '../modules/contract.js';

export function loadIncluded(inc: Include, target: string, modules: Map<string, Module>, root: string, rolesPath?: string[]): Node[] {
  const ctx: LoadCtx = { modules, root, rolesPath, checked: new Map(), playbookDir: inc.dir, errors: [], handlers: [], playRoles: new Set(), files: [], roles: [], loadRole };
  const nodes = loadTaskFile(resolve(inc.dir, target), inc.inherited, ctx);
  if (ctx.errors.length) throw new ConfigError(ctx.errors.join('\n'));
  return nodes;
}
