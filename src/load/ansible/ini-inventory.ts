/**
 * Ansible's INI inventory: `[group]` sections of host lines (`name[:port] key=value ...`, with
 * ranges such as web[01:04]), `[group:vars]` (key=value), `[group:children]` (group names),
 * and hosts before any section (ungrouped). Comments start with `#` or `;`.
 */
import { displayPath, readText } from '../yaml.js';
import { type AnsibleModel, type Origin, expandHostRange, splitHostPort } from './model.js';
import { LiteralTooLarge, pyLiteral, shlexSplit } from './pyliteral.js';

type State = 'hosts' | 'vars' | 'children';
// as ansible-core's patterns: only `#` starts a comment after a section or a child group name
const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const CHILD = /^([^:\]\s]+)\s*(?:#.*)?$/;

/** pyLiteral, or (reported at `origin`) undefined for a value provision cannot hold exactly. */
function literal(model: AnsibleModel, text: string, origin: Origin, quoteHint: string): { value: unknown } | undefined {
  try {
    return { value: pyLiteral(text) };
  } catch (e) {
    if (!(e instanceof LiteralTooLarge)) throw e;
    model.error(origin, `${e.message}: to keep it as a string, quote it ${quoteHint}`);
    return undefined;
  }
}

export function readIni(file: string, text: string, model: AnsibleModel): void {
  model.files.push(file);
  const lines = text.split(/\r?\n/);
  let group = 'ungrouped';
  let state = 'hosts' as State;
  // [x:vars] for a group never declared is an error (as in Ansible); checked at the end of the file
  const pendingVars = new Map<string, Origin>();
  // groups of earlier files of an inventory directory count as declared, as in Ansible
  const declared = new Set<string>(['all', 'ungrouped', ...model.groups.keys()]);
  const pendingVarsValues = new Map<string, [string, unknown, Origin][]>();
  // [x:children] may name a group defined later in the file; child -> its parents, in order
  const pendingChildren = new Map<string, { parent: string; origin: Origin }[]>();
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n];
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    const o = (col = 0): Origin => ({ file, line: n + 1, col: indent + col + 1 });
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      const m = SECTION.exec(line);
      if (!m) {
        if (/^\[[^\]]*\]/.test(line) && /\s/.test(line.slice(1, line.indexOf(']')))) {
          model.error(o(), `invalid section '${line}': group names cannot contain spaces`);
        } else model.error(o(), `invalid section header '${line}' (expected [group], [group:vars] or [group:children])`);
        state = 'hosts';
        group = '';
        continue;
      }
      const [, name, kind] = m;
      if (kind !== undefined && kind !== 'vars' && kind !== 'children' && kind !== 'hosts') {
        model.error(o(), `section [${name}:${kind}] has unknown type '${kind}' (expected vars or children)`);
        group = '';
        continue;
      }
      group = name;
      state = (kind ?? 'hosts') as State;
      if (state === 'vars') {
        if (!declared.has(name) && !pendingVars.has(name)) pendingVars.set(name, o());
      } else {
        declared.add(name);
        pendingVars.delete(name);
        model.group(name, o());
        for (const { parent, origin } of pendingChildren.get(name) ?? []) model.addChild(parent, name, origin);
        pendingChildren.delete(name);
      }
      continue;
    }
    if (!group) continue; // inside an invalid section: already reported
    if (state === 'hosts') {
      const toks = shlexSplit(line);
      if (!Array.isArray(toks)) {
        model.error(o(toks.col), `${toks.error}`);
        continue;
      }
      if (toks.length === 0) continue;
      const hp = splitHostPort(toks[0].text);
      if (typeof hp === 'string') {
        model.error(o(toks[0].col), hp);
        continue;
      }
      const names = expandHostRange(hp.pattern);
      if (typeof names === 'string') {
        model.error(o(toks[0].col), names);
        continue;
      }
      const vars: [string, unknown, Origin][] = [];
      let bad = false;
      for (const t of toks.slice(1)) {
        const eq = t.text.indexOf('=');
        if (eq <= 0) {
          model.error(o(t.col), `expected key=value host variable, got '${t.text}'`);
          bad = true;
          continue;
        }
        // shlex removes one level of quotes, so a string needs two: n='"123"'
        const v = literal(model, t.text.slice(eq + 1), o(t.col), `twice on a host line (${t.text.slice(0, eq)}='"..."')`);
        if (v) vars.push([t.text.slice(0, eq), v.value, o(t.col)]);
        else bad = true;
      }
      if (bad) continue;
      for (const h of names) {
        if (!model.addHost(group, h, o(toks[0].col))) continue;
        if (hp.port !== undefined) model.setHostVar(h, 'ansible_port', hp.port, o(toks[0].col));
        for (const [k, v, vo] of vars) model.setHostVar(h, k, v, vo);
      }
    } else if (state === 'children') {
      const m = CHILD.exec(line);
      if (!m) {
        model.error(o(), `expected one group name per line in [${group}:children], got '${line}'`);
        continue;
      }
      // naming a group does not define it (Ansible refuses a child never defined as [x] or [x:children])
      if (declared.has(m[1])) model.addChild(group, m[1], o());
      else pendingChildren.set(m[1], [...(pendingChildren.get(m[1]) ?? []), { parent: group, origin: o() }]);
    } else {
      const eq = line.indexOf('=');
      if (eq <= 0) {
        model.error(o(), `expected key=value in [${group}:vars], got '${line}'`);
        continue;
      }
      const key = line.slice(0, eq).trim();
      const valueText = line.slice(eq + 1).trim();
      const v = literal(model, valueText, o(), `("...")`);
      if (!v) continue;
      if (group === 'all' || declared.has(group)) model.setGroupVar(group, key, v.value, o());
      else {
        // remember the value; the group may be declared later in the file
        const pending = pendingVarsValues.get(group) ?? [];
        pending.push([key, v.value, o()]);
        pendingVarsValues.set(group, pending);
      }
    }
  }
  for (const [g, vals] of pendingVarsValues) {
    if (pendingVars.has(g)) continue;
    for (const [k, v, vo] of vals) model.setGroupVar(g, k, v, vo);
  }
  for (const [g, origin] of pendingVars) model.error(origin, `section [${g}:vars] is for a group that is not defined in ${displayPath(file)}`);
  for (const [child, refs] of pendingChildren) {
    for (const { parent, origin } of refs) {
      model.error(origin, `[${parent}:children] names group '${child}', which is not defined in ${displayPath(file)} (define it with a [${child}] or [${child}:children] section)`);
    }
  }
}

export function readIniFile(file: string, model: AnsibleModel): void {
  // UTF-8 only, size-capped (load/yaml.ts): bad bytes are refused with their position
  readIni(file, readText(file), model);
}
