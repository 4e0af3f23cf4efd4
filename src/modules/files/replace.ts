/** replace: every match of a regular expression in a file (or in a section of it) replaced, as Ansible's replace. */
import { z } from 'zod';
import { TaskError, type StateModule } from '../contract.js';
import type { ContentFacts } from './content.js';
import { aliased, checkRegex, editAttrs, editStages, PATH_ALIASES, type Editor } from './edit.js';
import { editReplace, templateProblem } from './lines.js';

const schema = aliased(
  {
    ...editAttrs,
    regexp: z.string(),
    replace: z.string().default(''),
    after: z.string().optional(),
    before: z.string().optional(),
  },
  PATH_ALIASES,
).superRefine((a, ctx) => {
  checkRegex(a, 'regexp', ctx);
  checkRegex(a, 'after', ctx);
  checkRegex(a, 'before', ctx);
  const why = templateProblem(a.replace, a.regexp);
  if (why) ctx.addIssue({ code: 'custom', message: why, path: ['replace'] });
});

type Args = z.infer<typeof schema>;

export const replace: StateModule<Args, ContentFacts, Editor> = {
  name: 'replace',
  type: 'state',
  exactEffects: true,
  permissionsModelled: true,
  schema,
  prepare: (args) => (old) => {
    if (old === undefined) throw new TaskError(`Path ${args.path} does not exist !`);
    try {
      return editReplace(old, args);
    } catch (e) {
      throw new TaskError((e as Error).message);
    }
  },
  ...editStages,
};
