/**
 * cron: a job (or an environment variable) in a user's crontab or in a cron.d file, marked as
 * Ansible marks it (`#Ansible: NAME` above the job's line), so crontabs written by Ansible are
 * read as it reads them. A user's crontab is its spool file (/var/spool/cron/crontabs/USER,
 * owned by the user, group crontab, mode 0600), edited as a whole like any file: cron notices
 * the change by itself, as after `crontab -`.
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { fact, TaskError, Unknown, type Change, type Effect, type ModuleContext, type StateModule } from '../contract.js';
import { contentFootprint } from '../files/content.js';
import { removedTree } from '../files/effects.js';
import { groupFact, userFact, type GroupFact, type UserFact } from '../users/facts.js';
import { fieldError, jobLine, SPECIAL_TIMES, withEnv, withJob, FIELD_RANGES } from './cron-line.js';
import { linesOf, planText, predictText, textFileFacts, textOf, textOfLines, type TextFileFacts } from './text-file.js';

export const SPOOL = '/var/spool/cron/crontabs';
const field = z.union([z.string().min(1), z.number().int().nonnegative()]).transform(String).default('*');
const oneLine = (what: string) => z.string().refine((s) => !/[\n\r]/.test(s), { message: `${what} must be one line` });

const schema = z
  .object({
    name: oneLine("'name'").pipe(z.string().min(1)),
    job: oneLine("'job'").optional(),
    minute: field,
    hour: field,
    day: field,
    month: field,
    weekday: field,
    special_time: z.enum(SPECIAL_TIMES).optional(),
    user: z.string().regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'a user name').optional(),
    cron_file: z.string().regex(/^[^\0\n]*[^/\n]$/, 'a file name (in /etc/cron.d) or an absolute path').optional(),
    state: z.enum(['present', 'absent']).default('present'),
    disabled: z.boolean().default(false),
    env: z.boolean().default(false),
  })
  .strict()
  .superRefine((a, ctx) => {
    for (const f of Object.keys(FIELD_RANGES) as (keyof typeof FIELD_RANGES)[]) {
      const e = fieldError(f, a[f]);
      if (e) ctx.addIssue({ code: 'custom', path: [f], message: e });
    }
    if (a.special_time && Object.keys(FIELD_RANGES).some((f) => a[f as keyof typeof FIELD_RANGES] !== '*')) {
      ctx.addIssue({ code: 'custom', message: 'give either special_time or the time fields (minute, hour, day, month, weekday), not both' });
    }
    if (a.state === 'present' && a.job === undefined) ctx.addIssue({ code: 'custom', message: "state: present needs 'job' (the command, or with env: true the variable's value)" });
    if (a.env && (a.special_time || a.disabled)) ctx.addIssue({ code: 'custom', message: 'env: true sets a variable: special_time and disabled do not apply' });
    if (a.env && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(a.name)) ctx.addIssue({ code: 'custom', path: ['name'], message: 'with env: true, name is a variable name' });
    if (a.cron_file !== undefined && !a.cron_file.startsWith('/') && a.cron_file.includes('/')) ctx.addIssue({ code: 'custom', path: ['cron_file'], message: 'a file name in /etc/cron.d, or an absolute path' });
  });

type Args = z.infer<typeof schema>;
type Facts = TextFileFacts & { account?: UserFact; crontabGroup?: GroupFact };

interface Where {
  path: string;
  /** The user the job runs as. */
  user: string;
  /** A user's spool file (not a cron.d file). */
  spool: boolean;
}

function where(args: Args, ctxUser: string): Where {
  if (args.cron_file !== undefined) {
    return { path: args.cron_file.startsWith('/') ? args.cron_file : `/etc/cron.d/${args.cron_file}`, user: args.user ?? 'root', spool: false };
  }
  const user = args.user ?? ctxUser;
  return { path: `${SPOOL}/${user}`, user, spool: true };
}

/** The crontab's new lines (undefined: unchanged). */
function edited(args: Args, w: Where, lines: string[]): string[] | undefined {
  const present = args.state === 'present';
  const after = args.env
    ? withEnv(lines, args.name, present ? args.job : undefined)
    : withJob(lines, args.name, present ? jobLine({ ...args, job: args.job! }, w.spool ? undefined : w.user) : undefined, args.job === undefined ? undefined : jobLine({ ...args, job: args.job }, w.spool ? undefined : w.user));
  return after.length === lines.length && after.every((l, i) => l === lines[i]) ? undefined : after;
}

/** What the task does to its crontab: nothing, write `text`, or remove the (cron.d) file. */
type Outcome = { kind: 'none' } | { kind: 'write'; text: string } | { kind: 'remove' };

function outcome(args: Args, w: Where, facts: Facts, ctx: Pick<ModuleContext, 'check'>): Outcome {
  const text = textOf(facts.file, w.path, ctx);
  const lines = linesOf(text ?? '');
  const after = edited(args, w, lines);
  // Ansible removes a cron.d file that nothing is left in
  if (args.state === 'absent' && !w.spool && text !== undefined && (after ?? lines).every((l) => l.trim() === '')) return { kind: 'remove' };
  if (after === undefined || (text === undefined && args.state === 'absent')) return { kind: 'none' };
  return { kind: 'write', text: textOfLines(after) };
}

const contentArgs = (w: Where) => (w.spool ? { dest: w.path, owner: w.user, group: 'crontab', mode: '0600' } : { dest: w.path });

export const cron: StateModule<Args, Facts> = {
  name: 'cron',
  type: 'state',
  schema,
  facts: (args, ctx) => {
    const w = where(args, ctx.user);
    return { ...textFileFacts(w.path, ctx), ...(w.spool ? { account: fact(userFact, { name: w.user }), crontabGroup: fact(groupFact, { name: 'crontab' }) } : {}) };
  },
  plan(args, facts, ctx) {
    const w = where(args, ctx.user);
    const o = outcome(args, w, facts, ctx);
    if (o.kind === 'none') return [];
    if (o.kind === 'remove') return [{ action: 'remove', target: w.path, summary: `remove ${w.path} (no job left in it)`, commands: [{ cmd: `rm -f ${sq(w.path)}` }] }];
    if (w.spool) {
      if (facts.file.parentByInstall) throw new Unknown(`${SPOOL} and the crontab group come with the cron package a pending install brings`);
      if (!facts.file.parentExists) throw new TaskError(`${SPOOL} does not exist: is the cron package installed?`);
      if (!facts.account?.exists) throw new TaskError(`user '${w.user}': no such user on this host`);
      if (!facts.crontabGroup?.exists) throw new TaskError("group 'crontab' does not exist: is the cron package installed?");
    }
    return planText(contentArgs(w), o.text, facts.file, ctx).map((c): Change => ({ ...c, summary: `${c.summary}: ${args.env ? 'variable' : 'job'} ${args.name} ${args.state === 'present' ? 'set' : 'removed'}` }));
  },
  predict(args, facts, _changes, ctx) {
    const w = where(args, ctx.user);
    const o = outcome(args, w, facts, ctx);
    const effects: Effect[] = o.kind === 'write' ? predictText(contentArgs(w), o.text, facts) : o.kind === 'remove' ? [removedTree([w.path])] : [];
    return effects;
  },
  footprint: (args, ctx) => contentFootprint(where(args, ctx.user).path),
};
