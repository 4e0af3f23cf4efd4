import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { group } from '../../../src/modules/users/group.js';
import { makeCtx, parse } from './helpers.js';

describe('group', () => {
  test('args: defaults and name validation', () => {
    assert.deepEqual(parse(group, { name: 'deployers' }), { name: 'deployers', state: 'present', system: false });
    assert.throws(() => parse(group, { name: '1bad' }), /user\/group name/);
    assert.throws(() => parse(group, { name: 'ok', gid: -1 }));
  });

  test('facts: the group fact', () => {
    const f = group.facts(parse(group, { name: 'deployers' }), makeCtx());
    assert.equal(f.group.kind.key(f.group.params), 'group:deployers');
  });
});
