/**
 * A project's own modules: every `NAME.js` / `NAME.mjs` / `NAME.ts` directly in a module path
 * (`modules/` and `library/` beside the playbook, then provision.yml's module_paths) is the module
 * NAME; a `.ts` file is compiled with esbuild when it is loaded (ownts.ts). Like the built-in
 * ones, a module file is imported only when a playbook uses it. Its default export is the module
 * object (contract.ts), or a function that gets the toolkit below (zod and the contract's helpers,
 * which a file outside this package cannot import) and returns it.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { sq } from '../engine/shell.js';
import { setsTo, unknownUnder } from '../engine/prediction.js';
import { ConfigError, displayPath } from '../load/yaml.js';
import { fact, TaskError, Unknown, type Module, type ModuleContext } from './contract.js';
import type { FileFact } from './files/facts.js';
import * as builtin from './index.js';

/**
 * What a module file's default-exported function is called with: zod, the contract's helpers,
 * and the files domain's stages, so that a module editing a file shares the built-in modules'
 * `file:` facts and check-mode effects (a later copy or template then sees its predicted content).
 */
async function makeToolkit() {
  const [{ contentStages }, { fileText }] = await Promise.all([import('./files/content.js'), import('./files/text.js')]);
  const files = {
    /** facts/plan/predict/footprint of a module writing a whole file: ({ dest, mode?, owner?, group?, validate? }, ..., content: Buffer). */
    contentStages,
    /**
     * The text of a file fact read with content ('' when absent); TaskError when it is not a
     * regular file or too large to read; pass the module's ctx so that check mode says unknown
     * where only the content's hash is predicted.
     */
    text: (f: FileFact, path: string, ctx: Pick<ModuleContext, 'check'> = { check: false }): string => fileText(f, path, ctx) ?? '',
  };
  return { z, fact, Unknown, TaskError, quote: sq, setsTo, unknownUnder, files };
}
export type Toolkit = Awaited<ReturnType<typeof makeToolkit>>;
let toolkit: Promise<Toolkit> | undefined;

const MODULE_FILE = /\.(m?js|ts)$/;
const MODULE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The module files of `dirs` (name -> file; the first directory that has a name wins, as in Ansible). */
export function findOwnModules(dirs: string[]): Map<string, string> {
  const found = new Map<string, string>();
  const errors: string[] = [];
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      continue; // no modules/ or library/ beside this playbook (module_paths are checked when provision.yml is read)
    }
    const here = new Map<string, string>();
    for (const entry of entries) {
      if (!MODULE_FILE.test(entry)) continue;
      const file = join(dir, entry);
      try {
        if (!statSync(file).isFile()) continue;
      } catch {
        continue;
      }
      if (entry.endsWith('.d.ts')) continue; // types beside a module, not a module
      const name = basename(entry, extname(entry));
      if (!MODULE_NAME.test(name)) errors.push(`${displayPath(file)}: a module file is named after its module: letters, digits and _ (put helper files in a subdirectory)`);
      else if (builtin.isModuleName(name)) errors.push(`${displayPath(file)}: '${name}' is a built-in module; give your module another name`);
      else if (here.has(name)) errors.push(`${displayPath(file)}: ${displayPath(here.get(name)!)} is the module '${name}' already: keep one file per module`);
      else {
        here.set(name, file);
        if (!found.has(name)) found.set(name, file);
      }
    }
  }
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return found;
}

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** What is wrong with a module object, or undefined. */
export function contractError(m: unknown, name: string): string | undefined {
  if (m === null || typeof m !== 'object') return `its default export is ${describe(m)}: expected the module object, or a function (toolkit) => module object`;
  const o = m as Record<string, unknown>;
  if (o.name !== name) return `the module's name is ${JSON.stringify(o.name)}: it must be '${name}', the file's name`;
  if (o.type !== 'state' && o.type !== 'check') return `type is ${JSON.stringify(o.type)}: expected 'state' (facts, plan) or 'check' (run)`;
  const schema = o.schema as { safeParse?: unknown } | undefined;
  if (!schema || typeof schema.safeParse !== 'function') return `schema is missing or not a zod schema (use the toolkit's z: z.object({...}).strict())`;
  const fns = o.type === 'state' ? { facts: true, plan: true, prepare: false, predict: false, footprint: false } : { run: true, writes: false, firstAttempt: false };
  for (const [fn, required] of Object.entries(fns)) {
    if (o[fn] === undefined && !required) continue;
    if (typeof o[fn] !== 'function') return `${fn} is ${o[fn] === undefined ? 'missing' : describe(o[fn])}: a ${o.type} module needs ${fn}() to be a function`;
  }
  return undefined;
}

/** Import a module file and check it against the contract; a ConfigError naming the file otherwise. */
export async function loadOwnModule(name: string, file: string): Promise<Module> {
  let exported: unknown;
  try {
    const url = file.endsWith('.ts') ? await (await import('./ownts.js')).compiledModuleUrl(file) : pathToFileURL(file).href;
    const ns = (await import(url)) as { default?: unknown };
    if (!('default' in ns)) throw new ConfigError(`${displayPath(file)}: not a provision module: it has no default export (export default the module object, or a function (toolkit) => module object)`);
    exported = ns.default;
    if (typeof exported === 'function') exported = await (exported as (t: Toolkit) => unknown)(await (toolkit ??= makeToolkit()));
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${displayPath(file)}: cannot load the module: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  const bad = contractError(exported, name);
  if (bad) throw new ConfigError(`${displayPath(file)}: not a provision module: ${bad}`);
  return exported as Module;
}

/** The built-in modules and a project's own, both loaded only when used. */
export interface ModuleRegistry {
  readonly names: readonly string[];
  isModuleName(name: string): boolean;
  load(names?: Iterable<string>): Promise<Map<string, Module>>;
}

export function moduleRegistry(ownDirs: string[]): ModuleRegistry {
  const own = findOwnModules(ownDirs);
  const names = [...builtin.MODULE_NAMES, ...own.keys()].sort();
  const isModuleName = (n: string) => builtin.isModuleName(n) || own.has(n);
  return {
    names,
    isModuleName,
    async load(wanted: Iterable<string> = names) {
      const list = [...new Set(wanted)];
      const mods = await builtin.loadModules(list);
      const ownList = list.filter((n) => own.has(n)).sort();
      for (const m of await Promise.all(ownList.map((n) => loadOwnModule(n, own.get(n)!)))) mods.set(m.name, m);
      return mods;
    },
  };
}
