/**
 * A file of variables: vars_files and defaults_files, a role's vars/ and defaults/, include_vars.
 * One reading for all of them: a mapping of variable names, its {{ }} checked at load.
 */
import { z } from 'zod';
import './zod-jitless.js';
import { checkExpressions } from './task-checks.js';
import { ConfigError, loadYaml, parseWith, type YamlSource } from './yaml.js';

export const varName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name: letters, digits, _');
/** A mapping of variables (a play's vars, a role's, a file's). */
export const varsSchema = z.record(varName, z.unknown());

/** The file's variables; `{{ }}` syntax errors go to `errors`; `notMapping`: the message when it is not a mapping. */
export function readVarsFile(path: string, errors: string[], notMapping: (src: YamlSource) => string): Record<string, unknown> {
  const src = loadYaml(path, { ansibleBooleans: true });
  const v = src.value ?? {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(notMapping(src));
  parseWith(src, varsSchema, v);
  checkExpressions(src, v, [], errors);
  return v as Record<string, unknown>;
}
