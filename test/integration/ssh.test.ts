import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionError, type Connection } from '../../src/modules/contract.js';
import { connectSsh, HostKeyError, type SshTarget } from '../../src/ssh/connection.js';
import { LocalConnection } from '../../src/ssh/local.js';
import {
  commandExists,
  createTestUser,
  freePort,
  sshdAvailable,
  startSshd,
  testUsersAvailable,
  type SshdHarness,
  type TestUser,
} from './sshd-harness.js';

const skip = sshdAvailable() ? false : 'needs root and OpenSSH server (/usr/sbin/sshd, ssh-keygen)';
const hasAgent = sshdAvailable() && commandExists('ssh-agent') && commandExists('ssh-add');

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function rejectsWith(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
}

describe('ssh connection', { skip }, () => {
  let h: SshdHarness;
  let work: string;
  let knownHosts: string;
  let conn: Connection;

  const target = (over: Partial<SshTarget> = {}): SshTarget => ({
    name: 'testhost',
    address: '127.0.0.1',
    port: h.port,
    user: 'root',
    key: h.clientKey,
    knownHosts,
    hostKeyPolicy: 'strict',
    become: false,
    connectTimeoutMs: 5000,
    ...over,
  });

  before(async () => {
    h = await startSshd();
    work = mkdtempSync(join(tmpdir(), 'provision-ssh-test-'));
    knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, `${h.knownHostsLine}\n`);
    conn = await connectSsh(target());
  });

  after(async () => {
    await conn?.close();
    await h?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('exec: stdout, stderr and exit codes (non-zero is not an exception)', async () => {
    const r = await conn.exec('echo hello; echo oops >&2; exit 3');
    assert.deepEqual(r, { code: 3, stdout: 'hello\n', stderr: 'oops\n' });
    const ok = await conn.exec('true');
    assert.deepEqual(ok, { code: 0, stdout: '', stderr: '' });
    assert.equal(conn.host, 'testhost');
  });

  test('exec: a command killed by a signal reports 128+signo', async () => {
    const r = await conn.exec('kill -KILL $$');
    assert.equal(r.code, 137);
    const t = await conn.exec('kill -TERM $$');
    assert.equal(t.code, 143);
  });

  test('exec: POSIX sh semantics (pipes, &&, quotes, here-docs, $vars not expanded by us)', async () => {
    const cmd = [
      `printf '%s\\n' "it's" 'a "quoted" word' | tr a-z A-Z && echo and`,
      `cat <<'EOF'`,
      `$HOME stays literal; 'single' "double" \\back`,
      `EOF`,
      `x=1; [ "$x" = 1 ] || echo never`,
      `echo "$0" | grep -q sh && echo shell-ok`,
    ].join('\n');
    const r = await conn.exec(cmd);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `IT'S\nA "QUOTED" WORD\nand\n$HOME stays literal; 'single' "double" \\back\nshell-ok\n`,
    );
  });

  test('exec: several MB of output, multi-byte UTF-8 intact', async () => {
    const big = await conn.exec(`head -c 6000000 /dev/zero | tr '\\0' a`);
    assert.equal(big.code, 0);
    assert.equal(big.stdout.length, 6000000);
    assert.equal(sha256(big.stdout), sha256('a'.repeat(6000000)));
    const utf = await conn.exec(`i=0; while [ $i -lt 20000 ]; do echo 'héllo wörld ✓ ☃'; i=$((i+1)); done`);
    assert.equal(utf.stdout, 'héllo wörld ✓ ☃\n'.repeat(20000));
  });

  test('exec: binary stdin arrives byte-exact (1 MB random), string stdin too', async () => {
    const data = randomBytes(1024 * 1024);
    const r = await conn.exec('sha256sum', { stdin: data });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split(' ')[0], sha256(data));
    const s = await conn.exec('cat', { stdin: 'line1\nline2 ✓\n' });
    assert.equal(s.stdout, 'line1\nline2 ✓\n');
    const wc = await conn.exec('wc -c', { stdin: Buffer.alloc(0) });
    assert.equal(wc.stdout.trim(), '0');
  });

  test('exec: stdin to a command that does not read it does not break anything', async () => {
    const r = await conn.exec('exit 0', { stdin: randomBytes(3 * 1024 * 1024) });
    assert.equal(r.code, 0);
  });

  test('30 concurrent execs on one connection succeed (channel cap below MaxSessions)', async () => {
    const start = Date.now();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => conn.exec(`sleep 0.3; echo ${i}`)),
    );
    const elapsed = Date.now() - start;
    results.forEach((r, i) => assert.deepEqual(r, { code: 0, stdout: `${i}\n`, stderr: '' }));
    // 30 jobs, 8 at a time, 0.3 s each -> at least 4 waves
    assert.ok(elapsed >= 1100, `took ${elapsed} ms: the cap did not hold`);
  });

  test('60 quick concurrent execs succeed (sshd frees session slots a moment after a channel closes)', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => conn.exec(`echo ${i}`)));
    results.forEach((r, i) => assert.deepEqual(r, { code: 0, stdout: `${i}\n`, stderr: '' }));
  });

  test('without the cap, OpenSSH MaxSessions (10) really refuses channels', async () => {
    const c = await connectSsh(target({ maxChannels: 20 }));
    try {
      const settled = await Promise.allSettled(Array.from({ length: 20 }, () => c.exec('sleep 0.5')));
      const failed = settled.filter((s) => s.status === 'rejected');
      assert.ok(failed.length > 0, 'expected channel open failures beyond MaxSessions');
      const reason = (failed[0] as PromiseRejectedResult).reason as Error;
      assert.ok(!(reason instanceof ConnectionError), 'a refused channel is not a lost host');
      assert.match(reason.message, /channel/i);
      // the connection is still fine
      assert.equal((await c.exec('echo ok')).stdout, 'ok\n');
    } finally {
      await c.close();
    }
  });

  test('timeout: rejects with a plain Error, kills the command, connection stays usable', async () => {
    const err = await rejectsWith(conn.exec('sleep 7.31', { timeoutMs: 300 }));
    assert.ok(!(err instanceof ConnectionError));
    assert.match(err.message, /timed out after 0\.3s/);
    await new Promise((r) => setTimeout(r, 300));
    const ps = await conn.exec(`pgrep -f 'sleep 7[.]31' || echo none`);
    assert.equal(ps.stdout, 'none\n', 'the timed-out command should have been killed');
    assert.equal((await conn.exec('echo still-here')).stdout, 'still-here\n');
  });

  test('become as root is a no-op (no sudo needed)', async () => {
    const r = await conn.exec('id -u', { become: true });
    assert.equal(r.stdout, '0\n');
  });

  describe('host keys', () => {
    test('unknown host key refused under strict; message names the known_hosts file', async () => {
      const kh = join(work, 'kh-empty');
      writeFileSync(kh, '# nothing here\n');
      const err = await rejectsWith(connectSsh(target({ knownHosts: kh })));
      assert.ok(err instanceof ConnectionError, String(err));
      assert.ok(err instanceof HostKeyError);
      assert.equal(err.reason, 'unknown');
      assert.ok(err.message.includes(kh), err.message);
      assert.ok(err.message.includes(`ssh-keyscan -p ${h.port} 127.0.0.1 >> ${kh}`), err.message);
      assert.match(err.message, /--accept-new-host-keys/);
      assert.doesNotMatch(err.message, /Host denied|handshake failed/);
    });

    test('missing known_hosts file: refused under strict', async () => {
      const err = await rejectsWith(connectSsh(target({ knownHosts: join(work, 'absent', 'kh') })));
      assert.ok(err instanceof HostKeyError);
      assert.equal(err.reason, 'unknown');
    });

    test('accept-new: accepted and appended, then accepted under strict', async () => {
      const kh = join(work, 'kh-new');
      const c = await connectSsh(target({ knownHosts: kh, hostKeyPolicy: 'accept-new' }));
      assert.equal((await c.exec('echo hi')).stdout, 'hi\n');
      await c.close();
      assert.equal(readFileSync(kh, 'utf8'), `${h.knownHostsLine}\n`);
      const c2 = await connectSsh(target({ knownHosts: kh, hostKeyPolicy: 'strict' }));
      assert.equal((await c2.exec('echo again')).stdout, 'again\n');
      await c2.close();
      assert.equal(readFileSync(kh, 'utf8'), `${h.knownHostsLine}\n`, 'not appended twice');
    });

    test('changed host key refused loudly, even with accept-new', async () => {
      const kh = join(work, 'kh-changed');
      // a different ed25519 key (the client's) recorded for this host
      const wrong = h.clientPublicKey.split(' ').slice(0, 2).join(' ');
      writeFileSync(kh, `# first line\n[127.0.0.1]:${h.port} ${wrong}\n`);
      for (const policy of ['strict', 'accept-new'] as const) {
        const err = await rejectsWith(connectSsh(target({ knownHosts: kh, hostKeyPolicy: policy })));
        assert.ok(err instanceof HostKeyError, String(err));
        assert.equal(err.reason, 'changed');
        assert.match(err.message, /REMOTE HOST KEY CHANGED/);
        assert.match(err.message, /man-in-the-middle/);
        assert.ok(err.message.includes(`${kh}:2`), err.message);
        assert.ok(err.message.includes(`[127.0.0.1]:${h.port}`));
        assert.ok(err.message.startsWith('testhost'));
      }
      assert.equal(readFileSync(kh, 'utf8').split('\n').length, 3, 'file not modified');
    });

    test('several host keys: the known key type is preferred in the key exchange', async () => {
      const multi = await startSshd({ hostKeyTypes: ['ed25519', 'rsa'] });
      try {
        const kh = join(work, 'kh-rsa-only');
        writeFileSync(kh, `${multi.knownHostsLines[1]}\n`); // only the RSA key is known
        assert.match(multi.knownHostsLines[1], / ssh-rsa /);
        const c = await connectSsh(target({ port: multi.port, key: multi.clientKey, knownHosts: kh }));
        assert.equal((await c.exec('echo rsa')).stdout, 'rsa\n');
        await c.close();
      } finally {
        await multi.stop();
      }
    });

    test('revoked host key refused', async () => {
      const kh = join(work, 'kh-revoked');
      const key = h.knownHostsLine.split(' ').slice(1).join(' ');
      writeFileSync(kh, `${h.knownHostsLine}\n@revoked * ${key}\n`);
      const err = await rejectsWith(connectSsh(target({ knownHosts: kh })));
      assert.ok(err instanceof HostKeyError);
      assert.equal(err.reason, 'revoked');
    });
  });

  describe('connection failures', () => {
    test('wrong client key: authentication failed, naming user, address and key', async () => {
      const other = await startSshd(); // just to get another valid, unauthorized key
      try {
        const err = await rejectsWith(connectSsh(target({ key: other.clientKey })));
        assert.ok(err instanceof ConnectionError, String(err));
        assert.equal((err as ConnectionError).host, 'testhost');
        assert.equal(
          err.message,
          `testhost (root@127.0.0.1:${h.port}): authentication failed (key ${other.clientKey})`,
        );
      } finally {
        await other.stop();
      }
    });

    test('passphrase-protected key: works with the passphrase, clear error without', async () => {
      const enc = join(work, 'enc_key');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'sesame', '-f', enc]);
      appendFileSync(join(h.dir, 'authorized_keys'), readFileSync(`${enc}.pub`));
      const c = await connectSsh(target({ key: enc, passphrase: 'sesame' }));
      assert.equal((await c.exec('echo in')).stdout, 'in\n');
      await c.close();
      const err = await rejectsWith(connectSsh(target({ key: enc })));
      assert.ok(err instanceof ConnectionError);
      assert.match(err.message, /cannot use private key .*enc_key.*passphrase/);
    });

    test('ssh-agent (SSH_AUTH_SOCK) when no key is configured', { skip: hasAgent ? false : 'no ssh-agent' }, async () => {
      const sock = join(work, 'agent.sock');
      const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
      const saved = process.env.SSH_AUTH_SOCK;
      try {
        for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
        execFileSync('ssh-add', ['-q', h.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
        process.env.SSH_AUTH_SOCK = sock;
        const c = await connectSsh(target({ key: undefined }));
        assert.equal((await c.exec('echo agent')).stdout, 'agent\n');
        await c.close();
        delete process.env.SSH_AUTH_SOCK;
        const err = await rejectsWith(connectSsh(target({ key: undefined })));
        assert.ok(err instanceof ConnectionError);
        assert.match(err.message, /SSH_AUTH_SOCK is not set/);
      } finally {
        if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
        else process.env.SSH_AUTH_SOCK = saved;
        agent.kill('SIGTERM');
      }
    });

    test('missing private key file: clear ConnectionError', async () => {
      const err = await rejectsWith(connectSsh(target({ key: join(work, 'no-such-key') })));
      assert.ok(err instanceof ConnectionError);
      assert.match(err.message, /cannot read private key .*no-such-key/);
    });

    test('connection refused on a closed port: quick ConnectionError', async () => {
      const port = await freePort();
      const start = Date.now();
      const err = await rejectsWith(connectSsh(target({ port })));
      assert.ok(err instanceof ConnectionError, String(err));
      assert.equal(err.message, `testhost (127.0.0.1:${port}): connection refused`);
      assert.ok(Date.now() - start < 2000);
    });

    test('a server that never speaks SSH: timed out after the connect timeout', async () => {
      const sockets: Socket[] = [];
      const srv: Server = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
      const port = (srv.address() as any).port as number;
      try {
        const start = Date.now();
        const err = await rejectsWith(connectSsh(target({ port, connectTimeoutMs: 500 })));
        assert.ok(err instanceof ConnectionError, String(err));
        assert.equal(err.message, `testhost (127.0.0.1:${port}): timed out after 0.5s`);
        assert.ok(Date.now() - start < 3000);
      } finally {
        sockets.forEach((s) => s.destroy());
        srv.close();
      }
    });

    test('dropped connection: pending and later execs reject with ConnectionError, no crash', async () => {
      const victim = await startSshd();
      const kh = join(work, 'kh-victim');
      writeFileSync(kh, `${victim.knownHostsLine}\n`);
      const c = await connectSsh(target({ port: victim.port, key: victim.clientKey, knownHosts: kh }));
      try {
        assert.equal((await c.exec('echo up')).stdout, 'up\n');
        const pending = c.exec('sleep 5');
        const pending2 = c.exec('sleep 5; echo never', { stdin: 'x' });
        await new Promise((r) => setTimeout(r, 500));
        const start = Date.now();
        victim.crash();
        const err = await rejectsWith(pending);
        assert.ok(err instanceof ConnectionError, String(err));
        assert.match(err.message, /^connection to testhost lost: /);
        assert.ok(Date.now() - start < 3000, 'noticed quickly');
        assert.ok((await rejectsWith(pending2)) instanceof ConnectionError);
        const later = await rejectsWith(c.exec('echo hi'));
        assert.ok(later instanceof ConnectionError);
        assert.match(later.message, /lost/);
        // give any stray 'error' event a chance to crash us
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        await c.close();
        await victim.stop();
      }
    });

    test('keepalive: a silent peer is detected, pending exec rejects with ConnectionError', async () => {
      const victim = await startSshd();
      const kh = join(work, 'kh-silent');
      writeFileSync(kh, `${victim.knownHostsLine}\n`);
      const c = await connectSsh(
        target({ port: victim.port, key: victim.clientKey, knownHosts: kh, keepaliveIntervalMs: 200 }),
      );
      try {
        const pending = c.exec('sleep 30');
        await new Promise((r) => setTimeout(r, 300));
        const start = Date.now();
        victim.freeze(); // SIGSTOP: TCP stays up, nothing answers
        const err = await rejectsWith(pending);
        assert.ok(err instanceof ConnectionError, String(err));
        assert.match(err.message, /^connection to testhost lost: Keepalive timeout/);
        assert.ok(Date.now() - start < 5000);
        assert.ok((await rejectsWith(c.exec('true'))) instanceof ConnectionError);
      } finally {
        await c.close();
        await victim.stop();
      }
    });

    test('close() with a pending exec: it rejects with ConnectionError', async () => {
      const c = await connectSsh(target());
      const pending = c.exec('sleep 5');
      await new Promise((r) => setTimeout(r, 200));
      const start = Date.now();
      await c.close();
      const err = await rejectsWith(pending);
      assert.ok(err instanceof ConnectionError);
      assert.match(err.message, /closed/);
      assert.ok(Date.now() - start < 2500);
    });

    test('close(): later execs reject, close is idempotent', async () => {
      const c = await connectSsh(target());
      await c.close();
      await c.close();
      const err = await rejectsWith(c.exec('true'));
      assert.ok(err instanceof ConnectionError);
      assert.match(err.message, /closed/);
    });
  });

  describe('jump host', () => {
    let jumpH: SshdHarness;
    before(async () => {
      // jump host accepts its own client key; the target (h) is reached through it
      jumpH = await startSshd();
    });
    after(async () => {
      await jumpH?.stop();
    });

    test('exec through a jump host; both host keys verified; close closes both', async () => {
      const kh = join(work, 'kh-jump');
      writeFileSync(kh, `${jumpH.knownHostsLine}\n${h.knownHostsLine}\n`);
      const c = await connectSsh(
        target({
          knownHosts: kh,
          jump: { address: '127.0.0.1', port: jumpH.port, user: 'root', key: jumpH.clientKey },
        }),
      );
      const r = await c.exec('echo "$SSH_CONNECTION"');
      assert.equal(r.code, 0);
      // the target sees the connection coming from the jump host's forward, on its own port
      assert.match(r.stdout, new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${h.port}\\n$`));
      const data = randomBytes(200 * 1024);
      const s = await c.exec('sha256sum', { stdin: data });
      assert.equal(s.stdout.split(' ')[0], sha256(data));
      const many = await Promise.all(Array.from({ length: 12 }, (_, i) => c.exec(`echo ${i}`)));
      many.forEach((m, i) => assert.equal(m.stdout, `${i}\n`));
      await c.close();
      assert.ok((await rejectsWith(c.exec('true'))) instanceof ConnectionError);
    });

    test('unknown jump host key refused (named as the jump host)', async () => {
      const kh = join(work, 'kh-jump-unknown');
      writeFileSync(kh, `${h.knownHostsLine}\n`);
      const err = await rejectsWith(
        connectSsh(
          target({
            knownHosts: kh,
            jump: { address: '127.0.0.1', port: jumpH.port, user: 'root', key: jumpH.clientKey },
          }),
        ),
      );
      assert.ok(err instanceof HostKeyError, String(err));
      assert.match(err.message, /jump host/);
      assert.ok(err.message.includes(`[127.0.0.1]:${jumpH.port}`));
    });

    test('target unreachable behind the jump host: ConnectionError', async () => {
      const kh = join(work, 'kh-jump2');
      writeFileSync(kh, `${jumpH.knownHostsLine}\n`);
      const port = await freePort();
      const err = await rejectsWith(
        connectSsh(
          target({
            port,
            knownHosts: kh,
            jump: { address: '127.0.0.1', port: jumpH.port, user: 'root', key: jumpH.clientKey },
          }),
        ),
      );
      assert.ok(err instanceof ConnectionError, String(err));
      assert.match(err.message, /via jump host/);
    });
  });

  describe('become with a non-root user', { skip: testUsersAvailable() ? false : 'needs useradd and sudo' }, () => {
    const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
    let nopw: TestUser;
    let pw: TestUser;
    before(() => {
      nopw = createTestUser('provtest', 'nopasswd');
      pw = createTestUser('provtestpw', 'password', PASSWORD);
    });
    after(() => {
      nopw?.remove();
      pw?.remove();
    });

    test('NOPASSWD sudo: sudo -n, stdin passes through', async () => {
      const c = await connectSsh(target({ user: 'provtest', become: true }));
      try {
        assert.equal((await c.exec('id -u')).stdout, '0\n');
        assert.notEqual((await c.exec('id -u', { become: false })).stdout, '0\n');
        const data = randomBytes(256 * 1024);
        const r = await c.exec('sha256sum; id -un', { stdin: data });
        assert.equal(r.stdout, `${sha256(data)}  -\nroot\n`);
        const q = await c.exec(`printf '%s\\n' "it's" | cat && echo "$(id -un)"`);
        assert.equal(q.stdout, `it's\nroot\n`);
        // a timed-out sudo'd command is killed on the host (the login user could not kill it)
        const err = await rejectsWith(c.exec('sleep 7.42', { timeoutMs: 300 }));
        assert.match(err.message, /timed out/);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal((await c.exec(`pgrep -f 'sleep 7[.]42' || echo none`)).stdout, 'none\n');
      } finally {
        await c.close();
      }
    });

    test('password sudo without a password: clear hint, exit code kept', async () => {
      const c = await connectSsh(target({ user: 'provtestpw', become: true }));
      try {
        const r = await c.exec('id -u');
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /a password is required/);
        assert.match(r.stderr, /PROVISION_BECOME_PASSWORD/);
        assert.match(r.stderr, /--ask-become-pass/);
      } finally {
        await c.close();
      }
    });

    test('password sudo with becomePassword: works, with and without stdin; password never leaks', async () => {
      const c = await connectSsh(target({ user: 'provtestpw', become: true, becomePassword: PASSWORD }));
      try {
        const r = await c.exec('id -u');
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, '0\n');
        const empty = await c.exec('cat; echo end');
        assert.equal(empty.stdout, 'end\n', 'the password must not reach the command');
        const data = randomBytes(512 * 1024);
        const s = await c.exec('sha256sum && id -un', { stdin: data });
        assert.equal(s.code, 0, s.stderr);
        assert.equal(s.stdout, `${sha256(data)}  -\nroot\n`);
        const txt = await c.exec('cat', { stdin: 'payload\n' });
        assert.equal(txt.stdout, 'payload\n');
        assert.ok(!txt.stdout.includes(PASSWORD) && !txt.stderr.includes(PASSWORD));
        // timeouts kill the sudo'd command in the stdin variant too
        const err = await rejectsWith(c.exec('cat >/dev/null; sleep 7.53', { stdin: 'x', timeoutMs: 1500 }));
        assert.match(err.message, /timed out/);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal((await c.exec(`pgrep -f 'sleep 7[.]53' || echo none`)).stdout, 'none\n');
        // exit codes pass through
        assert.equal((await c.exec('exit 7', { stdin: 'x' })).code, 7);
        assert.equal((await c.exec('exit 5')).code, 5);
        // temp files cleaned up (also after the timeout)
        const left = await c.exec(`find /tmp -maxdepth 1 -user provtestpw -name 'tmp.*' | wc -l`, { become: false });
        assert.equal(left.stdout.trim(), '0');
      } finally {
        await c.close();
      }
    });

    test('wrong become password: rejected with a hint', async () => {
      const c = await connectSsh(target({ user: 'provtestpw', become: true, becomePassword: 'wrong' }));
      try {
        const r = await c.exec('id -u');
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /rejected the become password/);
      } finally {
        await c.close();
      }
    });

    test('NOPASSWD user with a becomePassword set: the password does not leak into stdin', async () => {
      const c = await connectSsh(target({ user: 'provtest', become: true, becomePassword: 'unused-secret' }));
      try {
        const a = await c.exec('cat; id -un');
        assert.equal(a.stdout, 'root\n');
        const b = await c.exec('cat', { stdin: 'only this\n' });
        assert.equal(b.stdout, 'only this\n');
      } finally {
        await c.close();
      }
    });
  });
});

