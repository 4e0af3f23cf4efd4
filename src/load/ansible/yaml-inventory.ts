/**
 * Ansible's YAML inventory: top-level groups (usually just `all:`), each a mapping of
 * `hosts:` (host pattern -> variables), `children:` (group -> the same structure, to any depth)
 * and `vars:`. Host patterns take ranges (web[01:04]) and a port (db:2222) as in INI files.
 */
import type { Path, YamlSource } from '../yaml.js';
import { expandHostRange, splitHostPort, type AnsibleModel } from './model.js';
import { isMapping, originAt } from './yaml-source.js';

const SECTIONS = ['hosts', 'children', 'vars'];

export function readYamlInventory(src: YamlSource, model: AnsibleModel): void {
  model.files.push(src.file);
  const top = src.value as Record<string, unknown>;
  for (const [g, data] of Object.entries(top)) group(src, model, g, data, [g], undefined);
}

function group(src: YamlSource, model: AnsibleModel, name: string, data: unknown, path: Path, parent: string | undefined): void {
  const o = originAt(src, path, true);
  if (data !== null && !isMapping(data)) {
    model.error(o, `group '${name}': expected a mapping with hosts, children and/or vars, got ${describe(data)}`);
    return;
  }
  if (!model.group(name, o)) return;
  if (parent !== undefined) model.addChild(parent, name, o);
  if (data === null) return;
  for (const [key, raw] of Object.entries(data)) {
    const kp = [...path, key];
    if (!SECTIONS.includes(key)) {
      model.error(originAt(src, kp, true), `group '${name}': unknown key '${key}' (a group has only hosts, children and vars)`);
      continue;
    }
    if (raw === null) continue;
    // Ansible accepts a single name as a string: `hosts: web1`
    const value = typeof raw === 'string' ? { [raw]: null } : raw;
    if (!isMapping(value)) {
      model.error(originAt(src, kp), `group '${name}': '${key}' must be a mapping, got ${describe(raw)}`);
      continue;
    }
    if (key === 'vars') {
      for (const [k, v] of Object.entries(value)) model.setGroupVar(name, k, v, originAt(src, [...kp, k], true));
    } else if (key === 'children') {
      for (const [c, cd] of Object.entries(value)) group(src, model, c, cd, typeof raw === 'string' ? kp : [...kp, c], name);
    } else {
      for (const [pattern, hv] of Object.entries(value)) {
        const hp = typeof raw === 'string' ? kp : [...kp, pattern];
        const ho = originAt(src, hp, typeof raw !== 'string');
        if (hv !== null && !isMapping(hv)) {
          model.error(ho, `host '${pattern}': expected a mapping of variables (or nothing), got ${describe(hv)}`);
          continue;
        }
        const split = splitHostPort(pattern);
        if (typeof split === 'string') {
          model.error(ho, split);
          continue;
        }
        const names = expandHostRange(split.pattern);
        if (typeof names === 'string') {
          model.error(ho, names);
          continue;
        }
        for (const h of names) {
          if (!model.addHost(name, h, ho)) continue;
          if (split.port !== undefined) model.setHostVar(h, 'ansible_port', split.port, ho);
          for (const [k, v] of Object.entries(hv ?? {})) model.setHostVar(h, k, v, originAt(src, [...hp, k], true));
        }
      }
    }
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'nothing';
  return `${typeof v} ${JSON.stringify(v)}`.slice(0, 60);
}
