/** files/text.ts: one answer to "what text does this file hold", for every module that edits text. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TaskError, Unknown } from '../../../src/modules/contract.js';
import { fileText, linesOf, textOfLines } from '../../../src/modules/files/text.js';
import { MAX_CONTENT, type FileFact } from '../../../src/modules/files/facts.js';

const file = (f: Partial<FileFact>) => ({ type: 'file', ...f }) as FileFact;

test('fileText: absent, text, not a file, too large; check mode: content known only by its hash is unknown', () => {
  assert.equal(fileText({ type: 'absent' } as FileFact, '/x', { check: false }), undefined);
  assert.equal(fileText(file({ content: Buffer.from('a\n').toString('base64'), size: 2 }), '/x', { check: false }), 'a\n');
  assert.throws(() => fileText({ type: 'directory' } as FileFact, '/x', { check: false }), (e) => e instanceof TaskError && /not a regular file/.test(e.message));
  assert.throws(() => fileText(file({ size: MAX_CONTENT + 1 }), '/x', { check: true }), (e) => e instanceof TaskError && /too large/.test(e.message));
  assert.throws(() => fileText(file({ size: 10 }), '/x', { check: true }), (e) => e instanceof Unknown);
  assert.throws(() => fileText(file({ size: 10 }), '/x', { check: false }), (e) => e instanceof TaskError && /could not be read/.test(e.message));
});

test('linesOf / textOfLines: a final newline makes no empty line, and comes back', () => {
  assert.deepEqual(linesOf(''), []);
  assert.deepEqual(linesOf('a\nb\n'), ['a', 'b']);
  assert.deepEqual(linesOf('a\nb'), ['a', 'b']);
  assert.equal(textOfLines(['a', 'b']), 'a\nb\n');
  assert.equal(textOfLines([]), '');
});
