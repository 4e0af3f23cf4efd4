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
import { fileFact, identityFact, MAX_CONTENT, normMode, notPermitted, type FileFact, type IdentityFact } from './facts.js';
import { namesOf, normPath, pathBecomes, unknownTree } from './effects.js';
import { maybe } from '../../engine/prediction.js';
import { unitFileWritten } from '../services/facts.js';

export interface ContentArgs {
  dest: string;
  mode?: string;
  owner?: string;
  group?: string;
  validate?: string;
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
  const dest = args.dest;
  const mode = normMode(args.mode);
  if (fact.type === 'directory') throw new TaskError(`${dest} is a directory; give the full path of the file`);
  if (fact.type === 'other') throw new TaskError(`${dest} exists and is not a regular file`);
  if (!fact.parentExists && !fact.parentByInstall) {
    throw new TaskError(`parent directory of ${dest} does not exist (create it with a 'file' task, state: directory)`);
  }
  const want = sha256(content);
  const exists = fact.type === 'file';
  const changes: Change[] = [];
  if (!exists || fact.sha256 !== want || fact.type !== 'file') {
    const before = exists && fact.content !== undefined ? Buffer.from(fact.content, 'base64') : undefined;
    const diff = exists && before === undefined ? `(${dest}: previous content too large to diff)\n` : unifiedDiff(dest, before, content, ctx.mask, shown);
    changes.push({
      action: exists ? 'update' : 'create',
      target: dest,
      summary: exists ? `update ${dest} (${content.length} bytes)` : `create ${dest} (${content.length} bytes)`,
      diff,
      commands: [writeCommand(args, content, exists)],
    });
    return changes;
  }
  changes.push(...planAttributes(dest, fact, mode, args.owner, args.group));
  return changes;
}

function writeCommand(args: ContentArgs, content: Buffer, exists: boolean): Command {
  const dest = sq(args.dest);
  const dir = sq(args.dest.replace(/\/[^/]*$/, '') || '/');
  const mode = normMode(args.mode);
  const steps = [`set -e`, `tmp=$(mktemp ${dir}/.provision-tmp.XXXXXX)`, `trap 'rm -f "$tmp"' EXIT`, `cat > "$tmp"`];
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
  steps.push(`mv -fT "$tmp" ${dest}`, `trap - EXIT`);
  const display = `write ${args.dest} atomically${args.validate ? ` after validating with: ${args.validate}` : ''}`;
  return { cmd: steps.join('\n'), stdin: content, display };
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
  // a link is replaced by a new file (its attributes are not taken over: --reference would follow it)
  const existed = fact.type === 'file';
  return [
    pathBecomes(namesOf(args.dest, fact), (before) => ({
      type: 'file',
      parentExists: true,
      mode: normMode(args.mode) ?? (existed && before.type === 'file' ? before.mode : '0644'),
      owner: args.owner ?? (existed ? before.owner : who.user),
      group: args.group ?? (existed ? before.group : who.group),
      size: content.length,
      sha256: sha256(content),
      // like the fact reader: no content above MAX_CONTENT (a later diff says so instead)
      ...(content.length <= MAX_CONTENT ? { content: content.toString('base64') } : {}),
    }), true),
    ...unitFileWritten(args.dest, content),
  ];
}

/** Check mode: changes a non-root user may not be allowed to make are uncertain. */
export function permitted(f: FileFact, who: IdentityFact, changes: Change[]): Change[] {
  const why = notPermitted(f, who, changes);
  return why ? changes.map((c) => ({ ...c, uncertain: why })) : changes;
}

export type ContentFacts = { file: FileFact; who: IdentityFact } & AccountFacts;

/** The stages copy and template share once prepare() has made their content (the bytes to write): facts, plan, predict, footprint. */
export const contentStages: Pick<StateModule<ContentArgs, ContentFacts, Buffer>, 'facts' | 'plan' | 'predict' | 'footprint'> = {
  facts: (args, ctx) => ({ file: fact(fileFact, { path: args.dest, content: true }), who: fact(identityFact, { become: ctx.become }), ...accountFacts(args.owner, args.group) }),
  plan: (args, facts, ctx, content) => {
    requireAccounts(facts, args.owner, args.group);
    return permitted(facts.file, facts.who, planContent(args, content, facts.file, ctx, shownBytes(ctx)));
  },
  predict: (args, facts, _changes, _ctx, content) => predictContent(args, content, facts.file, facts.who),
  footprint: (args) => contentFootprint(args.dest),
};
