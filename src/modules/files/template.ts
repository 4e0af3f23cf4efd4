/** template: a file under templates/ (Jinja2 if it ends in .j2, else EJS), rendered on the controller with the host's variables and facts. */
import { z } from 'zod';
import { TaskError, type StateModule } from '../contract.js';
import { decodeUtf8 } from '../../load/yaml.js';
import { contentStages, type ContentFacts } from './content.js';
import { fileAttrs, readLocal } from './copy.js';

const schema = z
  .object({
    src: z.string().min(1),
    dest: z.string().startsWith('/', 'an absolute path'),
    validate: z.string().min(1).optional(),
    ...fileAttrs,
  })
  .strict();

type Args = z.infer<typeof schema>;

export const template: StateModule<Args, ContentFacts, Buffer> = {
  name: 'template',
  type: 'state',
  exactEffects: true,
  permissionsModelled: true,
  schema,
  /** The bytes to write: the template rendered with the task's variables. */
  prepare(args, ctx) {
    let source: string;
    try {
      source = decodeUtf8(readLocal(ctx, 'templates', args.src), `templates/${args.src}`);
    } catch (e) {
      if (e instanceof TaskError) throw e;
      throw new TaskError((e as Error).message);
    }
    return Buffer.from(ctx.render(source, `templates/${args.src}`), 'utf8');
  },
  ...contentStages,
};
