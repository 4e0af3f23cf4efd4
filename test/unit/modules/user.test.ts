import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { user } from '../../../src/modules/users/user.js';
import { createHash } from 'node:crypto';
import { shadowFact } from '../../../src/modules/users/facts.js';
import { makeCtx, parse, sh } from './helpers.js';

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

describe('user: password, append, remove', () => {
  const hash = '$6$pZ7q$Ab0.cDefGhijKlmnOpqrStuvWxyz0123456789';

  test('password is a crypt hash: a clear-text password is refused at load', () => {
    assert.throws(() => parse(user, { name: 'deploy', password: 'clear text' }), /crypt hash/);
    assert.throws(() => parse(user, { name: 'deploy', password: hash, update_password: 'sometimes' }));
    assert.equal(parse(user, { name: 'deploy', password: '!' }).password, '!');
  });

  test('the hash is one of the values the engine masks, and only the password fact asks for /etc/shadow', () => {
    const a = parse(user, { name: 'deploy', password: hash });
    assert.deepEqual(user.secrets?.(a), [hash]);
    assert.deepEqual(user.secrets?.(parse(user, { name: 'deploy' })), []);
    const f = user.facts(a, makeCtx()) as Record<string, { kind: { key(p: unknown): string }; params: unknown }>;
    assert.equal(f.shadow.kind.key(f.shadow.params), 'shadow:deploy');
    assert.equal('shadow' in user.facts(parse(user, { name: 'deploy' }), makeCtx()), false);
    assert.equal('shadow' in user.facts(parse(user, { name: 'deploy', password: hash, state: 'absent' }), makeCtx()), false);
  });

  test('shadow fact: the digest of the password field, computed on the host (root here)', async () => {
    const script = shadowFact.script({ name: 'root' });
    const r = await sh(script);
    assert.equal(r.code, 0, r.stderr);
    const fieldOf = (await sh(`getent shadow root | cut -d: -f2`)).stdout.replace(/\n$/, '');
    const got = shadowFact.parse(r.stdout, { name: 'root' });
    assert.deepEqual(got, { exists: true, readable: true, digest: createHash('sha256').update(fieldOf).digest('hex') });
    assert.equal(r.stdout.includes(fieldOf) && fieldOf.length > 2, false, 'the hash itself is not in the fact output');
    assert.deepEqual(shadowFact.parse((await sh(shadowFact.script({ name: 'no-such-user-x' }))).stdout, { name: 'no-such-user-x' }), { exists: false, readable: true });
    assert.deepEqual(shadowFact.parse('readable=no\n', { name: 'x' }), { exists: false, readable: false });
  });
});
