/**
 * The editors end to end on this machine: facts read by the real fact script, the plan's commands
 * run with sh (backup, validate, atomic write), facts read again: the plan is then empty. And what
 * --diff shows of a line that holds a secret.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gatherFacts } from '../../../../src/engine/pipeline/facts.js';
import type { StateModule } from '../../../../src/modules/contract.js';
import type { ContentFacts } from '../../../../src/modules/files/content.js';
import type { Editor } from '../../../../src/modules/files/edit.js';
import { blockinfile } from '../../../../src/modules/files/blockinfile.js';
import { lineinfile } from '../../../../src/modules/files/lineinfile.js';
import { replace } from '../../../../src/modules/files/replace.js';
import { localConnection, makeCtx, SECRET } from '../helpers.js';

type Mod = StateModule<any, ContentFacts, Editor>;

/** One task as the engine runs it: facts, plan, the commands, facts again, plan again. */
async function run(mod: Mod, raw: Record<string, unknown>) {
  const ctx = makeCtx({ become: false });
  const args = mod.schema.parse(raw);
  const edit = mod.prepare!(args, ctx) as Editor;
  const facts = (await gatherFacts(localConnection, mod.facts(args, ctx) as never, {})) as unknown as ContentFacts;
  const changes = mod.plan(args, facts, ctx, edit);
  for (const c of changes) {
    for (const cmd of c.commands) {
      const r = await localConnection.exec(cmd.cmd, { stdin: cmd.stdin });
      if (r.code !== 0) return { changes, failed: r.stderr, again: [] };
    }
  }
  const after = (await gatherFacts(localConnection, mod.facts(args, ctx) as never, {})) as unknown as ContentFacts;
  return { changes, failed: undefined, again: mod.plan(args, after, ctx, edit) };
}

describe('text editors applied for real', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prov-edit-'));
  const f = join(dir, 'app.conf');

  it('lineinfile with backup: the file is edited in place, keeps its mode, and a backup holds the old content', async () => {
    writeFileSync(f, 'port=80\nuser=app');
    chmodSync(f, 0o600);
    const r = await run(lineinfile as Mod, { path: f, regexp: '^port=', line: 'port=8080', backup: true });
    assert.equal(r.failed, undefined);
    assert.deepEqual(r.changes.map((c) => c.action), ['update']);
    assert.equal(readFileSync(f, 'utf8'), 'port=8080\nuser=app');
    assert.equal(statSync(f).mode & 0o777, 0o600);
    const backups = readdirSync(dir).filter((n) => /^app\.conf\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$/.test(n));
    assert.equal(backups.length, 1, readdirSync(dir).join(' '));
    assert.equal(readFileSync(join(dir, backups[0]), 'utf8'), 'port=80\nuser=app');
    assert.deepEqual(r.again, [], 'verified: nothing left to do');
  });

  it('a validate command that refuses the new content leaves the file as it was', async () => {
    const r = await run(blockinfile as Mod, { path: f, block: 'x=1', validate: 'grep -q nothing-like-this %s' });
    assert.match(r.failed ?? '', /validation failed/);
    assert.equal(readFileSync(f, 'utf8'), 'port=8080\nuser=app');
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.provision-tmp')), [], 'no temp file left');
  });

  it('blockinfile and replace converge', async () => {
    let r = await run(blockinfile as Mod, { path: f, block: 'x=1\ny=2', insertbefore: 'BOF', validate: 'grep -q x=1 %s' });
    assert.equal(r.failed, undefined);
    assert.equal(readFileSync(f, 'utf8'), '# BEGIN ANSIBLE MANAGED BLOCK\nx=1\ny=2\n# END ANSIBLE MANAGED BLOCK\nport=8080\nuser=app');
    assert.deepEqual(r.again, []);
    r = await run(replace as Mod, { path: f, regexp: '^(\\w)=(\\d)$', replace: '\\1 = \\2' });
    assert.equal(readFileSync(f, 'utf8'), '# BEGIN ANSIBLE MANAGED BLOCK\nx = 1\ny = 2\n# END ANSIBLE MANAGED BLOCK\nport=8080\nuser=app');
    assert.deepEqual(r.again, []);
  });

  it('lineinfile create: a new file', async () => {
    const g = join(dir, 'new.conf');
    const r = await run(lineinfile as Mod, { path: g, line: 'a=1', create: true, mode: '0640' });
    assert.deepEqual(r.changes.map((c) => c.action), ['create']);
    assert.equal(readFileSync(g, 'utf8'), 'a=1\n');
    assert.equal(statSync(g).mode & 0o777, 0o640);
    assert.deepEqual(r.again, []);
  });
});

describe('--diff of a secret', () => {
  it("shows the display render's placeholder, never the secret, even without masking", () => {
    const ctx = makeCtx({ mask: (s) => s });
    const args = lineinfile.schema.parse({ path: '/etc/app.conf', regexp: '^password=', line: `password=${SECRET}` });
    const shown = lineinfile.schema.parse({ path: '/etc/app.conf', regexp: '^password=', line: 'password=«secret db»' });
    ctx.shown = lineinfile.prepare!(shown, ctx);
    const content = Buffer.from('user=app\npassword=old\n');
    const facts: ContentFacts = {
      file: { type: 'file', parentExists: true, mode: '0600', owner: 'root', group: 'root', size: content.length, sha256: 'x', content: content.toString('base64') },
      who: { user: 'root', group: 'root', umask: '0022' },
    };
    const [change] = lineinfile.plan(args, facts, ctx, lineinfile.prepare!(args, ctx) as Editor);
    assert.equal(String(change.commands[0].stdin), `user=app\npassword=${SECRET}\n`);
    assert.ok(!change.diff!.includes(SECRET), change.diff);
    assert.match(change.diff!, /\+password=«secret db»/);
    assert.ok(!change.diff!.includes('password=old'), 'the old value a secret replaces is not shown either');
  });
});
