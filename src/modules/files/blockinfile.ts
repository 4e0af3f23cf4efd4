/** blockinfile: a block of lines between two marker lines is present (inserted or replaced) or absent, as Ansible's blockinfile. */
import { z } from 'zod';
import { TaskError, type StateModule } from '../contract.js';
import type { ContentFacts } from './content.js';
import { aliased, checkRegex, editAttrs, editStages, PATH_ALIASES, type Editor } from './edit.js';
import { editBlock } from './lines.js';

const schema = aliased(
  {
    ...editAttrs,
    state: z.enum(['present', 'absent']).default('present'),
    block: z.string().default(''),
    marker: z.string().min(1).default('# {mark} ANSIBLE MANAGED BLOCK'),
    marker_begin: z.string().default('BEGIN'),
    marker_end: z.string().default('END'),
    insertafter: z.string().optional(),
    insertbefore: z.string().optional(),
    create: z.boolean().default(false),
  },
  { ...PATH_ALIASES, content: 'block' },
).superRefine((a, ctx) => {
  if (a.insertafter !== undefined && a.insertbefore !== undefined) ctx.addIssue({ code: 'custom', message: "give 'insertafter' or 'insertbefore', not both", path: ['insertbefore'] });
  // the markers find the block again: one line for both could not tell where the block ends
  if (a.marker.replaceAll('{mark}', a.marker_begin) === a.marker.replaceAll('{mark}', a.marker_end)) {
    ctx.addIssue({ code: 'custom', message: "the begin and end marker lines must differ ('marker' with {mark}, and different 'marker_begin' and 'marker_end')", path: ['marker'] });
  }
  if (a.insertafter !== 'EOF') checkRegex(a, 'insertafter', ctx);
  if (a.insertbefore !== 'BOF') checkRegex(a, 'insertbefore', ctx);
});

type Args = z.infer<typeof schema>;

export const blockinfile: StateModule<Args, ContentFacts, Editor> = {
  name: 'blockinfile',
  type: 'state',
  exactEffects: true,
  permissionsModelled: true,
  schema,
  prepare: (args) => (old) => {
    if (old === undefined && !args.create) throw new TaskError(`Path ${args.path} does not exist ! (create: true creates it)`);
    if (old === undefined && args.state === 'absent') return { content: '', changed: false, msg: `File ${args.path} not present` };
    try {
      return editBlock(old, { ...args, markerBegin: args.marker_begin, markerEnd: args.marker_end });
    } catch (e) {
      throw new TaskError((e as Error).message);
    }
  },
  ...editStages,
};
