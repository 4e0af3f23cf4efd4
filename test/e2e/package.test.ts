/**
 * The tool as a user gets it: `npm pack`, the tarball installed into a fresh prefix (offline:
 * the dependencies travel inside it), then run from a project directory outside the repository
 * (examples/own-project: provision.yml, a role, a .j2 template with a secret, an own module)
 * against one fresh test host. --check equals the real run, the files are on the host, the secret
 * store is in the project, and nothing is written inside the installed package.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runReport, type RunReport } from '../../src/engine/report.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const isRoot = process.getuid?.() === 0;
const env = Object.fromEntries(Object.entries({ ...process.env, CI: '1', NO_COLOR: '1' }).filter(([k]) => !k.startsWith('PROVISION_SECRET_')));

function sh(cmd: string, args: string[], cwd: string, timeoutMs = 5 * 60_000): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env });
  if (r.status !== 0) process.stderr.write(`    | ${cmd} ${args.join(' ')}: exit ${r.status}\n${(r.stderr ?? '').split('\n').map((l) => `    | ${l}`).join('\n')}\n`);
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Every file and directory under `dir`: path -> size and mtime (what the installed package is). */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const s = statSync(p);
      out.set(relative(dir, p), `${s.size} ${s.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

const key = (t: RunReport['tasks'][number]) => `${t.host} | ${t.task}`;
const failures = (r: RunReport) => r.tasks.filter((t) => t.status === 'failed').map((t) => `${t.host} ${t.task}: ${t.error}`).join('\n');

describe('the packed tarball, installed, runs a project of its own', { skip: !isRoot && 'needs root (systemd-nspawn test hosts)' }, () => {
  let work = '';
  let project = '';
  let installed = '';
  let tool = '';
  let address = '';
  let before0: Map<string, string>;
  const t0 = Date.now();

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'provision-package-'));
    const prefix = join(work, 'prefix');
    project = join(work, 'project');
    installed = join(prefix, 'lib', 'node_modules', 'provision');
    tool = join(prefix, 'bin', 'provision');
    sh(process.execPath, [BIN, 'testbed', 'down'], ROOT);
    assert.equal(sh(process.execPath, [BIN, 'testbed', 'up', '--hosts', '1'], ROOT).code, 0, 'testbed up failed');
    const tUp = Date.now();
    const inv = parse(readFileSync(join(ROOT, 'inventory', 'testbed.yml'), 'utf8')) as { hosts: Record<string, { address: string }> };
    address = Object.values(inv.hosts)[0].address;
    // the repository's build is what gets packed (scripts skipped: `prepack` would build it again)
    const pack = sh('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--loglevel=error'], ROOT);
    assert.equal(pack.code, 0, 'npm pack failed');
    const tarball = join(work, pack.stdout.trim().split('\n').pop()!);
    // offline: every dependency is bundled in the tarball (package.json bundleDependencies)
    const inst = sh('npm', ['install', '-g', '--prefix', prefix, tarball, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], work);
    assert.equal(inst.code, 0, 'npm install of the tarball failed');
    const tInstall = Date.now();
    before0 = snapshot(installed);
    cpSync(join(ROOT, 'examples', 'own-project'), project, { recursive: true });
    mkdirSync(join(project, 'inventory'));
    const state = join(ROOT, '.provision', 'testbed');
    writeFileSync(
      join(project, 'inventory', 'hosts.yml'),
      `defaults:\n  user: root\n  key: ${join(state, 'id_ed25519')}\n  known_hosts: ${join(state, 'known_hosts')}\nhosts:\n  demo-01: { address: ${address} }\n`,
    );
    process.stderr.write(`package: testbed up ${((tUp - t0) / 1000).toFixed(1)} s, npm pack + install ${((tInstall - tUp) / 1000).toFixed(1)} s\n`);
  });
  after(() => {
    if (process.env.PROVISION_KEEP_TESTBED !== '1') sh(process.execPath, [BIN, 'testbed', 'down'], ROOT);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  // run from a directory below the project: its root is found upward (provision.yml)
  const run = (args: string[]) => {
    const r = sh(tool, [...args, '--json'], join(project, 'roles'));
    assert.ok(r.stdout.trim().startsWith('{'), `expected a JSON report, got exit ${r.code}: ${r.stdout.slice(0, 300)} ${r.stderr.slice(-600)}`);
    return { report: runReport.parse(JSON.parse(r.stdout)), out: r.stdout + r.stderr };
  };

  let check: RunReport;
  it('--check predicts every task exactly (the own module and the secret included)', () => {
    check = run(['--check']).report;
    assert.equal(failures(check), '');
    assert.deepEqual(check.tasks.map((t) => `${key(t)}: ${t.status}`), [
      'demo-01 | app_config : the configuration directory: changed',
      "demo-01 | app_config : the app's token, a secret generated on the first run and kept in .provision/secrets/: changed",
      'demo-01 | the app listens on its port: changed',
      'demo-01 | and logs at its level: changed',
    ]);
    assert.equal(existsSync(join(project, '.provision')), false, '--check wrote the secrets store');
  });

  it('the real run does what --check said; the files are on the host; the secret stays in the project', () => {
    const { report: real, out } = run([]);
    assert.equal(failures(real), '');
    assert.deepEqual(real.tasks.map((t) => `${key(t)}: ${t.status}`), check.tasks.map((t) => `${key(t)}: ${t.status}`));
    const store = join(project, '.provision', 'secrets', 'hosts.json');
    const token = (JSON.parse(readFileSync(store, 'utf8')) as Record<string, string>).demo_api_token;
    assert.ok(token && token.length >= 16, 'the secret was generated into the project');
    assert.equal((statSync(store).mode & 0o777).toString(8), '600');
    assert.ok(!out.includes(token), 'the secret shows in the output');
    const state = join(ROOT, '.provision', 'testbed');
    const cat = spawnSync('ssh', ['-i', join(state, 'id_ed25519'), '-o', `UserKnownHostsFile=${join(state, 'known_hosts')}`, '-o', 'BatchMode=yes', `root@${address}`, 'cat /etc/demo/app.conf /etc/demo/token.conf'], { encoding: 'utf8' });
    assert.equal(cat.status, 0, cat.stderr);
    assert.equal(cat.stdout, `port=8080\nlog_level=info\n# demo-01: managed by provision\ntoken = ${token}\n`);
  });

  it('a second run changes nothing, and nothing was ever written inside the installed package', () => {
    const again = run([]).report;
    assert.deepEqual(again.tasks.filter((t) => t.status !== 'ok').map((t) => `${key(t)}: ${t.status}`), []);
    const after0 = snapshot(installed);
    const diff = [...new Set([...before0.keys(), ...after0.keys()])].filter((p) => before0.get(p) !== after0.get(p));
    assert.deepEqual(diff, [], 'files of the installed package changed');
    assert.equal(existsSync(join(installed, '.provision')), false);
    assert.equal(existsSync(join(installed, 'inventory')), false);
    process.stderr.write(`package: total ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  });
});