describe('local connection', () => {
  const local = new LocalConnection();

  test('output, exit codes, sh semantics', async () => {
    assert.equal(local.host, 'localhost');
    assert.deepEqual(await local.exec('echo out; echo err >&2; exit 4'), { code: 4, stdout: 'out\n', stderr: 'err\n' });
    const r = await local.exec(`printf '%s\\n' "a'b" | tr a-z A-Z && cat <<'EOF'\n$HOME\nEOF`);
    assert.equal(r.stdout, `A'B\n$HOME\n`);
  });

  test('binary stdin round trip', async () => {
    const data = randomBytes(1024 * 1024);
    const r = await local.exec('sha256sum', { stdin: data });
    assert.equal(r.stdout.split(' ')[0], sha256(data));
    assert.equal((await local.exec('exit 0', { stdin: randomBytes(2 * 1024 * 1024) })).code, 0);
  });

  test('timeout kills the whole command', async () => {
    const err = await rejectsWith(local.exec('sleep 6.17; echo x', { timeoutMs: 200 }));
    assert.ok(!(err instanceof ConnectionError));
    assert.match(err.message, /timed out/);
    await new Promise((r) => setTimeout(r, 200));
    const ps = await local.exec(`pgrep -f 'sleep 6[.]17' || echo none`);
    assert.equal(ps.stdout, 'none\n');
  });

  test('become is ignored as root', { skip: process.getuid?.() === 0 ? false : 'not root' }, async () => {
    const r = await local.exec('id -u', { become: true });
    assert.equal(r.stdout, '0\n');
  });

  test('closed connection rejects', async () => {
    const c = new LocalConnection({ name: 'ctl' });
    await c.close();
    assert.ok((await rejectsWith(c.exec('true'))) instanceof ConnectionError);
  });
});
