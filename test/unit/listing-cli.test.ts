/**
 * --list-hosts, --list-tasks, --list-tags and --start-at-task through the built CLI
 * (node bin/provision.js), on a small project (a role, a block with rescue and always, an
 * import_tasks, a dynamic include_tasks, tags), compared with what Debian's ansible-playbook
 * prints and runs for the same files. CI installs ansible (scripts/setup.sh): there a missing
 * ansible-playbook fails the test; elsewhere only the comparisons are skipped.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { tmp } from '../helpers/fake.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');

const project = tmp('prov-listing-');
const files: Record<string, string> = {
  'inv.ini': ['dead ansible_host=127.0.0.1 ansible_port=1', '[web]', 'w1 ansible_host=127.0.0.1 ansible_port=1', 'w2 ansible_host=127.0.0.1 ansible_port=1', '[db]', 'd1 ansible_host=127.0.0.1 ansible_port=1', ''].join('\n'),
  'roles/web/tasks/main.yml': '- name: install nginx\n  debug: msg=install\n  tags: [pkg]\n- name: configure\n  debug: msg=configure\n',
  'tasks/extra.yml': '- name: extra one\n  debug: msg=extra\n  tags: [extra]\n',
  'tasks/dyn.yml': '- name: dyn one\n  debug: msg=dyn\n',
  'site.yml': `- name: first play
  hosts: web
  gather_facts: false
  roles:
    - role: web
      tags: [webrole]
  tasks:
    - name: a block
      block:
        - name: in block
          debug: msg=b
          tags: [inblock]
      rescue:
        - name: in rescue
          debug: msg=r
      always:
        - name: in always
          debug: msg=a
      tags: [blk]
    - import_tasks: tasks/extra.yml
      tags: [imp]
    - name: dynamic include
      include_tasks: tasks/dyn.yml
      tags: [dyn]
    - name: always runs
      debug: msg=p
      tags: [always]
    - name: plain
      debug: msg=p
- name: second play
  hosts: all,!dead
  gather_facts: false
  tags: [second]
  tasks:
    - name: last
      debug: msg=l
`,
  // the first play's host is unreachable (port 1): starting in the second, it is never connected
  'run.yml': `- name: remote play
  hosts: dead
  gather_facts: false
  tasks:
    - name: never reached
      debug: msg=no
- name: local play
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - web
  tasks:
    - name: a block
      block:
        - name: before
          debug: msg=before
        - name: start here
          debug: msg=start
        - name: after
          debug: msg=after
      always:
        - name: always after
          debug: msg=always
    - name: later
      debug: msg=later
- name: third play
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: start here too
      debug: msg=third
`,
};
for (const [rel, text] of Object.entries(files)) {
  mkdirSync(join(project, rel, '..'), { recursive: true });
  writeFileSync(join(project, rel), text);
}

function provision(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: project, encoding: 'utf8', env: { ...process.env, CI: '1', NO_COLOR: '1' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const haveAnsible = spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8' }).status === 0;
// CI installs ansible (scripts/setup.sh): there its absence is a failure, not a skip
const skip = !haveAnsible && !process.env.CI ? 'ansible-playbook is not installed (apt-get install ansible)' : false;
const home = tmp('prov-ansible-home-');
mkdirSync(join(home, 'tmp'));

/** ansible-playbook without any user or machine configuration, writing only to a temporary directory (several at once: each takes seconds). */
async function ansible(args: string[]): Promise<string> {
  const r = await promisify(execFile)('ansible-playbook', ['-i', 'inv.ini', ...args], {
    cwd: project,
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      ANSIBLE_CONFIG: join(home, 'none.cfg'),
      ANSIBLE_HOME: home,
      ANSIBLE_LOCAL_TEMP: join(home, 'tmp'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_LOCALHOST_WARNING: '0',
      ANSIBLE_INVENTORY_UNPARSED_WARNING: '0',
    },
  });
  return r.stdout;
}

