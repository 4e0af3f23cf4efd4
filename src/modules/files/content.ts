/**
 * Shared plan logic for modules that manage a file's content (copy, template):
 * compare desired content with the file fact, produce a diff, and the commands that
 * write it atomically (temp file in the same directory, optional validate, chmod/chown, mv).
 */
import { createHash } from 'node:crypto';
import { displayDiff } from './diff.js';
import { sq } from '../../engine/shell.js';
import type { Change, Command, ModuleContext, StateModule } from '../contract.js';
import { fact, TaskError, type Effect } from '../contract.js';
import { accountFacts, requireAccounts, type AccountFacts } from '../users/facts.js';
import { fileFact, identityFact, MAX_CONTENT, normMode, notPermitted, type FileFact, type IdentityFact, type WriteOwnership } from './facts.js';
import { namesOf, normPath, pathBecomes, unknownTree } from './effects.js';
import { maybe, UnknownFact } from '../../engine/prediction.js';
import { unitFileWritten } from '../services/facts.js';

export interface ContentArgs {
  dest: string;
  mode?: string;
  owner?: string;
  group?: string;
  validate?: string;
  /** Keep the old file as `dest.PID.YYYY-MM-DD@HH:MM:SS~` before replacing its content (copy). */
  backup?: boolean;
}

