/** group: a local group. */
import { z } from 'zod';
import { int, MAX_ID } from '../bounds.js';
import { sq } from '../../engine/shell.js';
import { fact, Unknown, type StateModule } from '../contract.js';
import { setsTo, unknownUnder } from '../../engine/prediction.js';
import { groupFact, type GroupFact } from './facts.js';
import { accountName } from './user.js';

const groupSchema = z
  .object({
    name: accountName,
    state: z.enum(['present', 'absent']).default('present'),
    system: z.boolean().default(false),
    gid: int(0, MAX_ID, 'a gid').optional(),
  })
  .strict();
type GroupArgs = z.infer<typeof groupSchema>;

export const group: StateModule<GroupArgs, { group: GroupFact }> = {
  name: 'group',
  type: 'state',
  schema: groupSchema,
  facts: (a) => ({ group: fact(groupFact, { name: a.name }) }),
  plan(a, { group: g }) {
    const n = sq(a.name);
    if (a.state === 'absent') return g.exists ? [{ action: 'remove', target: a.name, summary: `remove group ${a.name}`, commands: [{ cmd: `groupdel ${n}` }] }] : [];
    if (!g.exists) {
      const opts = [a.system ? '--system' : '', a.gid !== undefined ? `--gid ${a.gid}` : ''].filter(Boolean).join(' ');
      return [{ action: 'create', target: a.name, summary: `create ${a.system ? 'system ' : ''}group ${a.name}`, commands: [{ cmd: `groupadd ${opts} ${n}`.replace(/ +/g, ' ') }] }];
    }
    if (a.gid !== undefined && g.gid === undefined) throw new Unknown(`the gid of ${a.name} is chosen by an earlier task (groupadd/useradd)`);
    if (a.gid !== undefined && g.gid !== a.gid) {
      return [{ action: 'modify', target: a.name, summary: `group ${a.name}: gid ${g.gid} -> ${a.gid}`, commands: [{ cmd: `groupmod --gid ${a.gid} ${n}` }] }];
    }
    return [];
  },
  footprint: (a) => [unknownUnder(`group:${a.name}`, `the group ${a.name} is managed by a task whose outcome is unknown in check mode`), unknownUnder('user:', `users' groups, after a group task whose outcome is unknown`)],
  predict: (a, { group: g }) => [setsTo(`group:${a.name}`, a.state === 'absent' ? { exists: false } : { exists: true, gid: a.gid ?? g.gid })],
};
