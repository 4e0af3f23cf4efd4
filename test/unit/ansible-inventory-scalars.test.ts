/**
 * Scalars and sections of Ansible inventories read exactly as ansible-core 2.14 (Debian 12) reads
 * them, each case checked against `ansible-inventory --list` when it was written (the
 * differential test re-checks the corpus in CI): PyYAML's YAML 1.1 types, comments after INI
 * values, `#` in host lines, [x:children] naming undefined groups, ansible_group_priority.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inventoryListJson } from '../../src/cli/inventory-list.js';
import { loadInventory, type Inventory } from '../../src/load/inventory.js';
import { pyLiteral, shlexSplit } from '../../src/load/ansible/pyliteral.js';
import { pythonTimestamp } from '../../src/load/ansible/pyyaml-tags.js';
import { ConfigError } from '../../src/load/yaml.js';
import { tmp } from '../helpers/fake.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

function write(name: string, text: string, dir = tmp('prov-ascalar-')): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}
const load = (path: string): Inventory => loadInventory(path, ROOT, false, () => {});
function refusal(path: string): string {
  try {
    load(path);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
  return assert.fail('expected a ConfigError');
}
/** The variables of h1 in a one-host YAML inventory with these lines as its variables. */
function yamlVars(lines: string[]): Record<string, unknown> {
  const text = `all:\n  hosts:\n    h1:\n${lines.map((l) => `      ${l}\n`).join('')}`;
  return load(write('inv.yml', text)).hosts.get('h1')!.vars;
}

