/** The recap's last line: a dry run with unknown tasks never says the hosts are converged. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(resolve(fileURLToPath(import.meta.url), '../../../..'), 'bin', 'provision.js');

test('check mode: unknown tasks are counted in the summary, not called converged; a converged dry run says so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provision-recap-'));
  try {
    writeFileSync(join(dir, 'hosts'), '');
    const file = join(dir, 'out.txt');
    writeFileSync(
      join(dir, 'site.yml'),
      `- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: a file\n      copy: { dest: ${file}, content: "x\\n" }\n    - name: a command\n      command: { cmd: "true" }\n      when: run_command\n`,
    );
    const run = (...args: string[]) => {
      const r = spawnSync(process.execPath, [BIN, 'site.yml', '-i', 'hosts', ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      return r.stdout.trim().split('\n').pop() ?? '';
    };
    assert.match(run('--check', '-e', 'run_command=true'), /^1 task\(s\) would change, 1 unknown \(check mode cannot know what they will do; see above\) in /);
    assert.match(run('-e', 'run_command=false'), /^1 task\(s\) changed in /);
    assert.match(run('--check', '-e', 'run_command=true'), /^0 task\(s\) would change, 1 unknown /);
    assert.match(run('--check', '-e', 'run_command=false'), /^no changes: every host is converged in /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
