/**
 * The check-mode contract on the controller's own shell (fake hosts run commands in temp
 * directories): for every (host, task), --check reports what the real run then reports, or
 * `unknown`. One case per example of issue 6 that needs no real test host; the others
 * (non-root login user, useradd's home, apt dependencies, MariaDB) are in the differential
 * tester's regression corpus on real hosts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runPlaybook, tmp } from '../helpers/fake.js';
import { existsSync } from 'node:fs';
import type { RunReport } from '../../src/engine/report.js';

const inventory = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1, vars: { sub: one } }
  h2: { address: 10.0.0.2, vars: { sub: two } }
groups:
  web: { hosts: [h1, h2] }
vars:
  base: ${dir}
`;

const rows = (r: RunReport) => r.tasks.map((t) => ({ key: `${t.host}|${t.handler ? 'handler:' : ''}${t.task}`, status: t.status, note: t.note ?? t.error ?? '' }));

/** Check, then the real run from the same state: each pair equal, or unknown in check. Returns the check's rows. */
async function checkThenReal(playbook: string, setup?: (dir: string) => void) {
  const dir = tmp();
  setup?.(dir);
  const check = rows((await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true })).report);
  const real = rows((await runPlaybook({ inventory: inventory(dir), playbook, dir })).report);
  // hosts run in parallel: pair the results by host, task and occurrence, not by position
  const occurrences = (rs: typeof check) => {
    const seen = new Map<string, number>();
    return rs.map((r) => {
      const n = (seen.get(r.key) ?? 0) + 1;
      seen.set(r.key, n);
      return { ...r, id: `${r.key}#${n}` };
    });
  };
  const realById = new Map(occurrences(real).map((r) => [r.id, r]));
  const mismatches: string[] = [];
  // after an unknown, the real run may have stopped that host (the unknown task failed)
  const unsure = new Set<string>();
  for (const c of occurrences(check)) {
    const r = realById.get(c.id);
    const host = c.key.split('|')[0];
    if (!r && !unsure.has(host)) mismatches.push(`${c.id}: in check (${c.status}), not in the real run`);
    if (c.status === 'unknown') unsure.add(host);
    else if (r && c.status !== r.status) mismatches.push(`${c.key}: check ${c.status} (${c.note}) but real ${r.status} (${r.note})`);
    realById.delete(c.id);
  }
  for (const r of realById.values()) mismatches.push(`${r.id}: in the real run (${r.status}), not in check`);
  assert.deepEqual(mismatches, [], JSON.stringify({ check, real }, null, 1));
  return { check, real };
}

const status = (rs: { key: string; status: string }[], key: string) => rs.find((r) => r.key === key)?.status;

