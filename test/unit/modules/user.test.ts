import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { UserFact } from '../../../src/modules/users/facts.js';
import { user } from '../../../src/modules/users/user.js';
import { assertConverges, cmds, makeCtx, parse, absentFile, predictedFacts } from './helpers.js';

/** A user's facts with no home directory yet and Debian 12's login.defs. */
const withHome = (u: UserFact) => ({
  user: u,
  home: absentFile(),
  defs: { homeMode: '0700' },
  // the groups these fixtures name exist; the user's own group exists only with the user
  ...Object.fromEntries(['sudo', 'adm', 'staff', 'docker'].map((g) => [`group:${g}`, { exists: true, gid: 27 }])),
  ...Object.fromEntries(['deploy', 'prometheus'].map((g) => [`group:${g}`, { exists: u.exists }])),
});

const deploy: UserFact = { exists: true, uid: 1001, group: 'deploy', groups: ['adm', 'sudo'], home: '/home/deploy', shell: '/bin/bash' };
const nobody: UserFact = { exists: false };
const plan = (args: unknown, u: UserFact) => user.plan(parse(user, args), withHome(u), makeCtx());

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

describe('user: plan', () => {
  test('converged', () => {
    assert.deepEqual(plan({ name: 'deploy', uid: 1001, group: 'deploy', groups: ['sudo', 'adm'], home: '/home/deploy', shell: '/bin/bash' }, deploy), []);
    assert.deepEqual(plan({ name: 'deploy' }, deploy), []);
    // the primary group listed among the supplementary ones is not a difference
    assert.deepEqual(plan({ name: 'deploy', groups: ['deploy', 'adm', 'sudo', 'adm'] }, deploy), []);
  });

  test('create a login user with defaults', () => {
    const changes = plan({ name: 'deploy' }, nobody);
    assert.deepEqual(
      changes.map((c) => [c.action, c.target, c.summary]),
      [['create', 'deploy', 'create user deploy']],
    );
    assert.deepEqual(cmds(changes), ['useradd --user-group --shell /bin/bash --create-home deploy']);
  });

  test('create a system user', () => {
    const changes = plan({ name: 'prometheus', system: true }, nobody);
    assert.equal(changes[0].summary, 'create system user prometheus');
    assert.deepEqual(cmds(changes), ['useradd --system --user-group --shell /usr/sbin/nologin --no-create-home prometheus']);
    assert.deepEqual(cmds(plan({ name: 'prometheus', system: true, create_home: true, home: '/var/lib/prometheus' }, nobody)), [
      'useradd --system --user-group --home-dir /var/lib/prometheus --shell /usr/sbin/nologin --create-home prometheus',
    ]);
  });

  test('create with every option', () => {
    assert.deepEqual(cmds(plan({ name: 'deploy', uid: 1500, group: 'staff', groups: ['adm', 'sudo'], home: '/srv/deploy home', shell: '/bin/zsh', create_home: false }, nobody)), [
      `useradd --uid 1500 --gid staff --groups adm,sudo --home-dir '/srv/deploy home' --shell /bin/zsh --no-create-home deploy`,
    ]);
  });

  test('modify each attribute with its own usermod', () => {
    const changes = plan({ name: 'deploy', uid: 2001, group: 'staff', groups: ['docker'], home: '/srv/deploy', shell: '/bin/zsh' }, deploy);
    assert.deepEqual(
      changes.map((c) => [c.action, c.summary]),
      [
        ['modify', 'user deploy: uid 1001 -> 2001'],
        ['modify', 'user deploy: group deploy -> staff'],
        ['modify', 'user deploy: groups [adm, sudo] -> [docker]'],
        ['modify', 'user deploy: home /home/deploy -> /srv/deploy'],
        ['modify', 'user deploy: shell /bin/bash -> /bin/zsh'],
      ],
    );
    assert.deepEqual(cmds(changes), [
      'usermod --uid 2001 deploy',
      'usermod --gid staff deploy',
      'usermod --groups docker deploy',
      'usermod --home /srv/deploy deploy',
      'usermod --shell /bin/zsh deploy',
    ]);
  });

  test('groups: an empty list removes all supplementary groups', () => {
    const changes = plan({ name: 'deploy', groups: [] }, deploy);
    assert.deepEqual(
      changes.map((c) => c.summary),
      ['user deploy: groups [adm, sudo] -> []'],
    );
    assert.deepEqual(cmds(changes), [`usermod --groups '' deploy`]);
  });

  test('absent: userdel when present, nothing otherwise', () => {
    const changes = plan({ name: 'olduser', state: 'absent' }, deploy);
    assert.deepEqual(
      changes.map((c) => [c.action, c.summary]),
      [['remove', 'remove user olduser']],
    );
    assert.deepEqual(cmds(changes), ['userdel olduser']);
    assert.deepEqual(plan({ name: 'olduser', state: 'absent' }, nobody), []);
  });
});

describe('user: accounts it needs', () => {
  test('a group it names must exist; its own group must not exist yet (useradd --user-group)', () => {
    const facts = { ...withHome(nobody), 'group:ghost': { exists: false } };
    assert.throws(() => user.plan(parse(user, { name: 'deploy', groups: ['ghost', 'adm'] }), facts, makeCtx()), /no such group on this host: ghost/);
    assert.throws(() => user.plan(parse(user, { name: 'deploy', group: 'ghost' }), facts, makeCtx()), /no such group on this host: ghost/);
    const own = { ...withHome(nobody), 'group:deploy': { exists: true, gid: 1001 } };
    assert.throws(() => user.plan(parse(user, { name: 'deploy' }), own, makeCtx()), /a group deploy exists already/);
    assert.equal(user.plan(parse(user, { name: 'deploy', group: 'deploy' }), own, makeCtx())[0].action, 'create');
  });
});

describe('user: predict and convergence', () => {
  test('predict a new user from the useradd defaults', () => {
    const p = (args: unknown) => predictedFacts(user, parse(user, args), withHome(nobody)).user;
    assert.deepEqual(p({ name: 'deploy', groups: ['sudo', 'deploy', 'adm'] }), { exists: true, uid: undefined, group: 'deploy', groups: ['adm', 'sudo'], home: '/home/deploy', shell: '/bin/bash' });
    assert.deepEqual(p({ name: 'prometheus', system: true }), { exists: true, uid: undefined, group: 'prometheus', groups: [], home: '/home/prometheus', shell: '/usr/sbin/nologin' });
  });

  const cases: [string, unknown, UserFact][] = [
    ['create', { name: 'deploy' }, nobody],
    ['create with options', { name: 'deploy', uid: 1500, group: 'staff', groups: ['sudo', 'adm', 'staff'], home: '/srv/deploy', shell: '/bin/zsh' }, nobody],
    ['create system', { name: 'prometheus', system: true, groups: ['adm'] }, nobody],
    ['modify everything', { name: 'deploy', uid: 2001, group: 'staff', groups: ['docker', 'deploy'], home: '/srv/deploy', shell: '/bin/zsh' }, deploy],
    ['clear groups', { name: 'deploy', groups: [] }, deploy],
    ['remove', { name: 'deploy', state: 'absent' }, deploy],
    ['converged', { name: 'deploy', groups: ['adm', 'sudo'] }, deploy],
  ];
  for (const [name, args, u] of cases) {
    test(`convergence: ${name}`, () => assertConverges(user, parse(user, args), withHome(u)));
  }
});
