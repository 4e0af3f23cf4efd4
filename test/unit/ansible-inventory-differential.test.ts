/**
 * Differential test: `provision inventory list --json` against Debian's `ansible-inventory --list`
 * on a corpus of inventories in Ansible's documented styles. For every inventory both must agree
 * on the hosts, the groups, each group's members (direct or through children) and children, and
 * every host's merged variables (group_vars/ and host_vars/ included); for every refused inventory
 * both must refuse it (Ansible with ANSIBLE_INVENTORY_UNPARSED_FAILED), provision with exit 2 and
 * the same file:line where Ansible names one.
 * Deliberate differences (README, "Ansible inventories") are normalised here, each with its reason.
 * CI installs ansible (scripts/setup.sh): there a missing ansible-inventory fails the test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inventoryListJson } from '../../src/cli/inventory-list.js';
import { tmp } from '../helpers/fake.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const FIX = join(ROOT, 'test', 'fixtures', 'ansible-inventories');
const DIFF = join(FIX, 'differential');

/** Inventories both must read alike (paths under test/fixtures/ansible-inventories). */
const CORPUS = [
  'ini-site/hosts',
  'docs-ini/production',
  'docs-yaml/inventory.yml',
  'docs-yaml/nested.yaml',
  'dir',
  'differential/docs-ini/hosts',
  'differential/docs-yaml/inventory.yml',
  'differential/ini-scalars/hosts',
  'differential/yaml-scalars/inventory.yml',
  'differential/mixed-dir',
  'differential/precedence/hosts',
  'differential/late-children/hosts.ini',
  'differential/yaml-forms/inventory.yml',
  'differential/ini-forms/hosts',
];

/** Inventories both must refuse; `line` is the line both name (null: Ansible names none). */
const REFUSED: { file: string; line: number | null }[] = [
  { file: 'refused/undefined-child.ini', line: 8 },
  { file: 'refused/vars-only-child.ini', line: 4 },
  { file: 'refused/semicolon-section.ini', line: null },
  { file: 'refused/bad-date.yml', line: null },
  { file: 'refused/plain-equals.yml', line: null },
  { file: 'refused/child-all.yml', line: null },
];

const haveAnsible = spawnSync('ansible-inventory', ['--version'], { encoding: 'utf8' }).status === 0;
// CI installs ansible (scripts/setup.sh): there its absence is a failure, not a skip
const skip = !haveAnsible && !process.env.CI ? 'ansible-inventory is not installed (apt-get install ansible)' : false;

const home = tmp('prov-ansible-home-');
mkdirSync(join(home, 'tmp'));
/** Ansible without any user or machine configuration, writing only to a temporary directory. */
function ansibleInventory(path: string) {
  return spawnSync('ansible-inventory', ['-i', path, '--list'], {
    cwd: home,
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      ANSIBLE_CONFIG: join(home, 'none.cfg'),
      ANSIBLE_HOME: home,
      ANSIBLE_LOCAL_TEMP: join(home, 'tmp'),
      ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true',
      // provision reads inventory directories as ansible-core 2.19, which no longer skips .ini
      // files there; Debian 12's 2.14 does by default (deliberate: README)
      ANSIBLE_INVENTORY_IGNORE: '.pyc,.pyo,.swp,.bak,~,.rpm,.md,.txt,.rst,.orig,.cfg,.retry',
      ANSIBLE_NOCOLOR: '1',
      LC_ALL: 'C.UTF-8',
    },
  });
}

function provision(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'inventory', 'list', ...args, '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Ansible's JSON writes YAML's .inf/.nan as bare Infinity/NaN, which is not JSON; provision's
 * --json shows them as the strings "Infinity", "-Infinity", "NaN" (deliberate: README). Outside
 * strings, those words become the same strings here.
 */
function parseAnsibleJson(text: string): unknown {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    const word = /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9));
    if (word) {
      out += `"${word[1]}"`;
      i += word[1].length - 1;
      continue;
    }
    out += c;
  }
  return JSON.parse(out);
}

/** The common shape both outputs are mapped to. */
interface Shape {
  hosts: string[];
  /** group -> sorted members (direct or through children) and sorted direct children. */
  groups: Record<string, { members: string[]; children: string[] }>;
  vars: Record<string, Record<string, unknown>>;
}

/** A timestamp as ansible-inventory prints it (ISO form, with T). */
const ISO_TIMESTAMP = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d(?:\.\d{6})?(?:[+-]\d\d:\d\d)?)$/;
/**
 * Ansible holds a YAML timestamp as a datetime, which ansible-inventory prints in ISO form
 * (2024-01-02T10:00:00) and templates render with a space (2024-01-02 10:00:00); provision keeps
 * the text templates render (deliberate: README). No string in the corpus has the ISO form.
 */
function normaliseAnsibleValue(v: unknown): unknown {
  // an !unsafe string is printed as {"__ansible_unsafe": TEXT}: the value is TEXT (provision
  // reads !unsafe values without {{ }}, and refuses those with them: README)
  if (isUnsafe(v)) return v.__ansible_unsafe;
  if (typeof v === 'string') {
    const m = ISO_TIMESTAMP.exec(v);
    return m ? `${m[1]} ${m[2]}` : v;
  }
  if (Array.isArray(v)) return v.map(normaliseAnsibleValue);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normaliseAnsibleValue(x)]));
  return v;
}

