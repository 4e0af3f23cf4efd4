import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendKnownHost,
  fingerprint,
  hashHostName,
  hostKeyAlgorithmsFor,
  keyTypeOfBlob,
  knownHostsName,
  lookup,
  matchHostField,
  matchPattern,
  parseKnownHosts,
  RunOnlyHostKeys,
  verifyHostKey,
} from '../../src/ssh/knownhosts.js';

// Real keys generated with ssh-keygen (fixtures; no network, no tools needed).
const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIGPfoT1dsCBNdf426Xw+ajjkqYR+gYn1zkGwKEBEy9Hz'; // ed25519
const K1_FP = 'SHA256:Kxb2kx4rzi9NJ4dSNnuc/yxkNy6DNgS6nK0XIJnZ4V4'; // from `ssh-keygen -lf`
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIG9gqgkuP5FK6eeSG/NTQRVwCcRAhOLKUzhj5KDNM4hV'; // ed25519
const K3 =
  'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNTgZyGx217bvsWoHTfle0Eav23bLZG/i9145Vu+ALr70dzoPismefSbpbUfxMNQO9xcRWY2OCx1hxXHv/Vj//g='; // ecdsa p256
const blob = (b64: string) => Buffer.from(b64, 'base64');

// `ssh-keygen -H` output for "example.com <K1>" and "[example.com]:2222 <K2>".
const HASHED_22 = `|1|0ExrtqzvG1mCWj9RRPR0edV7MHk=|Sp5YbWX2Fq0un4muzpEWuluiAL0= ssh-ed25519 ${K1}`;
const HASHED_2222 = `|1|LESi0RnhtHObAga5NljOlrfPbTs=|YqYozQbtwoPmtU7XwNWzaKB8noA= ssh-ed25519 ${K2}`;

function tmpFile(content?: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kh-test-'));
  const file = join(dir, 'known_hosts');
  if (content !== undefined) writeFileSync(file, content);
  return { dir, file };
}

describe('knownhosts parsing', () => {
  test('parses plain, marker, comment and blank lines with line numbers', () => {
    const text = [
      '# a comment',
      '',
      `host1,192.0.2.1 ssh-ed25519 ${K1} root@host1`,
      `@revoked * ssh-ed25519 ${K2}`,
      `@cert-authority *.example.com ssh-ed25519 ${K1}`,
      `@bogus host ssh-ed25519 ${K1}`,
      'garbage-line-without-key',
      `   [host2]:2222 ecdsa-sha2-nistp256 ${K3}   `,
    ].join('\n');
    const e = parseKnownHosts(text, '/x/known_hosts');
    assert.equal(e.length, 4);
    assert.deepEqual(
      e.map((x) => [x.line, x.marker, x.hosts, x.keyType]),
      [
        [3, undefined, 'host1,192.0.2.1', 'ssh-ed25519'],
        [4, 'revoked', '*', 'ssh-ed25519'],
        [5, 'cert-authority', '*.example.com', 'ssh-ed25519'],
        [8, undefined, '[host2]:2222', 'ecdsa-sha2-nistp256'],
      ],
    );
    assert.equal(e[0].comment, 'root@host1');
    assert.equal(e[0].file, '/x/known_hosts');
    assert.ok(e[0].key.equals(blob(K1)));
  });

  test('CRLF line endings', () => {
    const e = parseKnownHosts(`a ssh-ed25519 ${K1}\r\nb ssh-ed25519 ${K2}\r\n`);
    assert.equal(e.length, 2);
    assert.equal(e[1].keyBase64, K2);
  });

  test('key blob helpers', () => {
    assert.equal(keyTypeOfBlob(blob(K1)), 'ssh-ed25519');
    assert.equal(keyTypeOfBlob(blob(K3)), 'ecdsa-sha2-nistp256');
    assert.equal(fingerprint(blob(K1)), K1_FP);
    assert.throws(() => keyTypeOfBlob(Buffer.from([0, 0])));
    assert.throws(() => keyTypeOfBlob(Buffer.from([0, 0, 0, 200, 1, 2])));
  });

  test('host key algorithm preference', () => {
    assert.deepEqual(hostKeyAlgorithmsFor(['ssh-rsa', 'ssh-ed25519']), [
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ssh-ed25519',
    ]);
    assert.deepEqual(hostKeyAlgorithmsFor(['ssh-ed25519', 'ssh-ed25519', 'weird']), ['ssh-ed25519']);
  });
});