/** Where the bytes come from when they are not sent: a file on the host (copy's remote_src). */
export interface RemoteSource {
  path: string;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function isText(buf: Buffer): boolean {
  return !buf.subarray(0, 8000).includes(0);
}

/**
 * The diff shown for a content change. `shown` is the display render of the new content (see
 * ModuleContext.shown): undefined when the module was given none (shown as is, masked), null when
 * the display render failed (nothing of the content is shown).
 */
export function unifiedDiff(path: string, before: Buffer | undefined, after: Buffer, mask: (s: string) => string, shown?: Buffer | null): string {
  if ((before && !isText(before)) || !isText(after)) return `Binary file ${path} differs\n`;
  return displayDiff({
    path,
    before: before?.toString('utf8'),
    after: after.toString('utf8'),
    shown: shown === undefined || shown === null ? shown : shown.toString('utf8'),
    mask,
  });
}

/** The display version of the content (prepare() run on the displayed arguments), from ctx.shown. */
export function shownBytes(ctx: ModuleContext): Buffer | null | undefined {
  if (ctx.shown === undefined) return undefined;
  return Buffer.isBuffer(ctx.shown) ? ctx.shown : null;
}

/** Plan the changes that make `fact` hold exactly `content` with the given attributes. */
export function planContent(args: ContentArgs, content: Buffer, fact: FileFact, ctx: Pick<ModuleContext, 'mask'>, shown?: Buffer | null): Change[] {
  return planBytes(args, { sha256: sha256(content), size: content.length, bytes: content }, fact, ctx, shown);
}

/** The content a file must have: its hash and size, and its bytes when known (else it is copied from `from` on the host). */
export interface Wanted {
  sha256: string;
  size: number;
  bytes?: Buffer;
  from?: RemoteSource;
}

/** planContent for content known by hash (and bytes, when they are known: for the diff). */
export function planBytes(args: ContentArgs, want: Wanted, fact: FileFact, ctx: Pick<ModuleContext, 'mask'>, shown?: Buffer | null): Change[] {
  const dest = args.dest;
  const mode = normMode(args.mode);
  if (fact.type === 'directory') throw new TaskError(`${dest} is a directory; give the full path of the file`);
  if (fact.type === 'other') throw new TaskError(`${dest} exists and is not a regular file`);
  if (!fact.parentExists && !fact.parentByInstall) {
    throw new TaskError(`parent directory of ${dest} does not exist (create it with a 'file' task, state: directory)`);
  }
  const exists = fact.type === 'file';
  const changes: Change[] = [];
  if (!exists || fact.sha256 !== want.sha256 || fact.type !== 'file') {
    const before = exists && fact.content !== undefined ? Buffer.from(fact.content, 'base64') : undefined;
    const diff =
      exists && before === undefined
        ? `(${dest}: previous content too large to diff)\n`
        : want.bytes === undefined
          ? `(${dest}: the content of ${want.from?.path} is too large to diff)\n`
          : unifiedDiff(dest, before, want.bytes, ctx.mask, shown);
    const from = want.from ? ` from ${want.from.path}` : '';
    changes.push({
      action: exists ? 'update' : 'create',
      target: dest,
      summary: exists ? `update ${dest}${from} (${want.size} bytes)${args.backup ? ', keeping a backup' : ''}` : `create ${dest}${from} (${want.size} bytes)`,
      diff,
      commands: [writeCommand(args, want.from ?? want.bytes!, exists)],
      // check mode cannot run the user's validate command on content that is not written yet
      ...(args.validate ? { uncertain: ctx.mask(`whether '${args.validate}' accepts the new content of ${dest} is known only when it runs`) } : {}),
    });
    return changes;
  }
  changes.push(...planAttributes(dest, fact, mode, args.owner, args.group));
  return changes;
}

function writeCommand(args: ContentArgs, content: Buffer | RemoteSource, exists: boolean): Command {
  const dest = sq(args.dest);
  const dir = sq(args.dest.replace(/\/[^/]*$/, '') || '/');
  const mode = normMode(args.mode);
  const local = Buffer.isBuffer(content);
  const steps = [`set -e`, `tmp=$(mktemp ${dir}/.provision-tmp.XXXXXX)`, `trap 'rm -f "$tmp"' EXIT`, local ? `cat > "$tmp"` : `cat -- ${sq(content.path)} > "$tmp"`];
  if (args.validate) {
    const v = args.validate.includes('%s') ? args.validate.split('%s').join('"$tmp"') : `${args.validate} "$tmp"`;
    steps.push(`if ! ( ${v} ) >&2; then echo "validation failed: ${args.validate.replace(/["\\$`]/g, '\\$&')}" >&2; exit 3; fi`);
  }
  if (mode) steps.push(`chmod ${mode} "$tmp"`);
  else if (exists) steps.push(`chmod --reference=${dest} "$tmp"`);
  else steps.push(`chmod 0644 "$tmp"`);
  // keep the existing owner/group unless given (owner alone must not reset the group to root)
  if (exists) steps.push(`chown --reference=${dest} "$tmp"`);
  if (args.owner || args.group) steps.push(`chown ${sq(`${args.owner ?? ''}${args.group ? `:${args.group}` : ''}`)} "$tmp"`);
  // as Ansible names it; printed for the registered result's backup_file
  if (exists && args.backup) steps.push(`b=${dest}.$$.$(date +%Y-%m-%d@%H:%M:%S)~`, `cp -p -- ${dest} "$b"`, `printf 'backup_file=%s\\n' "$b"`);
  steps.push(`mv -fT "$tmp" ${dest}`, `trap - EXIT`);
  const display = `write ${args.dest} atomically${local ? '' : ` from ${content.path}`}${args.validate ? ` after validating with: ${args.validate}` : ''}`;
  return { cmd: steps.join('\n'), ...(local ? { stdin: content } : {}), display };
}

/** Mode/owner/group changes for an existing path. */
export function planAttributes(path: string, fact: FileFact, mode?: string, owner?: string, group?: string): Change[] {
  const changes: Change[] = [];
  const p = sq(path);
  const h = fact.type === 'link' ? '-h ' : '';
  if (mode && fact.type !== 'link' && fact.mode !== mode) {
    changes.push({ action: 'chmod', target: path, summary: `mode ${fact.mode ?? '?'} -> ${mode}`, commands: [{ cmd: `chmod ${mode} ${p}` }] });
  }
  if (owner && fact.owner !== owner) {
    changes.push({ action: 'chown', target: path, summary: `owner ${fact.owner ?? '?'} -> ${owner}`, commands: [{ cmd: `chown ${h}${sq(owner)} ${p}` }] });
  }
  if (group && fact.group !== group) {
    changes.push({ action: 'chgrp', target: path, summary: `group ${fact.group ?? '?'} -> ${group}`, commands: [{ cmd: `chgrp ${h}${sq(group)} ${p}` }] });
  }
  return changes;
}

