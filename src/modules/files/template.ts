/** template: an EJS file under templates/, rendered on the controller with the host's variables and facts. */
import { z } from 'zod';
import { fact, type StateModule } from '../contract.js';
import { fileFact, type FileFact } from './facts.js';
import { planContent, predictContent } from './content.js';
import { fileAttrs, readLocal } from './copy.js';

const schema = z
  .object({
    src: z.string().min(1),
    dest: z.string().startsWith('/', 'an absolute path'),
    validate: z.string().min(1).optional(),
    ...fileAttrs,
  })
  .strict();

type Args = z.infer<typeof schema> & { _bytes?: Buffer };

export const template: StateModule<Args, { file: FileFact }> = {
  name: 'template',
  type: 'state',
  schema,
  prepare(args, ctx) {
    const source = readLocal(ctx, 'templates', args.src).toString('utf8');
    return { ...args, _bytes: Buffer.from(ctx.render(source, `templates/${args.src}`), 'utf8') };
  },
  facts: (args) => ({ file: fact(fileFact, { path: args.dest, content: true }) }),
  plan: (args, facts, ctx) => planContent(args, args._bytes!, facts.file, ctx),
  predict: (args, facts) => ({ file: predictContent(args, args._bytes!, facts.file) }),
};
