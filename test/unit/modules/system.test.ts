import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FactRequest, ModuleContext, StateModule } from '../../../src/modules/contract.js';
import { cron } from '../../../src/modules/system/cron.js';
import { fieldError, jobLine, withEnv, withJob } from '../../../src/modules/system/cron-line.js';
import { sysctl, rewrite } from '../../../src/modules/system/sysctl.js';
import { sysctlFact } from '../../../src/modules/system/sysctl-facts.js';
import { hostname } from '../../../src/modules/system/hostname.js';
import { kernelHostnameFact } from '../../../src/modules/system/hostname-facts.js';
import { timezone } from '../../../src/modules/system/timezone.js';
import { systemd } from '../../../src/modules/services/systemd.js';
import { spawnSync } from 'node:child_process';
import { assertConverges, makeCtx, parse, ROOT_WHO } from './helpers.js';

/** sh -c on this machine (synchronous: no stdin pipe left to break when a script does not read it). */
async function sh(cmd: string, stdin?: string | Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = spawnSync('sh', ['-c', cmd], { input: stdin ?? '', encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Read a module's facts on this machine by running their scripts, as the engine does on a host. */
async function gather(mod: StateModule, args: unknown, ctx: ModuleContext): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, req] of Object.entries(mod.facts(args, ctx) as Record<string, FactRequest>)) {
    const r = await sh(req.kind.script(req.params as never));
    out[name] = req.kind.parse(r.stdout, req.params as never);
  }
  return out;
}

/** facts -> plan -> run its commands here -> facts -> plan: returns the first plan; the second must be empty. */
async function applyHere(mod: StateModule, raw: unknown, ctx = makeCtx()): Promise<string[]> {
  const args = parse(mod, raw);
  const changes = mod.plan(args, await gather(mod, args, ctx), ctx, undefined);
  for (const c of changes) {
    for (const cmd of c.commands) {
      const r = await sh(cmd.cmd, cmd.stdin);
      assert.equal(r.code, 0, `${cmd.cmd}: ${r.stderr}`);
    }
  }
  const again = mod.plan(args, await gather(mod, args, ctx), ctx, undefined);
  assert.deepEqual(again.map((c) => c.summary), [], 'the plan is empty after apply');
  return changes.map((c) => c.action);
}

describe('system modules: arguments refused at load', () => {
  test('cron: a field out of range, a bad step, special_time with fields, a job on two lines', () => {
    assert.throws(() => parse(cron, { name: 'x', job: 'true', minute: 61 }), /minute '61': 61 is out of range 0-59/);
    assert.throws(() => parse(cron, { name: 'x', job: 'true', hour: '1-24' }), /hour '1-24': 24 is out of range 0-23/);
    assert.throws(() => parse(cron, { name: 'x', job: 'true', minute: '*/0' }), /a step of 0/);
    assert.throws(() => parse(cron, { name: 'x', job: 'true', month: 'foo' }), /month 'foo': expected/);
    assert.throws(() => parse(cron, { name: 'x', job: 'true', special_time: 'daily', hour: 2 }), /either special_time or the time fields/);
    assert.throws(() => parse(cron, { name: 'x', job: 'a\nb' }), /'job' must be one line/);
    assert.throws(() => parse(cron, { name: 'x' }), /state: present needs 'job'/);
    assert.throws(() => parse(cron, { name: 'x', job: 'y', insertafter: 'z' }));
    assert.equal(parse(cron, { name: 'x', job: 'true', weekday: 'mon', month: '1,6' }).weekday, 'mon');
  });

  test('sysctl: a name with spaces, a number the kernel would read as octal, values as Ansible reads them', () => {
    assert.throws(() => parse(sysctl, { name: 'net.ipv4 ip_forward', value: 1 }), /a kernel setting such as net\.ipv4\.ip_forward/);
    assert.throws(() => parse(sysctl, { name: 'net.ipv4.ip_default_ttl', value: '065' }), /octal/);
    assert.throws(() => parse(sysctl, { name: 'net.ipv4.ip_forward' }), /needs a 'value'/);
    assert.equal(parse(sysctl, { name: 'a.b', value: true }).value, '1');
    assert.equal(parse(sysctl, { name: 'a.b', value: 'no' }).value, '0');
    assert.equal(parse(sysctl, { name: 'a.b', value: ' 1024 65000 ' }).value, '1024 65000');
  });

  test('hostname, timezone, systemd', () => {
    assert.throws(() => parse(hostname, { name: 'bad_name' }), /a host name/);
    assert.throws(() => parse(hostname, { name: 'Web1', use: 'systemd' }), /lowercase/);
    assert.equal(parse(hostname, { name: 'Web1' }).use, 'debian');
    assert.throws(() => parse(timezone, { name: '../etc/passwd' }), /time zone name/);
    assert.throws(() => parse(timezone, { name: 'UTC', hwclock: 'UTC' }));
    assert.throws(() => parse(systemd, { name: 'x', masked: true, state: 'started' }), /a masked unit cannot be enabled or started/);
    assert.throws(() => parse(systemd, { name: 'x', state: 'started', scope: 'user' }), /only scope: system/);
  });
});

