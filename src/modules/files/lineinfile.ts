/** lineinfile: one line of a file is present (inserted or replacing a matching line) or absent, as Ansible's lineinfile. */
import { z } from 'zod';
import { TaskError, type StateModule } from '../contract.js';
import type { ContentFacts } from './content.js';
import { aliased, checkRegex, editAttrs, editStages, PATH_ALIASES, type Editor } from './edit.js';
import { editLine, templateProblem } from './lines.js';

const schema = aliased(
  {
    ...editAttrs,
    state: z.enum(['present', 'absent']).default('present'),
    line: z.string().optional(),
    regexp: z.string().optional(),
    search_string: z.string().optional(),
    insertafter: z.string().optional(),
    insertbefore: z.string().optional(),
    backrefs: z.boolean().default(false),
    create: z.boolean().default(false),
    firstmatch: z.boolean().default(false),
  },
  { ...PATH_ALIASES, regex: 'regexp', value: 'line' },
).superRefine((a, ctx) => {
  const issue = (message: string, key: string) => ctx.addIssue({ code: 'custom', message, path: [key] });
  if (a.insertafter !== undefined && a.insertbefore !== undefined) issue("give 'insertafter' or 'insertbefore', not both", 'insertbefore');
  if (a.regexp !== undefined && a.search_string !== undefined) issue("give 'regexp' or 'search_string', not both", 'search_string');
  if (a.backrefs && a.search_string !== undefined) issue("'backrefs' needs 'regexp', not 'search_string'", 'backrefs');
  if (a.state === 'present') {
    if (a.line === undefined) issue("state: present needs 'line'", 'line');
    if (a.backrefs && a.regexp === undefined) issue("'backrefs' needs 'regexp'", 'backrefs');
  } else if (a.line === undefined && a.regexp === undefined && a.search_string === undefined) {
    issue("state: absent needs one of 'line', 'regexp' or 'search_string'", 'state');
  }
  checkRegex(a, 'regexp', ctx);
  if (a.insertafter !== 'BOF' && a.insertafter !== 'EOF') checkRegex(a, 'insertafter', ctx);
  if (a.insertbefore !== 'BOF') checkRegex(a, 'insertbefore', ctx);
  if (a.backrefs && a.regexp !== undefined && a.line !== undefined) {
    const why = templateProblem(a.line, a.regexp);
    if (why) issue(why, 'line');
  }
});

type Args = z.infer<typeof schema>;

export const lineinfile: StateModule<Args, ContentFacts, Editor> = {
  name: 'lineinfile',
  type: 'state',
  exactEffects: true,
  permissionsModelled: true,
  schema,
  prepare: (args) => (old) => {
    if (old === undefined) {
      if (args.state === 'absent') return { content: '', changed: false, msg: 'file not present' };
      if (!args.create) throw new TaskError(`Destination ${args.path} does not exist ! (create: true creates it)`);
    }
    try {
      return editLine(old ?? '', { ...args, searchString: args.search_string });
    } catch (e) {
      throw new TaskError((e as Error).message);
    }
  },
  ...editStages,
};
