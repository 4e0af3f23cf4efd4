import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionError, type Connection, type ExecOptions, type ExecResult, type HostLink } from '../../../src/modules/contract.js';
import { reboot, rebootCommand } from '../../../src/modules/link/reboot.js';
import { waitForConnection } from '../../../src/modules/link/wait_for_connection.js';
import { makeCtx, parse } from './helpers.js';

/**
 * A host that goes down when told to reboot and comes back after `downMs` of fake time with a
 * new boot id; a connection opened before the reboot is dead after it. The clock advances only
 * through sleep() and the cost of an attempt to reach a host that is down.
 */
class FakeHost implements HostLink {
  readonly host = 'web-01';
  t = 0;
  boots = 0;
  upAt = 0;
  conns = 0;
  reconnects: number[] = [];
  forgotten = 0;
  commands: { cmd: string; become?: boolean }[] = [];
  private current: Connection;
  constructor(
    private readonly downMs: number,
    private readonly opts: { rebootRc?: number; testFailures?: number; neverBack?: boolean } = {},
  ) {
    this.current = this.open();
  }

  private open(): Connection {
    const boot = this.boots;
    const id = ++this.conns;
    const exec = async (cmd: string, o: ExecOptions = {}): Promise<ExecResult> => {
      if (boot !== this.boots || this.t < this.upAt) throw new ConnectionError(this.host, `connection ${id} lost`);
      this.commands.push({ cmd, become: o.become });
      if (cmd.includes('boot_id')) return { code: 0, stdout: `boot-${this.boots}\n`, stderr: '' };
      if (cmd.startsWith('shutdown') || cmd === 'systemctl reboot') {
        if (this.opts.rebootRc) return { code: this.opts.rebootRc, stdout: '', stderr: 'shutdown: not permitted' };
        this.boots++;
        this.upAt = this.opts.neverBack ? Infinity : this.t + this.downMs;
        throw new ConnectionError(this.host, 'connection reset by peer');
      }
      if (cmd === 'whoami' && (this.opts.testFailures ?? 0) > 0) {
        this.opts.testFailures!--;
        return { code: 1, stdout: '', stderr: 'not yet' };
      }
      return { code: 0, stdout: 'root\n', stderr: '' };
    };
    return { host: this.host, exec, close: async () => undefined };
  }

  conn(): Connection {
    return this.current;
  }
  async reconnect(timeoutMs: number): Promise<void> {
    this.reconnects.push(this.t);
    if (this.t < this.upAt) {
      this.t += Math.min(timeoutMs, 3000); // no route to host, after a while
      throw new ConnectionError(this.host, `${this.host} (10.0.0.1:22): no route to host`);
    }
    this.current = this.open();
  }
  forgetFacts(): void {
    this.forgotten++;
  }
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
}