describe('knownhosts matching', () => {
  test('names: port 22 plain, others bracketed', () => {
    assert.equal(knownHostsName('Example.COM', 22), 'example.com');
    assert.equal(knownHostsName('10.0.0.1', 2222), '[10.0.0.1]:2222');
  });

  test('wildcards', () => {
    assert.ok(matchPattern('web1.example.com', '*.example.com'));
    assert.ok(matchPattern('web1', 'web?'));
    assert.ok(!matchPattern('web10', 'web?'));
    assert.ok(matchPattern('anything', '*'));
    assert.ok(matchPattern('a.b.c', 'a*c'));
    assert.ok(!matchPattern('a.b.d', 'a*c'));
    assert.ok(matchPattern('HOST', 'host'));
  });

  test('comma lists, negation, ports', () => {
    assert.ok(matchHostField('a,b,c', 'b', 22));
    assert.ok(!matchHostField('a,b,c', 'd', 22));
    assert.ok(!matchHostField('a,b,c', 'b', 2222), 'a non-22 port needs the [host]:port form');
    assert.ok(matchHostField('[b]:2222,c', 'b', 2222));
    assert.ok(!matchHostField('[b]:2222', 'b', 22));
    assert.ok(matchHostField('*.example.com,!bad.example.com', 'good.example.com', 22));
    assert.ok(!matchHostField('*.example.com,!bad.example.com', 'bad.example.com', 22));
    assert.ok(matchHostField('[*.example.com]:*', 'x.example.com', 2200));
  });

  test('hashed entries from ssh-keygen -H', () => {
    const [h22] = parseKnownHosts(HASHED_22);
    const [h2222] = parseKnownHosts(HASHED_2222);
    assert.ok(h22.hashed);
    assert.ok(matchHostField(h22.hosts, 'example.com', 22));
    assert.ok(matchHostField(h22.hosts, 'EXAMPLE.com', 22));
    assert.ok(!matchHostField(h22.hosts, 'example.org', 22));
    assert.ok(!matchHostField(h22.hosts, 'example.com', 2222));
    assert.ok(matchHostField(h2222.hosts, 'example.com', 2222));
    assert.ok(!matchHostField(h2222.hosts, 'example.com', 22));
    assert.ok(!matchHostField('|1|bogus', 'example.com', 22));
  });

  test('hashHostName round trip', () => {
    const h = hashHostName('[10.1.2.3]:2200');
    assert.match(h, /^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+$/);
    assert.ok(matchHostField(h, '10.1.2.3', 2200));
    assert.ok(!matchHostField(h, '10.1.2.3', 22));
  });

  test('lookup returns matching entries; missing file = none', () => {
    const { dir, file } = tmpFile(
      [`a ssh-ed25519 ${K1}`, HASHED_22, `[example.com]:2222 ssh-ed25519 ${K2}`, `@revoked * ssh-ed25519 ${K2}`].join('\n'),
    );
    try {
      const r = lookup(file, 'example.com', 22);
      assert.deepEqual(
        r.map((x) => x.line),
        [2, 4],
      );
      assert.deepEqual(lookup(join(dir, 'nope'), 'example.com', 22), []);
      assert.deepEqual(lookup(join(dir, 'nodir', 'nope'), 'example.com', 22), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('verifyHostKey', () => {
  test('known key accepted (plain and hashed)', () => {
    const { dir, file } = tmpFile(`# hosts\n[10.0.0.5]:2222 ssh-ed25519 ${K1}\n${HASHED_22}\n`);
    try {
      const r = verifyHostKey(file, '10.0.0.5', 2222, blob(K1), 'strict');
      assert.equal(r.ok, true);
      assert.equal(verifyHostKey(file, 'example.com', 22, blob(K1), 'strict').ok, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a host with several key types: the presented type is checked', () => {
    const { dir, file } = tmpFile(`h ssh-ed25519 ${K1}\nh ecdsa-sha2-nistp256 ${K3}\n`);
    try {
      assert.equal(verifyHostKey(file, 'h', 22, blob(K3), 'strict').ok, true);
      assert.equal(verifyHostKey(file, 'h', 22, blob(K1), 'strict').ok, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('unknown key refused under strict, with an actionable message', () => {
    const { dir, file } = tmpFile(`other ssh-ed25519 ${K1}\n`);
    try {
      const r = verifyHostKey(file, '10.0.0.5', 2222, blob(K1), 'strict');
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.reason, 'unknown');
      assert.match(r.message, /\[10\.0\.0\.5\]:2222/);
      assert.ok(r.message.includes(`ssh-keyscan -p 2222 10.0.0.5 >> ${file}`), r.message);
      assert.match(r.message, /--accept-new-host-keys/);
      assert.ok(r.message.includes(K1_FP));
      assert.equal(readFileSync(file, 'utf8'), `other ssh-ed25519 ${K1}\n`, 'file untouched');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('missing file: all keys unknown; accept-new creates it (and its directory)', () => {
    const { dir } = tmpFile();
    const file = join(dir, 'sub', 'known_hosts');
    try {
      const r1 = verifyHostKey(file, 'h', 22, blob(K1), 'strict');
      assert.equal(r1.ok, false);
      assert.ok(!existsSync(file));
      const r2 = verifyHostKey(file, 'h', 22, blob(K1), 'accept-new');
      assert.deepEqual(r2, { ok: true, added: true, recorded: true });
      assert.equal(readFileSync(file, 'utf8'), `h ssh-ed25519 ${K1}\n`);
      const r3 = verifyHostKey(file, 'h', 22, blob(K1), 'strict');
      assert.equal(r3.ok, true);
      assert.equal(r3.ok && r3.added, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a dry run (run-only keys): accept-new writes nothing, the run keeps the key, a different key is still refused', () => {
    const { dir } = tmpFile();
    const file = join(dir, 'sub', 'known_hosts');
    try {
      const runOnly = new RunOnlyHostKeys();
      assert.deepEqual(verifyHostKey(file, 'h', 2200, blob(K1), 'accept-new', runOnly), { ok: true, added: true, recorded: false });
      assert.ok(!existsSync(join(dir, 'sub')), 'neither the file nor its directory created');
      const again = verifyHostKey(file, 'h', 2200, blob(K1), 'strict', runOnly);
      assert.equal(again.ok && !again.added, true, 'the same key: known for the rest of the run');
      const other = verifyHostKey(file, 'h', 2200, blob(K2), 'accept-new', runOnly);
      assert.equal(other.ok, false);
      assert.equal(!other.ok && other.reason, 'changed');
      assert.match(!other.ok ? other.message : '', /accepted for this run only/);
      assert.equal(verifyHostKey(file, 'h', 2200, blob(K1), 'strict').ok, false, 'another run does not know it');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('accept-new appends [host]:port for non-22 ports and fixes a missing final newline', () => {
    const { dir, file } = tmpFile(`other ssh-ed25519 ${K2}`); // no trailing newline
    try {
      const r = verifyHostKey(file, '127.0.0.1', 2200, blob(K1), 'accept-new');
      assert.deepEqual(r, { ok: true, added: true, recorded: true });
      assert.equal(readFileSync(file, 'utf8'), `other ssh-ed25519 ${K2}\n[127.0.0.1]:2200 ssh-ed25519 ${K1}\n`);
      assert.equal(verifyHostKey(file, '127.0.0.1', 2200, blob(K1), 'strict').ok, true);
      assert.equal(verifyHostKey(file, '127.0.0.1', 22, blob(K1), 'strict').ok, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('changed key refused loudly under both policies, naming host, file and line', () => {
    const { dir, file } = tmpFile(`# c\n\n[10.0.0.5]:2222 ssh-ed25519 ${K1}\n`);
    try {
      for (const policy of ['strict', 'accept-new'] as const) {
        const r = verifyHostKey(file, '10.0.0.5', 2222, blob(K2), policy);
        assert.equal(r.ok, false);
        if (r.ok) return;
        assert.equal(r.reason, 'changed');
        assert.match(r.message, /REMOTE HOST KEY CHANGED/);
        assert.match(r.message, /man-in-the-middle/);
        assert.ok(r.message.includes('[10.0.0.5]:2222'));
        assert.ok(r.message.includes(`${file}:3`), r.message);
      }
      assert.equal(readFileSync(file, 'utf8'), `# c\n\n[10.0.0.5]:2222 ssh-ed25519 ${K1}\n`, 'not appended');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('changed key detected through a hashed entry', () => {
    const { dir, file } = tmpFile(`${HASHED_22}\n`);
    try {
      const r = verifyHostKey(file, 'example.com', 22, blob(K2), 'accept-new');
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, 'changed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a key of another type when only other types are known is not silently added', () => {
    const { dir, file } = tmpFile(`h ssh-ed25519 ${K1}\n`);
    try {
      const r = verifyHostKey(file, 'h', 22, blob(K3), 'accept-new');
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.reason, 'changed');
      assert.match(r.message, /ecdsa-sha2-nistp256/);
      assert.ok(r.message.includes(`${file}:1`));
      assert.equal(readFileSync(file, 'utf8'), `h ssh-ed25519 ${K1}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('revoked key refused even if also listed as known', () => {
    const { dir, file } = tmpFile(`h ssh-ed25519 ${K1}\n@revoked * ssh-ed25519 ${K1}\n`);
    try {
      for (const policy of ['strict', 'accept-new'] as const) {
        const r = verifyHostKey(file, 'h', 22, blob(K1), policy);
        assert.equal(r.ok, false);
        if (r.ok) return;
        assert.equal(r.reason, 'revoked');
        assert.ok(r.message.includes(`${file}:2`));
      }
      // a different host's revoked line does not apply
      writeFileSync(file, `h ssh-ed25519 ${K1}\n@revoked other ssh-ed25519 ${K1}\n`);
      assert.equal(verifyHostKey(file, 'h', 22, blob(K1), 'strict').ok, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('@cert-authority lines are ignored', () => {
    const { dir, file } = tmpFile(`@cert-authority h ssh-ed25519 ${K1}\n`);
    try {
      const r = verifyHostKey(file, 'h', 22, blob(K1), 'strict');
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, 'unknown');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('appendKnownHost writes the OpenSSH format', () => {
    const { dir } = tmpFile();
    const file = join(dir, 'kh');
    try {
      appendKnownHost(file, 'Host.Example', 22, blob(K3));
      appendKnownHost(file, '::1', 2022, blob(K1));
      assert.equal(readFileSync(file, 'utf8'), `host.example ecdsa-sha2-nistp256 ${K3}\n[::1]:2022 ssh-ed25519 ${K1}\n`);
      assert.equal(verifyHostKey(file, '::1', 2022, blob(K1), 'strict').ok, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
