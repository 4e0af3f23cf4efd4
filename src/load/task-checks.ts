/**
 * Load-time checks of one task's arguments: the module's schema (values with {{ }} are checked
 * again after rendering), the syntax of every expression, and the files it names literally.
 */
import { statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { z } from 'zod';
import './zod-jitless.js';
import { hasTemplate, templateSyntaxError } from '../engine/expr.js';
import { checkTemplateFile } from './template-check.js';
import { listLocalTree } from '../modules/files/local-tree.js';
import { localCandidates, localPath } from '../modules/files/local-path.js';
import { ConfigError, displayPath, formatPath, where, zodIssues, type Path, type YamlSource } from './yaml.js';
import type { Module } from '../modules/contract.js';

export interface FileCheckCtx {
  /** project root: when given, files a task names literally must exist and templates must compile */
  root?: string;
  playbookDir: string;
  /** the task's role directory: its templates/ and files/ come first */
  roleDir?: string;
  /** template files already checked (path -> error or '') */
  checked: Map<string, string>;
}

/** Validate module arguments statically; values with {{ }} are checked again after rendering. */
export function checkArgs(src: YamlSource, mod: Module, args: Record<string, unknown>, path: Path): void {
  const r = mod.schema.safeParse(args);
  if (r.success) return;
  const templated = (p: (string | number)[]): boolean => {
    let v: unknown = args;
    for (const k of p) {
      if (hasTemplate(v)) return true;
      if (v === null || typeof v !== 'object') return false;
      v = (v as Record<string | number, unknown>)[k];
    }
    return hasTemplate(v) || (Array.isArray(v) && v.some(hasTemplate));
  };
  const issues = r.error.issues.filter((iss) => iss.code === 'unrecognized_keys' || !templated(iss.path as Path));
  if (issues.length === 0) return;
  const lines = zodIssues(src, new z.ZodError(issues), path);
  throw new ConfigError(lines.map((l) => `${l} (module ${mod.name})`).join('\n'));
}

/**
 * Every string under `value` is checked as render() will read it: unclosed or stray braces and
 * expressions that do not compile are load errors (nothing is evaluated).
 */
export function checkExpressions(src: YamlSource, value: unknown, path: Path, errors: string[], depth = 0): void {
  if (typeof value === 'string') {
    const err = templateSyntaxError(value);
    if (err) errors.push(`${where(src, path)}: ${formatPath(path) || '(value)'}: ${err}`);
    return;
  }
  if (value === null || typeof value !== 'object' || depth > 64) return;
  if (Array.isArray(value)) value.forEach((v, k) => checkExpressions(src, v, [...path, k], errors, depth + 1));
  else for (const [k, v] of Object.entries(value)) checkExpressions(src, v, [...path, k], errors, depth + 1);
}

/** A literal path (no `{{ }}`) of a file on the controller. */
const literal = (v: unknown): v is string => typeof v === 'string' && v !== '' && !hasTemplate(v);

/**
 * Files that tasks name literally must exist, found where the modules look for them
 * (modules/files/local-path.ts, and mysql_db's import). Templates must be UTF-8 and compile.
 */
export function checkFiles(src: YamlSource, moduleName: string, args: Record<string, unknown>, path: Path, ctx: FileCheckCtx, errors: string[]): void {
  const root = ctx.root;
  if (root === undefined) return;
  const base = { root, playbookDir: ctx.playbookDir, ...(ctx.roleDir ? { roleDir: ctx.roleDir } : {}) };
  const isDir = (f: string) => {
    try {
      return statSync(f).isDirectory();
    } catch {
      return false;
    }
  };
  const isFile = (f: string) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  };
  // copy with remote_src: src is a path on the host, not a controller file
  const onHost = (moduleName === 'copy' || moduleName === 'unarchive') && (args.remote_src === true || args.remote_src === 'yes');
  if ((moduleName === 'template' || moduleName === 'copy' || moduleName === 'unarchive') && literal(args.src) && !onHost && !/^[a-z][a-z0-9+.-]*:\/\//i.test(String(args.src))) {
    const dir = moduleName === 'template' ? 'templates' : 'files';
    const file = localPath(base, dir, args.src);
    if (moduleName === 'copy' && isDir(file)) {
      // a directory src: what copy-tree.ts refuses in it (links, special files, too many) is refused here
      const entries = listLocalTree(file, `files/${args.src.replace(/\/+$/, '')}`);
      if (typeof entries === 'string') errors.push(`${where(src, [...path, 'src'])}: copy: ${entries}`);
      else if (args.validate !== undefined) errors.push(`${where(src, [...path, 'validate'])}: copy: validate is not supported with a directory src`);
      return;
    }
    if (!isFile(file)) {
      const looked = localCandidates(base, dir, args.src).map(displayPath);
      errors.push(`${where(src, [...path, 'src'])}: ${moduleName}: src '${args.src}' not found (looked in ${looked.slice(0, -1).join(', ')} and ${looked[looked.length - 1]})`);
      return;
    }
    if (moduleName === 'template') {
      let err = ctx.checked.get(file);
      if (err === undefined) {
        err = checkTemplateFile(file);
        ctx.checked.set(file, err);
      }
      if (err) errors.push(`${where(src, [...path, 'src'])}: template: ${err}`);
    }
  }
  if (moduleName === 'mysql_db' && literal(args.import)) {
    // as mysql_db looks: the role's files/ first, then the project's
    const dirs = [...(ctx.roleDir ? [resolve(ctx.roleDir, 'files')] : []), resolve(root, 'files')];
    const candidates = dirs.map((d) => resolve(d, String(args.import)));
    if (candidates.some((f, i) => f === dirs[i] || !f.startsWith(dirs[i] + sep))) {
      errors.push(`${where(src, [...path, 'import'])}: mysql_db: import must be a path inside files/: ${args.import}`);
    } else if (!candidates.some(isFile)) {
      errors.push(`${where(src, [...path, 'import'])}: mysql_db: import file '${args.import}' not found (looked for ${candidates.map(displayPath).join(', ')})`);
    }
  }
}
