/**
 * Shared stages of the in-place text editors (lineinfile, blockinfile, replace): the file's
 * content is a fact, the new content a pure function of it (lines.ts), written atomically as
 * copy writes (content.ts: temp file, validate, owner/mode kept, mv), with an optional backup.
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { UnknownFact } from '../../engine/prediction.js';
import { TaskError, type Change, type Effect, type ModuleContext, type StateModule } from '../contract.js';
import { requireAccounts } from '../users/facts.js';
import { contentFootprint, contentStages, permitted, planContent, predictContent, type ContentFacts } from './content.js';
import { fileAttrs } from './copy.js';
import type { FileFact } from './facts.js';
import { regexProblem, type EditResult } from './lines.js';
import { fileText } from './text.js';

/** What prepare() makes of the arguments: the edit, from the old content (undefined: no file) to the new. May throw TaskError. */
export type Editor = (old: string | undefined) => EditResult;

export interface EditArgs {
  path: string;
  mode?: string;
  owner?: string;
  group?: string;
  validate?: string;
  backup: boolean;
}

/** The arguments every editor takes (Ansible's names); `validate` must name the temp file with %s, as Ansible requires. */
export const editAttrs = {
  path: z.string().startsWith('/', 'an absolute path'),
  validate: z.string().min(1).refine((v) => v.includes('%s'), "a command naming the new content's temp file with %s").optional(),
  backup: z.boolean().default(false),
  ...fileAttrs,
};

/** Ansible's path aliases. */
export const PATH_ALIASES: Record<string, 'path'> = { dest: 'path', destfile: 'path', name: 'path' };

/**
 * A strict object schema that also takes Ansible's other names for arguments (`dest` for `path`,
 * ...): each alias is checked as the argument itself (so a templated alias is checked again once
 * rendered), giving two names of one argument is refused, and the result holds the argument's own name.
 */
export function aliased<S extends z.ZodRawShape>(shape: S, aliases: Record<string, keyof S & string>): z.ZodType<z.output<z.ZodObject<S>>> {
  const ext: Record<string, z.ZodType> = { ...(shape as unknown as Record<string, z.ZodType>) };
  const required = new Set<string>();
  const defaults = new Map<string, unknown>();
  for (const name of new Set(Object.values(aliases))) {
    const t = ext[name];
    // a default applies once the names are merged (it would count as given before)
    if (t instanceof z.ZodDefault) defaults.set(name, t.parse(undefined));
    else if (!t.safeParse(undefined).success) required.add(name);
    ext[name] = (t instanceof z.ZodDefault ? (t.unwrap() as z.ZodType) : t).optional();
  }
  for (const [alias, name] of Object.entries(aliases)) ext[alias] = ext[name];
  const names = [...new Set(Object.values(aliases))];
  return z
    .object(ext)
    .strict()
    .superRefine((a: Record<string, unknown>, ctx) => {
      for (const name of names) {
        const given = [name, ...Object.keys(aliases).filter((k) => aliases[k] === name)].filter((k) => a[k] !== undefined);
        if (given.length > 1) ctx.addIssue({ code: 'custom', message: `give only one of ${given.map((g) => `'${g}'`).join(', ')} (the same argument)`, path: [given[1]] });
        if (given.length === 0 && required.has(name)) ctx.addIssue({ code: 'custom', message: `'${name}' is required`, path: [name] });
      }
    })
    .transform((a: Record<string, unknown>) => {
      const out = { ...a };
      for (const [alias, name] of Object.entries(aliases)) {
        if (out[alias] !== undefined) out[name] = out[alias];
        delete out[alias];
      }
      for (const [name, value] of defaults) if (out[name] === undefined) out[name] = value;
      return out;
    }) as unknown as z.ZodType<z.output<z.ZodObject<S>>>;
}

/** A load-time check that `key` holds a regular expression that compiles (skipped when absent). */
export function checkRegex(args: Record<string, unknown>, key: string, ctx: z.RefinementCtx): void {
  const v = args[key];
  if (typeof v !== 'string') return;
  const why = regexProblem(v);
  if (why) ctx.addIssue({ code: 'custom', message: why, path: [key] });
}

