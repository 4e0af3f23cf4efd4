/**
 * The persistent shell (src/ssh/shell.ts) against a real sshd: framing edge cases. The general
 * exec behaviour (become, passwords, timeouts, drops) is in ssh.test.ts, which runs on the same
 * shells since they are the default.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionError, type Connection } from '../../src/modules/contract.js';
import { connectSsh, type SshTarget } from '../../src/ssh/connection.js';
import { createTestUser, sshdAvailable, startSshd, testUsersAvailable, type SshdHarness, type TestUser } from './sshd-harness.js';

const skip = sshdAvailable() ? false : 'needs root and OpenSSH server (/usr/sbin/sshd, ssh-keygen)';
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function rejectsWith(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
}

/** Prints 1 when the command runs under a persistent shell (its loop's argv is fixed text). */
const ON_SHELL = `p=$$; n=0; while [ "$p" -gt 1 ]; do if grep -q provision-shell-ready /proc/$p/cmdline 2>/dev/null; then n=1; break; fi; p=$(cut -d' ' -f4 /proc/$p/stat); done; echo $n`;
/** The pid of the command's persistent shell (the loop), or nothing. */
const SHELL_PID = `p=$$; while [ "$p" -gt 1 ]; do if grep -q provision-shell-ready /proc/$p/cmdline 2>/dev/null; then last=$p; fi; p=$(cut -d' ' -f4 /proc/$p/stat); done; echo $last`;

