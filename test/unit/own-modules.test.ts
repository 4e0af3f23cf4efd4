/**
 * Own modules in modules/ beside the playbook, written in TypeScript (compiled by esbuild when
 * used, refused with file:line:col when they do not compile), and the package's published types
 * (package.json exports/types) that check such a module against the contract.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ConfigError } from '../../src/load/yaml.js';
import { moduleRegistry } from '../../src/modules/own.js';
import type { CheckModule } from '../../src/modules/contract.js';
import { runMain } from '../helpers/cli.js';
import { tmp } from '../helpers/fake.js';
import { makeCtx } from './modules/helpers.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const cwd = process.cwd();
after(() => process.chdir(cwd));

function project(files: Record<string, string>): string {
  const dir = realpathSync(tmp('prov-ownmod-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

const inv = 'all:\n  hosts:\n    h1: { ansible_host: 127.0.0.1 }\n';
const shoutTs = [
  "import { upper } from './helpers/upper.ts';",
  'interface Args { word: string }',
  'export default ({ z }: { z: any }) => ({',
  "  name: 'shout', type: 'check' as const,",
  '  schema: z.object({ word: z.string() }).strict(),',
  '  run: async (a: Args) => ({ ok: true, message: upper(a.word) }),',
  '});',
  '',
].join('\n');

describe('own modules in TypeScript, in modules/ beside the playbook', () => {
  it('are compiled when used, with the relative files they import, and their arguments are checked at load', async () => {
    const dir = project({
      'inv.yml': inv,
      'pb.yml': '- hosts: all\n  tasks:\n    - shout: { word: hi }\n',
      'modules/shout.ts': shoutTs,
      'modules/helpers/upper.ts': 'export const upper = (s: string): string => `${s.toUpperCase()}!`;\n',
      'modules/shout.d.ts': 'export {};\n',
    });
    process.chdir(dir);
    const ok = await runMain(['--syntax-check', '-i', 'inv.yml', 'pb.yml']);
    assert.equal(ok.code, 0, ok.stderr);
    writeFileSync(join(dir, 'pb.yml'), '- hosts: all\n  tasks:\n    - shout: { wrd: hi }\n');
    const bad = await runMain(['--syntax-check', '-i', 'inv.yml', 'pb.yml']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /pb\.yml:3:\d+: .*unknown key 'wrd' \(module shout\)/);

    const reg = moduleRegistry([join(dir, 'modules')]);
    assert.ok(!reg.isModuleName('upper'), 'a helper in a subdirectory is no module');
    const mod = (await reg.load(['shout'])).get('shout') as CheckModule;
    const r = await mod.run({ word: 'hi' }, {} as never, makeCtx());
    assert.equal(r.message, 'HI!');
  });

  it('a module that does not compile is refused with its file, line and column and the reason, exit 2, no stack trace', async () => {
    const dir = project({
      'inv.yml': inv,
      'pb.yml': '- hosts: all\n  tasks:\n    - shout: { word: hi }\n',
      'modules/shout.ts': "const x: number = 1;\nexport default { name: 'shout', type: ; };\n",
    });
    process.chdir(dir);
    const r = await runMain(['--syntax-check', '-i', 'inv.yml', 'pb.yml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /modules\/shout\.ts: the module does not compile:\n\s+modules\/shout\.ts:2:39: Unexpected ";"/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace');
    // an import that does not resolve is a compile error too
    writeFileSync(join(dir, 'modules', 'shout.ts'), "import { x } from './nowhere.ts';\nexport default x;\n");
    const missing = await runMain(['--syntax-check', '-i', 'inv.yml', 'pb.yml']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /modules\/shout\.ts:1:19: Could not resolve "\.\/nowhere\.ts"/);
  });

  it('a compiled module is checked against the contract like a JavaScript one', async () => {
    const dir = project({ 'modules/mine.ts': "export default { name: 'mine', type: 'check' as const };\n" });
    await assert.rejects(moduleRegistry([join(dir, 'modules')]).load(['mine']), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /modules\/mine\.ts: not a provision module: schema is missing or not a zod schema/);
      return true;
    });
  });

  it('modules/ comes before library/, and two files of one module in one directory are refused', () => {
    const dir = project({ 'modules/a.ts': '', 'library/a.mjs': '', 'library/b.mjs': '', 'more/c.js': '', 'more/c.ts': '' });
    const reg = moduleRegistry([join(dir, 'modules'), join(dir, 'library')]);
    assert.ok(reg.isModuleName('a') && reg.isModuleName('b'));
    assert.throws(
      () => moduleRegistry([join(dir, 'more')]),
      (e: Error) => e instanceof ConfigError && /more\/c\.ts: .*more\/c\.js is the module 'c' already: keep one file per module/.test(e.message),
    );
  });
});

describe('provision test-modules: the fixtures beside own modules, run with the generic runner', () => {
  const fact = (text: string, sha256: string) => ({
    file: { type: 'file', parentExists: true, mode: '0644', owner: 'root', group: 'root', size: text.length, sha256, content: Buffer.from(text).toString('base64') },
    who: { user: 'root', group: 'root', umask: '0022' },
  });
  const fixture = (description: string, facts: unknown) => JSON.stringify({ description, args: { path: '/etc/app.conf', key: 'port', value: '8080' }, facts, changes: [] });

  it('passes a fixture that holds, fails one that does not with its file and what differed (exit 1), refuses a folder naming no module (exit 2)', async () => {
    const dir = project({
      'library/fixtures/kv_line/converged.json': fixture('the line is there: no change', fact('port=8080\n', '732322f37243042be9e5af21441ccfeed748f1cc2dacce6a9cc8cf31b4207083')),
      'library/fixtures/kv_line/wrong.json': fixture('claims no change where the value differs', fact('port=80\n', '8ac56ba2b165fcd437ca405ef420a36ccbda0f41ce603a07db42752ff00335a2')),
    });
    cpSync(join(ROOT, 'examples', 'own-project', 'library', 'kv_line.mjs'), join(dir, 'library', 'kv_line.mjs'));
    process.chdir(dir);
    const r = await runMain(['test-modules']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^ok {3}library\/fixtures\/kv_line\/converged\.json: the line is there: no change$/m);
    assert.match(r.stdout, /^FAIL library\/fixtures\/kv_line\/wrong\.json: claims no change where the value differs\n[^]*port=8080/m);
    assert.match(r.stdout, /1 passed, 1 failed/);
    writeFileSync(join(dir, 'library', 'fixtures', 'kv_line', 'wrong.json'), fixture('converged too', fact('port=8080\n', '732322f37243042be9e5af21441ccfeed748f1cc2dacce6a9cc8cf31b4207083')));
    const good = await runMain(['test-modules', dir]);
    assert.equal(good.code, 0, good.stdout);
    assert.match(good.stdout, /2 passed, 0 failed/);
    mkdirSync(join(dir, 'library', 'fixtures', 'nothing'));
    const bad = await runMain(['test-modules']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /library\/fixtures\/nothing: no module named 'nothing'/);
  });
});

describe('the example module in TypeScript (examples/own-project/modules/logrotate.ts)', () => {
  it('compiles, and its fixtures pass with provision test-modules', async () => {
    process.chdir(join(ROOT, 'examples', 'own-project'));
    const r = await runMain(['test-modules']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok {3}modules\/fixtures\/logrotate\/create\.json: /m);
    assert.match(r.stdout, /\b3 passed, 0 failed/);
  });
});

describe("the package's published types", () => {
  /** tsc's errors for each file of a project that has this package installed as node_modules/provision. */
  function typeErrors(files: Record<string, string>): Record<string, string[]> {
    const dir = project(files);
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'provision'));
    const names = Object.keys(files).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
    const program = ts.createProgram(names, {
      noEmit: true,
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'], // a module may use Buffer and node: modules
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      skipLibCheck: true,
    });
    const out: Record<string, string[]> = {};
    for (const f of Object.keys(files).filter((n) => n.endsWith('.ts'))) {
      const sf = program.getSourceFile(join(dir, f))!;
      out[f] = ts.getPreEmitDiagnostics(program, sf).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    }
    return out;
  }

  it("check a module written in TypeScript against the contract ('provision' and 'provision/module')", () => {
    const errors = typeErrors({
      'package.json': '{ "type": "module" }',
      'good.ts': [
        "import type { StateModule, Change } from 'provision';",
        "const m: StateModule<{ path: string }, { seen: boolean }> = { name: 'good', type: 'state', schema: null as never,",
        '  facts: () => ({ seen: null as never }), plan: (a, f): Change[] => (f.seen ? [] : [{ action: "create", target: a.path, summary: "x", commands: [] }]) };',
        'export default m;',
        '',
      ].join('\n'),
      'logrotate.ts': readFileSync(join(ROOT, 'examples', 'own-project', 'modules', 'logrotate.ts'), 'utf8'),
      'bad.ts': [
        "import type { StateModule } from 'provision/module';",
        "const m: StateModule = { name: 'bad', type: 'state', schema: null as never, facts: () => ({}) };",
        'export default m;',
        '',
      ].join('\n'),
    });
    assert.deepEqual(errors['good.ts'], []);
    assert.deepEqual(errors['logrotate.ts'], [], 'the example module');
    assert.equal(errors['bad.ts'].length, 1, errors['bad.ts'].join('\n'));
    assert.match(errors['bad.ts'][0], /Property 'plan' is missing/);
  });
});
