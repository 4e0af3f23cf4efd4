/**
 * The bundled CLI (scripts/bundle.mjs carries ssh2) over a real OpenSSH server:
 * it uses ssh2's native sshcrypto.node from node_modules when it is there, and still connects with
 * ssh2's pure-JavaScript ciphers when neither ssh2's nor cpu-features' binding can be found.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sshdAvailable, startSshd, type SshdHarness } from './sshd-harness.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const isRoot = process.getuid?.() === 0;
const BINDING = 'ssh2/lib/protocol/crypto/build/Release/sshcrypto.node';

/** Run `root`'s bin/provision.js (its bundle); return the exit code, output and the node_modules files it read. */
function run(root: string, args: string[]): { code: number | null; out: string; moduleFiles: string[] } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'provision.js'), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 << 20,
    env: { ...process.env, CI: '1', NO_COLOR: '1', NODE_DEBUG: 'module', PROVISION_NO_BUNDLE: '' },
  });
  const moduleFiles = [...r.stderr.matchAll(/load "[^"\s]*\/node_modules\/([^"\s]+)" for module/g)].map((m) => m[1]);
  const out = r.stdout + r.stderr.split('\n').filter((l) => !/^MODULE \d+: /.test(l)).join('\n');
  return { code: r.status, out, moduleFiles };
}

describe('the bundled SSH client', { skip: (!isRoot || !sshdAvailable()) && 'needs root and openssh-server' }, () => {
  let h: SshdHarness;
  let dir: string;
  let args: string[];

  before(async () => {
    const bundle = join(ROOT, 'dist', 'bundle', 'cli', 'main.js');
    assert.ok(existsSync(bundle) && statSync(bundle).mtimeMs >= statSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')).mtimeMs, 'build the bundle first (npm run build)');
    h = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'prov-bundle-'));
    writeFileSync(join(dir, 'known_hosts'), `${h.knownHostsLine}\n`);
    writeFileSync(join(dir, 'inv.yml'), `hosts:\n  local: { address: 127.0.0.1, port: ${h.port}, user: root, key: ${h.clientKey}, known_hosts: known_hosts }\n`);
    writeFileSync(join(dir, 'pb.yml'), `- hosts: all\n  tasks:\n    - name: echo\n      command: echo bundled-ssh-ok\n      register: r\n    - name: show\n      debug: { msg: "{{ r.stdout }}" }\n`);
    args = ['-i', join(dir, 'inv.yml'), join(dir, 'pb.yml')];
  });
  after(async () => {
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a command with the native binding found in node_modules, reading no JavaScript from there', () => {
    const r = run(ROOT, args);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /bundled-ssh-ok/);
    assert.deepEqual(r.moduleFiles.filter((f) => !f.endsWith('.node') && !f.startsWith('ejs/')), []);
    if (existsSync(join(ROOT, 'node_modules', BINDING))) assert.ok(r.moduleFiles.includes(BINDING), r.moduleFiles.join(', '));
  });

  it('without ssh2 and cpu-features in node_modules, connects with the pure-JavaScript ciphers', () => {
    // a copy of the build whose node_modules has every package but those two
    const copy = join(dir, 'copy');
    mkdirSync(join(copy, 'node_modules'), { recursive: true });
    for (const p of ['bin', 'dist/bundle', 'package.json']) cpSync(join(ROOT, p), join(copy, p), { recursive: true });
    for (const p of readdirSync(join(ROOT, 'node_modules'))) {
      if (p !== 'ssh2' && p !== 'cpu-features') symlinkSync(join(ROOT, 'node_modules', p), join(copy, 'node_modules', p));
    }
    const r = run(copy, args);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /bundled-ssh-ok/);
    assert.deepEqual(r.moduleFiles.filter((f) => /^(ssh2|cpu-features)\//.test(f)), []);
  });
});