describe('persistent shell', { skip }, () => {
  let h: SshdHarness;
  let work: string;
  let knownHosts: string;
  let conn: Connection;

  const target = (over: Partial<SshTarget> = {}): SshTarget => ({
    name: 'shellhost',
    address: '127.0.0.1',
    port: h.port,
    user: 'root',
    key: h.clientKey,
    knownHosts,
    hostKeyPolicy: 'strict',
    become: false,
    connectTimeoutMs: 5000,
    persistentShell: true,
    ...over,
  });

  before(async () => {
    h = await startSshd();
    work = mkdtempSync(join(tmpdir(), 'provision-shell-test-'));
    knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, `${h.knownHostsLine}\n`);
    conn = await connectSsh(target());
  });

  after(async () => {
    await conn?.close();
    await h?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('commands run on the shell, one after another, and reuse it', async () => {
    assert.equal((await conn.exec(ON_SHELL)).stdout, '1\n');
    const a = (await conn.exec(SHELL_PID)).stdout;
    const b = (await conn.exec(SHELL_PID)).stdout;
    assert.match(a, /^\d+\n$/);
    assert.equal(a, b, 'sequential commands share one shell');
    const off = await connectSsh(target({ persistentShell: false }));
    try {
      assert.equal((await off.exec(ON_SHELL)).stdout, '0\n', 'persistentShell: false uses a channel per command');
    } finally {
      await off.close();
    }
  });

  test('exact bytes: no trailing newline, NUL bytes, every ASCII byte, stderr apart, exit codes', async () => {
    const r = await conn.exec(`printf 'no newline'; printf 'err\\0x' >&2; exit 3`);
    assert.deepEqual(r, { code: 3, stdout: 'no newline', stderr: 'err\0x' });
    const all = await conn.exec(`i=0; while [ $i -lt 128 ]; do printf "\\\\$(printf %03o $i)"; i=$((i+1)); done`);
    assert.equal(all.stdout, Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join(''));
    // output that looks like the framing does not end the command early
    const fake = await conn.exec(`printf 'pv0123 0\\npv'; echo; printf 'pv' >&2`);
    assert.deepEqual([fake.stdout, fake.stderr, fake.code], ['pv0123 0\npv\n', 'pv', 0]);
    assert.equal((await conn.exec('printf ""')).stdout, '');
    const utf = 'ü€😀'.repeat(50000);
    assert.equal((await conn.exec(`cat`, { stdin: utf })).stdout, utf);
  });

  test('binary output intact (sha256 of 4 MB random bytes, as the host saw them)', async () => {
    const r = await conn.exec(`head -c 4194304 /dev/urandom | tee /tmp/pv-shell-bin | base64 -w0; echo; sha256sum </tmp/pv-shell-bin; rm -f /tmp/pv-shell-bin`);
    const [b64, sum] = r.stdout.split('\n');
    const bytes = Buffer.from(b64, 'base64');
    assert.equal(bytes.length, 4194304);
    assert.equal(sha256(bytes), sum.split(' ')[0]);
  });

  test('stdin: given exactly, never taken from the framing stream', async () => {
    const data = randomBytes(1024 * 1024);
    const r = await conn.exec('sha256sum', { stdin: data });
    assert.equal(r.stdout, `${sha256(data)}  -\n`);
    // a command that reads part of its stdin, one that reads none, one that reads to EOF twice
    assert.equal((await conn.exec('head -c 3', { stdin: 'abcdef' })).stdout, 'abc');
    assert.equal((await conn.exec('true', { stdin: randomBytes(300000) })).code, 0);
    assert.equal((await conn.exec('cat; cat; echo end', { stdin: 'x\n' })).stdout, 'x\nend\n');
    // without stdin a command sees EOF at once (it does not wait on the shell's own input)
    assert.equal((await conn.exec('cat; echo end', { timeoutMs: 5000 })).stdout, 'end\n');
    // stdin that looks like the next header does not get interpreted
    assert.equal((await conn.exec('exit 0', { stdin: 'pvx 5\necho injected\nhello' })).code, 0);
    assert.equal((await conn.exec('echo next')).stdout, 'next\n');
  });

  test('a command that never ends: the timeout kills it and the shell goes on', async () => {
    const before = (await conn.exec(SHELL_PID)).stdout;
    const err = await rejectsWith(conn.exec('sleep 7.61', { timeoutMs: 300 }));
    assert.ok(!(err instanceof ConnectionError));
    assert.match(err.message, /timed out after 0\.3s on shellhost/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await conn.exec(`pgrep -f 'sleep 7[.]61' || echo none`)).stdout, 'none\n');
    assert.equal((await conn.exec(SHELL_PID)).stdout, before, 'the same shell is still used');
  });

  test('a shell that stops answering is killed after the timeout and a new one starts', async () => {
    const c = await connectSsh(target());
    let stopped = '';
    try {
      const first = (await c.exec(SHELL_PID)).stdout.trim();
      // the command stops its own shell, so no end marker ever comes
      const err = await rejectsWith(c.exec(`kill -STOP ${first}; sleep 9.17`, { timeoutMs: 500 }));
      stopped = first;
      assert.match(err.message, /timed out/);
      const t0 = Date.now();
      const next = await c.exec(SHELL_PID);
      assert.equal(next.code, 0);
      assert.notEqual(next.stdout.trim(), first, 'a new shell');
      assert.ok(Date.now() - t0 < 5000);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal((await c.exec('echo ok')).stdout, 'ok\n');
    } finally {
      if (stopped) await conn.exec(`kill -KILL ${stopped} 2>/dev/null; pkill -KILL -f 'sleep 9[.]17'; true`);
      await c.close();
    }
  });

  test('50 MB of output: streamed, memory bounded, head and tail kept, the shell stays in step', async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const watch = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      const r = await conn.exec(`head -c 52428800 /dev/zero | tr '\\0' a; echo; echo tail-end; head -c 3000000 /dev/zero | tr '\\0' e >&2`);
      assert.equal(r.code, 0);
      assert.ok(r.stdout.startsWith('aaaa'));
      assert.ok(r.stdout.endsWith('a\ntail-end\n'));
      assert.match(r.stdout, /\[provision: \d+ bytes of output dropped \(kept the first 16777216 and the last 1048576 of 52428810\)\]/);
      assert.ok(r.stderr.length === 3000000 && /^e+$/.test(r.stderr), 'stderr exact');
    } finally {
      clearInterval(watch);
    }
    // kept: 17 MiB of stdout and 2 MiB of stderr (as strings, about twice that); 50 MB is never held
    assert.ok(peak - before < 120 * 1024 * 1024, `rss grew by ${Math.round((peak - before) / 1048576)} MiB`);
    assert.equal((await conn.exec('echo after')).stdout, 'after\n');
  });

  test('concurrent commands: shells in parallel, the rest on channels, all exact', async () => {
    const outs = await Promise.all(Array.from({ length: 24 }, (_, i) => conn.exec(`sleep 0.2; echo ${i}`, { stdin: `in${i}` })));
    assert.deepEqual(outs.map((o) => o.stdout), Array.from({ length: 24 }, (_, i) => `${i}\n`));
  });

  test('become_user as root (runuser) on the shell', async () => {
    const r = await conn.exec('id -un; cat', { become: true, becomeUser: 'nobody', stdin: 'via stdin' });
    assert.deepEqual([r.code, r.stdout], [0, 'nobody\nvia stdin']);
  });

  describe('sudo', { skip: testUsersAvailable() ? false : 'needs useradd and sudo' }, () => {
    const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
    let pw: TestUser;
    let nopw: TestUser;
    before(() => {
      pw = createTestUser('provshpw', 'password', PASSWORD);
      nopw = createTestUser('provshnopw', 'nopasswd');
    });
    after(() => {
      pw?.remove();
      nopw?.remove();
    });

    test('sudo with a password on the shell: the password is on no argv and reaches no command', async () => {
      const c = await connectSsh(target({ user: 'provshpw', become: true, becomePassword: PASSWORD }));
      try {
        assert.equal((await c.exec(ON_SHELL)).stdout, '1\n');
        // every process's argv on the host while a sudo'd command runs
        const r = await c.exec('cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "; echo; id -un', { stdin: 'data' });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /provision-shell-ready/, 'the shell loop was among the processes');
        assert.ok(!r.stdout.includes(PASSWORD), 'password on an argv');
        assert.ok(r.stdout.endsWith('root\n'));
        assert.equal((await c.exec('cat; echo end')).stdout, 'end\n');
        const other = await c.exec('id -un', { becomeUser: 'nobody' });
        assert.equal(other.stdout, 'nobody\n');
        const wrong = await connectSsh(target({ user: 'provshpw', become: true, becomePassword: 'wrong' }));
        try {
          const w = await wrong.exec('id -u', { stdin: 'x'.repeat(10000) });
          assert.notEqual(w.code, 0);
          assert.match(w.stderr, /rejected the become password/);
          assert.equal((await wrong.exec('echo in-step', { become: false })).stdout, 'in-step\n');
        } finally {
          await wrong.close();
        }
      } finally {
        await c.close();
      }
    });

    test('sudo -n (NOPASSWD) and sudo -u on the shell', async () => {
      const c = await connectSsh(target({ user: 'provshnopw', become: true }));
      try {
        assert.equal((await c.exec(ON_SHELL)).stdout, '1\n');
        assert.equal((await c.exec('id -un')).stdout, 'root\n');
        assert.equal((await c.exec('id -un', { becomeUser: 'nobody' })).stdout, 'nobody\n');
        assert.equal((await c.exec('id -un', { become: false })).stdout, 'provshnopw\n');
      } finally {
        await c.close();
      }
    });
  });

  test('the connection dies in the middle of a command: clear ConnectionError, nothing hangs', async () => {
    const victim = await startSshd();
    const kh = join(work, 'known_hosts_victim');
    writeFileSync(kh, `${victim.knownHostsLine}\n`);
    const c = await connectSsh(target({ port: victim.port, key: victim.clientKey, knownHosts: kh, keepaliveIntervalMs: 500 }));
    try {
      assert.equal((await c.exec(ON_SHELL)).stdout, '1\n');
      const pending = c.exec(`head -c 1000000 /dev/zero; sleep 30; echo never`);
      const pending2 = c.exec(`cat; sleep 30`, { stdin: randomBytes(100000) });
      await new Promise((r) => setTimeout(r, 700));
      const t0 = Date.now();
      victim.crash();
      const err = await rejectsWith(pending);
      assert.ok(err instanceof ConnectionError, String(err));
      assert.match(err.message, /^connection to shellhost lost: /);
      assert.ok((await rejectsWith(pending2)) instanceof ConnectionError);
      assert.ok(Date.now() - t0 < 5000, 'noticed quickly');
      const later = await rejectsWith(c.exec('echo hi'));
      assert.ok(later instanceof ConnectionError);
    } finally {
      await c.close();
      await victim.stop();
    }
  });
});
