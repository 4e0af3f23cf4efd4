/**
 * What the system modules (sysctl, timezone, hostname, cron) share: a small text file on the
 * host that they edit as a whole, written and predicted as copy writes and predicts a file
 * (files/content.ts: atomic write, --diff, the file's facts after it).
 */
import { fact, TaskError, type Change, type Effect, type FactRequest, type ModuleContext } from '../contract.js';
import { fileFact, identityFact, type FileFact, type IdentityFact } from '../files/facts.js';
import { planContent, predictContent, type ContentArgs } from '../files/content.js';

export interface TextFileFacts {
  file: FileFact;
  who: IdentityFact;
}

/** The facts of one edited file: its content, and who writes it. */
export function textFileFacts(path: string, ctx: Pick<ModuleContext, 'become'>): { file: FactRequest<FileFact>; who: FactRequest<IdentityFact> } {
  return { file: fact(fileFact, { path, content: true }), who: fact(identityFact, { become: ctx.become }) };
}

/** The file's text, or undefined when it does not exist. */
export function textOf(f: FileFact, path: string): string | undefined {
  if (f.type === 'absent') return undefined;
  if (f.type !== 'file') throw new TaskError(`${path} exists and is not a regular file`);
  if (f.content === undefined) throw new TaskError(`${path} is too large to be edited in place`);
  return Buffer.from(f.content, 'base64').toString('utf8');
}

/** The change that writes `text` to the file (none when it holds it already), with its diff. */
export function planText(args: ContentArgs, text: string, f: FileFact, ctx: Pick<ModuleContext, 'mask'>): Change[] {
  return planContent(args, Buffer.from(text, 'utf8'), f, ctx);
}

/** Check mode: the file after planText's change. */
export function predictText(args: ContentArgs, text: string, f: TextFileFacts): Effect[] {
  return predictContent(args, Buffer.from(text, 'utf8'), f.file, f.who);
}

/** Lines of a text, without the final newline's empty line. */
export function linesOf(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Lines back to a text: each ends with a newline. */
export const textOfLines = (lines: string[]): string => lines.map((l) => `${l}\n`).join('');