/** Check mode: what a content task whose outcome is unknown may have written. */
export function contentFootprint(dest: string): Effect[] {
  const why = `${dest} is written by a task whose outcome is unknown in check mode`;
  return [unknownTree([normPath(dest)], why), ...unitFileWritten(dest, Buffer.alloc(0)).map((e) => maybe(e, why))];
}

/** Check mode: the file after writing `content` (mktemp by `who`, chmod, chown, mv). */
export function predictContent(args: ContentArgs, content: Buffer, fact: FileFact, who: IdentityFact): Effect[] {
  return predictBytes(args, { sha256: sha256(content), size: content.length, bytes: content }, fact, who);
}

/** predictContent for content known by hash (and its bytes, when known). */
export function predictBytes(args: ContentArgs, want: Wanted, fact: FileFact, who: IdentityFact): Effect[] {
  // a link is replaced by a new file (its attributes are not taken over: --reference would follow it)
  const existed = fact.type === 'file';
  return [
    pathBecomes(namesOf(args.dest, fact), (before) => ({
      type: 'file',
      parentExists: true,
      mode: normMode(args.mode) ?? (existed && before.type === 'file' ? before.mode : '0644'),
      owner: args.owner ?? (existed ? before.owner : who.user),
      group: args.group ?? (existed ? before.group : who.group),
      size: want.size,
      sha256: want.sha256,
      // like the fact reader: no content above MAX_CONTENT (a later diff says so instead)
      ...(want.bytes && want.size <= MAX_CONTENT ? { content: want.bytes.toString('base64') } : {}),
    }), true),
    ...(want.bytes ? unitFileWritten(args.dest, want.bytes) : unitFileWritten(args.dest, Buffer.alloc(0)).map((e) => maybe(e, `${args.dest} is copied from ${want.from?.path}`))),
    ...(existed && args.backup && fact.sha256 !== want.sha256 ? [backupMade(args.dest)] : []),
  ];
}

/** Check mode: the backup's name carries the host's pid and clock: any file named so is unknown. */
function backupMade(dest: string): Effect {
  const prefix = `file:${normPath(dest)}.`;
  return { touches: (k) => k.startsWith(prefix) && k.endsWith('~'), apply: () => new UnknownFact(`a backup of ${dest} is made with the host's pid and time in its name`) };
}

/** The registered result's backup_file, from what the write command printed. */
export function backupFile(stdout: string): string | undefined {
  return /^backup_file=(.*)$/m.exec(stdout)?.[1];
}

/** Check mode: changes a non-root user may not be allowed to make are uncertain. */
export function permitted(f: FileFact, who: IdentityFact, changes: Change[], writes?: WriteOwnership): Change[] {
  const why = notPermitted(f, who, changes, writes);
  return why ? changes.map((c) => ({ ...c, uncertain: why })) : changes;
}

export type ContentFacts = { file: FileFact; who: IdentityFact } & AccountFacts;

/** The stages copy and template share once prepare() has made their content (the bytes to write): facts, plan, predict, footprint. */
export const contentStages: Pick<StateModule<ContentArgs, ContentFacts, Buffer>, 'facts' | 'plan' | 'predict' | 'footprint'> = {
  facts: (args, ctx) => ({ file: fact(fileFact, { path: args.dest, content: true }), who: fact(identityFact, { become: ctx.become }), ...accountFacts(args.owner, args.group) }),
  plan: (args, facts, ctx, content) => {
    requireAccounts(facts, args.owner, args.group);
    return permitted(facts.file, facts.who, planContent(args, content, facts.file, ctx, shownBytes(ctx)), args);
  },
  predict: (args, facts, _changes, _ctx, content) => predictContent(args, content, facts.file, facts.who),
  footprint: (args) => contentFootprint(args.dest),
};
