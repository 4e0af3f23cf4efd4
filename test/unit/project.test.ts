/**
 * A project of one's own: the root found upward from the current directory (provision.yml),
 * provision.yml's settings and their errors (file:line:col, exit 2), and own modules (library/,
 * module_paths): loaded only when used, refused with their file and what is missing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findProjectRoot, loadProject } from '../../src/load/project.js';
import { ConfigError } from '../../src/load/yaml.js';
import { loadOwnModule, moduleRegistry } from '../../src/modules/own.js';
import type { AnyStateModule } from '../../src/modules/contract.js';
import { runMain } from '../helpers/cli.js';
import { tmp } from '../helpers/fake.js';
import { absentFile, assertConverges, makeCtx, parse, regularFile, ROOT_WHO } from './modules/helpers.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

/** A directory with these files (relative path -> text). */
function project(files: Record<string, string>): string {
  const dir = realpathSync(tmp('prov-project-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

const configError = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
  assert.fail('no error');
};

describe('the project root', () => {
  it('is the nearest directory upward with a provision.yml', () => {
    const dir = project({ 'provision.yml': '', 'a/b/c/x.txt': '', 'a/provision.yml': 'forks: 3\n' });
    assert.equal(findProjectRoot(join(dir, 'a', 'b', 'c')), join(dir, 'a'));
    assert.equal(findProjectRoot(join(dir, 'a')), join(dir, 'a'));
    assert.equal(findProjectRoot(dir), dir);
  });

  it('is the current directory when no directory above has one (a directory named provision.yml is no project file)', () => {
    const dir = project({ 'sub/provision.yml/x': '' });
    assert.equal(findProjectRoot(join(dir, 'sub')), join(dir, 'sub'));
  });

  it('of this repository is its checkout: the www.foobar.com site', () => {
    assert.equal(findProjectRoot(join(ROOT, 'roles', 'nginx')), ROOT);
    assert.equal(findProjectRoot(join(ROOT, 'examples', 'own-project', 'roles')), join(ROOT, 'examples', 'own-project'));
  });
});

describe('provision.yml', () => {
  it('gives the defaults, paths resolved against the project root', () => {
    const dir = project({
      'provision.yml': 'inventory: staging\nplaybook: plays/main.yml\nroles_path: [shared/roles]\nmodule_paths: [modules]\nforks: 7\n',
      'plays/main.yml': '[]\n',
      'shared/roles/.keep': '',
      'modules/.keep': '',
    });
    const p = loadProject(join(dir, 'plays'));
    assert.deepEqual(p, {
      root: dir,
      file: join(dir, 'provision.yml'),
      inventory: 'staging',
      playbook: join(dir, 'plays', 'main.yml'),
      rolesPath: [join(dir, 'shared', 'roles')],
      modulePaths: [join(dir, 'modules')],
      forks: 7,
    });
    // an inventory that looks like a path is one, relative to the root
    writeFileSync(join(dir, 'provision.yml'), 'inventory: inv/hosts.ini\n');
    assert.equal(loadProject(dir).inventory, join(dir, 'inv', 'hosts.ini'));
    // an empty file: every default
    writeFileSync(join(dir, 'provision.yml'), '# nothing yet\n');
    assert.deepEqual(loadProject(dir), { root: dir, file: join(dir, 'provision.yml'), rolesPath: [], modulePaths: [] });
  });

  it('refuses unknown keys and bad values with file:line:col', () => {
    const dir = project({ 'provision.yml': '' });
    const bad = (text: string) => {
      writeFileSync(join(dir, 'provision.yml'), text);
      return configError(() => loadProject(dir));
    };
    assert.match(bad('inventory: prod\nforkz: 3\n'), /provision\.yml:2:1: \(top level\): unknown key 'forkz'/);
    assert.match(bad('forks: 0\n'), /provision\.yml:1:8: forks: .*>=1/);
    assert.match(bad('forks: 2.5\n'), /provision\.yml:1:8: forks: expected a whole number/);
    assert.match(bad('forks: 300\n'), /provision\.yml:1:8: forks: .*<=256/);
    assert.match(bad("forks: '4'\n"), /provision\.yml:1:8: forks: expected number/);
    assert.match(bad('roles_path: roles\n'), /provision\.yml:1:13: roles_path: expected array/);
    assert.match(bad('module_paths: [library, nope]\n'), /provision\.yml:1:25: module_paths\[1\]: .*nope is not a directory/);
    assert.match(bad('playbook: site.yml\n'), /provision\.yml:1:11: playbook: .*site\.yml: no such file/);
    assert.match(bad('inventory: ""\n'), /provision\.yml:1:12: inventory: expected a path/);
    assert.match(bad('- inventory: prod\n'), /provision\.yml:1:1: provision\.yml is a mapping of settings/);
    assert.match(bad('inventory: [prod\n'), /provision\.yml:\d+:\d+: invalid YAML/);
  });
});

describe('a run in a project', () => {
  const cwd = process.cwd();
  after(() => process.chdir(cwd));
  const inv = 'hosts:\n  h1: { address: 127.0.0.1, port: 1, user: root }\n';

  it("uses provision.yml's inventory, playbook, roles_path and forks from any directory below the root", async () => {
    const dir = project({
      'provision.yml': 'inventory: hosts\nplaybook: play.yml\nroles_path: [vendor]\nforks: 3\n',
      'inventory/hosts.yml': inv,
      'play.yml': '- hosts: all\n  roles: [greet]\n',
      'vendor/greet/tasks/main.yml': '- name: hello\n  debug: { msg: hi }\n',
      'deep/er/.keep': '',
    });
    process.chdir(join(dir, 'deep', 'er'));
    const r = await runMain(['--syntax-check']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /syntax ok: inventory hosts \(1 hosts\), 1 plays, 1 tasks/);
    const listed = await runMain(['--list-tasks']);
    assert.match(listed.stdout, /greet : hello/);
    // without roles_path the role is not found, and the message says where it looked
    writeFileSync(join(dir, 'provision.yml'), 'inventory: hosts\nplaybook: play.yml\n');
    const missing = await runMain(['--syntax-check']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /unknown role 'greet'/);
    // a bad provision.yml stops the run before anything else: exit 2, file:line:col
    writeFileSync(join(dir, 'provision.yml'), 'inventory: hosts\nforks: many\n');
    const bad = await runMain(['--syntax-check']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /provision\.yml:2:8: forks: expected number/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  });

  it('command-line options win over provision.yml', async () => {
    const dir = project({ 'provision.yml': 'inventory: nowhere\nforks: 2\n', 'inv.yml': inv, 'pb.yml': '- hosts: all\n  tasks: []\n' });
    process.chdir(dir);
    assert.equal((await runMain(['--syntax-check', 'pb.yml'])).code, 2);
    const r = await runMain(['--syntax-check', '-i', 'inv.yml', 'pb.yml']);
    assert.equal(r.code, 0, r.stderr);
    const forks = await runMain(['--syntax-check', '-i', 'inv.yml', 'pb.yml', '--forks', '0']);
    assert.match(forks.stderr, /--forks: expected a whole number from 1 to 256, got '0'/);
  });

  it("runs an own module from library/ beside the playbook and from module_paths; an unused broken one is never loaded", async () => {
    const dir = project({
      'provision.yml': 'inventory: inv.yml\nmodule_paths: [shared]\n',
      'inv.yml': inv,
      'pb.yml': '- hosts: all\n  tasks:\n    - kv_line: { path: /tmp/x.conf, key: a, value: b }\n    - shout: { word: hi }\n',
      'shared/shout.js': "export default ({ z }) => ({ name: 'shout', type: 'check', schema: z.object({ word: z.string() }).strict(), run: async () => ({ ok: true, message: 'HI' }) });\n",
      'shared/unused.mjs': 'this is not JavaScript\n',
    });
    cpSync(join(ROOT, 'examples', 'own-project', 'library'), join(dir, 'library'), { recursive: true });
    process.chdir(dir);
    const r = await runMain(['--syntax-check', 'pb.yml']);
    assert.equal(r.code, 0, r.stderr);
    // its arguments are checked at load like a built-in module's
    writeFileSync(join(dir, 'pb.yml'), '- hosts: all\n  tasks:\n    - kv_line: { path: relative.conf, key: a, valu: b }\n');
    const bad = await runMain(['--syntax-check', 'pb.yml']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /pb\.yml:3:\d+: .*path: an absolute path \(module kv_line\)/);
    assert.match(bad.stderr, /pb\.yml:3:\d+: .*unknown key 'valu' \(module kv_line\)/);
  });

  it('refuses a module file that breaks the contract, with its file and what is missing', async () => {
    const cases: [string, RegExp][] = [
      ["export default { name: 'mine', type: 'state', schema: { safeParse() {} }, facts() {} };", /library\/mine\.mjs: not a provision module: plan is missing: a state module needs plan\(\) to be a function/],
      ["export default { name: 'other', type: 'check' };", /library\/mine\.mjs: not a provision module: the module's name is "other": it must be 'mine', the file's name/],
      ["export default ({ z }) => ({ name: 'mine', type: 'check', schema: z.object({}) });", /library\/mine\.mjs: not a provision module: run is missing: a check module needs run\(\) to be a function/],
      ["export default { name: 'mine', type: 'state', schema: {}, facts() {}, plan() {} };", /library\/mine\.mjs: not a provision module: schema is missing or not a zod schema/],
      ["export default { name: 'mine', type: 'shell' };", /library\/mine\.mjs: not a provision module: type is "shell": expected 'state' \(facts, plan\) or 'check' \(run\)/],
      ['export const mine = {};', /library\/mine\.mjs: not a provision module: it has no default export/],
      ['export default 42;', /library\/mine\.mjs: not a provision module: its default export is number/],
      ["throw new Error('no config here');", /library\/mine\.mjs: cannot load the module: Error: no config here/],
      ['export default {', /library\/mine\.mjs: cannot load the module: SyntaxError/],
    ];
    for (const [i, [text, expected]] of cases.entries()) {
      const dir = project({ 'inv.yml': inv, 'pb.yml': '- hosts: all\n  tasks:\n    - mine: {}\n', 'library/mine.mjs': `${text}\n// ${i}\n` });
      process.chdir(dir);
      const r = await runMain(['--syntax-check', '-i', 'inv.yml', 'pb.yml']);
      assert.equal(r.code, 2, text);
      assert.match(r.stderr, expected, text);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace');
    }
  });

  it('refuses module files named like a built-in module or not like a module', () => {
    const dir = project({ 'library/copy.js': '', 'library/my-module.mjs': '', 'library/helpers/x.js': '', 'library/notes.txt': '' });
    const msg = configError(() => moduleRegistry([join(dir, 'library')]));
    assert.match(msg, /library\/copy\.js: 'copy' is a built-in module; give your module another name/);
    assert.match(msg, /library\/my-module\.mjs: a module file is named after its module/);
  });

  it('the first module path that has a name wins (library/ beside the playbook, then module_paths), and only used modules are imported', async () => {
    const dir = project({
      'library/twice.mjs': "export default ({ z }) => ({ name: 'twice', type: 'check', schema: z.object({}), run: async () => ({ ok: true, message: 'library' }) });",
      'more/twice.mjs': 'not loaded',
      'more/broken.mjs': 'not loaded either',
    });
    const reg = moduleRegistry([join(dir, 'library'), join(dir, 'more')]);
    assert.ok(reg.isModuleName('twice') && reg.isModuleName('broken') && reg.isModuleName('apt'));
    const mods = await reg.load(['twice', 'command']);
    assert.deepEqual([...mods.keys()].sort(), ['command', 'twice']);
  });
});

describe('the example module (examples/own-project/library/kv_line.mjs)', () => {
  const file = join(ROOT, 'examples', 'own-project', 'library', 'kv_line.mjs');
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it('adds, updates and removes one key=value line; check mode predicts the file it writes', async () => {
    const mod = (await loadOwnModule('kv_line', file)) as AnyStateModule;
    const ctx = makeCtx();
    const facts = (f: ReturnType<typeof regularFile>) => ({ file: f, who: ROOT_WHO });
    const a = parse(mod, { path: '/etc/app.conf', key: 'port', value: 8080 });
    const created = mod.plan(a, facts(absentFile()), ctx, undefined);
    assert.equal(created.length, 1);
    assert.equal(String(created[0].commands[0].stdin), 'port=8080\n');
    assertConverges(mod, a, facts(absentFile()), ctx);
    const text = 'a=1\nport = 80\nb=2\n';
    const updated = mod.plan(a, facts(regularFile({ content: b64(text), size: text.length })), ctx, undefined);
    assert.equal(String(updated[0].commands[0].stdin), 'a=1\nport=8080\nb=2\n');
    assert.match(updated[0].diff ?? '', /-port = 80\n\+port=8080/);
    assertConverges(mod, a, facts(regularFile({ content: b64(text), size: text.length })), ctx);
    const same = 'port=8080\n';
    assert.deepEqual(mod.plan(a, facts(regularFile({ content: b64(same), size: same.length, sha256: createHash('sha256').update(same).digest('hex') })), ctx, undefined), []);
    const gone = parse(mod, { path: '/etc/app.conf', key: 'b', state: 'absent' });
    assert.equal(String(mod.plan(gone, facts(regularFile({ content: b64(text), size: text.length })), ctx, undefined)[0].commands[0].stdin), 'a=1\nport = 80\n');
    assert.deepEqual(mod.plan(gone, facts(absentFile()), ctx, undefined), []);
  });
});
