/** SHA-crypt ($5$, $6$) against the specification's test vectors and openssl passwd. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { shaCrypt, randomSalt } from '../../src/engine/sha-crypt.js';

describe('sha-crypt', () => {
  it('the specification vectors (Drepper, "Unix crypt using SHA-256 and SHA-512")', () => {
    assert.equal(shaCrypt('sha512', 'Hello world!', 'saltstring'), '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1');
    assert.equal(
      shaCrypt('sha512', 'Hello world!', 'saltstringsaltstring', 10000),
      '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
    );
    assert.equal(shaCrypt('sha256', 'Hello world!', 'saltstring'), '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5');
    // the empty password (openssl passwd -stdin cannot read one): glibc crypt("", "$6$ab")
    assert.equal(shaCrypt('sha512', '', 'ab'), '$6$ab$xnh5Qsr2NdbFw1PgdZie7nLON3gv.S.23iQDBqAzkdoXPtDnVSpludXkM5UWybQO3OI7hBj9wHg9Ow6sUWD60/');
    assert.equal(shaCrypt('sha256', 'Hello world!', 'saltstringsaltstring', 10000), '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA');
  });

  it('equals openssl passwd -5/-6 for passwords of many lengths (the key repeats across digest blocks)', () => {
    for (const pw of ['a', 'pa$$w"ord-2024', 'é ünïcode', 'x'.repeat(63), 'y'.repeat(64), 'z'.repeat(65), 'w'.repeat(200)]) {
      for (const [algo, flag] of [['sha512', '-6'], ['sha256', '-5']] as const) {
        const salt = randomSalt(1 + Math.floor(Math.random() * 16));
        const ref = spawnSync('openssl', ['passwd', flag, '-salt', salt, '-stdin'], { input: pw, encoding: 'utf8' });
        assert.equal(ref.status, 0, ref.stderr);
        assert.equal(shaCrypt(algo, pw, salt), ref.stdout.trim(), `${algo} ${JSON.stringify(pw)} salt ${salt}`);
      }
    }
  });
});
