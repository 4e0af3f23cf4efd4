/**
 * Issue 20's protections on the test hosts, each shown by what the user sees:
 *  1. values derived from a secret (upper case, base64, split/join, reversed in a template, the
 *     template's sha256 hex) written to files on a host, read back with `command: cat` at -vv,
 *     registered and written elsewhere with --diff, shown by debug and in a failing assert's
 *     message, and in the --json report: none of them appears anywhere, in any encoding, while
 *     the output that is not secret still shows;
 *  2. `--check --accept-new-host-keys` with an empty known_hosts and a secrets store changes no
 *     file under the project's .provision nor the controller's ~/.ssh, and reports the new keys;
 *  3. an endless `{{ }}` expression evaluated on one host fails that task with its file:line
 *     within the (settable) time limit, the other host completes its play, the run exits 1.
 * Needs root (systemd-nspawn); run it under the testbed lock:
 *   flock /tmp/provision-testbed.lock node --test dist/test/e2e/hardening.test.js
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runReport, type RunReport } from '../../src/engine/report.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const isRoot = process.getuid?.() === 0;
const KEEP = process.env.PROVISION_KEEP_TESTBED === '1';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function provision(args: string[], env: Record<string, string> = {}, timeoutMs = 5 * 60_000): Promise<Run> {
  const t0 = Date.now();
  return new Promise((done) => {
    const { FORCE_COLOR: _color, ...base } = process.env;
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...base, CI: '1', NO_COLOR: '1', ...env }, timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code, signal) => done({ code, signal, stdout, stderr, ms: Date.now() - t0 }));
  });
}

const report = (r: Run): RunReport => {
  assert.ok(r.stdout.trim().startsWith('{'), `expected a JSON report, got exit ${r.code}: ${r.stdout.slice(0, 500)} ${r.stderr.slice(-2000)}`);
  return runReport.parse(JSON.parse(r.stdout));
};

/** path -> size, mtime and sha256 of every file (and directory) under the roots. */
function snapshot(roots: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (p: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      out.set(p, 'absent');
      return;
    }
    if (st.isDirectory()) {
      out.set(p, `dir ${st.mode.toString(8)} ${st.mtimeMs}`);
      for (const name of readdirSync(p).sort()) visit(join(p, name));
    } else out.set(p, `${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : 'special'}`);
  };
  roots.forEach(visit);
  return out;
}

function ssh(host: string, cmd: string): string {
  const tb = join(ROOT, '.provision', 'testbed');
  const r = spawnSync('ssh', ['-i', join(tb, 'id_ed25519'), '-o', `UserKnownHostsFile=${join(tb, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${host}`, cmd], { encoding: 'utf8', timeout: 60_000 });
  return r.stdout ?? '';
}

const differences = (a: Map<string, string>, b: Map<string, string>) =>
  [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k) ?? 'absent'} -> ${b.get(k) ?? 'absent'}`);

// letters and digits only: every encoding below is then exact (no escaping to account for)
const PW = randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 24);
const DERIVED: Record<string, string> = {
  upper: PW.toUpperCase(),
  base64: Buffer.from(PW).toString('base64'),
  joined: PW.split('').join('-'),
  reversed: PW.split('').reverse().join(''),
  sha256: createHash('sha256').update(PW).digest('hex'),
};
/** Every form of every derived value (and of the secret) that must not appear: its raw, base64, hex and URL forms, and any 12 characters of it. */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (const [name, v] of Object.entries({ secret: PW, ...DERIVED })) {
    const forms = [v, Buffer.from(v).toString('base64').slice(0, 16), Buffer.from(v).toString('hex').slice(0, 24), encodeURIComponent(v)];
    for (let i = 0; i + 12 <= v.length; i++) forms.push(v.slice(i, i + 12));
    for (const f of forms) if (text.includes(f)) found.push(`${name} (${f})`);
  }
  return found;
}

const TEMPLATE = `# a template with the secret embedded
token=<%- secret('hard_pw').split('').reverse().join('') %>
sha=<%- process.getBuiltinModule('crypto').createHash('sha256').update(secret('hard_pw')).digest('hex') %>
`;

const DERIVED_PLAYBOOK = `- name: Derived secrets
  hosts: all
  vars:
    pw: "{{ secret('hard_pw') }}"
  tasks:
    - name: Derived values into a file
      copy:
        dest: /root/prov-derived.txt
        content: |
          upper={{ pw.toUpperCase() }}
          b64={{ Buffer.from(pw).toString('base64') }}
          joined={{ pw.split('').join('-') }}
    - name: A template with it embedded
      template: { src: derived.conf.ejs, dest: /root/prov-derived.conf }
    - name: A secret the store does not have yet
      copy: { dest: /root/prov-new.txt, content: "{{ secret('hard_new') }}" }
    - name: Read them back
      command: cat /root/prov-derived.txt /root/prov-derived.conf
      register: back
    - name: Write them elsewhere
      copy: { dest: /root/prov-copy.txt, content: "{{ back.stdout }}\\n" }
    - name: Show them
      debug: { msg: "{{ back.stdout }}" }
    - name: Public output
      command: "echo public-marker-{{ host.name }}"
    - name: A failing assert with them in its message
      assert: { cmd: cat /root/prov-copy.txt, expect_stdout: "^never$", msg: "derived were {{ back.stdout }}" }
