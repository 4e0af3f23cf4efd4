/**
 * The expectations of cases.ts checked against Ansible's own modules (Debian's ansible-core, run
 * on temp files by ansible-driver.py): our expected outcomes are Ansible's behaviour, not our guess.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CASES } from './cases.js';

const DRIVER = resolve(fileURLToPath(import.meta.url), '../../../../../../test/unit/modules/text/ansible-driver.py');

/** The Python that runs Ansible (the `ansible` script's own interpreter). */
function ansiblePython(): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v ansible'], { encoding: 'utf8' });
  if (which.status !== 0) return undefined;
  const shebang = /^#!\s*(\S+)/.exec(readFileSync(which.stdout.trim(), 'utf8'))?.[1];
  return shebang && spawnSync(shebang, ['-c', 'import ansible.modules.lineinfile'], { encoding: 'utf8' }).status === 0 ? shebang : undefined;
}

const python = ansiblePython();
// CI installs ansible (scripts/setup.sh): there its absence is a failure, not a skip
const skip = !python && !process.env.CI ? 'ansible is not installed (apt-get install ansible)' : false;

describe("text edits agree with Ansible's lineinfile, blockinfile and replace", { skip }, () => {
  it(`${CASES.length} cases give Ansible's file and outcome`, () => {
    assert.ok(python, 'ansible (with its Python modules) is installed');
    const input = CASES.map((c) => ({ module: c.module, args: c.args, content: c.before }));
    const r = spawnSync(python, [DRIVER], { input: JSON.stringify(input), encoding: 'utf8', env: { PATH: process.env.PATH, HOME: '/tmp', LC_ALL: 'C.UTF-8' } });
    assert.equal(r.status, 0, r.stderr);
    const results = JSON.parse(r.stdout) as { content: string | null; changed: boolean; failed: boolean; msg: string }[];
    CASES.forEach((c, i) => {
      const got = results[i];
      assert.equal(got.failed, c.fails === true, `${c.module}: ${c.name}: failed (${got.msg})`);
      assert.equal(got.content, c.fails ? c.before : (c.ansible ?? c.after), `${c.module}: ${c.name}: content`);
      if (!c.fails) assert.equal(got.changed, c.before !== c.after, `${c.module}: ${c.name}: changed`);
    });
  });
});
