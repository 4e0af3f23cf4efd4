/**
 * apt_repository: a one-line apt source (`deb [options] URI suite [components]`) in
 * /etc/apt/sources.list.d/FILENAME.list, the file named after the URI as Ansible names it unless
 * `filename` is given. Unlike Ansible, only that file is looked at (a line already in another
 * file is not found there), and PPAs are refused (Ubuntu only). `update_cache` (default yes, as
 * Ansible's) runs apt-get update after a change.
 */
import { z } from 'zod';
import { fact, type StateModule } from '../contract.js';
import { contentFootprint, planContent, predictContent } from '../files/content.js';
import { fileFact, identityFact, type FileFact, type IdentityFact } from '../files/facts.js';
import { fileText, linesOf, textOfLines } from '../files/text.js';
import type { AptCacheFact } from './facts.js';
import { cacheFacts, planRemove, predictRemove, predictUpdate, SOURCES_DIR, updateFootprint, withUpdate } from './sources.js';

const LINE = /^(deb|deb-src)\s+(\[[^\]]*\]\s+)?[a-z][a-z0-9+.-]*:\S+\s+\S+(\s+\S+)*$/;

const schema = z
  .object({
    repo: z
      .string()
      .transform((s) => s.trim())
      .refine((s) => !s.startsWith('ppa:'), { message: 'PPAs are Ubuntu\'s: give the source line ("deb URI suite components")' })
      .refine((s) => LINE.test(s), { message: 'a one-line source: "deb [options] URI suite [components]" (or deb-src)' }),
    state: z.enum(['present', 'absent']).default('present'),
    filename: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'a file name without directory (".list" is added)')
      .refine((f) => !f.endsWith('.list'), { message: 'give the name without ".list" (it is added, as Ansible does)' })
      .optional(),
    mode: z.string().regex(/^(0o)?[0-7]{3,4}$/, "an octal mode like '0644'").default('0644'),
    update_cache: z.boolean().default(true),
  })
  .strict();

type Args = z.infer<typeof schema>;
type Facts = { file: FileFact; who: IdentityFact; cache?: AptCacheFact };

/** Ansible's name for the file: the URI without scheme, options and credentials, runs of other characters as '_'. */
export function listName(a: Pick<Args, 'repo' | 'filename'>): string {
  if (a.filename) return `${a.filename}.list`;
  const parts = a.repo
    .replace(/\[[^\]]+\]/g, '')
    .replace(/\w+:\/\//g, '')
    .split(/\s+/)
    .filter((p) => p && p !== 'deb' && p !== 'deb-src');
  const uri = parts[0].includes('@') ? parts[0].slice(parts[0].indexOf('@') + 1) : parts[0];
  return `${uri.replace(/[^a-zA-Z0-9]/g, ' ').trim().split(/\s+/).join('_')}.list`;
}

const norm = (l: string) => l.trim().split(/\s+/).join(' ');

/** The file's new lines (undefined: no change; []: nothing left, the file is removed, as Ansible does). */
function newLines(a: Args, text: string | undefined): string[] | undefined {
  const lines = linesOf(text ?? '');
  const has = lines.some((l) => norm(l) === norm(a.repo));
  if (a.state === 'present') return has ? undefined : [...lines, a.repo];
  if (!has) return undefined;
  return lines.filter((l) => norm(l) !== norm(a.repo));
}

const path = (a: Args) => `${SOURCES_DIR}/${listName(a)}`;

export const aptRepository: StateModule<Args, Facts> = {
  name: 'apt_repository',
  type: 'state',
  schema,
  facts: (a, ctx) => ({ file: fact(fileFact, { path: path(a), content: true }), who: fact(identityFact, { become: ctx.become }), ...cacheFacts(a.update_cache) }) as never,
  plan(a, facts, ctx) {
    const lines = newLines(a, fileText(facts.file, path(a), ctx));
    if (lines === undefined) return [];
    if (lines.every((l) => l.trim() === '')) return withUpdate(planRemove(path(a), facts.file), a.update_cache);
    return withUpdate(planContent({ dest: path(a), mode: a.mode }, Buffer.from(textOfLines(lines), 'utf8'), facts.file, ctx), a.update_cache);
  },
  predict(a, facts, changes, ctx) {
    const effects = predictUpdate(changes, facts.cache);
    const lines = newLines(a, fileText(facts.file, path(a), ctx));
    if (lines === undefined) return effects;
    if (lines.every((l) => l.trim() === '')) return [...effects, ...predictRemove(path(a), facts.file)];
    return [...effects, ...predictContent({ dest: path(a), mode: a.mode }, Buffer.from(textOfLines(lines), 'utf8'), facts.file, facts.who)];
  },
  footprint: (a) => [...contentFootprint(path(a)), ...updateFootprint(a.update_cache)],
};