describe('check mode is exact or says unknown (issue 6 examples)', () => {
  it('1. a registered result of a task that has not run is not invented', async () => {
    const { check } = await checkThenReal(`
- hosts: h1
  tasks:
    - name: Probe
      shell: { cmd: "test -e {{ base }}/absent-thing" }
      register: probe
      ignore_errors: true
    - name: Fallback when the probe failed
      copy: { dest: "{{ base }}/fallback", content: "rc={{ probe.rc }}\\n" }
      when: "probe.rc !== 0"
    - name: Content from the probe
      copy: { dest: "{{ base }}/out", content: "{{ probe.stdout }}" }
    - name: Status is known
      copy: { dest: "{{ base }}/status", content: "changed={{ probe.changed }}\\n" }
`);
    assert.equal(status(check, 'h1|Fallback when the probe failed'), 'unknown');
    assert.equal(status(check, 'h1|Content from the probe'), 'unknown');
    // an unguarded command may have changed anything on the host: what follows is unknown
    assert.equal(status(check, 'h1|Status is known'), 'unknown');
  });

  it('2. unless reads the state earlier tasks are predicted to change', async () => {
    const { check } = await checkThenReal(`
- hosts: h1
  tasks:
    - name: Flag
      copy: { dest: "{{ base }}/flag", content: "x" }
    - name: Unless the flag exists
      command: { cmd: "touch {{ base }}/ran", unless: "test -f {{ base }}/flag" }
`);
    assert.equal(status(check, 'h1|Flag'), 'changed');
    assert.equal(status(check, 'h1|Unless the flag exists'), 'unknown');
  });

  it('3. creates/removes see paths made by mkdir -p, removed parents, and trailing slashes', async () => {
    const { check } = await checkThenReal(`
- hosts: h1
  tasks:
    - name: Deep directory
      file: { path: "{{ base }}/p/q/r", state: directory }
    - name: Creates the parent (spelt with a slash)
      command: { cmd: "mkdir -p {{ base }}/p", creates: "{{ base }}/p/" }
    - name: Remove the top
      file: { path: "{{ base }}/p", state: absent }
    - name: Removes something under the removed top
      command: { cmd: "rm -f {{ base }}/p/q/r", removes: "{{ base }}/p/q/r" }
    - name: Touch under the removed top
      file: { path: "{{ base }}/p/q/new", state: touch }
      ignore_errors: true
`);
    assert.equal(status(check, 'h1|Creates the parent (spelt with a slash)'), 'ok');
    assert.equal(status(check, 'h1|Remove the top'), 'changed');
    assert.equal(status(check, 'h1|Removes something under the removed top'), 'ok');
    assert.equal(status(check, 'h1|Touch under the removed top'), 'failed');
  });

  it('4. an unrelated predicted change does not make a copy into a missing directory succeed', async () => {
    const { check } = await checkThenReal(`
- hosts: h1
  tasks:
    - name: Unrelated
      copy: { dest: "{{ base }}/unrelated", content: "x" }
    - name: Into a missing directory
      copy: { dest: "{{ base }}/missing/dir/file", content: "x" }
`);
    assert.equal(status(check, 'h1|Into a missing directory'), 'failed');
  });

  it('4. a unit that does not exist is not predicted to start after an unrelated change', async () => {
    const { check } = await checkThenReal(`
- hosts: h1
  tasks:
    - name: Unrelated
      copy: { dest: "{{ base }}/unrelated", content: "x" }
    - name: A unit nobody provides
      service: { name: provision-no-such-unit, state: started }
`);
    assert.equal(status(check, 'h1|A unit nobody provides'), 'failed');
  });

  it('8. delegate_to another host reads what earlier tasks are predicted to do to it', async () => {
    const { check } = await checkThenReal(`
- hosts: h2
  tasks:
    - name: Directory on h2
      file: { path: "{{ base }}/h2dir", state: directory }
- hosts: h1
  tasks:
    - name: A file on h2, from h1's play
      copy: { dest: "{{ base }}/h2dir/from-h1", content: "x" }
      delegate_to: h2
    - name: The same again
      copy: { dest: "{{ base }}/h2dir/from-h1", content: "x" }
      delegate_to: h2
`);
    assert.equal(status(check, 'h1|A file on h2, from h1\'s play'), 'changed');
    assert.equal(status(check, 'h1|The same again'), 'ok');
  });

  it('a delegate that runs the same play concurrently is unknown, never guessed', async () => {
    const { check } = await checkThenReal(`
- hosts: web
  tasks:
    - name: Own directory
      file: { path: "{{ base }}/{{ sub }}", state: directory }
    - name: Into the other host's directory
      copy: { dest: "{{ base }}/two/from-{{ host.name }}", content: "x" }
      delegate_to: h2
      when: "host.name === 'h1'"
`);
    assert.ok(['unknown', 'changed'].includes(status(check, "h1|Into the other host's directory") ?? ''));
  });

  it('loops: an unknown item makes the task unknown; handlers of unknown tasks are unknown', async () => {
    const { check } = await checkThenReal(`
- hosts: h1
  tasks:
    - name: List
      shell: { cmd: "printf 'a b'", creates: "{{ base }}/never" }
      register: list
    - name: Per item
      copy: { dest: "{{ base }}/{{ item }}", content: "x" }
      loop: "{{ list.stdout.split(' ') }}"
      notify: done
  handlers:
    - name: done
      copy: { dest: "{{ base }}/done", content: "x" }
`);
    assert.equal(status(check, 'h1|Per item'), 'unknown');
    assert.equal(status(check, 'h1|handler:done'), 'unknown');
  });

  it("a block's possible failure on one host leaves another host's own effects certain (was: the notes e2e, now and then)", async () => {
    // h2 (slow) writes its file while h1 is inside its block, and reads it again after h1's block
    // has ended with a task that may fail: h1 not going on cannot undo what h2 did
    const playbook = `
- hosts: web
  tasks:
    - name: Own file
      copy: { dest: "{{ base }}/own-{{ sub }}", content: "x" }
    - name: A block
      block:
        - name: h1 reads slowly in the block
          stat: { path: "{{ base }}/slow-{{ sub }}" }
        - name: May fail
          command: "test -e {{ base }}/never"
          when: "host.name === 'h1'"
      rescue:
        - name: Said
          debug: { msg: "the block failed" }
    - name: h2 reads slowly after the block
      stat: { path: "{{ base }}/later-{{ sub }}" }
    - name: Own file again
      copy: { dest: "{{ base }}/own-{{ sub }}", content: "x" }
`;
    // h1: marks at the block's start, ends it at ~600 ms; h2: records its file at ~300 ms, reads it again at ~1200 ms
    const slow = { h1: [{ match: 'slow-one', ms: 600 }], h2: [{ match: 'own-two', ms: 300 }, { match: 'later-two', ms: 900 }] };
    const dir = tmp();
    // each fact read when its task runs (not all of them ahead, at the play's start), so that the delays order the hosts
    process.env.PROVISION_FACT_CACHE = 'off';
    let check, real;
    try {
      check = rows((await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true, slow })).report);
      real = rows((await runPlaybook({ inventory: inventory(dir), playbook, dir, slow })).report);
    } finally {
      delete process.env.PROVISION_FACT_CACHE;
    }
    assert.equal(status(check, 'h1|May fail'), 'unknown');
    assert.equal(status(check, 'h2|Own file again'), 'ok', JSON.stringify(check, null, 1));
    assert.equal(status(real, 'h2|Own file again'), 'ok');
  });

  it('check_mode: false after predicted changes: a false condition skips it, and what it may change is unknown after it', async () => {
    const { check } = await checkThenReal(`
- hosts: h1
  tasks:
    - name: A change
      copy: { dest: "{{ base }}/a", content: "x" }
    - name: Not on this host
      command: "touch {{ base }}/not-here"
      check_mode: false
      when: "host.name === 'h2'"
    - name: Touch for real
      command: "touch {{ base }}/b"
      check_mode: false
    - name: Remove what it made
      file: { path: "{{ base }}/b", state: absent }
`);
    assert.equal(status(check, 'h1|Not on this host'), 'skipped');
    assert.equal(status(check, 'h1|Touch for real'), 'unknown');
    // was 'ok': the touch was not recorded, so check trusted the live state (b absent)
    assert.equal(status(check, 'h1|Remove what it made'), 'unknown');
  });

  it('a host gets one connection even when its play and a delegated task connect at once (was: a leaked connection, a hung run)', async () => {
    const dir = tmp();
    const playbook = `
- hosts: web
  tasks:
    - name: A file on h2, from h1
      copy: { dest: "{{ base }}/from-h1", content: "x" }
      delegate_to: h2
      when: "host.name === 'h1'"
`;
    for (const check of [true, false]) {
      const r = await runPlaybook({ inventory: inventory(dir), playbook, dir, check });
      assert.deepEqual(Object.fromEntries(r.connects), { h1: 1, h2: 1 });
      assert.ok([...r.conns.values()].every((c) => c.closed));
    }
    assert.ok(existsSync(`${dir}/from-h1`));
  });
});
