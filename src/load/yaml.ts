/**
 * YAML files with positions: every validation error names file:line:column.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';

/** A user error in an inventory, playbook or command line: exit code 2, no stack trace. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type Path = (string | number)[];

export interface YamlSource {
  file: string;
  value: unknown;
  doc: Document;
  lines: LineCounter;
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

export function loadYaml(file: string): YamlSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${displayPath(file)}: cannot read file${code === 'ENOENT' ? ': no such file' : `: ${code}`}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const pos = lines.linePos(err.pos[0]);
    const msg = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`${displayPath(file)}:${pos.line}:${pos.col}: invalid YAML: ${msg}`);
  }
  return { file, value: doc.toJS({ maxAliasCount: 100 }), doc, lines };
}

/** Position (line:col) of the node at `path`, or of its nearest existing ancestor. */
export function where(src: YamlSource, path: Path, atKey = false): string {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? src.doc.contents : src.doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range && !(atKey && n === path.length)) {
      const pos = src.lines.linePos(node.range[0]);
      return `${displayPath(src.file)}:${pos.line}:${pos.col}`;
    }
    // a key whose value is null has no value node: locate the key via the parent map
    if (n > 0) {
      const parent = n - 1 === 0 ? src.doc.contents : src.doc.getIn(path.slice(0, n - 1), true);
      const items = (parent as { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] })?.items;
      const key = items?.find((it) => it.key && it.key.value === path[n - 1])?.key;
      if (key?.range) {
        const pos = src.lines.linePos(key.range[0]);
        return `${displayPath(src.file)}:${pos.line}:${pos.col}`;
      }
    }
  }
  return displayPath(src.file);
}

export function formatPath(path: Path): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

/** Turn zod issues into "file:line:col: path: message" lines. */
export function zodIssues(src: YamlSource, error: z.ZodError, base: Path = []): string[] {
  return error.issues.map((issue) => {
    const path = [...base, ...(issue.path as Path)];
    let msg = issue.message;
    const extra = (issue as { keys?: string[] }).keys;
    if (issue.code === 'unrecognized_keys' && extra) {
      const at = where(src, [...path, extra[0]], true);
      return `${at}: ${formatPath(path) || '(top level)'}: unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `'${k}'`).join(', ')}`;
    }
    msg = msg.replace(/^Invalid input: /, '');
    return `${where(src, path)}: ${formatPath(path) || '(top level)'}: ${msg}`;
  });
}

export function parseWith<T>(src: YamlSource, schema: z.ZodType<T>, value: unknown = src.value, base: Path = []): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ConfigError(zodIssues(src, r.error, base).join('\n'));
  return r.data;
}
