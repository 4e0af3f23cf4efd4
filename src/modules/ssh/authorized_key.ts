/**
 * authorized_key: SSH public keys in a user's authorized_keys (Ansible's arguments: user, key,
 * path, manage_dir, state, exclusive, key_options, comment). The file's new content is computed
 * from its current content (keys/lines: Ansible's rules) and written atomically, owned by the
 * user with mode 0600; with manage_dir its directory is made 0700 and the user's as it is written.
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { fact, TaskError, type Change, type Effect, type StateModule } from '../contract.js';
import { fileFact, type FileFact } from '../files/facts.js';
import { contentFootprint, planContent, predictContent } from '../files/content.js';
import { namesOf, normPath, pathBecomes, unknownTree } from '../files/effects.js';
import { userFact, type UserFact } from '../users/facts.js';
import { accountName } from '../users/user.js';
import { enforce, normOptions, parseKey, type KeyLine } from './keys.js';
import { fileText, linesOf, textOfLines } from '../files/text.js';

const schema = z
  .object({
    user: accountName,
    key: z.string().min(1, 'one or more public keys, one a line'),
    path: z.string().startsWith('/', 'an absolute path').optional(),
    manage_dir: z.boolean().default(true),
    state: z.enum(['present', 'absent']).default('present'),
    exclusive: z.boolean().default(false),
    key_options: z.string().optional(),
    comment: z.string().optional(),
  })
  .strict()
  .transform((a, ctx) => {
    const keys: KeyLine[] = [];
    for (const [i, line] of a.key.split('\n').entries()) {
      if (!line.trim() || line.trim().startsWith('#')) continue;
      if (/^(https?|file):/.test(line.trim())) {
        ctx.addIssue({ code: 'custom', path: ['key'], message: 'a key from a URL is not supported: give the key itself' });
        return z.NEVER;
      }
      const k = parseKey(line);
      if (!k) {
        ctx.addIssue({ code: 'custom', path: ['key'], message: `line ${i + 1} is not an SSH public key ('[options] type base64-blob [comment]')` });
        return z.NEVER;
      }
      const options = a.key_options !== undefined ? normOptions(a.key_options) : k.options;
      const comment = a.comment ?? k.comment;
      keys.push({ ...(options ? { options } : {}), type: k.type, blob: k.blob, ...(comment ? { comment } : {}) });
    }
    if (keys.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['key'], message: 'no SSH public key given' });
      return z.NEVER;
    }
    return { ...a, keys };
  });

type Args = z.infer<typeof schema>;
type Facts = { account: UserFact; dir: FileFact; file: FileFact };

/** The user's default file: ~/.ssh/authorized_keys, where ~ is the usual home (checked against the account). */
const homeGuess = (user: string) => (user === 'root' ? '/root' : `/home/${user}`);
const pathOf = (a: Args) => a.path ?? `${homeGuess(a.user)}/.ssh/authorized_keys`;
const dirOf = (p: string) => p.replace(/\/[^/]*$/, '') || '/';

export const authorizedKey: StateModule<Args, Facts> = {
  name: 'authorized_key',
  type: 'state',
  exactEffects: true,
  schema,
  facts: (a) => ({ account: fact(userFact, { name: a.user }), dir: fact(fileFact, { path: dirOf(pathOf(a)) }), file: fact(fileFact, { path: pathOf(a), content: true }) }),
  plan(a, facts, ctx) {
    const { account, dir, file } = facts;
    const path = pathOf(a);
    if (!account.exists) throw new TaskError(`authorized_key: no user ${a.user} on this host`);
    if (a.path === undefined && account.home !== homeGuess(a.user)) {
      throw new TaskError(`authorized_key: the home of ${a.user} is ${account.home}, not ${homeGuess(a.user)}: give 'path' (e.g. ${account.home}/.ssh/authorized_keys)`);
    }
    const before = fileText(file, path, ctx) ?? '';
    const after = textOfLines(enforce(linesOf(before), a.keys, a.state, a.exclusive));
    if (after === before) return [];
    const changes: Change[] = [];
    if (dir.type === 'absent') {
      if (!a.manage_dir) throw new TaskError(`${dirOf(path)} does not exist (manage_dir: false)`);
      if (!dir.parentExists) throw new TaskError(`${dirOf(dir.real ?? dirOf(path))} does not exist: the directory of ${path} cannot be made`);
    } else if (dir.type !== 'directory') throw new TaskError(`${dirOf(path)} is not a directory`);
    if (a.manage_dir) {
      const d = sq(dirOf(path));
      const owner = sq(`${a.user}:${account.group}`);
      // as Ansible does whenever it writes: the directory is the user's, 0700
      if (dir.type === 'absent' || dir.mode !== '0700' || dir.owner !== a.user || dir.group !== account.group) {
        changes.push({ action: dir.type === 'absent' ? 'create' : 'update', target: dirOf(path), summary: `${dir.type === 'absent' ? 'create' : 'set'} ${dirOf(path)} (0700, ${a.user}:${account.group})`, commands: [{ cmd: `mkdir -p -- ${d} && chown ${owner} ${d} && chmod 0700 ${d}` }] });
      }
    }
    const f = file.type === 'absent' ? { ...file, parentExists: true } : file;
    changes.push(...planContent({ dest: path, mode: '0600', owner: a.user, group: account.group }, Buffer.from(after, 'utf8'), f, ctx));
    return changes;
  },
  predict(a, facts, _changes, ctx) {
    const { account, dir, file } = facts;
    const path = pathOf(a);
    const effects: Effect[] = [];
    if (a.manage_dir) effects.push(pathBecomes(namesOf(dirOf(path), dir), (b) => ({ type: 'directory', parentExists: true, mode: '0700', owner: a.user, group: account.group!, ...(b.real ? { real: b.real } : {}), ...(b.size !== undefined && b.type === 'directory' ? { size: b.size } : {}) })));
    const before = fileText(file, path, ctx) ?? '';
    const after = textOfLines(enforce(linesOf(before), a.keys, a.state, a.exclusive));
    const who = { user: 'root', group: 'root', umask: '0022' };
    effects.push(...predictContent({ dest: path, mode: '0600', owner: a.user, group: account.group }, Buffer.from(after, 'utf8'), { ...file, parentExists: true }, who));
    return effects;
  },
  // manage_dir may also have changed the directory (and so what lies under it)
  footprint: (a) => (a.manage_dir ? [unknownTree([normPath(dirOf(pathOf(a)))], `${dirOf(pathOf(a))} is managed by an authorized_key task whose outcome is unknown in check mode`)] : contentFootprint(normPath(pathOf(a)))),
};
