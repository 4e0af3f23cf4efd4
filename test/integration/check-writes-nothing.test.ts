/**
 * `--check` writes nothing on the controller: every file (and directory) under the project dir,
 * the known_hosts files, the secrets dir, $HOME (its .cache, .ssh) and $TMPDIR is hashed before
 * and after dry runs against two local sshd hosts whose keys are not known yet
 * (`--check --accept-new-host-keys`, with --diff -vv and with --json), and nothing differs. A
 * real run afterwards does record the keys and the secret: the snapshot sees writes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sshdAvailable, startSshd, type SshdHarness } from './sshd-harness.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const isRoot = process.getuid?.() === 0;

/** path -> type, mode, size, mtime and content hash of every entry under the roots. */
function snapshot(roots: string[], skip: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (p: string) => {
    if (skip.has(p)) return;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      out.set(p, 'absent');
      return;
    }
    const meta = `${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`;
    if (st.isDirectory()) {
      out.set(p, `dir ${meta}`);
      for (const name of readdirSync(p).sort()) visit(join(p, name));
    } else if (st.isSymbolicLink()) {
      out.set(p, `link ${readlinkSync(p)}`);
    } else {
      out.set(p, `file ${meta} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  roots.forEach(visit);
  return out;
}

function differences(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k) ?? 'absent'} -> ${b.get(k) ?? 'absent'}`);
}

describe('--check writes nothing on the controller', { skip: (!isRoot || !sshdAvailable()) && 'needs root and openssh-server' }, () => {
  let a: SshdHarness;
  let b: SshdHarness;
  let dir: string;
  let home: string;
  let tmp: string;
  let inv: string;
  let pb: string;
  let name: string;
  let roots: string[];
  const skip = new Set([join(ROOT, 'node_modules'), join(ROOT, '.git')]);

  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, HOME: home, TMPDIR: tmp, CI: '1', NO_COLOR: '1', XDG_CACHE_HOME: join(home, '.cache') },
      timeout: 120_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  before(async () => {
    [a, b] = await Promise.all([startSshd(), startSshd()]);
    dir = mkdtempSync(join(tmpdir(), 'prov-check-writes-'));
    home = mkdtempSync(join(tmpdir(), 'prov-check-home-'));
    tmp = mkdtempSync(join(tmpdir(), 'prov-check-tmp-'));
    mkdirSync(join(home, '.cache'));
    name = `check-writes-${randomBytes(4).toString('hex')}`;
    inv = join(dir, `${name}.yml`);
    // host-a: the default ~/.ssh/known_hosts (no ~/.ssh yet); host-b: a file in a directory that does not exist
    writeFileSync(
      inv,
      `defaults:\n  user: root\n  key: ${a.clientKey}\nhosts:\n` +
        `  host-a: { address: 127.0.0.1, port: ${a.port} }\n` +
        `  host-b: { address: 127.0.0.1, port: ${b.port}, key: ${b.clientKey}, known_hosts: kh/known_hosts }\n` +
        `vars:\n  base: ${dir}/remote\n`,
    );
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'templates', 't.conf.ejs'), `host = <%- host.name %>\npw = <%- secret('new_pw') %>\n`);
    pb = join(dir, 'site.yml');
    writeFileSync(
      pb,
      `- name: Dry run
  hosts: all
  tasks:
    - name: Directory
      file: { path: "{{ base }}/{{ host.name }}", state: directory }
    - name: Env file with a secret that does not exist yet
      copy: { dest: "{{ base }}/{{ host.name }}/app.env", content: "PW={{ secret('new_pw') }}\\n" }
    - name: Template
      template: { src: t.conf.ejs, dest: "{{ base }}/{{ host.name }}/t.conf" }
    - name: Read something
      command: { cmd: "uname -s" }
      register: uname
    - name: Check
      assert: { cmd: "test -d /etc" }
`,
    );
    roots = [ROOT, dir, home, tmp];
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    for (const d of [dir, home, tmp]) if (d) rmSync(d, { recursive: true, force: true });
    for (const f of [`${name}.json`, `${name}.history.json`]) rmSync(join(ROOT, '.provision', 'secrets', f), { force: true });
  });

  it('dry runs with new host keys, a new secret, --diff -vv and --json leave every file as it was', () => {
    const before = snapshot(roots, skip);
    const text = cli(['-i', inv, pb, '--check', '--accept-new-host-keys', '--diff', '-vv']);
    assert.equal(text.code, 0, `${text.stdout}\n${text.stderr}`);
    // the keys were accepted for the run (the tasks ran against both hosts) and reported
    for (const h of [a, b]) {
      assert.match(text.stderr, new RegExp(`accepted the new host key of '\\[127\\.0\\.0\\.1\\]:${h.port}' \\(ED25519\\) for this run only, not recorded in \\S+known_hosts`));
    }
    assert.doesNotMatch(text.stderr, /Permanently added/);
    assert.match(text.stdout, /generated on the first real run/);
    const json = cli(['-i', inv, pb, '--check', '--accept-new-host-keys', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as { tasks: { host: string; task: string; status: string }[] };
    assert.deepEqual(
      report.tasks.filter((t) => t.task === 'Env file with a secret that does not exist yet').map((t) => `${t.host}:${t.status}`).sort(),
      ['host-a:changed', 'host-b:changed'],
    );
    assert.deepEqual(differences(before, snapshot(roots, skip)), []);
    assert.ok(!existsSync(join(home, '.ssh')) && !existsSync(join(dir, 'kh')), 'no known_hosts written');

    // the same snapshot does see what a real run writes: both keys, the secret and its history
    const real = cli(['-i', inv, pb, '--accept-new-host-keys']);
    assert.equal(real.code, 0, `${real.stdout}\n${real.stderr}`);
    const written = differences(before, snapshot(roots, skip)).map((d) => d.split(':')[0]);
    for (const f of [join(home, '.ssh', 'known_hosts'), join(dir, 'kh', 'known_hosts'), join(ROOT, '.provision', 'secrets', `${name}.json`)]) {
      assert.ok(written.includes(f), `${f} written by the real run (seen: ${written.join(', ')})`);
    }
  });
});
