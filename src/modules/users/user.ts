/** user: a local account. */
import { z } from 'zod';
import { int, MAX_ID } from '../bounds.js';
import { sq } from '../../engine/shell.js';
import { fact, TaskError, Unknown, type Change, type Effect, type FactsOf, type StateModule } from '../contract.js';
import { setsTo, unknownUnder } from '../../engine/prediction.js';
import { fileFact, type FileFact } from '../files/facts.js';
import { missingParentsMade, namesOf, normPath, pathBecomes, unknownTree } from '../files/effects.js';
import { groupFact, loginDefsFact, userFact, type GroupFact, type LoginDefsFact, type UserFact } from './facts.js';

export const accountName = z.string().regex(/^[a-z_][a-z0-9_-]*\$?$/, 'a user/group name: lower-case letters, digits, _ -');

const userSchema = z
  .object({
    name: accountName,
    state: z.enum(['present', 'absent']).default('present'),
    system: z.boolean().default(false),
    uid: int(0, MAX_ID, 'a uid').optional(),
    group: accountName.optional(),
    groups: z.array(accountName).optional(),
    home: z.string().startsWith('/').optional(),
    shell: z.string().startsWith('/').optional(),
    create_home: z.boolean().optional(),
  })
  .strict();
type UserArgs = z.infer<typeof userSchema>;

type UserFacts = { user: UserFact; home: FileFact; defs: LoginDefsFact } & Record<`group:${string}`, GroupFact>;

export const user: StateModule<UserArgs, UserFacts> = {
  name: 'user',
  type: 'state',
  schema: userSchema,
  facts: (a) => {
    // the groups it names must exist; its own group (useradd --user-group) must not, yet
    const names = a.state === 'absent' ? [] : [a.group ?? a.name, ...(a.groups ?? [])];
    const groups = Object.fromEntries(names.map((g) => [`group:${g}`, fact(groupFact, { name: g })]));
    return { user: fact(userFact, { name: a.name }), home: fact(fileFact, { path: homeOf(a) }), defs: fact(loginDefsFact, {}), ...groups } as FactsOf<UserFacts>;
  },
  plan(a, facts) {
    const u = facts.user;
    const n = sq(a.name);
    if (a.state === 'present') {
      const missing = [...(a.group ? [a.group] : []), ...supplementary(a)].filter((g) => !facts[`group:${g}`]?.exists);
      if (missing.length) throw new TaskError(`user ${a.name}: no such group on this host: ${[...new Set(missing)].join(', ')}`);
      if (!u.exists && !a.group && facts[`group:${a.name}`]?.exists) {
        throw new TaskError(`user ${a.name}: a group ${a.name} exists already (useradd --user-group refuses it); name it in 'group:' to use it`);
      }
    }
    if (a.state === 'absent') {
      return u.exists ? [{ action: 'remove', target: a.name, summary: `remove user ${a.name}`, commands: [{ cmd: `userdel ${n}` }] }] : [];
    }
    if (!u.exists) {
      const opts: string[] = [];
      if (a.system) opts.push('--system');
      if (a.uid !== undefined) opts.push(`--uid ${a.uid}`);
      if (a.group) opts.push(`--gid ${sq(a.group)}`);
      else opts.push('--user-group');
      if (supplementary(a).length) opts.push(`--groups ${sq(supplementary(a).join(','))}`);
      if (a.home) opts.push(`--home-dir ${sq(a.home)}`);
      opts.push(a.shell ? `--shell ${sq(a.shell)}` : a.system ? '--shell /usr/sbin/nologin' : '--shell /bin/bash');
      opts.push((a.create_home ?? !a.system) ? '--create-home' : '--no-create-home');
      return [{ action: 'create', target: a.name, summary: `create ${a.system ? 'system ' : ''}user ${a.name}`, commands: [{ cmd: `useradd ${opts.join(' ')} ${n}` }] }];
    }
    const changes: Change[] = [];
    const mod = (what: string, opt: string) =>
      changes.push({ action: 'modify', target: a.name, summary: `user ${a.name}: ${what}`, commands: [{ cmd: `usermod ${opt} ${n}` }] });
    if (a.uid !== undefined && u.uid === undefined) throw new Unknown(`the uid of ${a.name} is chosen by useradd in an earlier task`);
    if (a.uid !== undefined && u.uid !== a.uid) mod(`uid ${u.uid} -> ${a.uid}`, `--uid ${a.uid}`);
    if (a.group && u.group !== a.group) mod(`group ${u.group} -> ${a.group}`, `--gid ${sq(a.group)}`);
    if (a.groups) {
      const want = [...new Set(a.groups.filter((g) => g !== (a.group ?? u.group)))].sort();
      if (want.join(',') !== (u.groups ?? []).join(',')) mod(`groups [${(u.groups ?? []).join(', ')}] -> [${want.join(', ')}]`, `--groups ${sq(want.join(','))}`);
    }
    if (a.home && u.home !== a.home) mod(`home ${u.home} -> ${a.home}`, `--home ${sq(a.home)}`);
    if (a.shell && u.shell !== a.shell) mod(`shell ${u.shell} -> ${a.shell}`, `--shell ${sq(a.shell)}`);
    return changes;
  },
  footprint(a) {
    const why = `the user ${a.name} is managed by a task whose outcome is unknown in check mode`;
    return [unknownUnder(`user:${a.name}`, why), unknownUnder('group:', why), unknownTree([normPath(homeOf(a))], why)];
  },
  predict(a, { user: u, home, defs }) {
    if (a.state === 'absent') {
      // userdel also removes the user's own group when nobody else is in it (USERGROUPS_ENAB)
      return [setsTo(`user:${a.name}`, { exists: false }), unknownUnder(`group:${a.name}`, `userdel ${a.name} may remove the group ${a.name}`)];
    }
    const group = a.group ?? u.group ?? a.name;
    const effects: Effect[] = [
      setsTo(`user:${a.name}`, {
        exists: true,
        // useradd picks the next free uid: known only after it runs
        uid: a.uid ?? u.uid,
        group,
        groups: a.groups ? [...new Set(a.groups.filter((g) => g !== group))].sort() : (u.groups ?? []),
        home: a.home ?? u.home ?? `/home/${a.name}`,
        shell: a.shell ?? u.shell ?? (a.system ? '/usr/sbin/nologin' : '/bin/bash'),
      } satisfies UserFact),
    ];
    if (u.exists) return effects;
    if (!a.group) effects.push(setsTo(`group:${a.name}`, { exists: true } satisfies GroupFact));
    if (a.create_home ?? !a.system) {
      const path = homeOf(a);
      const names = namesOf(path, home);
      if (home.type === 'absent' && home.parentExists) {
        effects.push(pathBecomes(names, () => ({ type: 'directory', parentExists: true, mode: defs.homeMode, owner: a.name, group, real: home.real })));
        effects.push(unknownTree(names, `${path} is filled from /etc/skel by useradd`, false));
      } else if (home.type === 'absent') {
        const why = `useradd creates ${path} and its missing parent directories`;
        effects.push(unknownTree(names, why), missingParentsMade(normPath(path), why));
      }
    }
    return effects;
  },
};

/** Supplementary groups: the primary one (its own, or `group`) is not one of them. */
const supplementary = (a: UserArgs) => [...new Set((a.groups ?? []).filter((g) => g !== (a.group ?? a.name)))];

/** The home directory useradd uses. */
const homeOf = (a: UserArgs) => a.home ?? `/home/${a.name}`;
