/** copy: a file with the given content (inline `content`, or `src` relative to files/). */
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { fact, TaskError, Unknown, type FactsOf, type ModuleContext, type StateModule } from '../contract.js';
import { backupFile, contentStages, permitted, planBytes, predictBytes, type ContentFacts, type Wanted } from './content.js';
import { fileFact, type FileFact } from './facts.js';
import { requireAccounts } from '../users/facts.js';
import { isLocalTree, listLocalTree, readLocalTree, type LocalTree } from './local-tree.js';
import { planTreeCopy, predictTreeCopy, treeCopyFacts, type TreeCopyFacts } from './copy-tree.js';
import { missingParentsMade, normPath } from './effects.js';
import { localPath, type LocalBase } from './local-path.js';

export const fileAttrs = {
  // A number is refused: YAML reads an unquoted 0640 as the decimal 640.
  mode: z.string({ error: "a quoted octal mode like '0644' (unquoted, YAML reads 0644 as a decimal number)" }).regex(/^(0o)?[0-7]{3,4}$/, "an octal mode like '0644'").optional(),
  owner: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
};

const schema = z
  .object({
    dest: z.string().startsWith('/', 'an absolute path'),
    content: z.string().optional(),
    src: z.string().min(1).optional(),
    validate: z.string().min(1).optional(),
    /** `src` is a file on the host, not on the controller. */
    remote_src: z.boolean().optional(),
    backup: z.boolean().optional(),
    /** A directory `src` (copy-tree.ts): the mode of the directories it makes. */
    directory_mode: fileAttrs.mode,
    ...fileAttrs,
  })
  .strict()
  .refine((a) => !a.remote_src || !a.src?.endsWith('/'), { message: 'remote_src: a directory src on the host is not supported (copy a directory from the controller, or use command: cp -a)' })
  .refine((a) => (a.content === undefined) !== (a.src === undefined), { message: "give exactly one of 'content' or 'src'" })
  .refine((a) => !a.remote_src || a.src?.startsWith('/'), { message: "remote_src: 'src' is the absolute path of a file on the host" });

type Args = z.infer<typeof schema>;

/** Read `dir/rel` (dir: files or templates) where Ansible looks for it (local-path.ts). */
export function readLocal(ctx: LocalBase, dir: string, rel: string): Buffer {
  const path = localPath(ctx, dir, rel);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TaskError(`cannot read ${dir}/${rel}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The entries of a directory `src` on the controller, or undefined when src is not a directory. */
function localDir(args: Args, ctx: ModuleContext) {
  if (args.remote_src || args.src === undefined) return undefined;
  const path = localPath(ctx, 'files', args.src);
  let dir: boolean;
  try {
    dir = statSync(path).isDirectory();
  } catch {
    return undefined;
  }
  if (!dir) return undefined;
  const entries = listLocalTree(path, `files/${normPath(args.src)}`);
  if (typeof entries === 'string') throw new TaskError(entries);
  if (args.validate) throw new TaskError(`validate is not supported with a directory src (files/${args.src})`);
  return { path, entries };
}

const isDirSrc = (args: Args, ctx: ModuleContext) => {
  try {
    return localDir(args, ctx) !== undefined;
  } catch {
    return true;
  }
};

type Facts = ContentFacts & { srcFile?: FileFact };

export const copy: StateModule<Args, Facts, Buffer | LocalTree | undefined> = {
  name: 'copy',
  type: 'state',
  exactEffects: true,
  permissionsModelled: true,
  schema,
  /** The bytes to write: `src` read byte for byte, or `content` as UTF-8 (nothing for remote_src: the host has them). */
  prepare(args, ctx) {
    if (args.remote_src) return undefined;
    const dir = localDir(args, ctx);
    if (dir) return readLocalTree(dir.path, dir.entries);
    return args.src !== undefined ? readLocal(ctx, 'files', args.src) : Buffer.from(args.content ?? '', 'utf8');
  },
  facts: (args, ctx) => {
    const dir = localDir(args, ctx);
    if (dir) return treeCopyFacts(args, dir.entries, ctx) as unknown as FactsOf<Facts>;
    return { ...contentStages.facts(args, ctx), ...(args.remote_src ? { srcFile: fact(fileFact, { path: args.src!, content: true }) } : {}) };
  },
  plan: (args, facts, ctx, content) => {
    if (isLocalTree(content)) return planTreeCopy(args, facts as unknown as TreeCopyFacts, ctx, content);
    if (!args.remote_src) return contentStages.plan(args, facts, ctx, content as Buffer);
    requireAccounts(facts, args.owner, args.group);
    return permitted(facts.file, facts.who, planBytes(args, remoteWanted(args.src!, facts.srcFile!, ctx.check), facts.file, ctx), args);
  },
  predict: (args, facts, changes, ctx, content) =>
    isLocalTree(content)
      ? predictTreeCopy(args, facts as unknown as TreeCopyFacts, changes, content)
      : args.remote_src
        ? predictBytes(args, remoteWanted(args.src!, facts.srcFile!, true), facts.file, facts.who)
        : contentStages.predict!(args, facts, changes, ctx, content as Buffer),
  // a directory src: dest may be made with its missing parents (mkdir -p)
  footprint: (args, ctx) => [...contentStages.footprint!(args, ctx), ...(isDirSrc(args, ctx) ? [missingParentsMade(normPath(args.dest), `${args.dest} is copied by a task whose outcome is unknown in check mode`)] : [])],
  appliedData: (_args, last) => {
    const b = backupFile(last.stdout);
    return b ? { backup_file: b } : {};
  },
};

/** remote_src: the content is the host's file `src`, known by the fact's hash (and bytes, up to MAX_CONTENT). */
function remoteWanted(src: string, f: FileFact, check: boolean): Wanted {
  if (f.type === 'absent') throw new TaskError(`src ${src} does not exist on the host`);
  if (f.type === 'directory') throw new TaskError(`src ${src} on the host is a directory: remote_src copies a single file (copy a directory from the controller, or use command: cp -a)`);
  if (f.type !== 'file') throw new TaskError(`src ${src} on the host is a ${f.type}, not a regular file`);
  if (f.sha256 === undefined || f.size === undefined) {
    if (!check) throw new TaskError(`cannot read ${src} on the host`);
    throw new Unknown(`the content of ${src} is not known before the real run`);
  }
  return { sha256: f.sha256, size: f.size, ...(f.content !== undefined ? { bytes: Buffer.from(f.content, 'base64') } : {}), from: { path: src } };
}
