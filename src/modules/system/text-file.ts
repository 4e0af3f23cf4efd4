/**
 * What the system modules (sysctl, timezone, hostname, cron) share: a small text file on the
 * host that they edit as a whole, written and predicted as copy writes and predicts a file
 * (files/content.ts: atomic write, --diff, the file's facts after it).
 */
import { fact, type Change, type Effect, type FactRequest, type ModuleContext } from '../contract.js';
import { fileFact, identityFact, type FileFact, type IdentityFact } from '../files/facts.js';
import { planContent, predictContent, type ContentArgs } from '../files/content.js';

export { fileText as textOf, linesOf, textOfLines } from '../files/text.js';

export interface TextFileFacts {
  file: FileFact;
  who: IdentityFact;
}

/** The facts of one edited file: its content, and who writes it. */
export function textFileFacts(path: string, ctx: Pick<ModuleContext, 'become'>): { file: FactRequest<FileFact>; who: FactRequest<IdentityFact> } {
  return { file: fact(fileFact, { path, content: true }), who: fact(identityFact, { become: ctx.become }) };
}

/** The change that writes `text` to the file (none when it holds it already), with its diff. */
export function planText(args: ContentArgs, text: string, f: FileFact, ctx: Pick<ModuleContext, 'mask'>): Change[] {
  return planContent(args, Buffer.from(text, 'utf8'), f, ctx);
}

/** Check mode: the file after planText's change. */
export function predictText(args: ContentArgs, text: string, f: TextFileFacts): Effect[] {
  return predictContent(args, Buffer.from(text, 'utf8'), f.file, f.who);
}