/** Hosts sorted within each play (Ansible's order comes from a set and varies). */
function sortHosts(text: string): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^ {4}hosts \((\d+)\):$/.exec(lines[i]);
    if (m) lines.splice(i + 1, Number(m[1]), ...lines.slice(i + 1, i + 1 + Number(m[1])).sort());
  }
  return lines.join('\n');
}

/** Ansible lists only a block's block section; provision lists its rescue and always too. */
const RESCUE_ALWAYS = ['      in rescue\tTAGS: [blk]', '      in always\tTAGS: [blk]'];
const withoutRescueAlways = (text: string) =>
  text
    .split('\n')
    .filter((l) => !RESCUE_ALWAYS.includes(l))
    .join('\n');

describe('--list-tasks, --list-hosts, --list-tags', () => {
  it('--list-tasks: tasks in order (roles, blocks, import_tasks expanded; the include as itself) with their inherited tags', () => {
    const r = provision(['-i', 'inv.ini', 'site.yml', '--list-tasks']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        '',
        'playbook: site.yml',
        '',
        '  play #1 (web): first play\tTAGS: []',
        '    tasks:',
        '      web : install nginx\tTAGS: [pkg, webrole]',
        '      web : configure\tTAGS: [webrole]',
        '      in block\tTAGS: [blk, inblock]',
        ...RESCUE_ALWAYS,
        '      extra one\tTAGS: [extra, imp]',
        '      dynamic include\tTAGS: [dyn]',
        '      always runs\tTAGS: [always]',
        '      plain\tTAGS: []',
        '',
        '  play #2 (all,!dead): second play\tTAGS: [second]',
        '    tasks:',
        '      last\tTAGS: [second]',
        '',
      ].join('\n'),
    );
  });

  it('--tags / --skip-tags select what is listed as they select what runs (always unless skipped)', () => {
    const only = provision(['-i', 'inv.ini', 'site.yml', '--list-tasks', '--tags', 'pkg,extra']);
    assert.equal(only.code, 0, only.stderr);
    assert.deepEqual(
      only.stdout.split('\n').filter((l) => l.startsWith('      ')),
      ['      web : install nginx\tTAGS: [pkg, webrole]', '      extra one\tTAGS: [extra, imp]', '      always runs\tTAGS: [always]'],
    );
    const skipped = provision(['-i', 'inv.ini', 'site.yml', '--list-tasks', '--skip-tags', 'blk,always,second']);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.doesNotMatch(skipped.stdout, /in block|in rescue|in always|always runs|last/);
    assert.match(skipped.stdout, /^ {4}tasks:\n$/m);
  });

  it('--list-hosts with --limit, --list-tags; nothing is connected (every host is at port 1)', () => {
    const r = provision(['-i', 'inv.ini', 'site.yml', '--list-hosts', '--list-tags', '-l', 'w1,d1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}play #1 \(web\): first play\tTAGS: \[\]\n {4}pattern: \['web'\]\n {4}hosts \(1\):\n {6}w1\n {6}TASK TAGS: \[always, blk, dyn, extra, imp, inblock, pkg, webrole\]\n$/m);
    assert.match(r.stdout, /^ {4}pattern: \['all,!dead'\]\n {4}hosts \(2\):\n {6}w1\n {6}d1\n {6}TASK TAGS: \[second\]\n$/m);
    assert.equal(r.stderr, '');
  });

  describe('the same as ansible-playbook prints', { skip }, () => {
    it('ansible-playbook is installed (CI installs it with scripts/setup.sh)', () => {
      assert.ok(haveAnsible, 'ansible-playbook is missing: run PROVISION_SETUP_TEST_DEBS=1 bash scripts/setup.sh (Debian package ansible)');
    });
    const cases = [
      ['--list-tasks'],
      ['--list-tasks', '--tags', 'pkg,extra'],
      ['--list-tasks', '--skip-tags', 'blk,second'],
      ['--list-tags'],
      ['--list-tags', '--tags', 'imp'],
      ['--list-hosts'],
      ['--list-hosts', '--limit', 'w2,d1'],
      ['--list-hosts', '--list-tasks', '--list-tags', '--skip-tags', 'webrole'],
    ];
    let theirs: string[] = [];
    before(async () => {
      theirs = await Promise.all(cases.map((args) => ansible(['site.yml', ...args])));
    });
    for (const [i, args] of cases.entries()) {
      it(args.join(' '), () => {
        const ours = provision(['-i', 'inv.ini', 'site.yml', ...args]);
        assert.equal(ours.code, 0, ours.stderr);
        assert.equal(sortHosts(withoutRescueAlways(ours.stdout)), sortHosts(theirs[i]));
      });
    }
  });
});

interface Report {
  tasks: { task: string; host: string }[];
  recap: Record<string, unknown>;
}

/** The tasks a run reports, in order (provision --json). */
function ranTasks(args: string[]): { tasks: string[]; hosts: string[] } {
  const r = provision(['-i', 'inv.ini', 'run.yml', '--json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /dead/);
  const report = JSON.parse(r.stdout) as Report;
  return { tasks: report.tasks.map((t) => t.task), hosts: Object.keys(report.recap) };
}

/** The tasks ansible-playbook runs, in order (its TASK [...] lines). */
const ansibleTasks = async (args: string[]) => [...(await ansible(['run.yml', ...args])).matchAll(/^TASK \[(.*)\] \**$/gm)].map((m) => m[1]);

describe('--start-at-task', () => {
  const cases: [string, string[]][] = [
    ['start here', ['start here', 'after', 'always after', 'later', 'start here too']],
    ['start*', ['start here', 'after', 'always after', 'later', 'start here too']],
    ['st?rt here t[o]o', ['start here too']],
    ['configure', ['web : configure', 'before', 'start here', 'after', 'always after', 'later', 'start here too']],
    ['web : configure', ['web : configure', 'before', 'start here', 'after', 'always after', 'later', 'start here too']],
    ['always after', ['always after', 'later', 'start here too']],
  ];
  for (const [name, expected] of cases) {
    it(`'${name}': starts there, earlier plays' hosts are not connected; the same in --check`, () => {
      for (const check of name.includes('configure') ? [[]] : [[], ['--check']]) {
        const r = ranTasks(['--start-at-task', name, ...check]);
        assert.deepEqual(r.tasks, expected);
        assert.deepEqual(r.hosts, ['localhost']);
      }
    });
  }

  it('a name no task has is refused (exit 2, no host contacted) with the closest names', () => {
    const r = provision(['-i', 'inv.ini', 'run.yml', '--start-at-task', 'confgure']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: --start-at-task 'confgure': no task is named so .*; the closest task names: 'web : configure', /m);
    // a task of an included file is not a start point (as in Ansible), nor is the name of a play
    assert.equal(provision(['-i', 'inv.ini', 'site.yml', '--start-at-task', 'dyn one']).code, 2);
    assert.equal(provision(['-i', 'inv.ini', 'run.yml', '--start-at-task', 'local play']).code, 2);
  });

  // a few seconds per ansible-playbook run: the glob, the role prefix left out, and a start in an always section (in --check)
  describe('runs what ansible-playbook runs', { skip }, () => {
    const runs: string[][] = [
      ['--start-at-task', 'start*'],
      ['--start-at-task', 'configure'],
      ['--start-at-task', 'always after', '--check'],
    ];
    let theirs: string[][] = [];
    before(async () => {
      theirs = await Promise.all(runs.map(ansibleTasks));
    });
    for (const [i, args] of runs.entries()) {
      it(args.join(' '), () => {
        assert.deepEqual(ranTasks(args).tasks, theirs[i]);
      });
    }
  });
});
