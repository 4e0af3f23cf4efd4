/**
 * A file's text, for every module that edits a file as text (lineinfile, blockinfile, replace,
 * authorized_key, cron, sysctl, hostname, own modules): one answer to "what does it hold now",
 * and lines to text and back.
 */
import { TaskError, Unknown, type ModuleContext } from '../contract.js';
import { MAX_CONTENT, type FileFact } from './facts.js';

/**
 * The text of a file fact read with content; undefined when the file does not exist. A file
 * whose content was not read is too large (a TaskError), or, in check mode, one whose predicted
 * content is known only by its hash (unknown, never a failure the real run would not have).
 */
export function fileText(f: FileFact, path: string, ctx: Pick<ModuleContext, 'check'>): string | undefined {
  if (f.type === 'absent') return undefined;
  if (f.type !== 'file') throw new TaskError(`${path} exists and is not a regular file`);
  if (f.content === undefined) {
    if ((f.size ?? 0) > MAX_CONTENT) throw new TaskError(`${path} is too large to edit (${f.size} bytes, at most ${MAX_CONTENT})`);
    if (ctx.check) throw new Unknown(`the content of ${path} is not known before the real run`);
    throw new TaskError(`the content of ${path} could not be read`);
  }
  return Buffer.from(f.content, 'base64').toString('utf8');
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
