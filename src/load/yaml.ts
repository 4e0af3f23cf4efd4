/**
 * YAML files with positions: every validation error names file:line:column.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { LineCounter, parseDocument, isNode, visit, type Document } from 'yaml';
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

/** Largest YAML file provision reads (inventories, playbooks, vars files are small). */
export const MAX_YAML_BYTES = 4 * 1024 * 1024;
/** Most alias (*name) expansions in one YAML document: a cap against "billion laughs" alias bombs. */
export const MAX_YAML_ALIASES = 100;

/** Offset of the first byte that is not valid UTF-8, or -1. */
export function invalidUtf8Offset(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [n, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [n, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/**
 * Decode UTF-8 strictly: a file with bytes that are not UTF-8 is refused with the byte offset,
 * line and column (never silently replaced by U+FFFD). Throws ConfigError.
 */
export function decodeUtf8(buf: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    const off = Math.max(0, invalidUtf8Offset(buf));
    let line = 1;
    let start = 0;
    for (let i = 0; i < off; i++) {
      if (buf[i] === 0x0a) {
        line++;
        start = i + 1;
      }
    }
    // column in characters of the (valid) text before the bad byte on its line
    const col = new TextDecoder('utf-8').decode(buf.subarray(start, off)).length + 1;
    throw new ConfigError(
      `${displayPath(file)}:${line}:${col}: not valid UTF-8 (byte offset ${off}: 0x${buf[off]?.toString(16).padStart(2, '0') ?? '??'}); save the file as UTF-8`,
    );
  }
}

/** Read a text file (playbook, inventory, vars file, template): exists, not too large, UTF-8. */
export function readText(file: string, maxBytes = MAX_YAML_BYTES, what = 'file'): string {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${displayPath(file)}: cannot read ${what}${code === 'ENOENT' ? ': no such file' : `: ${code ?? (e as Error).message}`}`);
  }
  if (buf.length > maxBytes) {
    throw new ConfigError(`${displayPath(file)}: ${what} too large (${buf.length} bytes; the limit is ${maxBytes})`);
  }
  return decodeUtf8(buf, file);
}

export interface YamlOptions {
  /**
   * Read plain (unquoted) yes/no/on/off values as booleans, as Ansible's YAML 1.1 reader does
   * (playbooks, task files, role files); quoted they stay strings.
   */
  ansibleBooleans?: boolean;
}

export function loadYaml(file: string, opts: YamlOptions = {}): YamlSource {
  const text = readText(file);
  return parseYaml(text, file, opts);
}

const YAML11_BOOLEAN = /^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$/;

/** YAML 1.1's yes/no/on/off booleans in values (PyYAML's reading, which Ansible uses). */
function ansibleBooleans(doc: Document): void {
  visit(doc, {
    Pair(_k, pair) {
      const v = pair.value as { type?: string; source?: string; value?: unknown } | null;
      if (v && isNode(v) && v.type === 'PLAIN' && typeof v.source === 'string' && YAML11_BOOLEAN.test(v.source)) v.value = /^(?:yes|on)$/i.test(v.source);
      return undefined;
    },
    Seq(_k, seq) {
      for (const item of seq.items as { type?: string; source?: string; value?: unknown }[]) {
        if (item && isNode(item) && item.type === 'PLAIN' && typeof item.source === 'string' && YAML11_BOOLEAN.test(item.source)) item.value = /^(?:yes|on)$/i.test(item.source);
      }
      return undefined;
    },
  });
}

/** Parse YAML text; every failure (syntax, alias bomb, nesting too deep) is a ConfigError naming the file. */
export function parseYaml(text: string, file: string, opts: YamlOptions = {}): YamlSource {
  const lines = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    throw new ConfigError(`${displayPath(file)}: cannot parse YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const pos = lines.linePos(err.pos[0]);
    const msg = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`${displayPath(file)}:${pos.line}:${pos.col}: invalid YAML: ${msg}`);
  }
  if (opts.ansibleBooleans) ansibleBooleans(doc);
  const value = documentValue(doc, lines, file);
  return { file, value, doc, lines };
}

/**
 * The JavaScript value of a parsed document, refusing what would not be data: `__proto__` keys,
 * alias bombs (more than MAX_YAML_ALIASES expansions, or expanding past MAX_YAML_BYTES),
 * unknown and self-referencing aliases. ConfigError with the position where there is one.
 */
export function documentValue(doc: Document, lines: LineCounter, file: string): unknown {
  // `__proto__` as a key would set an object's prototype where it is copied (or vanish)
  let proto: number | undefined;
  visit(doc, {
    Pair(_k, pair) {
      const key = pair.key as { value?: unknown; range?: [number, number, number] } | null;
      if (key && key.value === '__proto__') {
        proto = key.range?.[0] ?? 0;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (proto !== undefined) {
    const pos = lines.linePos(proto);
    throw new ConfigError(`${displayPath(file)}:${pos.line}:${pos.col}: '__proto__' cannot be used as a key`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    if (e instanceof ReferenceError && /alias/i.test(e.message)) {
      const unresolved = /Unresolved alias[^:]*: (\S+)/.exec(e.message);
      let first: number | undefined;
      visit(doc, {
        Alias(_k, node) {
          if (unresolved && node.source !== unresolved[1]) return undefined;
          if (node.range) first = node.range[0];
          return visit.BREAK;
        },
      });
      const at = first === undefined ? displayPath(file) : `${displayPath(file)}:${lines.linePos(first).line}:${lines.linePos(first).col}`;
      if (unresolved) throw new ConfigError(`${at}: unknown YAML alias *${unresolved[1]} (the anchor &${unresolved[1]} must be defined before it)`);
      throw new ConfigError(`${at}: too many YAML alias expansions (more than ${MAX_YAML_ALIASES}: an alias bomb?); use fewer *aliases`);
    }
    throw new ConfigError(`${displayPath(file)}: cannot read YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (hasAlias(doc)) {
    let size: number;
    try {
      size = JSON.stringify(value ?? null).length;
    } catch {
      throw new ConfigError(`${displayPath(file)}: a YAML alias refers to a node that contains it (a cycle)`);
    }
    if (size > MAX_YAML_BYTES) throw new ConfigError(`${displayPath(file)}: YAML aliases expand to more than ${MAX_YAML_BYTES} bytes; use fewer *aliases`);
  }
  return value;
}

function hasAlias(doc: Document): boolean {
  let found = false;
  visit(doc, {
    Alias() {
      found = true;
      return visit.BREAK;
    },
  });
  return found;
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
