/** The text edits of lineinfile, blockinfile and replace (lines.ts) and their argument checks. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskError } from '../../../../src/modules/contract.js';
import { blockinfile } from '../../../../src/modules/files/blockinfile.js';
import { lineinfile } from '../../../../src/modules/files/lineinfile.js';
import { expand, parseTemplate, pyRegex } from '../../../../src/modules/files/lines.js';
import { replace } from '../../../../src/modules/files/replace.js';
import type { Editor } from '../../../../src/modules/files/edit.js';
import { makeCtx } from '../helpers.js';
import { CASES } from './cases.js';

const MODULES = { lineinfile, blockinfile, replace };

/** The module's own editor for a case (its schema and prepare(), as the engine runs them). */
function editor(module: keyof typeof MODULES, args: Record<string, unknown>): Editor {
  const mod = MODULES[module];
  return mod.prepare!(mod.schema.parse({ path: '/etc/f', ...args }) as never, makeCtx()) as Editor;
}

describe('text edits as Ansible makes them (cases.ts)', () => {
  for (const c of CASES) {
    it(`${c.module}: ${c.name}`, () => {
      const edit = editor(c.module, c.args);
      if (c.fails) {
        assert.throws(() => edit(c.before ?? undefined), TaskError);
        return;
      }
      const r = edit(c.before ?? undefined);
      assert.equal(r.changed ? r.content : c.before, c.after);
      assert.equal(r.changed, c.before !== c.after);
    });
  }

  it('an edit applied twice changes nothing the second time (idempotence)', () => {
    for (const c of CASES.filter((c) => !c.fails && c.after !== null)) {
      const edit = editor(c.module, c.args);
      // backrefs and replace may legitimately apply again on their own output; the rest must settle
      if (c.args.backrefs || c.module === 'replace') continue;
      assert.equal(edit(c.after!).changed, false, `${c.module}: ${c.name}`);
    }
  });
});

describe('Python regular expressions and templates', () => {
  it('translates named groups, backreferences, \\A, \\Z and leading flags', () => {
    assert.deepEqual({ ...pyRegex('(?P<k>a)(?P=k)').exec('aa')?.groups }, { k: 'a' });
    assert.ok(pyRegex('\\Aab\\Z').test('ab'));
    assert.ok(!pyRegex('\\Aab\\Z').test('xab'));
    assert.ok(!pyRegex('\\Aab\\Z').test('ab\n'), '\\Z is the very end, not before a final newline');
    assert.ok(pyRegex('(?i)abc').test('ABC'));
    assert.ok(pyRegex('\\\\A').test('\\A'), 'an escaped backslash is not \\A');
  });

  it('refuses what it cannot translate', () => {
    assert.throws(() => pyRegex('(?x) a b'), /inline flag/);
    assert.throws(() => pyRegex('a(?i)b'), /not supported/);
    assert.throws(() => pyRegex('(a'), /Unterminated group/);
  });

  it("expands Python's template syntax", () => {
    const m = /(?<k>\w+)=(\w+)(x)?/.exec('ab=cd')!;
    assert.equal(expand(parseTemplate('\\2-\\g<k>-\\g<2>-[\\3]\\t$1\\&'), m), 'cd-ab-cd-[]\t$1\\&');
    assert.equal(expand(parseTemplate('\\101\\0'), m), 'A\0', 'octal escapes');
    assert.throws(() => parseTemplate('\\q'), /bad escape/);
  });
});

describe('argument checks at load', () => {
  const refused = (mod: keyof typeof MODULES, args: Record<string, unknown>, re: RegExp) => {
    const r = MODULES[mod].schema.safeParse(args);
    assert.ok(!r.success, `${mod} ${JSON.stringify(args)} is refused`);
    assert.match(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), re);
  };
  it('lineinfile', () => {
    refused('lineinfile', { path: '/f', line: 'x', regexp: '(' }, /invalid regular expression '\('/);
    refused('lineinfile', { path: '/f', line: 'x', insertafter: 'a', insertbefore: 'b' }, /not both/);
    refused('lineinfile', { path: '/f', regexp: 'a', search_string: 'b', line: 'x' }, /not both/);
    refused('lineinfile', { path: '/f', regexp: 'a' }, /needs 'line'/);
    refused('lineinfile', { path: '/f', line: 'x', backrefs: true }, /needs 'regexp'/);
    refused('lineinfile', { path: '/f', state: 'absent' }, /one of 'line', 'regexp' or 'search_string'/);
    refused('lineinfile', { path: '/f', regexp: '(a)', line: '\\2', backrefs: true }, /invalid group reference 2/);
    refused('lineinfile', { path: '/f', dest: '/g', line: 'x' }, /only one of 'path', 'dest'/);
    refused('lineinfile', { line: 'x' }, /'path' is required/);
    refused('lineinfile', { path: '/f', line: 'x', validate: 'visudo -c' }, /%s/);
    refused('lineinfile', { path: '/f', line: 'x', bogus: 1 }, /bogus|[Uu]nrecognized/);
    assert.deepEqual(lineinfile.schema.parse({ dest: '/f', regex: 'a', value: 'b' }), {
      path: '/f', regexp: 'a', line: 'b', state: 'present', backup: false, backrefs: false, create: false, firstmatch: false,
    });
  });
  it('blockinfile', () => {
    refused('blockinfile', { path: '/f', marker: '# fixed' }, /marker lines must differ/);
    refused('blockinfile', { path: '/f', insertafter: '[' }, /invalid regular expression/);
    assert.equal((blockinfile.schema.parse({ name: '/f', content: 'x' }) as { block: string }).block, 'x');
  });
  it('replace', () => {
    refused('replace', { path: '/f' }, /^regexp: /);
    refused('replace', { path: '/f', regexp: 'a', replace: '\\1' }, /invalid group reference 1/);
    refused('replace', { path: '/f', regexp: 'a', after: '(' }, /invalid regular expression/);
  });
});
