/**
 * Hardening of the connection layer against a real sshd: scripts never on a process's argv (also
 * through sudo), the command's own stdin byte-exact behind the script, bounded output capture.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection, ExecOptions } from '../../src/modules/contract.js';
import { connectSsh, type SshTarget } from '../../src/ssh/connection.js';
import { LocalConnection } from '../../src/ssh/local.js';
import { OUTPUT_HEAD_BYTES, OUTPUT_TAIL_BYTES } from '../../src/ssh/output.js';
import { createTestUser, sshdAvailable, startSshd, testUsersAvailable, type SshdHarness, type TestUser } from './sshd-harness.js';

const skip = sshdAvailable() ? false : 'needs root and OpenSSH server (/usr/sbin/sshd, ssh-keygen)';
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every process's command line on this machine (the sshd under test runs here too). */
const psArgs = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

/**
 * Run a script holding a unique marker that sleeps a moment; while it sleeps, no process's argv
 * holds the marker (but the sleep itself is visible, so the look happened at the right time).
 * The command's stdin, after the script, must arrive byte-exact; without stdin of its own (the
 * script is read by `sh -s`, wrap.ts), not one byte of the script reaches the command's stdin.
 */
async function assertScriptNotInArgv(conn: Connection, opts: ExecOptions = {}, withStdin = true): Promise<void> {
  const marker = `MARKER-${randomBytes(8).toString('hex')}`;
  const nap = `${2 + Math.floor(Math.random() * 1000) / 1000}`;
  const data = withStdin ? randomBytes(300 * 1024) : Buffer.alloc(0);
  const running = conn.exec(`SECRET_PW='${marker}'; sleep ${nap}; sha256sum; echo "$SECRET_PW" | wc -c`, { ...opts, ...(withStdin ? { stdin: data } : {}) });
  running.catch(() => undefined); // awaited below; no unhandled rejection if an assertion fails first
  let seenSleep = false;
  for (let i = 0; i < 15 && !seenSleep; i++) {
    await sleep(100);
    const ps = psArgs();
    assert.ok(!ps.includes(marker), `the script is on a command line:\n${ps.split('\n').filter((l) => l.includes(marker)).join('\n')}`);
    seenSleep = ps.includes(`sleep ${nap}`);
  }
  assert.ok(seenSleep, 'the command was not seen running');
  const r = await running;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${sha256(data)}  -\n${marker.length + 1}\n`);
}

describe('ssh hardening', { skip }, () => {
  let h: SshdHarness;
  let work: string;
  let knownHosts: string;

  const target = (over: Partial<SshTarget> = {}): SshTarget => ({
    name: 'hardhost',
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
    work = mkdtempSync(join(tmpdir(), 'provision-hard-'));
    knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, `${h.knownHostsLine}\n`);
  });

  after(async () => {
    await h?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('root: the script is never on an argv; stdin after it is byte-exact; with a timeout guard too', async () => {
    const c = await connectSsh(target());
    try {
      await assertScriptNotInArgv(c);
      await assertScriptNotInArgv(c, { timeoutMs: 20_000 });
      await assertScriptNotInArgv(c, {}, false);
      await assertScriptNotInArgv(c, { timeoutMs: 20_000 }, false);
      // trailing newlines, quotes, here-docs and $0 survive the trip through the bootstrap
      const r = await c.exec(`cat <<'EOF'\n'q' "d" \\\\ $x\nEOF\necho "$0" | grep -c sh\n\n\n`);
      assert.equal(r.stdout, `'q' "d" \\\\ $x\n1\n`);
      const empty = await c.exec('wc -c');
      assert.equal(empty.stdout.trim(), '0', 'no stray byte of the script reaches the command');
    } finally {
      await c.close();
    }
  });

  test('output capture is bounded: 300 MB of output keeps head and tail, memory stays bounded', async () => {
    const c = await connectSsh(target());
    try {
      if (global.gc) global.gc();
      const base = process.memoryUsage().rss;
      let peak = base;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      const r = await c.exec(`yes | head -c 300000000; echo; echo the-end >&2`, { timeoutMs: 120_000 });
      clearInterval(timer);
      assert.equal(r.code, 0);
      assert.ok(r.stdout.length <= OUTPUT_HEAD_BYTES + OUTPUT_TAIL_BYTES + 200, `kept ${r.stdout.length}`);
      assert.match(r.stdout, /^y\ny\n/);
      assert.match(r.stdout, /\[provision: \d+ bytes of output dropped \(kept the first \d+ and the last \d+ of 300000001\)\]/);
      assert.ok(r.stdout.endsWith('y\ny\n\n'));
      assert.equal(r.stderr, 'the-end\n');
      const grew = (peak - base) / 1024 / 1024;
      assert.ok(grew < 250, `rss grew by ${grew.toFixed(0)} MB`);
    } finally {
      await c.close();
    }
  });

  describe('through sudo', { skip: testUsersAvailable() ? false : 'needs useradd and sudo' }, () => {
    const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
    let nopw: TestUser;
    let pw: TestUser;
    before(() => {
      nopw = createTestUser('provhard', 'nopasswd');
      pw = createTestUser('provhardpw', 'password', PASSWORD);
    });
    after(() => {
      nopw?.remove();
      pw?.remove();
    });

    test('NOPASSWD sudo: not on an argv (nor in sudo\'s command), stdin exact, runs as root', async () => {
      const c = await connectSsh(target({ user: 'provhard', become: true }));
      try {
        await assertScriptNotInArgv(c);
        await assertScriptNotInArgv(c, { timeoutMs: 20_000 });
        await assertScriptNotInArgv(c, { timeoutMs: 20_000 }, false);
        assert.equal((await c.exec('id -un')).stdout, 'root\n');
      } finally {
        await c.close();
      }
    });

    test('password sudo: not on an argv, stdin exact, the password never reaches the command', async () => {
      const c = await connectSsh(target({ user: 'provhardpw', become: true, becomePassword: PASSWORD }));
      try {
        await assertScriptNotInArgv(c);
        await assertScriptNotInArgv(c, {}, false);
        const r = await c.exec('cat; id -un');
        assert.equal(r.stdout, 'root\n');
        const data = randomBytes(200 * 1024);
        const s = await c.exec('sha256sum', { stdin: data });
        assert.equal(s.stdout, `${sha256(data)}  -\n`);
      } finally {
        await c.close();
      }
    });

    test('NOPASSWD user with a password set: the password is not read as the script', async () => {
      const c = await connectSsh(target({ user: 'provhard', become: true, becomePassword: 'unused-secret-1' }));
      try {
        assert.equal((await c.exec('cat; id -un')).stdout, 'root\n');
        await assertScriptNotInArgv(c);
      } finally {
        await c.close();
      }
    });
  });
});

describe('local connection hardening', () => {
  test('the script is never on an argv; stdin exact', async () => {
    await assertScriptNotInArgv(new LocalConnection());
    await assertScriptNotInArgv(new LocalConnection(), {}, false);
  });

  test('a script without stdin of its own: sh -s reads all of it before running any; quotes, trailing newlines and the exit code kept', async () => {
    const c = new LocalConnection();
    const big = `x='${'y'.repeat(256 * 1024)}'\n`;
    const r = await c.exec(`${big}cat; head -c 10; printf '%s\\n' "\${#x}"; echo "$0"; exit 7\n\n\n`);
    assert.deepEqual([r.code, r.stdout, r.stderr], [7, `${256 * 1024}\nsh\n`, '']);
    assert.equal((await c.exec("printf '%s' \"it's\"\n\n")).stdout, "it's");
    assert.equal((await c.exec('')).code, 0);
  });

  test('a dd without iflag=fullblock: the byte-by-byte fallback reads exactly the script', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'provision-dd-'));
    writeFileSync(join(bin, 'dd'), '#!/bin/sh\ncase "$*" in *iflag*) echo "dd: invalid input flag" >&2; exit 1;; esac\nexec /bin/dd "$@"\n', { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const data = randomBytes(200 * 1024);
      const r = await new LocalConnection().exec('x=1\nsha256sum\n', { stdin: data });
      assert.equal(r.stdout, `${sha256(data)}  -\n`, r.stderr);
      assert.equal((await new LocalConnection().exec('')).code, 0);
    } finally {
      process.env.PATH = path;
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
