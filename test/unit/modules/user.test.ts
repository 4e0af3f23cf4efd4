import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { user } from '../../../src/modules/users/user.js';
import { makeCtx, parse } from './helpers.js';

describe('user: args', () => {
  test('defaults and name validation', () => {
    assert.deepEqual(parse(user, { name: 'deploy' }), { name: 'deploy', state: 'present', system: false });
    assert.throws(() => parse(user, { name: 'Deploy User' }), /user\/group name/);
    assert.throws(() => parse(user, { name: 'deploy', home: 'home/deploy' }));
    assert.throws(() => parse(user, { name: 'deploy', password: 'x' }));
  });

  test('facts: the user fact', () => {
    const f = user.facts(parse(user, { name: 'deploy' }), makeCtx());
    assert.equal(f.user.kind.key(f.user.params), 'user:deploy');
  });
});
