import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { authorizedKey } from '../../../src/modules/ssh/authorized_key.js';
import { enforce, parseKey } from '../../../src/modules/ssh/keys.js';
import { makeCtx, parse, replanAfterPredict } from './helpers.js';

const K1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 alice@laptop';
const K2 = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQKey2';

describe('authorized_key: key lines', () => {
  test('options (quoted commas and spaces), type, blob, comment', () => {
    assert.deepEqual(parseKey('command="echo a, b",no-pty ssh-ed25519 AAAA1 my key'), { options: 'command="echo a, b",no-pty', type: 'ssh-ed25519', blob: 'AAAA1', comment: 'my key' });
    assert.deepEqual(parseKey('ssh-rsa AAAA2'), { type: 'ssh-rsa', blob: 'AAAA2' });
    assert.equal(parseKey('# a comment'), undefined);
    assert.equal(parseKey('not a key'), undefined);
  });

  test('present: kept where it is when equal, replaced (at the end) when options or comment differ', () => {
    assert.deepEqual(enforce(['# c', K1, K2], [parseKey(K1)!], 'present', false), ['# c', K1, K2]);
    assert.deepEqual(enforce([K1, K2], [{ ...parseKey(K1)!, options: 'no-pty' }], 'present', false), [K2, `no-pty ${K1}`]);
  });

  test('absent removes by type and blob whatever the comment; exclusive keeps only the given keys', () => {
    assert.deepEqual(enforce([K1, K2], [{ ...parseKey(K1)!, comment: 'other' }], 'absent', false), [K2]);
    assert.deepEqual(enforce(['# c', K1, '', K2], [parseKey(K2)!], 'present', true), [K2]);
  });
});

describe('authorized_key: arguments', () => {
  test('several keys, key_options and comment override each key', () => {
    const a = parse(authorizedKey, { user: 'deploy', key: `${K1}\n\n${K2}\n`, key_options: 'no-pty,  from="10.0.0.1"', comment: 'ops' });
    assert.deepEqual(a.keys.map((k) => [k.options, k.comment]), [['no-pty,from="10.0.0.1"', 'ops'], ['no-pty,from="10.0.0.1"', 'ops']]);
  });

  test('refused at load: not a key, a URL, unknown arguments', () => {
    assert.throws(() => parse(authorizedKey, { user: 'deploy', key: 'hello' }), /line 1 is not an SSH public key/);
    assert.throws(() => parse(authorizedKey, { user: 'deploy', key: 'https://github.com/x.keys' }), /URL is not supported/);
    assert.throws(() => parse(authorizedKey, { user: 'deploy', key: K1, validate_certs: false }));
  });
});

describe('authorized_key: plan and prediction', () => {
  const account = { exists: true, uid: 1000, group: 'deploy', groups: [], home: '/home/deploy', shell: '/bin/bash' };
  test('a new file in a new .ssh converges on its predicted facts', () => {
    const a = parse(authorizedKey, { user: 'deploy', key: K1 });
    const facts = { account, dir: { type: 'absent' as const, parentExists: true }, file: { type: 'absent' as const, parentExists: false } };
    const changes = authorizedKey.plan(a, facts, makeCtx());
    assert.deepEqual(changes.map((c) => c.action), ['create', 'create']);
    assert.equal(changes[1].commands[0].stdin!.toString(), `${K1}\n`);
    assert.deepEqual(replanAfterPredict(authorizedKey, a, facts, makeCtx()), []);
  });

  test('exclusive over an existing file converges too', () => {
    const a = parse(authorizedKey, { user: 'deploy', key: K2, exclusive: true });
    const content = Buffer.from(`# keys\n${K1}\n`).toString('base64');
    const facts = {
      account,
      dir: { type: 'directory' as const, parentExists: true, mode: '0700', owner: 'deploy', group: 'deploy' },
      file: { type: 'file' as const, parentExists: true, mode: '0600', owner: 'deploy', group: 'deploy', content, size: 10, sha256: 'x' },
    };
    const changes = authorizedKey.plan(a, facts, makeCtx());
    assert.deepEqual(changes.map((c) => c.action), ['update']);
    assert.equal(changes[0].commands[0].stdin!.toString(), `${K2}\n`);
    assert.deepEqual(replanAfterPredict(authorizedKey, a, facts, makeCtx()), []);
  });
});

describe('authorized_key: footprint', () => {
  test('unknown outcome: with manage_dir the directory and all under it are unknown; without, the file only', () => {
    const withDir = authorizedKey.footprint!(parse(authorizedKey, { user: 'deploy', key: K1 }), makeCtx());
    assert.ok(withDir.some((e) => e.touches('file:/home/deploy/.ssh')));
    assert.ok(withDir.some((e) => e.touches('file:/home/deploy/.ssh/authorized_keys')));
    const fileOnly = authorizedKey.footprint!(parse(authorizedKey, { user: 'deploy', key: K1, manage_dir: false }), makeCtx());
    assert.ok(!fileOnly.some((e) => e.touches('file:/home/deploy/.ssh')));
    assert.ok(fileOnly.some((e) => e.touches('file:/home/deploy/.ssh/authorized_keys')));
  });
});