describe("YAML inventories: PyYAML's YAML 1.1 scalars", () => {
  it('e1, e3, 1e3 are strings (a YAML 1.1 float needs a dot and a signed exponent)', () => {
    const v = yamlVars(['e1: a', 'e3: b', 'E5: c', 'x_e1: e1', 'x_1e3: 1e3', 'x_15e3: 1.5e3', 'x_15ep3: 1.5e+3', 'x_upper: 1.5E-3', 'x_dot: 1.e+2']);
    assert.deepEqual(
      { e1: v.e1, e3: v.e3, E5: v.E5, NaN: v.NaN },
      { e1: 'a', e3: 'b', E5: 'c', NaN: undefined },
      'no key collapses into "NaN"',
    );
    assert.equal(v.x_e1, 'e1');
    assert.equal(v.x_1e3, '1e3');
    assert.equal(v.x_15e3, '1.5e3');
    assert.equal(v.x_15ep3, 1500);
    assert.equal(v.x_upper, 0.0015);
    assert.equal(v.x_dot, 100);
  });

  it('booleans, nulls and integers as PyYAML', () => {
    const v = yamlVars([
      'b1: yes', 'b2: Off', 'b3: y', 'b4: n', 'b5: TRUE', 'b6: tRue',
      'n1: ~', 'n2: Null', 'n3:', 'n4: nULL',
      'i1: 0755', 'i2: 0o755', 'i3: 0789', 'i4: 0xFF', 'i5: 0XFF', 'i6: 0b1010', 'i7: 1_000', 'i8: +12', 'i9: -0', 'i10: 190:20:30', 'i11: 08',
      'f1: 1:30.5', 'f2: 5.', 'f3: .25', 'f4: -.25', 'f5: .inf', 'f6: -.INF', 'f7: .NaN', 'f8: 1.10', 'f9: 1.10.3',
    ]);
    assert.deepEqual([v.b1, v.b2, v.b3, v.b4, v.b5, v.b6], [true, false, 'y', 'n', true, 'tRue']);
    assert.deepEqual([v.n1, v.n2, v.n3, v.n4], [null, null, null, 'nULL']);
    assert.deepEqual([v.i1, v.i2, v.i3, v.i4, v.i5, v.i6, v.i7, v.i8, v.i9, v.i10, v.i11], [493, '0o755', '0789', 255, '0XFF', 10, 1000, 12, 0, 685230, '08']);
    assert.deepEqual([v.f1, v.f2, v.f3, v.f4, v.f5, v.f6, v.f8, v.f9], [90.5, 5, 0.25, '-.25', Infinity, -Infinity, 1.1, '1.10.3']);
    assert.ok(Number.isNaN(v.f7));
  });

  it('dates and timestamps become the text Ansible templates render', () => {
    const v = yamlVars(['d: 2024-01-02', 'd_short: 2024-1-2', 't: 2024-01-02 10:00:00', 't_z: 2001-12-14T21:59:43Z', 't_off: 2001-12-14t21:59:43.10-05:00', 't_frac: 2001-12-14 21:59:43.1234567 +5', 't_short: 2024-1-2 3:04:05', 'q: "2024-01-02"']);
    assert.equal(v.d, '2024-01-02');
    assert.equal(v.d_short, '2024-1-2', 'a date alone needs two-digit months and days');
    assert.equal(v.t, '2024-01-02 10:00:00');
    assert.equal(v.t_z, '2001-12-14 21:59:43+00:00');
    assert.equal(v.t_off, '2001-12-14 21:59:43.100000-05:00');
    assert.equal(v.t_frac, '2001-12-14 21:59:43.123456+05:00');
    assert.equal(v.t_short, '2024-01-02 03:04:05');
    assert.equal(v.q, '2024-01-02');
    assert.equal(pythonTimestamp('2024-02-29'), '2024-02-29');
    assert.equal(pythonTimestamp('2001-01-01 00:00:00.0 -0'), '2001-01-01 00:00:00+00:00');
    assert.throws(() => pythonTimestamp('2023-02-29'), /invalid date/);
  });

  it('merge keys and anchors are read; keys that PyYAML would type keep their text', () => {
    const v = yamlVars(['base: &b { retries: 3, delay: 1.5 }', 'merged:', '  <<: *b', '  delay: 2', 'm:', '  yes: boolkey', '  3: intkey']);
    assert.deepEqual(v.merged, { retries: 3, delay: 2 });
    assert.deepEqual(v.m, { true: 'boolkey', 3: 'intkey' });
  });

  it('what PyYAML cannot build is refused with its file:line:col, as Ansible refuses the file', () => {
    const dir = tmp('prov-ascalar-');
    assert.match(refusal(write('a.yml', 'all:\n  hosts:\n    h1:\n      day: 2024-02-30\n', dir)), /a\.yml:4:12: .*invalid date '2024-02-30'/);
    assert.match(refusal(write('b.yml', 'all:\n  hosts:\n    h1:\n      sign: =\n', dir)), /b\.yml:4:13: .*plain '=' cannot be read/);
    assert.match(refusal(write('c.yml', 'all:\n  hosts:\n    h1:\n      big: 123456789012345678901234567890\n', dir)), /c\.yml:4:12: .*too large for provision to hold exactly/);
    assert.equal(yamlVars(['big: 9007199254740991']).big, Number.MAX_SAFE_INTEGER);
  });

  it('!unsafe: its text when it has no template marks; with {{ }} refused (Ansible never evaluates it, provision would)', () => {
    assert.equal(yamlVars(['u: !unsafe "plain text"']).u, 'plain text');
    const msg = refusal(write('inv.yml', 'all:\n  hosts:\n    h1:\n      u: !unsafe "{{ not a template }}"\n'));
    assert.match(msg, /inv\.yml:4:18: an !unsafe value with \{\{ \}\}, \{% %\} or \{# #\} is not supported/);
  });

  it('group_vars files are read the same way', () => {
    const dir = tmp('prov-ascalar-');
    write('group_vars/all.yml', 'e1: from-group-vars\nv: 1e3\n', dir);
    const inv = load(write('hosts', '[web]\nw1\n', dir));
    assert.deepEqual(inv.hosts.get('w1')!.vars, { e1: 'from-group-vars', v: '1e3' });
  });
});

describe('INI inventories: comments and Python literals', () => {
  it('a value that is a Python literal followed by a comment is the literal (ast.literal_eval)', () => {
    assert.equal(pyLiteral('False # note'), false);
    assert.equal(pyLiteral('17 # LTS'), 17);
    assert.equal(pyLiteral("'single' # comment"), 'single');
    assert.deepEqual(pyLiteral('[1, # one\n 2]'), [1, 2]);
    assert.equal(pyLiteral('hello world # note'), 'hello world # note', 'not a literal: the text, comment and all');
    assert.equal(pyLiteral('"quoted # inside"'), 'quoted # inside');
    assert.equal(pyLiteral('http://example.com/#x'), 'http://example.com/#x');
  });

  it('an integer beyond 2^53 is refused with file:line:col (Python holds it exactly, a JavaScript number would not)', () => {
    const msg = refusal(write('hosts', '[app]\napp1 serial=12345678901234567890\n[app:vars]\nbig = [1, 0x7fffffffffffffffff] # ids\n'));
    assert.match(msg, /hosts:2:6: the integer 12345678901234567890 is too large for provision to hold exactly \(more than 2\^53\): to keep it as a string, quote it twice on a host line \(serial='"\.\.\."'\)/);
    assert.match(msg, /hosts:4:1: the integer 0x7fffffffffffffffff is too large/);
    assert.equal(pyLiteral('12345678901234567890 apples'), '12345678901234567890 apples', 'not a literal: the text');
    assert.equal(pyLiteral('-9007199254740991'), -Number.MAX_SAFE_INTEGER);
  });

  it('a host line is split as shlex.split(comments=True): an unquoted # ends the line, even inside a word', () => {
    const texts = (line: string) => {
      const t = shlexSplit(line);
      assert.ok(Array.isArray(t));
      return t.map((x) => x.text);
    };
    assert.deepEqual(texts('h1 a=x#y b=1'), ['h1', 'a=x']);
    assert.deepEqual(texts('h1 a="x#y" b=1 # c'), ['h1', 'a=x#y', 'b=1']);
    assert.deepEqual(texts("h1 a='#' b=\\#"), ['h1', 'a=#', 'b=#']);
  });

  it('[group:vars] values drop a comment only where the rest is a literal; host lines always drop it', () => {
    const inv = load(
      write('hosts', '[app]\napp1 c=False # note\napp2 s="a # b" t=x#y u=1\n[app:vars]\nhas_java = False # note\nplain = hello world # note\nport = 8080 # http\n'),
    );
    const a1 = inv.hosts.get('app1')!.vars;
    assert.equal(a1.has_java, false);
    assert.equal(a1.plain, 'hello world # note');
    assert.equal(a1.port, 8080);
    assert.equal(a1.c, false);
    const a2 = inv.hosts.get('app2')!.vars;
    assert.equal(a2.s, 'a # b');
    assert.equal(a2.t, 'x');
    assert.equal(a2.u, undefined, 'after the # of x#y: a comment');
  });

  it('only # starts a comment after a section header or a child group name (as Ansible)', () => {
    const ok = load(write('hosts', '[web] # the web servers\nw1\n[site:children]  # all of them\nweb # the only child\n'));
    assert.deepEqual(ok.groups.get('site'), ['w1']);
    assert.match(refusal(write('hosts', '[web] ; the web servers\nw1\n')), /hosts:1:1: invalid section header '\[web\] ; the web servers'/);
    assert.match(refusal(write('hosts', '[web]\nw1\n[site:children]\nweb ; c\n')), /hosts:4:1: expected one group name per line in \[site:children\]/);
  });
});

describe('INI inventories: [x:children] names only defined groups', () => {
  it('a child group never defined is refused with file:line:col (Ansible: "includes undefined group")', () => {
    const msg = refusal(write('hosts', '[web]\nw1\n\n[site:children]\nweb\nnosuch\n'));
    assert.match(msg, /hosts:6:1: \[site:children\] names group 'nosuch', which is not defined in .*hosts \(define it with a \[nosuch\] or \[nosuch:children\] section\)/);
  });

  it('a child group defined later in the file, by [x] or [x:children], is fine', () => {
    const inv = load(write('hosts', '[site:children]\nweb\nbackends\n[web]\nw1\n[backends:children]\ndb\n[db]\nd1\n'));
    assert.deepEqual(inv.groups.get('site'), ['w1', 'd1']);
    assert.deepEqual(inv.groups.get('backends'), ['d1']);
  });

  it('a group with only a [x:vars] section is not defined: listing it as a child is refused', () => {
    const msg = refusal(write('hosts', '[web]\nw1\n[only:vars]\nx=1\n[site:children]\nweb\nonly\n'));
    assert.match(msg, /hosts:3:1: section \[only:vars\] is for a group that is not defined/);
    assert.match(msg, /hosts:7:1: \[site:children\] names group 'only'/);
  });

  it('a group of an earlier file of an inventory directory counts as defined, as in Ansible', () => {
    const dir = tmp('prov-ascalar-');
    write('inv/01-web.yml', 'all:\n  children:\n    web:\n      hosts:\n        w1:\n', dir);
    write('inv/02-site', '[site:children]\nweb\n', dir);
    assert.deepEqual(load(join(dir, 'inv')).groups.get('site'), ['w1']);
  });
});

describe('ansible_group_priority', () => {
  it('in the inventory it orders groups and is not a variable (Ansible: Group.set_variable); in group_vars it is a variable', () => {
    const dir = tmp('prov-ascalar-');
    write('group_vars/low.yml', 'from_file: low\nansible_group_priority: 99\n', dir);
    const inv = load(write('hosts', '[low]\nh1\n[high]\nh1\n[low:vars]\nansible_group_priority=10\nv=low\n[high:vars]\nansible_group_priority=20\nv=high\n', dir));
    const v = inv.hosts.get('h1')!.vars;
    assert.equal(v.v, 'high');
    assert.equal(v.ansible_group_priority, 99, 'only the group_vars/ value is a variable');
    const none = load(write('hosts', '[low]\nh1\n[low:vars]\nansible_group_priority=10\n'));
    assert.ok(!('ansible_group_priority' in none.hosts.get('h1')!.vars));
  });
});

describe('inventory list --json', () => {
  it('shows .inf and .nan as strings (JSON has no such numbers), not as null', () => {
    const path = write('inv.yml', 'all:\n  hosts:\n    h1:\n      up: .inf\n      down: -.inf\n      nan: .nan\n');
    const doc = JSON.parse(inventoryListJson({ inventory: path, vars: 'h1' }, ROOT).text) as { vars: { variables: Record<string, { value: unknown }> } };
    const values = Object.fromEntries(Object.entries(doc.vars.variables).map(([k, e]) => [k, e.value]));
    assert.deepEqual(values, { up: 'Infinity', down: '-Infinity', nan: 'NaN' });
  });
});