describe('cron: the crontab format', () => {
  const spec = { minute: '*', hour: '*', day: '*', month: '*', weekday: '*', job: '/bin/true', disabled: false };
  test('job lines as Ansible writes them', () => {
    assert.equal(jobLine(spec, undefined), '* * * * * /bin/true');
    assert.equal(jobLine({ ...spec, special_time: 'reboot', disabled: true }, 'root'), '#@reboot root /bin/true');
  });
  test('a job replaced under its marker, removed with it, added at the end; a marker at the end is not a job', () => {
    const tab = ['#Ansible: a', '1 * * * * x', '#Ansible: b'];
    assert.deepEqual(withJob(tab, 'a', '2 * * * * x', undefined), ['#Ansible: a', '2 * * * * x', '#Ansible: b']);
    assert.deepEqual(withJob(tab, 'a', undefined, undefined), ['#Ansible: b']);
    assert.deepEqual(withJob(tab, 'b', '3 * * * * y', undefined), [...tab, '#Ansible: b', '3 * * * * y']);
  });
  test('variables: replaced in place, new ones first', () => {
    assert.deepEqual(withEnv(['A=1', 'x'], 'B', '2'), ['B=2', 'A=1', 'x']);
    assert.deepEqual(withEnv(['A=1', 'x'], 'A', '3'), ['A=3', 'x']);
    assert.deepEqual(withEnv(['A=1', 'x'], 'A', undefined), ['x']);
  });
  test('fields: names, lists, ranges and steps', () => {
    for (const ok of ['*', '*/15', '0-30/5', '1,2,3']) assert.equal(fieldError('minute', ok), undefined, ok);
    assert.equal(fieldError('weekday', 'sun'), undefined);
    assert.match(fieldError('weekday', 'mon-fri') ?? '', /expected/);
    assert.match(fieldError('day', '0') ?? '', /out of range 1-31/);
  });
});

