/**
 * include_vars: its file is read at load, like vars_files, so that a dry run knows every
 * variable it sets and a bad file is refused before any host is contacted. Looked for in the
 * role's vars/ first, then next to the file that names it, then next to the playbook.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { hasTemplate } from '../engine/expr.js';
import { ConfigError, displayPath, where, type Path, type YamlSource } from './yaml.js';
import { readVarsFile } from './vars-file.js';

export function includedVars(src: YamlSource, at: Path, file: string, dirs: { roleDir?: string; playbookDir: string }, errors: string[]): Record<string, unknown> {
  if (hasTemplate(file)) throw new ConfigError(`${where(src, at)}: include_vars: the file is read at load and cannot be a {{ }} template: name the file literally`);
  const candidates = [...new Set([...(dirs.roleDir ? [join(dirs.roleDir, 'vars', file)] : []), resolve(dirname(src.file), file), resolve(dirs.playbookDir, file)])];
  const path = candidates.find((c) => existsSync(c));
  if (!path) throw new ConfigError(`${where(src, at)}: include_vars: ${file}: no such file (looked for ${candidates.map(displayPath).join(', ')})`);
  return readVarsFile(path, errors, () => `${where(src, at)}: include_vars: ${displayPath(path)} must be a mapping of variables`);
}
