/**
 * The filters and tests of .j2 templates, rendered through Scope.template, against the outputs
 * Ansible and Jinja2 document (and Python computes: json.dumps, yaml.dump, shlex.quote).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ExpressionError, Scope } from '../../src/engine/expr.js';

const vars = {
  users: [
    { name: 'alice', role: 'admin', active: true },
    { name: 'bob', role: 'dev', active: false, shell: '/bin/zsh' },
  ],
  pkgs: ['nginx', 'curl'],
  empty: '',
};
const scope = new Scope(vars, { secret: (n: string) => `real-${n}` }, {});
const j2 = (src: string): string => scope.template(src, 'templates/t.j2');
const fails = (src: string, re: RegExp) => assert.throws(() => j2(src), (e: unknown) => e instanceof Error && re.test(e.message), src);

describe('.j2 filters: Ansible semantics', () => {
  it('default/d: undefined only, or falsy with true', () => {
    assert.equal(j2("{{ nope | default('x') }}"), 'x');
    assert.equal(j2("{{ nope | d('x') }}"), 'x');
    assert.equal(j2("{{ users[0].nope | default('x') }}"), 'x');
    assert.equal(j2("{{ nope.deeper | default('x') }}"), 'x');
    assert.equal(j2("[{{ empty | default('x') }}]"), '[]', 'a defined empty string stays');
    assert.equal(j2("{{ empty | default('x', true) }}"), 'x');
    assert.equal(j2("{{ empty | default('x', boolean=true) }}"), 'x');
    assert.equal(j2('{{ pkgs | default([]) | length }}'), '2');
  });

  it('join, map, selectattr, rejectattr, select with tests', () => {
    assert.equal(j2("{{ pkgs | join(',') }}"), 'nginx,curl');
    assert.equal(j2('{{ [1, 2] | join }}'), '12');
    assert.equal(j2("{{ users | map(attribute='name') | join(', ') }}"), 'alice, bob');
    assert.equal(j2("{{ pkgs | map('upper') | list }}"), "['NGINX', 'CURL']");
    assert.equal(j2("{{ users | selectattr('active') | map(attribute='name') | list }}"), "['alice']");
    assert.equal(j2("{{ users | rejectattr('active') | map(attribute='name') | list }}"), "['bob']");
    assert.equal(j2("{{ users | selectattr('role', 'equalto', 'dev') | map(attribute='name') | first }}"), 'bob');
    assert.equal(j2("{{ users | selectattr('shell', 'defined') | map(attribute='name') | list }}"), "['bob']");
    assert.equal(j2("{{ users | rejectattr('shell', 'defined') | map(attribute='name') | list }}"), "['alice']");
    assert.equal(j2("{{ [1, 2, 3, 4] | select('odd') | list }}"), '[1, 3]');
    assert.equal(j2("{{ ['a', 'b', 'c'] | select('in', ['a', 'c']) | list }}"), "['a', 'c']");
    assert.equal(j2("{{ users | map(attribute='shell', default='/bin/sh') | list }}"), "['/bin/sh', '/bin/zsh']");
    fails("{{ users | map(attribute='shell') | list }}", /templates\/t\.j2:1: map: item has no attribute 'shell'/);
  });

  it('to_json (Python json.dumps), to_nice_json (indent 4, sorted keys)', () => {
    assert.equal(j2("{{ {'a': 1, 'b': 'é', 'c': [true, none]} | to_json }}"), '{"a": 1, "b": "\\u00e9", "c": [true, null]}');
    assert.equal(j2("{{ {'b': 1, 'a': [1, 2]} | to_nice_json }}"), '{\n    "a": [\n        1,\n        2\n    ],\n    "b": 1\n}');
    assert.equal(j2("{{ {'b': 1} | to_nice_json(indent=2) }}"), '{\n  "b": 1\n}');
    assert.equal(j2('{{ [] | to_nice_json }}'), '[]');
  });

  it('to_yaml (PyYAML: sorted keys, collections of scalars in flow style), to_nice_yaml (block style)', () => {
    assert.equal(j2("{{ {'b': [1, 2], 'a': {'x': 'v', 'z': [{'k': 1}]} } | to_yaml }}"), 'a:\n  x: v\n  z:\n  - {k: 1}\nb: [1, 2]\n');
    assert.equal(j2("{{ {'b': 'two', 'a': 1} | to_nice_yaml }}"), 'a: 1\nb: two\n');
    // YAML 1.1 as PyYAML: strings that a 1.1 reader would take for booleans or numbers are quoted
    assert.deepEqual(parse(j2("{{ {'a': 'yes', 'b': 'on', 'c': '1', 'd': 'null', 'e': true} | to_yaml }}"), { version: '1.1' }), { a: 'yes', b: 'on', c: '1', d: 'null', e: true });
    // (lists: the same items; their indentation may differ from PyYAML's, see README)
    assert.deepEqual(parse(j2("{{ {'b': [1, {'c': 2}]} | to_nice_yaml }}")), { b: [1, { c: 2 }] });
  });

  it('regex_replace and regex_search (Python syntax: \\1, \\g<name>, (?P<name>))', () => {
    assert.equal(j2("{{ 'ansible' | regex_replace('^a.*i(.*)$', 'a\\\\1') }}"), 'able');
    assert.equal(j2("{{ 'foobar' | regex_replace('^f.*o(.*)$', '\\\\1') }}"), 'bar');
    assert.equal(j2("{{ 'localhost:80' | regex_replace('^(?P<host>.+):(?P<port>\\\\d+)$', '\\\\g<host>, \\\\g<port>') }}"), 'localhost, 80');
    assert.equal(j2("{{ 'ANSIBLE' | regex_replace('ansible', 'x', ignorecase=true) }}"), 'x');
    assert.equal(j2("{{ 'a-b-c' | regex_replace('-', '+', count=1) }}"), 'a+b-c');
    assert.equal(j2("{{ 'a-b' | regex_replace('-', '+', mandatory_count=1) }}"), 'a+b');
    fails("{{ 'a-b-c' | regex_replace('-', '+', mandatory_count=1) }}", /'-' should match 1 times, but matches 2 times in 'a-b-c'/);
    assert.equal(j2("{{ 'cost 5' | regex_replace('5', '$6') }}"), 'cost $6', 'a $ in the replacement is literal');
    assert.equal(j2("{{ 'server1/database42' | regex_search('database[0-9]+') }}"), 'database42');
    assert.equal(j2("{{ 'server1/database42' | regex_search('server([0-9]+)/database([0-9]+)', '\\\\1', '\\\\2') }}"), "['1', '42']");
    assert.equal(j2("{{ 'ansible' | regex_search('foobar') is none }}"), 'True');
  });

  it('b64encode/b64decode (UTF-8), mandatory', () => {
    assert.equal(j2("{{ 'ansible' | b64encode }}"), 'YW5zaWJsZQ==');
    assert.equal(j2("{{ 'YW5zaWJsZQ==' | b64decode }}"), 'ansible');
    assert.equal(j2("{{ 'é' | b64encode | b64decode }}"), 'é');
    assert.equal(j2('{{ pkgs | mandatory | length }}'), '2');
    fails('a\n{{ nope | mandatory }}', /templates\/t\.j2:2: Mandatory variable 'nope' not defined\./);
    fails("{{ nope | mandatory('set nope first') }}", /set nope first/);
  });

  it('bool (yes/on/1/true), int, ternary', () => {
    assert.equal(j2("{{ 'yes' | bool }} {{ 'On' | bool }} {{ '1' | bool }} {{ 'TRUE' | bool }} {{ 1 | bool }}"), 'True True True True True');
    assert.equal(j2("{{ 'no' | bool }} {{ 'off' | bool }} {{ '0' | bool }} {{ 'maybe' | bool }} {{ 0 | bool }} {{ none | bool }}"), 'False False False False False False');
    assert.equal(j2("{{ '42' | int + 1 }} {{ '3.7' | int }} {{ 'abc' | int }} {{ 'abc' | int(5) }} {{ '0x1A' | int(base=16) }} {{ true | int }}"), '43 3 0 5 26 1');
    assert.equal(j2("{{ true | ternary('yes', 'no') }} {{ [] | ternary('yes', 'no') }} {{ none | ternary('a', 'b', 'c') }}"), 'yes no c');
  });

  it('dict2items and items2dict', () => {
    assert.equal(j2("{{ {'a': 1, 'b': 2} | dict2items }}"), "[{'key': 'a', 'value': 1}, {'key': 'b', 'value': 2}]");
    assert.equal(j2("{{ {'a': 1} | dict2items(key_name='k', value_name='v') }}"), "[{'k': 'a', 'v': 1}]");
    assert.equal(j2("{{ [{'key': 'a', 'value': 1}] | items2dict }}"), "{'a': 1}");
    assert.equal(j2("{{ [{'n': 'a', 'v': 1}] | items2dict(key_name='n', value_name='v') }}"), "{'a': 1}");
    fails('{{ [1] | dict2items }}', /dict2items requires a dictionary, got list instead/);
  });

  it('unique (case-insensitive by default, as Ansible calls Jinja2), flatten, combine', () => {
    assert.equal(j2("{{ ['a', 'A', 1, 2, 2] | unique }}"), "['a', 1, 2]");
    assert.equal(j2("{{ ['a', 'A'] | unique(case_sensitive=true) }}"), "['a', 'A']");
    assert.equal(j2('{{ [1, [2, [3, none]], 4] | flatten }}'), '[1, 2, 3, 4]');
    assert.equal(j2('{{ [1, [2, [3]]] | flatten(levels=1) }}'), '[1, 2, [3]]');
    assert.equal(j2("{{ {'a': 1, 'b': 2} | combine({'b': 3}) }}"), "{'a': 1, 'b': 3}");
    assert.equal(
      j2("{{ {'a': {'foo': 1, 'bar': 2}, 'b': 2} | combine({'a': {'bar': 3, 'baz': 4} }, recursive=true) }}"),
      "{'a': {'foo': 1, 'bar': 3, 'baz': 4}, 'b': 2}",
    );
    assert.equal(j2("{{ {'a': [1]} | combine({'a': [2]}, list_merge='append') }}"), "{'a': [1, 2]}");
  });

  it('quote (shlex.quote), basename, dirname (os.path)', () => {
    assert.equal(j2("{{ 'abc/def-1.txt' | quote }}"), 'abc/def-1.txt');
    assert.equal(j2("{{ \"it's here\" | quote }}"), `'it'"'"'s here'`);
    assert.equal(j2("{{ '' | quote }}"), "''");
    assert.equal(j2("{{ '/etc/asdf/foo.txt' | basename }} {{ '/etc/asdf/foo.txt' | dirname }}"), 'foo.txt /etc/asdf');
    assert.equal(j2("[{{ '/etc/asdf/' | basename }}] {{ '/etc' | dirname }} [{{ 'foo' | dirname }}]"), '[] / []');
  });

  it('password_hash: SHA-512 crypt computed on the controller, as openssl passwd -6', () => {
    const h = j2("{{ 'secret' | password_hash('sha512', 'mysalt') }}");
    const ref = spawnSync('openssl', ['passwd', '-6', '-salt', 'mysalt', 'secret'], { encoding: 'utf8' });
    assert.equal(ref.status, 0, ref.stderr);
    assert.equal(h, ref.stdout.trim());
    assert.match(j2("{{ 'secret' | password_hash('sha512') }}"), /^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/, 'a random salt of 16 characters');
    assert.equal(j2("{{ 'Hello world!' | password_hash('sha512', 'saltstringsaltst', rounds=10000) }}").slice(0, 33), '$6$rounds=10000$saltstringsaltst$');
    fails("{{ 'x' | password_hash('sha512', 'bad salt!') }}", /salt may only contain/);
    fails("{{ 'x' | password_hash('md5') }}", /hash type 'md5' is not supported/);
  });

  it('Python printing: True/None/lists/dicts, ~ concatenation, string methods, dict.items()', () => {
    assert.equal(j2('{{ true }} {{ none }} {{ pkgs }} {{ users[0] }}'), "True None ['nginx', 'curl'] {'name': 'alice', 'role': 'admin', 'active': True}");
    assert.equal(j2("{{ 'x' ~ true ~ 1 }}"), 'xTrue1');
    assert.equal(j2("{{ 'a,b'.split(',') }} {{ 'Web'.upper() }} {{ 'web01'.startswith('web') }}"), "['a', 'b'] WEB True");
    assert.equal(j2("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), 'a=1;b=2;');
    assert.equal(j2('{% for p in pkgs %}\n{{ loop.index }} {{ p }}\n{% endfor %}\n'), '1 nginx\n2 curl\n', 'trim_blocks, as Ansible');
  });

  it('tests: defined/undefined (also of attributes), none, match/search', () => {
    assert.equal(j2('{{ nope is defined }} {{ pkgs is defined }} {{ nope is undefined }} {{ users[0].shell is defined }} {{ nope.x is not defined }}'), 'False True True False True');
    assert.equal(j2("{{ 'web01' is match('web') }} {{ 'xweb' is match('web') }} {{ 'xweb' is search('web') }}"), 'True False True');
  });

  it('secret() is a function in .j2 templates', () => {
    assert.equal(j2("pw={{ secret('db') }}"), 'pw=real-db');
  });

  it('errors are ExpressionErrors naming file:line', () => {
    assert.throws(() => j2("a\n\n{{ 'x' | int(base=99) | nosuchfilter }}"), (e: unknown) => e instanceof ExpressionError && /^template templates\/t\.j2:3: /.test(e.message));
  });
});