describe('sysctl: the file and the kernel', () => {
  test("Ansible's rewrite: k=v, first duplicate kept, comments and blank lines as they are", () => {
    assert.deepEqual(rewrite(['# c', '', 'a = 1', 'b=2', 'a=3'], 'b', '5'), ['# c', '', 'a=1', 'b=5']);
    assert.deepEqual(rewrite(['a = 1'], 'b', undefined), ['a=1']);
  });
  test('the kernel fact: fields separated by one space; read-only and missing settings', () => {
    assert.deepEqual(sysctlFact.parse('exists=yes\nwritable=yes\nvalue=32768 60999 \n', { name: 'x' }), { exists: true, writable: true, value: '32768 60999' });
    assert.deepEqual(sysctlFact.parse('exists=yes\nvalue=60\n', { name: 'vm.swappiness' }), { exists: true, writable: false, value: '60' });
    assert.deepEqual(sysctlFact.parse('', { name: 'no.such' }), { exists: false, writable: false });
  });
  test('the kernel fact read on this machine (a multi-field setting)', async () => {
    const p = { name: 'net.ipv4.ip_local_port_range' };
    const f = sysctlFact.parse((await sh(sysctlFact.script(p))).stdout, p);
    const raw = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).join(' ');
    assert.deepEqual({ exists: f.exists, value: f.value }, { exists: true, value: raw });
    const h = kernelHostnameFact.parse((await sh(kernelHostnameFact.script({}))).stdout, {});
    assert.equal(h, readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
  });
  test('converges over states, reload and sysctl_set', () => {
    const file = (text: string) => ({ type: 'file' as const, parentExists: true, mode: '0644', owner: 'root', group: 'root', size: text.length, content: Buffer.from(text).toString('base64'), sha256: 'x' });
    for (const state of ['present', 'absent'])
      for (const reload of [true, false])
        for (const sysctl_set of [true, false])
          for (const text of ['', 'a.b=0\n', 'a.b = 1\na.b=2\n'])
            for (const live of ['0', '1']) {
              const args = parse(sysctl, { name: 'a.b', value: 1, state, reload, sysctl_set });
              assertConverges(sysctl, args, { file: file(text), who: ROOT_WHO, kernel: { exists: true, writable: true, value: live } });
            }
  });
});

describe('cron and sysctl: commands run for real in a temp directory', () => {
  test('a cron.d file: jobs and a variable added, changed, removed, and the empty file removed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'prov-cron-'));
    const f = path.join(dir, 'jobs');
    try {
      assert.deepEqual(await applyHere(cron, { name: 'a', minute: 5, job: '/bin/true', cron_file: f }), ['create']);
      assert.deepEqual(await applyHere(cron, { name: 'b', special_time: 'daily', job: 'echo hi', cron_file: f, user: 'nobody', disabled: true }), ['update']);
      assert.deepEqual(await applyHere(cron, { name: 'MAILTO', env: true, job: '""', cron_file: f }), ['update']);
      assert.deepEqual(await applyHere(cron, { name: 'a', minute: 5, job: '/bin/true', cron_file: f }), []);
      assert.equal(readFileSync(f, 'utf8'), 'MAILTO=""\n#Ansible: a\n5 * * * * root /bin/true\n#Ansible: b\n#@daily nobody echo hi\n');
      assert.deepEqual(await applyHere(cron, { name: 'a', state: 'absent', cron_file: f }), ['update']);
      assert.deepEqual(await applyHere(cron, { name: 'b', state: 'absent', cron_file: f }), ['update']);
      assert.deepEqual(await applyHere(cron, { name: 'MAILTO', env: true, state: 'absent', cron_file: f }), ['remove']);
      assert.equal(existsSync(f), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a sysctl file without reload', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'prov-sysctl-'));
    const f = path.join(dir, 'sysctl.conf');
    try {
      assert.deepEqual(await applyHere(sysctl, { name: 'net.ipv4.ip_forward', value: 'yes', reload: false, sysctl_file: f }), ['create']);
      assert.deepEqual(await applyHere(sysctl, { name: 'net.ipv4.ip_default_ttl', value: 64, reload: false, sysctl_file: f }), ['update']);
      assert.equal(readFileSync(f, 'utf8'), 'net.ipv4.ip_forward=1\nnet.ipv4.ip_default_ttl=64\n');
      assert.deepEqual(await applyHere(sysctl, { name: 'net.ipv4.ip_forward', state: 'absent', reload: false, sysctl_file: f }), ['update']);
      assert.equal(readFileSync(f, 'utf8'), 'net.ipv4.ip_default_ttl=64\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
