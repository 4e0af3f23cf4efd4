/** user: a local account. */
import { z } from 'zod';
import { int, MAX_ID } from '../bounds.js';
import { sq } from '../../engine/shell.js';
import { fact, TaskError, Unknown, type Change, type Effect, type FactsOf, type StateModule } from '../contract.js';
import { setsTo, unknownUnder } from '../../engine/prediction.js';
import { fileFact, type FileFact } from '../files/facts.js';
import { missingParentsMade, namesOf, normPath, pathBecomes, removedTree, unknownTree } from '../files/effects.js';
import { createHash } from 'node:crypto';
import { groupFact, loginDefsFact, shadowFact, userFact, type GroupFact, type LoginDefsFact, type ShadowFact, type UserFact } from './facts.js';

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
    /** A crypt(3) hash (as Ansible's `password`), never a clear-text password. */
    password: z
      .string()
      .regex(/^(\$[0-9a-z]+\$[^:\n]+|[!*][^:\n]*)$/, "a crypt hash such as '$6$salt$...' (or '!'/'*' for a locked account), e.g. from the password_hash filter")
      .optional(),
    update_password: z.enum(['always', 'on_create']).optional(),
    /** groups: added to the user's supplementary groups instead of replacing them. */
    append: z.boolean().optional(),
    /** state: absent: also remove the home directory (userdel -r). */
    remove: z.boolean().optional(),
  })
  .strict();
type UserArgs = z.infer<typeof userSchema>;

type UserFacts = { user: UserFact; home: FileFact; defs?: LoginDefsFact; shadow?: ShadowFact } & Record<`group:${string}`, GroupFact>;

