/** copy: a file with the given content (inline `content`, or `src` relative to files/). */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { TaskError, type StateModule } from '../contract.js';
import { contentStages, type ContentFacts } from './content.js';

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
    ...fileAttrs,
  })
  .strict()
  .refine((a) => (a.content === undefined) !== (a.src === undefined), { message: "give exactly one of 'content' or 'src'" });

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

export const copy: StateModule<Args, ContentFacts, Buffer> = {
  name: 'copy',
  type: 'state',
  exactEffects: true,
  permissionsModelled: true,
  schema,
  /** The bytes to write: `src` read byte for byte, or `content` as UTF-8. */
  prepare(args, ctx) {
    return args.src !== undefined ? readLocal(ctx, 'files', args.src) : Buffer.from(args.content ?? '', 'utf8');
  },
  ...contentStages,
};