/** The file's text (files/text.ts), or why an editor cannot edit it: a directory, a link, not UTF-8. */
function oldText(f: FileFact, path: string, ctx: ModuleContext): string | undefined {
  if (f.type === 'directory') throw new TaskError(`Path ${path} is a directory !`);
  if (f.type === 'link') throw new TaskError(`${path} is a symbolic link (to ${f.target ?? '?'}): give the path of the file itself`);
  const text = fileText(f, path, ctx);
  if (text !== undefined && !Buffer.from(text, 'utf8').equals(Buffer.from(f.content!, 'base64'))) throw new TaskError(`${path} is not UTF-8 text`);
  return text;
}

/** Ansible's backup file name: PATH.PID.DATE@TIME~ */
function backupCommand(path: string): { cmd: string; display: string } {
  return { cmd: `cp -p -- ${sq(path)} ${sq(path)}."$$.$(date +%Y-%m-%d@%H:%M:%S)~"`, display: `back up ${path}` };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Check mode: a backup file's name carries the time of the real run, so any such name is unknown. */
function backupEffect(path: string): Effect {
  const re = new RegExp(`^file:${escapeRe(path)}\\.\\d+\\.\\d{4}-\\d\\d-\\d\\d@\\d\\d:\\d\\d:\\d\\d~$`);
  return { touches: (k) => re.test(k), apply: () => new UnknownFact(`a backup of ${path} is named after the time of the real run`) };
}

function plan(args: EditArgs, facts: ContentFacts, ctx: ModuleContext, edit: Editor): Change[] {
  requireAccounts(facts, args.owner, args.group);
  const f = facts.file;
  const old = oldText(f, args.path, ctx);
  const r = edit(old);
  if (old === undefined && !r.changed) return [];
  // the engine verifies that a re-plan after apply is empty: an edit that changes its own result
  // again (replace 'a' by 'aa') fails before it writes anything, not after
  if (r.changed && edit(r.content).changed) {
    throw new TaskError(`the edit of ${args.path} is not idempotent: applied again to its own result it would change the file again (make the pattern stop matching what it writes)`);
  }
  const content = Buffer.from(r.content, 'utf8');
  const changes = planContent({ dest: args.path, mode: args.mode, owner: args.owner, group: args.group, validate: args.validate }, content, f, ctx, shownContent(ctx, old));
  for (const c of changes) {
    if (c.action !== 'update' && c.action !== 'create') continue;
    if (args.backup && c.action === 'update') c.commands.unshift(backupCommand(args.path));
  }
  return permitted(f, facts.who, changes, args);
}

/** The new content as it may be shown: the display arguments' edit (placeholders for secrets) of the same old content. */
function shownContent(ctx: ModuleContext, old: string | undefined): Buffer | null | undefined {
  if (ctx.shown === undefined || ctx.shown === null) return ctx.shown;
  if (typeof ctx.shown !== 'function') return null;
  try {
    return Buffer.from((ctx.shown as Editor)(old).content, 'utf8');
  } catch {
    return null;
  }
}

/** facts, plan, predict, footprint of an editor whose prepare() returns its Editor. */
export const editStages: Pick<StateModule<EditArgs, ContentFacts, Editor>, 'facts' | 'plan' | 'predict' | 'footprint'> = {
  facts: (args, ctx) => contentStages.facts!({ dest: args.path, owner: args.owner, group: args.group }, ctx),
  plan,
  predict(args, facts, changes) {
    const write = changes.find((c) => c.action === 'update' || c.action === 'create');
    const dest = { dest: args.path, mode: args.mode, owner: args.owner, group: args.group };
    // the content written is in the write command's stdin
    const content = write ? (write.commands[write.commands.length - 1].stdin as Buffer) : Buffer.from(facts.file.content ?? '', 'base64');
    return [...predictContent(dest, content, facts.file, facts.who), ...(args.backup && write?.action === 'update' ? [backupEffect(args.path)] : [])];
  },
  footprint: (args) => [...contentFootprint(args.path), ...(args.backup ? [backupEffect(args.path)] : [])],
};
