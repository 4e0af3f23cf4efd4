/** file: a file, directory or symlink exists (or not), with mode, owner and group. */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { fact, TaskError, Unknown, type Change, type StateModule } from '../contract.js';
import { fileFact, normMode, type FileFact } from './facts.js';
import { planAttributes } from './content.js';
import { fileAttrs } from './copy.js';

const schema = z
  .object({
    path: z.string().startsWith('/', 'an absolute path'),
    state: z.enum(['file', 'directory', 'link', 'absent', 'touch']).default('file'),
    src: z.string().min(1).optional(),
    ...fileAttrs,
  })
  .strict()
  .refine((a) => a.state !== 'link' || a.src !== undefined, { message: "state: link needs 'src' (the link target)" });

type Args = z.infer<typeof schema>;

export const file: StateModule<Args, { file: FileFact }> = {
  name: 'file',
  type: 'state',
  schema,
  facts: (args) => ({ file: fact(fileFact, { path: args.path }) }),
  plan(args, { file: f }, ctx) {
    const p = sq(args.path);
    const mode = normMode(args.mode);
    const changes: Change[] = [];
    if (f.unknown) throw new Unknown(`${args.path} is created by an earlier task (a command); what it will be is known only after it runs`);
    if (ctx.predicted) {
      // Check mode after earlier predicted changes: say so when the outcome cannot be known.
      if (f.type === 'absent' && !f.parentExists && args.state === 'absent') {
        throw new Unknown(`${args.path} and its directory do not exist yet; a pending package install may create them`);
      }
      if (f.type !== 'absent' && ((mode && f.mode === undefined) || (args.owner && f.owner === undefined) || (args.group && f.group === undefined))) {
        throw new Unknown(`${args.path} will be created by an earlier task; its mode and owner are known only after it runs`);
      }
    }
    switch (args.state) {
      case 'absent':
        if (f.type !== 'absent') changes.push({ action: 'remove', target: args.path, summary: `remove ${f.type} ${args.path}`, commands: [{ cmd: `rm -rf -- ${p}` }] });
        return changes;
      case 'directory':
        if (f.type === 'absent') {
          changes.push({ action: 'create', target: args.path, summary: `create directory ${args.path}`, commands: [{ cmd: `mkdir -p -- ${p}${mode ? ` && chmod ${mode} ${p}` : ''}` }] });
          const after: FileFact = { ...f, type: 'directory', mode: mode ?? '0755', owner: 'root', group: 'root' };
          changes.push(...planAttributes(args.path, after, undefined, args.owner, args.group));
          return changes;
        }
        if (f.type !== 'directory') throw new TaskError(`${args.path} exists and is a ${f.type}, not a directory`);
        return planAttributes(args.path, f, mode, args.owner, args.group);
      case 'link':
        if (f.type !== 'link' || f.target !== args.src) {
          if (f.type === 'directory') throw new TaskError(`${args.path} is a directory; refusing to replace it with a link`);
          changes.push({
            action: f.type === 'absent' ? 'create' : 'update',
            target: args.path,
            summary: f.type === 'link' ? `link ${args.path} -> ${args.src} (was -> ${f.target})` : `link ${args.path} -> ${args.src}`,
            commands: [{ cmd: `ln -sfn -- ${sq(args.src!)} ${p}` }],
          });
          changes.push(...planAttributes(args.path, { ...f, type: 'link', owner: 'root', group: 'root' }, undefined, args.owner, args.group));
          return changes;
        }
        return planAttributes(args.path, f, undefined, args.owner, args.group);
      case 'touch':
      case 'file':
        if (f.type === 'absent') {
          if (args.state === 'file') throw new TaskError(`${args.path} does not exist (state: file only manages attributes; use copy/template or state: touch to create it)`);
          if (!f.parentExists && !ctx.predicted) throw new TaskError(`parent directory of ${args.path} does not exist`);
          changes.push({ action: 'create', target: args.path, summary: `create empty file ${args.path}`, commands: [{ cmd: `touch -- ${p}${mode ? ` && chmod ${mode} ${p}` : ''}` }] });
          changes.push(...planAttributes(args.path, { ...f, type: 'file', mode: mode ?? '0644', owner: 'root', group: 'root' }, undefined, args.owner, args.group));
          return changes;
        }
        if (f.type !== 'file') throw new TaskError(`${args.path} is a ${f.type}, not a regular file`);
        return planAttributes(args.path, f, mode, args.owner, args.group);
    }
  },
  predict(args, { file: f }) {
    if (args.state === 'absent') return { file: { type: 'absent', parentExists: f.parentExists } };
    const type = args.state === 'touch' ? 'file' : args.state;
    return {
      file: {
        ...f,
        type,
        parentExists: true,
        target: args.state === 'link' ? args.src : f.target,
        mode: normMode(args.mode) ?? f.mode ?? (type === 'directory' ? '0755' : '0644'),
        owner: args.owner ?? f.owner ?? 'root',
        group: args.group ?? f.group ?? 'root',
      },
    };
  },
};
