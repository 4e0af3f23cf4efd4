/** user: a local account. */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { fact, type Change, type StateModule } from '../contract.js';
import { userFact, type UserFact } from './facts.js';

export const accountName = z.string().regex(/^[a-z_][a-z0-9_-]*\$?$/, 'a user/group name: lower-case letters, digits, _ -');

const userSchema = z
  .object({
    name: accountName,
    state: z.enum(['present', 'absent']).default('present'),
    system: z.boolean().default(false),
    uid: z.number().int().nonnegative().optional(),
    group: accountName.optional(),
    groups: z.array(accountName).optional(),
    home: z.string().startsWith('/').optional(),
    shell: z.string().startsWith('/').optional(),
    create_home: z.boolean().optional(),
  })
  .strict();
type UserArgs = z.infer<typeof userSchema>;

export const user: StateModule<UserArgs, { user: UserFact }> = {
  name: 'user',
  type: 'state',
  schema: userSchema,
  facts: (a) => ({ user: fact(userFact, { name: a.name }) }),
  plan(a, { user: u }) {
    const n = sq(a.name);
    if (a.state === 'absent') {
      return u.exists ? [{ action: 'remove', target: a.name, summary: `remove user ${a.name}`, commands: [{ cmd: `userdel ${n}` }] }] : [];
    }
    if (!u.exists) {
      const opts: string[] = [];
      if (a.system) opts.push('--system');
      if (a.uid !== undefined) opts.push(`--uid ${a.uid}`);
      if (a.group) opts.push(`--gid ${sq(a.group)}`);
      else opts.push('--user-group');
      if (a.groups?.length) opts.push(`--groups ${sq(a.groups.join(','))}`);
      if (a.home) opts.push(`--home-dir ${sq(a.home)}`);
      opts.push(a.shell ? `--shell ${sq(a.shell)}` : a.system ? '--shell /usr/sbin/nologin' : '--shell /bin/bash');
      opts.push((a.create_home ?? !a.system) ? '--create-home' : '--no-create-home');
      return [{ action: 'create', target: a.name, summary: `create ${a.system ? 'system ' : ''}user ${a.name}`, commands: [{ cmd: `useradd ${opts.join(' ')} ${n}` }] }];
    }
    const changes: Change[] = [];
    const mod = (what: string, opt: string) =>
      changes.push({ action: 'modify', target: a.name, summary: `user ${a.name}: ${what}`, commands: [{ cmd: `usermod ${opt} ${n}` }] });
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
  predict(a, { user: u }) {
    if (a.state === 'absent') return { user: { exists: false } };
    return {
      user: {
        exists: true,
        uid: a.uid ?? u.uid,
        group: a.group ?? u.group ?? a.name,
        groups: a.groups ? [...new Set(a.groups.filter((g) => g !== (a.group ?? u.group ?? a.name)))].sort() : (u.groups ?? []),
        home: a.home ?? u.home ?? (a.system ? '/' : `/home/${a.name}`),
        shell: a.shell ?? u.shell ?? (a.system ? '/usr/sbin/nologin' : '/bin/bash'),
      },
    };
  },
};

