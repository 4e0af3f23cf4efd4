import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GroupFact } from '../../../src/modules/users/facts.js';
import { group } from '../../../src/modules/users/group.js';
import { assertConverges, cmds, makeCtx, parse, predictedFacts } from './helpers.js';

const present = (gid: number): GroupFact => ({ exists: true, gid });
const none: GroupFact = { exists: false };
const plan = (args: unknown, g: GroupFact) => group.plan(parse(group, args), { group: g }, makeCtx());

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

  test('converged', () => {
    assert.deepEqual(plan({ name: 'deployers' }, present(1002)), []);
    assert.deepEqual(plan({ name: 'deployers', gid: 1002 }, present(1002)), []);
    assert.deepEqual(plan({ name: 'deployers', state: 'absent' }, none), []);
  });

  test('create', () => {
    const changes = plan({ name: 'deployers' }, none);
    assert.deepEqual(
      changes.map((c) => [c.action, c.target, c.summary]),
      [['create', 'deployers', 'create group deployers']],
    );
    assert.deepEqual(cmds(changes), ['groupadd deployers']);
  });

  test('create a system group with a gid', () => {
    const changes = plan({ name: 'prometheus', system: true, gid: 990 }, none);
    assert.equal(changes[0].summary, 'create system group prometheus');
    assert.deepEqual(cmds(changes), ['groupadd --system --gid 990 prometheus']);
    assert.deepEqual(cmds(plan({ name: 'prometheus', gid: 0 }, none)), ['groupadd --gid 0 prometheus']);
  });

  test('change the gid', () => {
    const changes = plan({ name: 'deployers', gid: 2000 }, present(1002));
    assert.deepEqual(
      changes.map((c) => [c.action, c.summary]),
      [['modify', 'group deployers: gid 1002 -> 2000']],
    );
    assert.deepEqual(cmds(changes), ['groupmod --gid 2000 deployers']);
  });

  test('remove', () => {
    const changes = plan({ name: 'deployers', state: 'absent' }, present(1002));
    assert.deepEqual(
      changes.map((c) => [c.action, c.summary]),
      [['remove', 'remove group deployers']],
    );
    assert.deepEqual(cmds(changes), ['groupdel deployers']);
  });

  test('predict', () => {
    assert.deepEqual(predictedFacts(group, parse(group, { name: 'g', gid: 5 }), { group: none }).group, { exists: true, gid: 5 });
    assert.deepEqual(predictedFacts(group, parse(group, { name: 'g' }), { group: present(7) }).group, { exists: true, gid: 7 });
    assert.deepEqual(predictedFacts(group, parse(group, { name: 'g', state: 'absent' }), { group: present(7) }).group, { exists: false });
  });

  const cases: [string, unknown, GroupFact][] = [
    ['create', { name: 'g' }, none],
    ['create with gid', { name: 'g', gid: 990, system: true }, none],
    ['change gid', { name: 'g', gid: 2000 }, present(1002)],
    ['remove', { name: 'g', state: 'absent' }, present(1002)],
    ['converged', { name: 'g' }, present(1002)],
  ];
  for (const [name, args, g] of cases) {
    test(`convergence: ${name}`, () => assertConverges(group, parse(group, args), { group: g }));
  }
});
