/** template: an EJS file under templates/, rendered on the controller with the host's variables and facts. */
import { z } from 'zod';
import { accountFacts, requireAccounts, type AccountFacts } from '../users/facts.js';
import { fact, TaskError, type StateModule } from '../contract.js';
import { decodeUtf8 } from '../../load/yaml.js';
import { fileFact, identityFact, type FileFact, type IdentityFact } from './facts.js';
import { contentFootprint, permitted, planContent, predictContent, shownBytes } from './content.js';
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

export const template: StateModule<Args, { file: FileFact; who: IdentityFact } & AccountFacts> = {
  name: 'template',
  type: 'state',
  permissionsModelled: true,
  schema,
  prepare(args, ctx) {
    let source: string;
    try {
      source = decodeUtf8(readLocal(ctx, 'templates', args.src), `templates/${args.src}`);
    } catch (e) {
      if (e instanceof TaskError) throw e;
      throw new TaskError((e as Error).message);
    }
    return { ...args, _bytes: Buffer.from(ctx.render(source, `templates/${args.src}`), 'utf8') };
  },
  facts: (args, ctx) => ({ file: fact(fileFact, { path: args.dest, content: true }), who: fact(identityFact, { become: ctx.become }), ...accountFacts(args.owner, args.group) }),
  plan: (args, facts, ctx) => {
    requireAccounts(facts, args.owner, args.group);
    return permitted(facts.file, facts.who, planContent(args, args._bytes!, facts.file, ctx, shownBytes(ctx)));
  },
  predict: (args, facts) => predictContent(args, args._bytes!, facts.file, facts.who),
  footprint: (args) => contentFootprint(args.dest),
};
