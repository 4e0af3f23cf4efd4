import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { file } from '../../../src/modules/files/file.js';
import { makeCtx, parse } from './helpers.js';

describe('file: args', () => {
  test('defaults to state file; modes are normalised', () => {
    assert.deepEqual(parse(file, { path: '/etc/x' }), { path: '/etc/x', state: 'file' });
    // a number is refused: YAML reads an unquoted 0640 as the decimal 640
    assert.throws(() => parse(file, { path: '/etc/x', mode: 0o640 }), /quoted octal mode/);
    assert.equal(parse(file, { path: '/etc/x', mode: '0o750' }).mode, '0o750');
  });

  test('rejects relative paths, bad modes, a link without src', () => {
    assert.throws(() => parse(file, { path: 'etc/x' }), /absolute path/);
    assert.throws(() => parse(file, { path: '/etc/x', mode: '0999' }), /octal mode/);
    assert.throws(() => parse(file, { path: '/etc/x', state: 'link' }), /needs 'src'/);
  });

  test('facts: one file fact without content', () => {
    const f = file.facts(parse(file, { path: '/srv/app' }), makeCtx());
    assert.equal(f.file.kind.kind, 'file');
    assert.deepEqual(f.file.params, { path: '/srv/app' });
  });
});
