/** file: a file, directory or symlink exists (or not), with mode, owner and group. */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { accountFacts, requireAccounts, type AccountFacts } from '../users/facts.js';
import { fact, TaskError, Unknown, type Change, type StateModule } from '../contract.js';
import { fileFact, identityFact, modeUnder, type FileFact, type IdentityFact } from './facts.js';
import { linkedTree, madeDirectory, missingParentsMade, namesOf, normPath, pathBecomes, removedTree, unknownTree } from './effects.js';
import { permitted, planAttributes } from './content.js';
import { fileAttrs } from './copy.js';
import { hardLinkFact, linkState, type HardLinkFact } from './hardlink.js';
import { setsTo } from '../../engine/prediction.js';
import { modeArg, modeFor } from './symbolic-mode.js';
import { treeFact, type TreeFact } from './tree-fact.js';
import { planRecurse, predictRecurse } from './file-recurse.js';

const schema = z
  .object({
    path: z.string().startsWith('/', 'an absolute path'),
    state: z.enum(['file', 'directory', 'link', 'hard', 'absent', 'touch']).default('file'),
    src: z.string().min(1).optional(),
    ...fileAttrs,
    mode: modeArg.optional(),
    /** state: directory: mode/owner/group on everything under it too (file-recurse.ts). */
    recurse: z.boolean().optional(),
    /** Ansible's default true: with recurse, a symlink in the tree is refused unless false (file-recurse.ts). */
    follow: z.boolean().optional(),
  })
  .strict()
  .refine((a) => !a.recurse || a.state === 'directory', { message: 'recurse: true needs state: directory' })
  .refine((a) => a.state !== 'link' || a.src !== undefined, { message: "state: link needs 'src' (the link target)" })
  .refine((a) => a.state !== 'hard' || a.src?.startsWith('/'), { message: "state: hard needs 'src', the absolute path of the file to link to" });

type Args = z.infer<typeof schema>;

type Facts = { file: FileFact; who: IdentityFact; srcFile?: FileFact; link?: HardLinkFact; tree?: TreeFact } & AccountFacts;

