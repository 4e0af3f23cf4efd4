/**
 * Where each task of a case sits in the playbook's tree: the blocks (and their sections) and the
 * dynamic includes around it, read from the case itself (the run reports list tasks only). The
 * comparison (compare.ts) needs it for the pairs one run has and the other lacks: the rest of a
 * block section after a task that really failed did not run, and what a rescue or an include
 * that check mode called unknown ran is covered by that unknown.
 *
 * Keys are `play NUL reported task name` (role tasks as `ROLE : name`, includes by their name).
 * A key met at two different places is ambiguous (null): the comparison then assumes nothing.
 */
import type { Case, CaseRole } from './case.js';

export interface Level {
  /** unique per block / include in the case (its path) */
  id: string;
  section: 'block' | 'rescue' | 'always' | 'include';
  /** a block: whether it has a rescue section */
  rescue?: boolean;
  /** an include: the name it is reported under */
  include?: string;
}

export type Structure = Map<string, Level[] | null>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const INCLUDES = ['include_tasks', 'import_tasks', 'include_role', 'import_role'] as const;

export const structureKey = (play: string, task: string): string => `${play}\u0000${task}`;

export function caseStructure(c: Case): Structure {
  const out: Structure = new Map();
  const put = (play: string, name: string, chain: Level[]) => {
    const k = structureKey(play, name);
    const have = out.get(k);
    if (have === undefined) out.set(k, chain);
    else if (have !== null && JSON.stringify(have) !== JSON.stringify(chain)) out.set(k, null);
  };
  const roleOf = (name: string): CaseRole | undefined => c.roles?.[name];

  const walk = (play: string, list: unknown, chain: Level[], at: string, prefix: string, ctx: { roles: Set<string>; files: string[] }): void => {
    if (!Array.isArray(list)) return;
    list.forEach((n, i) => {
      if (!isObj(n)) return;
      const id = `${at}/${i}`;
      if ('block' in n) {
        const rescue = Array.isArray(n.rescue) && n.rescue.length > 0;
        for (const section of ['block', 'rescue', 'always'] as const) walk(play, n[section], [...chain, { id, section, rescue }], `${id}.${section}`, prefix, ctx);
        return;
      }
      const inc = INCLUDES.find((k) => k in n);
      if (!inc) {
        if (typeof n.name === 'string') put(play, prefix + n.name, chain);
        return;
      }
      const v = n[inc];
      const dynamic = inc.startsWith('include_');
      if (inc === 'include_tasks' || inc === 'import_tasks') {
        const file = typeof v === 'string' ? v : isObj(v) ? String(v.file) : '';
        const name = typeof n.name === 'string' ? n.name : `include_tasks ${file}`;
        if (dynamic) put(play, name, chain);
        if (ctx.files.includes(file)) return;
        const inner = dynamic ? [...chain, { id, section: 'include' as const, include: name }] : chain;
        walk(play, c.taskFiles?.[file], inner, `${id}:${file}`, prefix, { ...ctx, files: [...ctx.files, file] });
        return;
      }
      const role = isObj(v) ? String(v.name) : '';
      const name = typeof n.name === 'string' ? n.name : `include_role ${role}`;
      if (dynamic) put(play, name, chain);
      // include_role runs the role (and its dependencies) again; import_role once per play
      expandRole(play, role, dynamic ? [...chain, { id, section: 'include', include: name }] : chain, id, dynamic ? { ...ctx, roles: new Set() } : ctx);
    });
  };

  const expandRole = (play: string, name: string, chain: Level[], at: string, ctx: { roles: Set<string>; files: string[] }): void => {
    const r = roleOf(name);
    if (!r || ctx.roles.has(name)) return;
    ctx.roles.add(name);
    const deps = isObj(r.meta) && Array.isArray(r.meta.dependencies) ? r.meta.dependencies : [];
    for (const d of deps) {
      const dn = typeof d === 'string' ? d : isObj(d) ? String(d.role ?? d.name) : '';
      expandRole(play, dn, chain, `${at}>${dn}`, ctx);
    }
    walk(play, r.tasks, chain, `${at}>${name}`, `${name} : `, ctx);
  };

  for (const [pi, p] of c.playbook.entries()) {
    if (!isObj(p)) continue;
    const play = typeof p.name === 'string' ? p.name : String(p.hosts);
    const ctx = { roles: new Set<string>(), files: [] as string[] };
    walk(play, p.pre_tasks, [], `${pi}.pre`, '', ctx);
    if (Array.isArray(p.roles)) {
      for (const e of p.roles) {
        const n = typeof e === 'string' ? e : isObj(e) ? String(e.role ?? e.name) : '';
        expandRole(play, n, [], `${pi}.roles`, ctx);
      }
    }
    walk(play, p.tasks, [], `${pi}.tasks`, '', ctx);
    walk(play, p.post_tasks, [], `${pi}.post`, '', ctx);
  }
  return out;
}