describe('reboot', () => {
  test('arguments: Ansible defaults, ranges, unknown ones refused', () => {
    const a = parse(reboot, {});
    assert.equal(a.reboot_timeout, 600);
    assert.equal(a.test_command, 'whoami');
    assert.equal(a.boot_time_command, 'cat /proc/sys/kernel/random/boot_id');
    assert.equal(rebootCommand(a), `shutdown -r 0 'Reboot initiated by provision'`);
    // the delay goes to shutdown in whole minutes, rounded down (Ansible on Linux)
    assert.equal(rebootCommand(parse(reboot, { pre_reboot_delay: 150, msg: "it's time" })), `shutdown -r 2 'it'\\''s time'`);
    assert.equal(rebootCommand(parse(reboot, { reboot_command: 'systemctl reboot' })), 'systemctl reboot');
    for (const bad of [{ reboot_timeout: 0 }, { reboot_timeout: 99999 }, { test_command: '' }, { search_paths: ['/sbin'] }, { connect_timeout: -1 }, { post_reboot_delay: 1.5 }]) {
      assert.equal(reboot.schema.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });

  test('check mode: uncertain as a user without become, or with its own commands', () => {
    const u = (args: object, user = 'root') => reboot.uncertain!(parse(reboot, args), makeCtx({ user, become: user === 'root' }));
    assert.equal(u({}), undefined);
    assert.match(u({}, 'deploy') ?? '', /runs as deploy without become/);
    assert.match(u({ test_command: 'systemctl is-active nginx' }) ?? '', /whether test_command succeeds is known only when it runs/);
    assert.equal(u({ test_command: 'whoami', msg: 'bye', pre_reboot_delay: 60 }), undefined);
  });

  test('reboots, reconnects until the boot id changed, runs test_command; facts forgotten', async () => {
    const h = new FakeHost(8000, { testFailures: 1 });
    const r = await reboot.run(parse(reboot, {}), h, makeCtx({ become: true }));
    assert.equal(r.ok, true, r.message);
    assert.equal(r.changed, true);
    assert.equal(r.data?.rebooted, true);
    assert.equal(h.boots, 1);
    assert.equal(h.forgotten, 1);
    assert.ok(h.reconnects.length >= 2, 'retried while the host was down');
    assert.ok(h.t >= 8000, 'waited for the host');
    assert.equal(r.data?.elapsed, Math.floor(h.t / 1000));
    // the reboot ran with become; the test command ran twice (failed once after the boot)
    assert.deepEqual(h.commands.filter((c) => c.cmd.startsWith('shutdown')).map((c) => c.become), [true]);
    assert.equal(h.commands.filter((c) => c.cmd === 'whoami').length, 2);
  });

  test('a host that does not come back: fails within reboot_timeout, naming the host and the time waited', async () => {
    const h = new FakeHost(0, { neverBack: true });
    const r = await reboot.run(parse(reboot, { reboot_timeout: 20, connect_timeout: 2 }), h, makeCtx());
    assert.equal(r.ok, false);
    assert.equal(r.changed, true);
    assert.match(r.message, /^web-01 did not come back with a new boot id within reboot_timeout 20s \(waited 2\d(\.\d)?s\): .*no route to host/);
    assert.ok(h.t < 30_000, `stopped near the deadline (${h.t} ms)`);
  });

  test('a reboot command that fails: the task fails and nothing is forgotten', async () => {
    const h = new FakeHost(1000, { rebootRc: 1 });
    const r = await reboot.run(parse(reboot, {}), h, makeCtx());
    assert.equal(r.ok, false);
    assert.equal(r.changed, false);
    assert.match(r.message, /the reboot command failed on web-01 \(exit 1\): shutdown: not permitted/);
    assert.equal(h.forgotten, 0);
  });

  test('post_reboot_delay waits before the first attempt', async () => {
    const h = new FakeHost(1000);
    await reboot.run(parse(reboot, { post_reboot_delay: 30 }), h, makeCtx());
    assert.ok(h.reconnects[0] >= 30_000, `first reconnect at ${h.reconnects[0]} ms`);
  });
});

describe('wait_for_connection', () => {
  test('a working connection: ok at once, no reconnect', async () => {
    const h = new FakeHost(0);
    const r = await waitForConnection.run(parse(waitForConnection, {}), h, makeCtx());
    assert.deepEqual([r.ok, r.changed, r.data?.elapsed, h.reconnects.length], [true, false, 0, 0]);
  });

  test('a host that is away: retries every `sleep` seconds until it answers', async () => {
    const h = new FakeHost(10_000);
    await h.conn().exec('shutdown -r 0').catch(() => undefined);
    const r = await waitForConnection.run(parse(waitForConnection, { delay: 1, sleep: 2, connect_timeout: 1 }), h, makeCtx());
    assert.equal(r.ok, true, r.message);
    assert.equal(r.changed, false);
    assert.ok(h.reconnects[0] >= 1000, 'delay first');
    assert.ok(h.t >= 10_000 && h.t < 14_000, `${h.t} ms`);
  });

  test('timeout: fails with the host named', async () => {
    const h = new FakeHost(0, { neverBack: true });
    await h.conn().exec('shutdown -r 0').catch(() => undefined);
    const r = await waitForConnection.run(parse(waitForConnection, { timeout: 10 }), h, makeCtx());
    assert.equal(r.ok, false);
    assert.match(r.message, /^timed out waiting for a connection to web-01 after 10s \(waited 1\d(\.\d)?s\)/);
  });

  test('arguments checked', () => {
    for (const bad of [{ timeout: 0 }, { sleep: 0 }, { port: 22 }, { delay: -1 }]) {
      assert.equal(waitForConnection.schema.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });
});
