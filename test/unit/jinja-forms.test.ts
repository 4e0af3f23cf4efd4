/** Jinja forms inside {{ }} and when: refused at load, with the JavaScript to write; JavaScript never refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conditionSyntaxError, templateSyntaxError } from '../../src/engine/expr.js';

const refusedWith = (s: string, js: string) => {
  const err = templateSyntaxError(s);
  assert.ok(err, `${s} is not refused`);
  assert.ok(err.includes(`write ${js}`), `${s}: ${err}`);
};
const condRefusedWith = (s: string, js: string) => {
  const err = conditionSyntaxError(s);
  assert.ok(err, `${s} is not refused`);
  assert.ok(err.includes(`write ${js}`), `${s}: ${err}`);
};

describe('Jinja forms in {{ }}: refused with the JavaScript', () => {
  it('filters', () => {
    refusedWith("{{ pkgs | join(',') }}", "pkgs.join(',')");
    refusedWith("{{ x | default('a') }}", "typeof x !== 'undefined' ? x : 'a'");
    refusedWith("{{ x.port | default(80) }}", "'port' in x ? x.port : 80");
    refusedWith("{{ x | default('a', true) }}", "x || 'a'");
    refusedWith('{{ x | d }}', "typeof x !== 'undefined' ? x : ''");
    refusedWith('{{ pkgs | length }}', 'pkgs.length');
    refusedWith('{{ port | int }}', 'parseInt(port, 10)');
    refusedWith('{{ flag | bool }}', "['yes', 'on', '1', 'true'].includes(String(flag).toLowerCase())");
    refusedWith('{{ cfg | to_json }}', 'JSON.stringify(cfg)');
    refusedWith('{{ cfg | to_nice_json }}', 'JSON.stringify(cfg, null, 4)');
    refusedWith('{{ name | upper }}', 'name.toUpperCase()');
    refusedWith('{{ name | lower }}', 'name.toLowerCase()');
    refusedWith('{{ name | trim }}', 'name.trim()');
    refusedWith("{{ users | map(attribute='name') | join(',') }}", 'users.map((i) => i.name)');
    refusedWith("{{ users | selectattr('role', 'equalto', 'db') | list }}", "users.filter((i) => i.role === 'db')");
    refusedWith("{{ a.b[0].c | replace('x', 'y') }}", "a.b[0].c.replaceAll('x', 'y')");
    refusedWith('{{ f(x) | unique }}', '[...new Set(f(x))]');
    refusedWith("{{ x | ansible.builtin.join(',') }}", "x.join(',')");
    refusedWith('prefix {{ host.name }} and {{ groups.web | first }}', 'groups.web[0]');
  });

  it('a filter with no JavaScript form, and any name called after |, is refused too', () => {
    assert.match(templateSyntaxError("{{ pw | password_hash('sha512') }}") ?? '', /Jinja filter.*\.j2 template/);
    assert.match(templateSyntaxError('{{ a | my_filter(1) }}') ?? '', /'a \| my_filter\(1\)' is a Jinja filter/);
  });

  it('tests and operators in when:', () => {
    condRefusedWith('x is defined', "typeof x !== 'undefined'");
    condRefusedWith('x is not defined', "typeof x === 'undefined'");
    condRefusedWith('x is undefined', "typeof x === 'undefined'");
    condRefusedWith('cfg.tls is defined', "('tls' in cfg)");
    condRefusedWith('x is none', 'x === null');
    condRefusedWith('a and b', 'a && b');
    condRefusedWith('a or b', 'a || b');
    condRefusedWith('not a', '!a');
    condRefusedWith('a and not b or c', 'a && !b || c');
    condRefusedWith('{{ pkgs | length > 0 }}', 'pkgs.length');
    assert.match(conditionSyntaxError("a ~ 'b'") ?? '', /'~' \(Jinja's concatenation\).*write \+/);
    assert.match(conditionSyntaxError("'a' if c else 'b'") ?? '', /write c \? a : b/);
  });
});

describe('JavaScript is never refused as Jinja', () => {
  for (const s of [
    "{{ 'a | join(b)' }}",
    '{{ "x | default(1)" }}',
    '{{ `${a} | upper` }}',
    '{{ a || b }}',
    '{{ a |= b }}',
    '{{ a | b }}',
    '{{ flags | 0x4 }}',
    '{{ /a|join(b)/.test(s) }}',
    '{{ x /2 | y }}',
    '{{ a.and + b.or }}',
    "{{ pkgs.join(',') }}",
    "{{ typeof x !== 'undefined' ? x : 'a' }}",
  ]) {
    it(s, () => assert.equal(templateSyntaxError(s), undefined));
  }
  for (const s of ['a && !b', 'a | mask', 'x === null || y', "typeof nginx !== 'undefined'", '{{ a | b }}']) {
    it(`when: ${s}`, () => assert.equal(conditionSyntaxError(s), undefined));
  }
  it('a plain syntax error is still reported as one', () => {
    assert.match(templateSyntaxError('{{ a + }}') ?? '', /^invalid expression \{\{ a \+ \}\}: /);
  });
});