`;

const SPIN_PLAYBOOK = `- name: Bounded expressions
  hosts: all
  gather_facts: false
  tasks:
    - name: Before
      command: "echo before-{{ host.name }}"
    - name: Spins on web-01 only
      command: echo spun
      when: "host.name == 'web-01' && (() => { while (true) {} })()"
    - name: After
      command: "echo after-{{ host.name }}"
`;

describe('hardening on the test hosts: derived secrets masked, a dry run writes nothing, bounded expressions', { skip: !isRoot && 'needs root (systemd-nspawn test hosts)' }, () => {
  let dir = '';
  let home = '';
  let inv = '';
  let name = '';
  let address: Record<string, string> = {};
  const store = () => join(ROOT, '.provision', 'secrets', `${name}.json`);

  before(async () => {
    await provision(['testbed', 'down']);
    const up = await provision(['testbed', 'up', '--hosts', '2', '--quiet']);
    assert.equal(up.code, 0, `testbed up failed: ${up.stderr}`);
    const hosts: Record<string, { address: string }> = (parse(readFileSync(join(ROOT, 'inventory', 'testbed.yml'), 'utf8')) as { hosts: Record<string, { address: string }> }).hosts;
    address = Object.fromEntries(Object.entries(hosts).map(([h, v]) => [h, v.address]));
    dir = mkdtempSync(join(tmpdir(), 'prov-hardening-'));
    home = mkdtempSync(join(tmpdir(), 'prov-hardening-home-'));
    // an empty known_hosts: the hosts' keys are new to this controller
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    writeFileSync(join(home, '.ssh', 'known_hosts'), '', { mode: 0o600 });
    name = `hardening-${randomBytes(4).toString('hex')}`;
    inv = join(dir, `${name}.yml`);
    writeFileSync(
      inv,
      `defaults:\n  user: root\n  key: ${join(ROOT, '.provision', 'testbed', 'id_ed25519')}\nhosts:\n${['lb-01', 'web-01'].map((h) => `  ${h}: { address: ${hosts[h].address} }\n`).join('')}`,
    );
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'templates', 'derived.conf.ejs'), TEMPLATE);
    writeFileSync(join(dir, 'derived.yml'), DERIVED_PLAYBOOK);
    writeFileSync(join(dir, 'spin.yml'), SPIN_PLAYBOOK);
    mkdirSync(join(ROOT, '.provision', 'secrets'), { recursive: true });
    writeFileSync(store(), JSON.stringify({ hard_pw: PW }), { mode: 0o600 });
    chmodSync(store(), 0o600);
  });

  after(async () => {
    if (!KEEP) await provision(['testbed', 'down']);
    for (const d of [dir, home]) if (d) rmSync(d, { recursive: true, force: true });
    if (name) for (const f of [`${name}.json`, `${name}.history.json`]) rmSync(join(ROOT, '.provision', 'secrets', f), { force: true });
  });

  const env = () => ({ HOME: home });

  it('--check --accept-new-host-keys with an empty known_hosts and a secrets store writes no file of .provision or ~/.ssh, and reports the new keys', async () => {
    const roots = [join(ROOT, '.provision'), join(home, '.ssh')];
    const before = snapshot(roots);
    assert.ok(before.get(store())?.includes(' '), 'the store is there');
    const r = await provision(['-i', inv, join(dir, 'derived.yml'), '--check', '--accept-new-host-keys', '--diff', '-vv'], env());
    assert.ok(r.code === 0 || r.code === 1, `${r.stdout}\n${r.stderr}`);
    for (const h of ['lb-01', 'web-01']) assert.match(r.stderr, new RegExp(`accepted the new host key of '[0-9.]+' \\(ED25519\\) for this run only, not recorded in \\S+known_hosts[^\\n]*: ${h}, ssh-ed25519 key SHA256:`));
    assert.doesNotMatch(r.stderr, /Permanently added/);
    assert.doesNotMatch(r.stdout, /unreachable=1/);
    assert.match(r.stdout, /«secret hard_new \(generated on the first real run\)»/);
    assert.deepEqual(differences(before, snapshot(roots)), []);
    assert.equal(readFileSync(join(home, '.ssh', 'known_hosts'), 'utf8'), '');
  });

  it('values derived from a secret never come back: -vv, --diff, debug, a failing assert, the --json report', async () => {
    const text = await provision(['-i', inv, join(dir, 'derived.yml'), '--limit', 'lb-01', '--accept-new-host-keys', '--diff', '-vv'], env());
    assert.equal(text.code, 1, `only the assert fails: ${text.stdout.slice(-3000)}\n${text.stderr}`);
    const json = await provision(['-i', inv, join(dir, 'derived.yml'), '--limit', 'lb-01', '--diff', '-vv', '--json'], env());
    assert.equal(json.code, 1, json.stderr);
    const rep = report(json);
    const all = [text.stdout, text.stderr, json.stdout, json.stderr].join('\n');
    assert.deepEqual(leaks(all), [], 'a derived value in the output');
    // the host does have them (the test would prove nothing otherwise)
    const onHost = ssh(address['lb-01'], 'cat /root/prov-derived.txt /root/prov-derived.conf /root/prov-copy.txt');
    for (const [what, v] of Object.entries(DERIVED)) assert.equal(onHost.split(v).length, 3, `${what} is in the files on the host (twice: written, and copied)`);
    // what is not secret still shows: the read-back at -vv, the diff of the copy, debug, the assert
    assert.match(text.stdout, /\$ cat \/root\/prov-derived.txt \/root\/prov-derived.conf\n\s+exit 0\n\s+stdout:\n\s+upper=\*{8}\n\s+b64=\*{8}\n\s+joined=\*{8}\n\s+# a template with the secret embedded\n\s+token=\*{8}/);
    assert.match(text.stdout, /\+\+\+ \/root\/prov-copy.txt\tafter[\s\S]*\+upper=\*{8}[\s\S]*\+# a template with the secret embedded/);
    assert.match(text.stdout, /public-marker-lb-01/);
    const failed = rep.tasks.filter((t) => t.status === 'failed');
    assert.deepEqual(failed.map((t) => t.task), ['A failing assert with them in its message']);
    assert.match(failed[0].error ?? '', /^derived were upper=\*{8}\nb64=\*{8}\njoined=\*{8}\n# a template with the secret embedded\ntoken=\*{8}/);
    assert.ok(rep.tasks.some((t) => t.task === 'Show them' && /upper=\*{8}/.test(t.note ?? '')), 'debug shows the masked lines');
  });

  it('an endless expression on one host fails that task with its file:line within the limit; the other host completes its play', async () => {
    const r = await provision(['-i', inv, join(dir, 'spin.yml'), '--accept-new-host-keys', '--json'], { ...env(), PROVISION_EXPRESSION_TIMEOUT_MS: '3000' }, 90_000);
    assert.equal(r.signal, null, `the run hung and was killed after ${r.ms} ms`);
    assert.equal(r.code, 1, r.stderr);
    const rep = report(r);
    assert.deepEqual(Object.values(rep.recap).map((x) => x.unreachable), [false, false]);
    const status = (h: string, t: string) => rep.tasks.find((x) => x.host === h && x.task === t)?.status;
    assert.deepEqual([status('lb-01', 'Before'), status('lb-01', 'Spins on web-01 only'), status('lb-01', 'After')], ['changed', 'skipped', 'changed']);
    assert.deepEqual([status('web-01', 'Before'), status('web-01', 'Spins on web-01 only'), status('web-01', 'After')], ['changed', 'failed', undefined]);
    const spun = rep.tasks.find((x) => x.host === 'web-01' && x.task === 'Spins on web-01 only')!;
    assert.match(spun.error ?? '', /evaluation took more than 3000 ms \(an endless loop\?\)/);
    assert.match(spun.error ?? '', /spin\.yml:7:7/);
    assert.ok(r.ms < 60_000, `the run took ${r.ms} ms`);
    process.stderr.write(`hardening: the spinning run took ${r.ms} ms (limit 3000 ms)\n`);
  });
});