export const user: StateModule<UserArgs, UserFacts> = {
  name: 'user',
  type: 'state',
  schema: userSchema,
  secrets: (a) => (a.password ? [a.password] : []),
  facts: (a) => {
    // the groups it names must exist; its own group (useradd --user-group) must not, yet
    const names = a.state === 'absent' ? [] : [a.group ?? a.name, ...(a.groups ?? [])];
    const groups = Object.fromEntries(names.map((g) => [`group:${g}`, fact(groupFact, { name: g })]));
    const shadow = a.state === 'present' && a.password ? { shadow: fact(shadowFact, { name: a.name }) } : {};
    // login.defs only matters for a home useradd would create (a grep less on the host otherwise)
    const defs = a.state === 'present' && createsHome(a) ? { defs: fact(loginDefsFact, {}) } : {};
    return { user: fact(userFact, { name: a.name }), home: fact(fileFact, { path: homeOf(a) }), ...defs, ...shadow, ...groups } as FactsOf<UserFacts>;
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
      if (!u.exists) return [];
      return [{ action: 'remove', target: a.name, summary: `remove user ${a.name}${a.remove ? ` and its home directory ${u.home}` : ''}`, commands: [{ cmd: a.remove ? `userdel -r ${n}` : `userdel ${n}` }] }];
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
      opts.push(createsHome(a) ? '--create-home' : '--no-create-home');
      return [{ action: 'create', target: a.name, summary: `create ${a.system ? 'system ' : ''}user ${a.name}`, commands: [{ cmd: `useradd ${opts.join(' ')} ${n}` }] }, ...planPassword(a, facts.shadow, true)];
    }
    const changes: Change[] = [];
    const mod = (what: string, opt: string) =>
      changes.push({ action: 'modify', target: a.name, summary: `user ${a.name}: ${what}`, commands: [{ cmd: `usermod ${opt} ${n}` }] });
    if (a.uid !== undefined && u.uid === undefined) throw new Unknown(`the uid of ${a.name} is chosen by useradd in an earlier task`);
    if (a.uid !== undefined && u.uid !== a.uid) mod(`uid ${u.uid} -> ${a.uid}`, `--uid ${a.uid}`);
    if (a.group && u.group !== a.group) mod(`group ${u.group} -> ${a.group}`, `--gid ${sq(a.group)}`);
    if (a.groups && a.append) {
      const add = [...new Set(a.groups.filter((g) => g !== (a.group ?? u.group) && !(u.groups ?? []).includes(g)))].sort();
      if (add.length) mod(`add to groups [${add.join(', ')}]`, `--append --groups ${sq(add.join(','))}`);
    } else if (a.groups) {
      const want = [...new Set(a.groups.filter((g) => g !== (a.group ?? u.group)))].sort();
      if (want.join(',') !== (u.groups ?? []).join(',')) mod(`groups [${(u.groups ?? []).join(', ')}] -> [${want.join(', ')}]`, `--groups ${sq(want.join(','))}`);
    }
    if (a.home && u.home !== a.home) mod(`home ${u.home} -> ${a.home}`, `--home ${sq(a.home)}`);
    if (a.shell && u.shell !== a.shell) mod(`shell ${u.shell} -> ${a.shell}`, `--shell ${sq(a.shell)}`);
    if ((a.update_password ?? 'always') === 'always') changes.push(...planPassword(a, facts.shadow, false));
    return changes;
  },
  footprint(a) {
    const why = `the user ${a.name} is managed by a task whose outcome is unknown in check mode`;
    // remove: userdel -r removes the home directory the user has, wherever it is
    const homes = a.state === 'absent' && a.remove ? [unknownUnder('file:', why)] : [unknownTree([normPath(homeOf(a))], why)];
    return [unknownUnder(`user:${a.name}`, why), unknownUnder(`shadow:${a.name}`, why), unknownUnder('group:', why), ...homes];
  },
  predict(a, { user: u, home, defs }) {
    if (a.state === 'absent') {
      // userdel also removes the user's own group when nobody else is in it (USERGROUPS_ENAB)
      const gone = [setsTo(`user:${a.name}`, { exists: false }), setsTo(`shadow:${a.name}`, { exists: false, readable: true } satisfies ShadowFact), unknownUnder(`group:${a.name}`, `userdel ${a.name} may remove the group ${a.name}`)];
      if (!a.remove || !u.exists || !u.home) return gone;
      return [...gone, removedTree(u.home === homeOf(a) ? namesOf(u.home, home) : [normPath(u.home)])];
    }
    const group = a.group ?? u.group ?? a.name;
    const effects: Effect[] = [
      setsTo(`user:${a.name}`, {
        exists: true,
        // useradd picks the next free uid: known only after it runs
        uid: a.uid ?? u.uid,
        group,
        groups: a.groups ? [...new Set([...(a.append ? (u.groups ?? []) : []), ...a.groups].filter((g) => g !== group))].sort() : (u.groups ?? []),
        home: a.home ?? u.home ?? `/home/${a.name}`,
        shell: a.shell ?? u.shell ?? (a.system ? '/usr/sbin/nologin' : '/bin/bash'),
      } satisfies UserFact),
    ];
    if (a.password && ((a.update_password ?? 'always') === 'always' || !u.exists)) effects.push(setsTo(`shadow:${a.name}`, { exists: true, readable: true, digest: digestOf(a.password) } satisfies ShadowFact));
    else if (!u.exists) effects.push(unknownUnder(`shadow:${a.name}`, `the password field useradd writes for ${a.name} is known only after it runs`));
    if (u.exists) return effects;
    if (!a.group) effects.push(setsTo(`group:${a.name}`, { exists: true } satisfies GroupFact));
    if (createsHome(a)) {
      const path = homeOf(a);
      const names = namesOf(path, home);
      if (home.type === 'absent' && home.parentExists) {
        if (!defs) throw new Error('user: the login.defs fact was not read');
        const mode = defs.homeMode;
        effects.push(pathBecomes(names, () => ({ type: 'directory', parentExists: true, mode, owner: a.name, group, real: home.real })));
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
/** useradd --create-home (the default for a user that is not a system user) */
const createsHome = (a: UserArgs) => a.create_home ?? !a.system;

/** What shadowFact keeps of a password hash. */
const digestOf = (hash: string) => createHash('sha256').update(hash).digest('hex');


/**
 * The password hash, set through chpasswd's standard input (never on a command line) when it
 * differs from /etc/shadow's (a new user: always, as update_password: on_create means too).
 */
function planPassword(a: UserArgs, shadow: ShadowFact | undefined, creating: boolean): Change[] {
  if (!a.password) return [];
  if (!creating) {
    if (!shadow || shadow.readable === false) throw new TaskError(`user ${a.name}: /etc/shadow cannot be read to compare the password (run the task with become)`);
    if (shadow.digest === digestOf(a.password)) return [];
  }
  return [{ action: 'password', target: a.name, summary: `user ${a.name}: set password`, commands: [{ cmd: 'chpasswd --encrypted', stdin: `${a.name}:${a.password}\n`, display: `set the password of ${a.name}` }] }];
}
