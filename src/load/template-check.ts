/**
 * Load-time check of a template file: UTF-8, not too large, and it compiles — as EJS, or as
 * Jinja2 for `.j2` files (with its filters and tests known). Nothing is rendered.
 */
import { readFileSync } from 'node:fs';
import { ejsSyntaxError, isJinja } from '../engine/expr.js';
import { jinjaSyntaxError } from '../engine/jinja.js';
import { decodeUtf8, displayPath } from './yaml.js';

export const MAX_TEMPLATE_BYTES = 16 * 1024 * 1024;

/** '' if the template file is UTF-8 and compiles, else the problem (with the template's file:line). */
export function checkTemplateFile(file: string): string {
  const buf = readFileSync(file);
  if (buf.length > MAX_TEMPLATE_BYTES) return `${displayPath(file)}: template too large (${buf.length} bytes; the limit is ${MAX_TEMPLATE_BYTES})`;
  let text: string;
  try {
    text = decodeUtf8(buf, file);
  } catch (e) {
    return (e as Error).message;
  }
  const name = displayPath(file);
  return (isJinja(file) ? jinjaSyntaxError(text, name) : ejsSyntaxError(text, name)) ?? '';
}
