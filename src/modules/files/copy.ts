/** copy: a file with the given content (inline `content`, or `src` relative to files/). */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { fact, TaskError, Unknown, type StateModule } from '../contract.js';
import { backupFile, contentStages, permitted, planBytes, predictBytes, type ContentFacts, type Wanted } from './content.js';
import { fileFact, type FileFact } from './facts.js';
import { requireAccounts } from '../users/facts.js';

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
    ...fileAttrs,
  })
  .strict()
  .refine((a) => (a.content === undefined) !== (a.src === undefined), { message: "give exactly one of 'content' or 'src'" })
  .refine((a) => !a.remote_src || a.src?.startsWith('/'), { message: "remote_src: 'src' is the absolute path of a file on the host" });

type Args = z.infer<typeof schema>;

/** Read `dir/rel` (dir: files or templates) in the task's role, else next to the playbook, else under the project root. */
export function readLocal(ctx: { root: string; playbookDir?: string; roleDir?: string }, dir: string, rel: string): Buffer {
  const near = [ctx.roleDir, ctx.playbookDir].flatMap((base) => (base ? [resolve(join(base, dir), rel)] : [])).find((p) => existsSync(p));
  const path = near ?? resolve(join(ctx.root, dir), rel);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TaskError(`cannot read ${dir}/${rel}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

type Facts = ContentFacts & { srcFile?: FileFact };

export const copy: StateModule<Args, Facts, Buffer | undefined> = {
  name: 'copy',
  type: 'state',
  exactEffects: true,
  permissionsModelled: true,
  schema,
  /** The bytes to write: `src` read byte for byte, or `content` as UTF-8 (nothing for remote_src: the host has them). */
  prepare(args, ctx) {
    if (args.remote_src) return undefined;
    return args.src !== undefined ? readLocal(ctx, 'files', args.src) : Buffer.from(args.content ?? '', 'utf8');
  },
  facts: (args, ctx) => ({ ...contentStages.facts(args, ctx), ...(args.remote_src ? { srcFile: fact(fileFact, { path: args.src!, content: true }) } : {}) }),
  plan: (args, facts, ctx, content) => {
    if (!args.remote_src) return contentStages.plan(args, facts, ctx, content!);
    requireAccounts(facts, args.owner, args.group);
    return permitted(facts.file, facts.who, planBytes(args, remoteWanted(args.src!, facts.srcFile!, ctx.check), facts.file, ctx));
  },
  predict: (args, facts, changes, ctx, content) =>
    args.remote_src ? predictBytes(args, remoteWanted(args.src!, facts.srcFile!, true), facts.file, facts.who) : contentStages.predict!(args, facts, changes, ctx, content!),
  footprint: (args, ctx) => contentStages.footprint!(args, ctx),
  appliedData: (_args, last) => {
    const b = backupFile(last.stdout);
    return b ? { backup_file: b } : {};
  },
};

/** remote_src: the content is the host's file `src`, known by the fact's hash (and bytes, up to MAX_CONTENT). */
function remoteWanted(src: string, f: FileFact, check: boolean): Wanted {
  if (f.type === 'absent') throw new TaskError(`src ${src} does not exist on the host`);
  if (f.type !== 'file') throw new TaskError(`src ${src} on the host is a ${f.type}, not a regular file`);
  if (f.sha256 === undefined || f.size === undefined) {
    if (!check) throw new TaskError(`cannot read ${src} on the host`);
    throw new Unknown(`the content of ${src} is not known before the real run`);
  }
  return { sha256: f.sha256, size: f.size, ...(f.content !== undefined ? { bytes: Buffer.from(f.content, 'base64') } : {}), from: { path: src } };
}
