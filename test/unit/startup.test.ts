/**
 * Start-up: the lazy module registry matches the eager one, and each command loads only
 * what it needs (observed with NODE_DEBUG=esm,module, which logs every file Node loads).
 */
import { ACTION_SCHEMAS } from '../../src/engine/actions.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scanModuleNames } from '../../src/cli/main.js';
import { builtinModules } from '../../src/modules/all.js';
import { isModuleName, loadModules, MODULE_NAMES } from '../../src/modules/index.js';
import { tmp } from '../helpers/fake.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');

/**
 * Run the CLI; return its exit code, stdout, and the packages / dist files it loaded: `files` of
 * tsc's output (dist/src), `chunks` of the bundle (dist/bundle/cli, without their hashes),
 * `moduleFiles` the files read from node_modules (package/path).
 * Without `bundle`, the run uses tsc's output (PROVISION_NO_BUNDLE): what the sources load lazily.
 */
function loaded(
  args: string[],
  bundle = false,
): { code: number | null; stdout: string; stderr: string; packages: Set<string>; files: Set<string>; chunks: Set<string>; moduleFiles: Set<string> } {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: '1', NODE_DEBUG: 'esm,module' };
  if (bundle) delete env.PROVISION_NO_BUNDLE;
  else env.PROVISION_NO_BUNDLE = '1';
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60000, maxBuffer: 64 << 20, env });
  const packages = new Set<string>();
  const files = new Set<string>();
  const chunks = new Set<string>();
  const moduleFiles = new Set<string>();
  for (const line of r.stderr.split('\n')) {
    // CommonJS: `load "/…/node_modules/pkg/file" for module`; ES modules: `Storing file:///…/node_modules/pkg/file`
    for (const m of line.matchAll(/(?:load "|Storing file:\/\/)[^"\s]*\/node_modules\/([^"\s]+)/g)) moduleFiles.add(m[1]);
    if (!/^(ESM|MODULE) \d+: /.test(line) || !/Storing|load /.test(line)) continue;
    for (const m of line.matchAll(/node_modules\/((?:@[^/]+\/)?[^/'"\s]+)/g)) packages.add(m[1]);
    for (const m of line.matchAll(/dist\/src\/([\w/]+)\.js/g)) files.add(m[1]);
    for (const m of line.matchAll(/dist\/bundle\/cli\/([\w]+)(?:-[A-Z0-9]+)?\.js/g)) chunks.add(m[1]);
  }
  const stderr = r.stderr
    .split('\n')
    .filter((l) => !/^(ESM|MODULE) \d+: /.test(l) && !/^\s/.test(l) && !/^[}\]]/.test(l))
    .join('\n');
  return { code: r.status, stdout: r.stdout, stderr, packages, files, chunks, moduleFiles };
}

describe('module registry', () => {
  it('names every module of the eager list, and each loader gives the module of its name', async () => {
    const eager = builtinModules();
    assert.deepEqual(MODULE_NAMES, [...eager.keys()].sort());
    const lazy = await loadModules();
    for (const name of MODULE_NAMES) assert.equal(lazy.get(name), eager.get(name), name);
    assert.deepEqual([...(await loadModules(['apt', 'nope', 'apt'])).keys()], ['apt']);
    assert.equal(isModuleName('toString'), false);
  });

  it('scanModuleNames finds the modules of a playbook and of the files it imports', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'main.yml'), '- import_playbook: sub/web.yml\n- hosts: all\n  tasks:\n    - { name: a, "apt": { name: x } }\n');
    writeFileSync(join(dir, 'sub', 'web.yml'), "- hosts: all\n  tasks:\n    - name: b\n      service:\n        name: nginx\n- import_playbook: 'missing.yml'\n- import_playbook: ../main.yml\n");
    assert.deepEqual([...scanModuleNames([join(dir, 'main.yml')], isModuleName)].sort(), ['apt', 'service']);
  });
});

describe('start-up loads only what a command needs', () => {
  it('--version loads no package and no other file of provision (bin/provision.js answers it)', () => {
    const r = loaded(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
    assert.deepEqual([...r.packages], []);
    assert.deepEqual([...r.files], []);
    assert.deepEqual([...r.chunks], []);
  });

  it('--help loads commander only', () => {
    const r = loaded(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: provision/);
    assert.deepEqual([...r.packages], ['commander']);
  });

  it('a run loads only the modules its playbook uses; no spinner without a terminal, no diff or EJS unless used', () => {
    const dir = tmp();
    // an unreachable host: the run gets as far as connecting (exit 1), without a test host
    writeFileSync(join(dir, 'inv.yml'), 'hosts:\n  h1: { address: 127.0.0.1, port: 1, user: root }\n');
    writeFileSync(join(dir, 'pb.yml'), '- hosts: all\n  tasks:\n    - name: a\n      command: "true"\n');
    const r = loaded(['-i', join(dir, 'inv.yml'), join(dir, 'pb.yml')]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.files.has('modules/commands/command'));
    assert.ok(r.files.has('ssh/connection'));
    for (const f of r.files) assert.ok(!/^modules\/(mysql|packages|services|users|checks)\//.test(f), `loaded ${f}`);
    for (const p of ['ora', 'diff', 'ejs', 'commander']) assert.equal(r.packages.has(p), p === 'commander', p);
  });

  it('a module the scan cannot see is still found: the playbook is loaded again with every module', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'inv.yml'), 'hosts:\n  h1: { address: 127.0.0.1, port: 1, user: root }\n');
    // "\x61pt" is YAML for "apt", invisible to the textual scan
    writeFileSync(join(dir, 'pb.yml'), '- hosts: all\n  tasks:\n    - name: a\n      "\\x61pt": { name: nginx }\n');
    const r = loaded(['-i', join(dir, 'inv.yml'), join(dir, 'pb.yml')]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.files.has('modules/packages/apt'));
    writeFileSync(join(dir, 'bad.yml'), '- hosts: all\n  tasks:\n    - name: a\n      aptx: { name: nginx }\n');
    const bad = loaded(['-i', join(dir, 'inv.yml'), join(dir, 'bad.yml')]);
    assert.equal(bad.code, 2);
    // the modules and the engine's own actions (set_fact, debug, ...)
    assert.match(bad.stderr, new RegExp(`unknown module 'aptx' \\(modules: ${[...MODULE_NAMES, ...Object.keys(ACTION_SCHEMAS)].sort().join(', ')}\\)`));
  });
});

describe('the bundle (scripts/bundle.mjs)', () => {
  it('is what bin/provision.js runs after a build, and keeps the lazy loading as chunks', () => {
    const mtime = (p: string) => statSync(join(ROOT, 'dist', p)).mtimeMs;
    assert.ok(mtime('bundle/cli/main.js') >= mtime('src/cli/main.js'), 'the bundle is older than tsc\'s output: run `npm run build` (tsc, then scripts/bundle.mjs)');
    const v = loaded(['--version'], true);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    assert.deepEqual([...v.files], [], 'nothing of tsc\'s output');
    assert.deepEqual([...v.packages], []);
    assert.deepEqual([...v.chunks], [], 'bin/provision.js answers --version');
    const h = loaded(['--help'], true);
    assert.equal(h.code, 0);
    assert.ok(h.chunks.has('main'));
    assert.deepEqual([...h.files], []);

    const dir = tmp();
    writeFileSync(join(dir, 'inv.yml'), 'hosts:\n  h1: { address: 127.0.0.1, port: 1, user: root }\n');
    writeFileSync(join(dir, 'pb.yml'), '- hosts: all\n  tasks:\n    - name: a\n      command: "true"\n');
    const r = loaded(['-i', join(dir, 'inv.yml'), join(dir, 'pb.yml')], true);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr + r.stdout, /h1/);
    for (const c of ['command', 'scheduler', 'connection']) assert.ok(r.chunks.has(c), `${c} in ${[...r.chunks].join(', ')}`);
    for (const c of ['mysql_db', 'apt', 'ora']) assert.ok(!r.chunks.has(c), `loaded ${c}`);
    assert.deepEqual([...r.files], []);
    // ssh2 is in the bundle: of node_modules, the run reads only native bindings,
    // ssh2's optional sshcrypto.node among them whenever it was built
    assert.deepEqual([...r.moduleFiles].filter((f) => !f.endsWith('.node')), [], 'JavaScript read from node_modules');
    const binding = 'ssh2/lib/protocol/crypto/build/Release/sshcrypto.node';
    if (existsSync(join(ROOT, 'node_modules', binding))) assert.ok(r.moduleFiles.has(binding), [...r.moduleFiles].join(', '));
  });

  it('is used only when it is newer than tsc\'s output (a bare `npx tsc` never runs a stale bundle)', () => {
    const dir = tmp();
    for (const d of ['bin', 'dist/src/cli', 'dist/bundle/cli']) mkdirSync(join(dir, d), { recursive: true });
    copyFileSync(BIN, join(dir, 'bin', 'provision.js'));
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    for (const which of ['src', 'bundle']) {
      writeFileSync(join(dir, 'dist', which, 'cli', 'main.js'), `export async function main() { console.log('${which}'); return 0; }\n`);
    }
    const run = () => spawnSync(process.execPath, [join(dir, 'bin', 'provision.js')], { encoding: 'utf8', env: { ...process.env, PROVISION_NO_BUNDLE: '' } }).stdout.trim();
    const at = (which: string, t: number) => utimesSync(join(dir, 'dist', which, 'cli', 'main.js'), t, t);
    at('src', 1000);
    at('bundle', 2000);
    assert.equal(run(), 'bundle');
    at('src', 3000);
    assert.equal(run(), 'src');
    rmSync(join(dir, 'dist', 'bundle'), { recursive: true });
    assert.equal(run(), 'src');
  });
});