function isUnsafe(v: unknown): v is { __ansible_unsafe: string } {
  return typeof v === 'object' && v !== null && Object.keys(v).length === 1 && '__ansible_unsafe' in v;
}

type AnsibleList = Record<string, { hosts?: string[]; children?: string[] }> & { _meta: { hostvars: Record<string, Record<string, unknown>> } };

function ansibleShape(list: AnsibleList): Shape {
  const direct = new Map<string, { hosts: string[]; children: string[] }>();
  const visit = (g: string) => {
    if (direct.has(g)) return;
    const d = list[g] ?? {};
    direct.set(g, { hosts: d.hosts ?? [], children: d.children ?? [] });
    for (const c of d.children ?? []) visit(c);
  };
  visit('all');
  const members = (g: string): Set<string> => {
    const d = direct.get(g)!;
    return new Set([...d.hosts, ...d.children.flatMap((c) => [...members(c)])]);
  };
  const hosts = [...members('all')].sort();
  const groups: Shape['groups'] = {};
  for (const [g, d] of direct) groups[g] = { members: [...members(g)].sort(), children: [...d.children].sort() };
  const vars: Shape['vars'] = {};
  for (const h of hosts) vars[h] = normaliseAnsibleValue(list._meta.hostvars[h] ?? {}) as Record<string, unknown>;
  return { hosts, groups, vars };
}

interface ProvisionList {
  hosts: { name: string }[];
  groups: { name: string; hosts: string[]; children: string[] }[];
  vars?: { variables: Record<string, { value: unknown }> };
}

/**
 * provision's listing: the CLI once (`--json --vars` the first host), then the same document for
 * every other host from inventoryListJson in this process (what the CLI prints; a process per host
 * would take seconds per inventory), checked equal to the CLI's for the first host.
 */
function provisionShape(path: string): Shape {
  const first = provision(['-i', path]);
  assert.equal(first.code, 0, `provision refused ${path}: ${first.stderr}`);
  const list = JSON.parse(first.stdout) as ProvisionList;
  const hosts = list.hosts.map((h) => h.name).sort();
  const groups: Shape['groups'] = {};
  for (const g of list.groups) groups[g.name] = { members: [...g.hosts].sort(), children: [...g.children].sort() };
  const cli = provision(['-i', path, '--vars', hosts[0]]);
  assert.equal(cli.code, 0, cli.stderr);
  const vars: Shape['vars'] = {};
  for (const h of hosts) {
    const doc = JSON.parse(inventoryListJson({ inventory: path, vars: h }, ROOT).text) as ProvisionList;
    if (h === hosts[0]) assert.deepEqual(doc, JSON.parse(cli.stdout), 'the CLI prints the same document');
    vars[h] = Object.fromEntries(Object.entries(doc.vars!.variables).map(([k, e]) => [k, e.value]));
  }
  return { hosts, groups, vars };
}

describe('provision inventory list agrees with ansible-inventory --list', { skip }, () => {
  it('ansible-inventory is installed (CI installs it with scripts/setup.sh)', () => {
    assert.ok(haveAnsible, 'ansible-inventory is missing: run PROVISION_SETUP_TEST_DEBS=1 bash scripts/setup.sh (Debian package ansible)');
  });

  for (const rel of CORPUS) {
    it(rel, () => {
      const path = join(FIX, rel);
      const a = ansibleInventory(path);
      assert.equal(a.status, 0, `ansible-inventory failed on ${rel}: ${a.stderr}`);
      const want = ansibleShape(parseAnsibleJson(a.stdout) as AnsibleList);
      const got = provisionShape(path);
      assert.deepEqual(got.hosts, want.hosts, 'hosts');
      assert.deepEqual(got.groups, want.groups, 'groups: members and children');
      for (const h of want.hosts) assert.deepEqual(got.vars[h], want.vars[h], `variables of ${h}`);
    });
  }

  for (const { file, line } of REFUSED) {
    it(`both refuse ${file}`, () => {
      const path = join(DIFF, file);
      const a = ansibleInventory(path);
      assert.notEqual(a.status, 0, `ansible-inventory read ${file}: ${a.stdout}`);
      const p = provision(['-i', path]);
      assert.equal(p.code, 2, p.stderr);
      assert.ok(!p.stderr.includes('    at '), 'no stack trace');
      const where = new RegExp(`${file.replace(/[.]/g, '\\.')}:(\\d+):\\d+: `);
      const m = where.exec(p.stderr);
      assert.ok(m, `provision names file:line:col: ${p.stderr}`);
      if (line !== null) {
        // Ansible wraps its messages at 80 columns (between words or after a hyphen)
        assert.match(a.stderr.replace(/\n/g, ''), new RegExp(`${basename(file).replace(/[.]/g, '\\.')}:${line}: `), `Ansible names line ${line}: ${a.stderr}`);
        assert.equal(Number(m[1]), line, 'the same line as Ansible');
      }
    });
  }
});

