/**
 * YAML files of Ansible inventories and group_vars/host_vars, read as Ansible reads them
 * (PyYAML's YAML 1.1 types: see pyyaml-tags.ts), with positions for every error.
 */
import { LineCounter, parseDocument, visit, isNode } from 'yaml';
import { ConfigError, displayPath, documentValue, readText as readStrictText, where, type Path, type YamlSource } from '../yaml.js';
import type { Origin } from './model.js';
import { pyyamlTags } from './pyyaml-tags.js';

/** UTF-8 only (a bad byte is refused with its position), size-capped: see load/yaml.ts. */
export function readText(file: string): string {
  return readStrictText(file);
}

/** An Ansible Vault file or value cannot be read: provision has no vault password. */
function vaultError(at: string): ConfigError {
  return new ConfigError(
    `${at}: Ansible Vault encrypted content is not supported (provision cannot decrypt it); ` +
      `decrypt it, or move the secret to provision's secret() / PROVISION_SECRET_<NAME>`,
  );
}

export function checkVaultFile(file: string, text: string): void {
  if (text.startsWith('$ANSIBLE_VAULT;')) throw vaultError(`${displayPath(file)}:1:1`);
}

export function loadAnsibleYaml(file: string, text = readText(file)): YamlSource {
  checkVaultFile(file, text);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, version: '1.1', customTags: pyyamlTags });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const pos = lines.linePos(err.pos[0]);
    const msg = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`${displayPath(file)}:${pos.line}:${pos.col}: invalid YAML: ${msg}`);
  }
  let vault: string | undefined;
  let unsafe: string | undefined;
  visit(doc, (_key, node) => {
    if (!isNode(node) || !node.range) return undefined;
    const p = lines.linePos(node.range[0]);
    if (node.tag === '!vault') {
      vault = `${displayPath(file)}:${p.line}:${p.col}`;
      return visit.BREAK;
    }
    // Ansible never templates an !unsafe value, provision evaluates {{ }} in inventory values:
    // without template marks the two agree, with them it would be a different value
    if (node.tag === '!unsafe' && /\{[{%#]/.test(JSON.stringify(node.toJSON()) ?? '')) {
      unsafe ??= `${displayPath(file)}:${p.line}:${p.col}`;
    }
    return undefined;
  });
  if (vault) throw vaultError(vault);
  if (unsafe) {
    throw new ConfigError(
      `${unsafe}: an !unsafe value with {{ }}, {% %} or {# #} is not supported: Ansible keeps it as text, ` +
        `provision would evaluate it; remove the template marks`,
    );
  }
  return { file, value: documentValue(doc, lines, file), doc, lines };
}

/** The position of `path` in a YAML source (of its key with `atKey`) as an Origin. */
export function originAt(src: YamlSource, path: Path, atKey = false): Origin {
  const w = where(src, path, atKey);
  const m = /:(\d+):(\d+)$/.exec(w);
  return { file: src.file, line: m ? Number(m[1]) : 1, col: m ? Number(m[2]) : 1 };
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