export const file: StateModule<Args, Facts> = {
  name: 'file',
  type: 'state',
  exactEffects: true,
  permissionsModelled: true,
  schema,
  facts: (args, ctx) => ({
    file: fact(fileFact, { path: args.path }),
    who: fact(identityFact, { become: ctx.become }),
    ...(args.recurse ? { tree: fact(treeFact, { path: args.path }) } : {}),
    ...(args.state === 'hard' ? { srcFile: fact(fileFact, { path: args.src! }), link: fact(hardLinkFact, { path: args.path, src: args.src! }) } : {}),
    ...accountFacts(args.owner, args.group),
  }),
  plan(args, facts) {
    const { file: f, who } = facts;
    if (args.state !== 'absent') requireAccounts(facts, args.owner, args.group);
    if (args.state === 'hard') return planHardLink(args, facts);
    return [...permitted(f, who, planFile(args, f, who)), ...(facts.tree ? planRecurse(args, facts.tree, who) : [])];
  },
  footprint: (args) => {
    const why = `${args.path} is managed by a task whose outcome is unknown in check mode`;
    // state: directory is mkdir -p: it may have made the missing directories above it too
    return [unknownTree([normPath(args.path), ...(args.state === 'hard' ? [normPath(args.src!)] : [])], why), ...(args.state === 'directory' ? [missingParentsMade(normPath(args.path), why)] : [])];
  },
  predict(args, { file: f, who, srcFile, tree }, changes) {
    if (args.state === 'hard') return predictHardLink(args, f, srcFile!);
    const names = namesOf(args.path, f);
    const modeOf = (before: FileFact, base: number, isDir: boolean) => modeFor(args.mode, before.type === 'absent' ? modeUnder(who.umask, base) : before.mode, isDir);
    const attrs = (after: FileFact): FileFact => ({ ...after, owner: args.owner ?? after.owner, group: args.group ?? after.group });
    switch (args.state) {
      case 'absent':
        return [removedTree(names)];
      case 'directory':
        return [
          madeDirectory(names, who, (before) =>
            attrs(before.type === 'absent' ? { type: 'directory', parentExists: true, mode: modeOf(before, 0o777, true) ?? modeUnder(who.umask, 0o777), owner: who.user, group: who.group } : { ...before, mode: modeOf(before, 0o777, true) ?? before.mode }),
            f,
          ),
          ...(tree ? predictRecurse(args, tree, changes) : []),
        ];
      case 'link':
        return [
          pathBecomes(names, (before) => attrs({ type: 'link', parentExists: true, target: args.src, mode: '0777', owner: before.type === 'link' ? before.owner : who.user, group: before.type === 'link' ? before.group : who.group })),
          linkedTree(names, args.src!),
        ];
      default:
        return [
          pathBecomes(names, (before) =>
            attrs(before.type === 'absent' ? { type: 'file', parentExists: true, mode: modeOf(before, 0o666, false) ?? modeUnder(who.umask, 0o666), owner: who.user, group: who.group, size: 0, sha256: EMPTY_SHA256, content: '' } : { ...before, mode: modeOf(before, 0o666, before.type === 'directory') ?? before.mode }),
            true,
          ),
        ];
    }
  },
};

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function planFile(args: Args, f: FileFact, who: IdentityFact): Change[] {
    const p = sq(args.path);
    // a symbolic mode is resolved against what the path is now, or what it is when made
    const made = (base: number, isDir: boolean) => modeFor(args.mode, modeUnder(who.umask, base), isDir);
    const mode = f.type === 'absent' ? made(args.state === 'directory' ? 0o777 : 0o666, args.state === 'directory') : modeFor(args.mode, f.mode, f.type === 'directory');
    const changes: Change[] = [];
    // What a new path looks like before chmod/chown: the creating user's, with the umask's mode.
    const fresh = (type: FileFact['type'], base: number): FileFact => ({ ...f, type, mode: mode ?? modeUnder(who.umask, base), owner: who.user, group: who.group });
    switch (args.state) {
      case 'absent':
        // a pending install may create the directory and put this path in it (nginx's sites-enabled/default)
        if (f.type === 'absent' && f.parentByInstall) throw new Unknown(`${args.path} may come with a pending package install (its directory does not exist yet)`);
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
      case 'hard':
        throw new Error('state: hard is planned by planHardLink');
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

/** state: hard: `path` becomes another name of the regular file `src` (ln -f), then the attributes, which both names share. */
function planHardLink(args: Args, facts: Facts): Change[] {
  const { file: f, srcFile: s, who } = facts;
  const src = args.src!;
  if (s!.type === 'absent') throw new TaskError(`src ${src} does not exist: nothing to hard-link ${args.path} to`);
  if (s!.type !== 'file') throw new TaskError(`src ${src} is a ${s!.type}: state: hard links regular files only`);
  const same = f.type === 'file' && linkState(facts.link, args.path, src);
  const attrs = (base: FileFact) => planAttributes(args.path, base, modeFor(args.mode, base.mode, false), args.owner, args.group);
  if (same) return permitted(f, who, attrs(f));
  if (f.type === 'directory') throw new TaskError(`${args.path} is a directory; refusing to replace it with a hard link`);
  if (f.type === 'absent' && f.blocked) throw new TaskError(`cannot create ${args.path}: ${f.blocked} is not a directory`);
  if (!f.parentExists && !f.parentByInstall) throw new TaskError(`parent directory of ${args.path} does not exist`);
  if (f.parentByInstall) throw new Unknown(`the directory of ${args.path} may be created by a pending package install`);
  const link: Change = {
    action: f.type === 'absent' ? 'create' : 'update',
    target: args.path,
    summary: f.type === 'absent' ? `hard link ${args.path} to ${src}` : `replace ${f.type} ${args.path} with a hard link to ${src}`,
    commands: [{ cmd: `ln -f -- ${sq(src)} ${sq(args.path)}` }],
  };
  const changes = [link, ...attrs(s!)];
  // the kernel (fs.protected_hardlinks) lets a user other than root link only files it owns
  if (who.user !== 'root' && s!.owner !== who.user) return changes.map((c) => ({ ...c, uncertain: `it runs as ${who.user}, who does not own ${src}: whether the kernel lets it hard-link it is known only when it runs` }));
  return permitted(f, who, changes);
}

/** Check mode: both names show the one file with the new attributes, and they are one inode. */
function predictHardLink(args: Args, f: FileFact, s: FileFact) {
  const src = args.src!;
  const shared = (before: FileFact): FileFact => ({ ...before, mode: modeFor(args.mode, before.mode, before.type === 'directory') ?? before.mode, owner: args.owner ?? before.owner, group: args.group ?? before.group });
  const after = shared(s);
  return [
    pathBecomes(namesOf(src, s), (before) => shared(before), true),
    pathBecomes(namesOf(args.path, f), () => ({ ...after, parentExists: true, ...(f.real ? { real: f.real } : {}) }), true),
    setsTo(hardLinkFact.key({ path: args.path, src }), { kind: 'hardlink', same: true, ...(f.real ? { realPath: f.real } : {}), ...(s.real ? { realSrc: s.real } : {}) } satisfies HardLinkFact),
  ];
}
