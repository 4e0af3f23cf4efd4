/** file: a file, directory or symlink exists (or not), with mode, owner and group. */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { accountFacts, requireAccounts, type AccountFacts } from '../users/facts.js';
import { fact, TaskError, Unknown, type Change, type StateModule } from '../contract.js';
import { fileFact, identityFact, modeUnder, normMode, type FileFact, type IdentityFact } from './facts.js';
import { linkedTree, madeDirectory, namesOf, normPath, pathBecomes, removedTree, unknownTree } from './effects.js';
import { permitted, planAttributes } from './content.js';
import { fileAttrs } from './copy.js';

const schema = z
  .object({
    path: z.string().startsWith('/', 'an absolute path'),
    state: z.enum(['file', 'directory', 'link', 'absent', 'touch']).default('file'),
    src: z.string().min(1).optional(),
    ...fileAttrs,
  })
  .strict()
  .refine((a) => a.state !== 'link' || a.src !== undefined, { message: "state: link needs 'src' (the link target)" });

type Args = z.infer<typeof schema>;

type Facts = { file: FileFact; who: IdentityFact } & AccountFacts;

export const file: StateModule<Args, Facts> = {
  name: 'file',
  type: 'state',
  exactEffects: true,
  permissionsModelled: true,
  schema,
  facts: (args, ctx) => ({ file: fact(fileFact, { path: args.path }), who: fact(identityFact, { become: ctx.become }), ...accountFacts(args.owner, args.group) }),
  plan(args, facts) {
    const { file: f, who } = facts;
    if (args.state !== 'absent') requireAccounts(facts, args.owner, args.group);
    return permitted(f, who, planFile(args, f, who));
  },
  footprint: (args) => [unknownTree([normPath(args.path)], `${args.path} is managed by a task whose outcome is unknown in check mode`)],
  predict(args, { file: f, who }) {
    const names = namesOf(args.path, f);
    const mode = normMode(args.mode);
    const attrs = (after: FileFact): FileFact => ({ ...after, owner: args.owner ?? after.owner, group: args.group ?? after.group });
    switch (args.state) {
      case 'absent':
        return [removedTree(names)];
      case 'directory':
        return [
          madeDirectory(names, who, (before) =>
            attrs(before.type === 'absent' ? { type: 'directory', parentExists: true, mode: mode ?? modeUnder(who.umask, 0o777), owner: who.user, group: who.group } : { ...before, mode: mode ?? before.mode }),
            f,
          ),
        ];
      case 'link':
        return [
          pathBecomes(names, (before) => attrs({ type: 'link', parentExists: true, target: args.src, mode: '0777', owner: before.type === 'link' ? before.owner : who.user, group: before.type === 'link' ? before.group : who.group })),
          linkedTree(names, args.src!),
        ];
      default:
        return [
          pathBecomes(names, (before) =>
            attrs(before.type === 'absent' ? { type: 'file', parentExists: true, mode: mode ?? modeUnder(who.umask, 0o666), owner: who.user, group: who.group, size: 0, sha256: EMPTY_SHA256, content: '' } : { ...before, mode: mode ?? before.mode }),
            true,
          ),
        ];
    }
  },
};

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function planFile(args: Args, f: FileFact, who: IdentityFact): Change[] {
    const p = sq(args.path);
    const mode = normMode(args.mode);
    const changes: Change[] = [];
    // What a new path looks like before chmod/chown: the creating user's, with the umask's mode.
    const fresh = (type: FileFact['type'], base: number): FileFact => ({ ...f, type, mode: mode ?? modeUnder(who.umask, base), owner: who.user, group: who.group });
    switch (args.state) {
      case 'absent':
        if (f.type !== 'absent') changes.push({ action: 'remove', target: args.path, summary: `remove ${f.type} ${args.path}`, commands: [{ cmd: `rm -rf -- ${p}` }] });
        return changes;
      case 'directory':
        if (f.type === 'absent' && f.blocked) throw new TaskError(`cannot create directory ${args.path}: ${f.blocked} is not a directory`);
        if (f.type === 'absent') {
          changes.push({ action: 'create', target: args.path, summary: `create directory ${args.path}`, commands: [{ cmd: `mkdir -p -- ${p}${mode ? ` && chmod ${mode} ${p}` : ''}` }] });
          changes.push(...planAttributes(args.path, fresh('directory', 0o777), undefined, args.owner, args.group));
          return changes;
        }
        if (f.type !== 'directory') throw new TaskError(`${args.path} exists and is a ${f.type}, not a directory`);
        return planAttributes(args.path, f, mode, args.owner, args.group);
      case 'link':
        if (f.type !== 'link' || f.target !== args.src) {
          if (f.type === 'directory') throw new TaskError(`${args.path} is a directory; refusing to replace it with a link`);
          if (!f.parentExists && !f.parentByInstall) throw new TaskError(`parent directory of ${args.path} does not exist`);
          if (f.parentByInstall) throw new Unknown(`the directory of ${args.path} may be created by a pending package install`);
          changes.push({
            action: f.type === 'absent' ? 'create' : 'update',
            target: args.path,
            summary: f.type === 'link' ? `link ${args.path} -> ${args.src} (was -> ${f.target})` : `link ${args.path} -> ${args.src}`,
            commands: [{ cmd: `ln -sfn -- ${sq(args.src!)} ${p}` }],
          });
          changes.push(...planAttributes(args.path, { ...fresh('link', 0o777), mode: undefined }, undefined, args.owner, args.group));
          return changes;
        }
        return planAttributes(args.path, f, undefined, args.owner, args.group);
      case 'touch':
      case 'file':
        if (f.type === 'absent') {
          if (args.state === 'file') throw new TaskError(`${args.path} does not exist (state: file only manages attributes; use copy/template or state: touch to create it)`);
          if (f.parentByInstall) throw new Unknown(`the directory of ${args.path} may be created by a pending package install`);
          if (!f.parentExists) throw new TaskError(`parent directory of ${args.path} does not exist`);
          changes.push({ action: 'create', target: args.path, summary: `create empty file ${args.path}`, commands: [{ cmd: `touch -- ${p}${mode ? ` && chmod ${mode} ${p}` : ''}` }] });
          changes.push(...planAttributes(args.path, fresh('file', 0o666), undefined, args.owner, args.group));
          return changes;
        }
        if (f.type !== 'file') throw new TaskError(`${args.path} is a ${f.type}, not a regular file`);
        return planAttributes(args.path, f, mode, args.owner, args.group);
    }
}
