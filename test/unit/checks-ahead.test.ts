/**
 * Consecutive checks of a host in one round trip (engine/pipeline/checks-ahead.ts): each
 * command's result from the shared script is what it gives alone; a check is served only while
 * everything before it passed with what it was served; a failure is always the check's own.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { runPlaybook, statuses, tmp, FakeConnection } from '../helpers/fake.js';
import { checksScript, parseChecksOutput, runChecksAhead } from '../../src/engine/pipeline/checks-ahead.js';
import { HOST_FACTS_SCRIPT } from '../../src/engine/pipeline/facts.js';
import type { CheckCommand } from '../../src/modules/contract.js';

const previous = process.env.PROVISION_CHECKS_AHEAD;
afterEach(() => {
  if (previous === undefined) delete process.env.PROVISION_CHECKS_AHEAD;
  else process.env.PROVISION_CHECKS_AHEAD = previous;
});

const execs = (r: { conns: Map<string, FakeConnection> }, host = 'h1') => r.conns.get(host)!.execs.filter((c) => c !== HOST_FACTS_SCRIPT);

describe('checks run ahead: the script', () => {
  const alone = new FakeConnection('h');
  const commands: CheckCommand[] = [
    { cmd: "printf 'no newline at the end'", passRc: 0 },
    { cmd: 'echo out; echo err >&2; printf "\\n\\n"; exit 3', passRc: 3 },
    { cmd: "printf '@@PROVISION-x 1\\n@@ end 0\\n'; cat; read x; echo \"read: $x\"", passRc: 0 },
    { cmd: 'cd /; pwd; exit 0', passRc: 0 },
    { cmd: 'pwd; echo "$0" | grep -c .', passRc: 0 },
  ];

  it("each command's result is the one it gives alone (stdin empty, its own subshell)", async () => {
    const boundary = 'PROVISION-test1';
    const r = await alone.exec(checksScript(commands, boundary));
    const batched = parseChecksOutput(r, commands.length, boundary);
    assert.equal(batched.length, commands.length);
    for (const [i, c] of commands.entries()) assert.deepEqual(batched[i], await alone.exec(c.cmd), c.cmd);
  });

  it('stops after a command whose exit code fails its check; a broken frame ends the results', async () => {
    const boundary = 'PROVISION-test2';
    const cs: CheckCommand[] = [{ cmd: 'echo one', passRc: 0 }, { cmd: 'exit 1', passRc: 0 }, { cmd: `touch ${join(tmp(), 'ran')}`, passRc: 0 }];
    const r = await alone.exec(checksScript(cs, boundary));
    const out = parseChecksOutput(r, cs.length, boundary);
    assert.deepEqual(out.map((o) => o.code), [0, 1], 'the third never ran');
    // a command that kills the script's shell: the results end before it
    const killer: CheckCommand[] = [{ cmd: 'echo a', passRc: 0 }, { cmd: 'kill -9 $$', passRc: 0 }, { cmd: 'echo c', passRc: 0 }];
    const k = await alone.exec(checksScript(killer, boundary));
    assert.deepEqual(parseChecksOutput(k, killer.length, boundary).map((o) => o.stdout), ['a\n']);
  });

  it('a script whose output may have been cut (over 16 MiB) serves nothing', async () => {
    const big: CheckCommand[] = [{ cmd: 'head -c 17000000 /dev/zero | tr "\\0" x', passRc: 0 }, { cmd: 'echo after', passRc: 0 }];
    assert.equal(await runChecksAhead(alone, { checks: [{ task: {} as never, commands: big }], span: [] }), undefined);
  });

  it('nothing worth it (fewer than two commands) or a failed script: no batch', async () => {
    assert.equal(await runChecksAhead(alone, { checks: [{ task: {} as never, commands: [commands[0]] }], span: [] }), undefined);
    const broken = { host: 'h', close: async () => undefined, exec: () => Promise.reject(new Error('refused')) };
    assert.equal(await runChecksAhead(broken, { checks: [{ task: {} as never, commands }], span: [] }), undefined);
  });
});

const INVENTORY = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1 }
vars:
  base: ${dir}
`;

/** A play of h1 with these task lines. */
const checksPlay = (tasks: string) => `
- name: checks
  hosts: h1
  tasks:
${tasks}`;
/** How many lines a file of the test has. */
const lineCount = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).length;

describe('checks run ahead: in a play', () => {
  it('a run of passing checks costs one round trip, with the same results as each on its own', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'v'), 'ready\n');
    const playbook = checksPlay(`
    - { name: one, assert: { cmd: "cat {{ base }}/v", expect_stdout: '^ready$' }, register: first }
    - { name: skipped, when: "false", assert: { cmd: "exit 1" } }
    - { name: two, assert: { cmd: "echo two; echo warn >&2" }, register: second }
    - { name: three, assert: { cmd: "test -f {{ base }}/v" } }
    - { name: after, when: "first.stdout === 'ready' && second.stderr === 'warn'", assert: { cmd: "echo used" } }
`);
    const r = await runPlaybook({ inventory: INVENTORY(dir), playbook, dir });
    assert.deepEqual(statuses(r.report), ['h1|one|ok', 'h1|skipped|skipped', 'h1|two|ok', 'h1|three|ok', 'h1|after|ok']);
    // one, two, three (and 'after', whose condition cannot be known yet, on its own)
    assert.equal(execs(r).length, 2, execs(r).join('\n----\n'));
    process.env.PROVISION_CHECKS_AHEAD = 'off';
    const off = await runPlaybook({ inventory: INVENTORY(dir), playbook, dir });
    assert.deepEqual(statuses(off.report), statuses(r.report));
    assert.equal(execs(off).length, 4);
    const strip = (t: { durationMs?: number }) => ({ ...t, durationMs: 0 });
    assert.deepEqual(r.report.tasks.map(strip), off.report.tasks.map(strip));
  });

  it('a command that renders otherwise when its check comes (a result registered again meanwhile) is not served', async () => {
    const dir = tmp();
    const playbook = checksPlay(`
    - { name: before, command: { cmd: "echo old" }, register: r }
    - { name: again, assert: { cmd: "echo new" }, register: r }
    - { name: uses, assert: { cmd: "echo got-{{ r.stdout.trim() }}", expect_stdout: '^got-' }, register: u }
    - { name: saw, assert: { cmd: "echo {{ u.stdout.trim() }}", expect_stdout: '^got-new$' } }
`);
    const r = await runPlaybook({ inventory: INVENTORY(dir), playbook, dir });
    assert.deepEqual(statuses(r.report), ['h1|before|changed', 'h1|again|ok', 'h1|uses|ok', 'h1|saw|ok']);
    // ahead it rendered as "echo got-old": run again as "echo got-new", on its own
    const cmds = execs(r);
    assert.ok(cmds.some((c) => c.includes('got-old')) && cmds.includes('echo got-new'), cmds.join('\n----\n'));
  });

  it('a check that fails with what it was served retries on its own, and nothing after it is served', async () => {
    const dir = tmp();
    const playbook = checksPlay(`
    - { name: first, assert: { cmd: "echo first" } }
    - { name: bumps, assert: { cmd: "echo x >> {{ base }}/n; wc -l < {{ base }}/n", expect_stdout: '^2$', retries: 1, delay: 0 } }
    - { name: sees, assert: { cmd: "wc -l < {{ base }}/n", expect_stdout: '^2$' } }
`);
    const r = await runPlaybook({ inventory: INVENTORY(dir), playbook, dir });
    // the script: first, bumps (1 line: fails), sees (1 line). bumps' retry runs on its own (2
    // lines: passes); 'sees' ran ahead before that retry, so it is not served: it reads 2 itself
    assert.deepEqual(statuses(r.report), ['h1|first|ok', 'h1|bumps|ok', 'h1|sees|ok']);
    assert.equal(execs(r).length, 3);
    assert.match(r.report.tasks[1].note ?? '', /assertion holds/);
  });

  it('a failed check is not run again: a wait_for that timed out is not waited for twice', async () => {
    const dir = tmp();
    const playbook = checksPlay(`
    - { name: waits, assert: { cmd: "echo run >> {{ base }}/runs; exit 1" }, ignore_errors: true }
    - { name: next, assert: { cmd: "echo next" } }
`);
    const r = await runPlaybook({ inventory: INVENTORY(dir), playbook, dir });
    assert.deepEqual(statuses(r.report), ['h1|waits|failed', 'h1|next|ok']);
    assert.equal(lineCount(join(dir, 'runs')), 1);
    // the script stopped at its exit code: 'next' ran on its own
    assert.equal(execs(r).length, 2);
  });

  it('a task the script skipped that runs at its turn (its condition became true) ends what is served', async () => {
    const dir = tmp();
    const playbook = checksPlay(`
    - { name: before, command: { cmd: "echo no", writes: [] }, register: st }
    - { name: flips, assert: { cmd: "echo yes" }, register: st }
    - { name: now runs, when: "st.stdout === 'yes'", assert: { cmd: "echo ready > {{ base }}/state" } }
    - { name: reads, assert: { cmd: "cat {{ base }}/state 2>/dev/null || echo missing", expect_stdout: '^ready$' } }
`);
    const r = await runPlaybook({ inventory: INVENTORY(dir), playbook, dir });
    assert.deepEqual(statuses(r.report), ['h1|before|changed', 'h1|flips|ok', 'h1|now runs|ok', 'h1|reads|ok']);
  });

  it('a check whose arguments use a secret runs on its own, and nothing is generated ahead', async () => {
    const dir = tmp();
    const playbook = checksPlay(`
    - { name: a, assert: { cmd: "echo a" } }
    - { name: stop, when: "false", command: { cmd: "true" } }
    - { name: b, assert: { cmd: "echo b" } }
    - { name: uses, when: "host.name === 'nobody'", assert: { cmd: "echo {{ secret('never_made') }}" } }
`);
    const r = await runPlaybook({ inventory: INVENTORY(dir), playbook, dir });
    assert.deepEqual(statuses(r.report), ['h1|a|ok', 'h1|stop|skipped', 'h1|b|ok', 'h1|uses|skipped']);
    assert.ok(!existsSync(join(dir, 'secrets.json')) || !readFileSync(join(dir, 'secrets.json'), 'utf8').includes('never_made'));
    const two = checksPlay(`
    - { name: a, assert: { cmd: "echo a" } }
    - { name: s, assert: { cmd: "echo {{ secret('made_at_its_turn').length }}" } }
`);
    const t = await runPlaybook({ inventory: INVENTORY(dir), playbook: two, dir });
    assert.deepEqual(statuses(t.report), ['h1|a|ok', 'h1|s|ok']);
    assert.equal(execs(t).length, 2, 'a alone (nothing to share it with), s alone');
  });

  it('a wait_for runs ahead only behind checks that their exit code decides', async () => {
    const dir = tmp();
    const playbook = (first: string) => checksPlay(`
    - { name: first, assert: ${first} }
    - { name: waits, wait_for: { url: "http://127.0.0.1:9/", status: 200, timeout: 1 }, ignore_errors: true }
`);
    const byOutput = await runPlaybook({ inventory: INVENTORY(dir), playbook: playbook(`{ cmd: "echo x", expect_stdout: '^x$' }`), dir });
    assert.equal(execs(byOutput).length, 2, 'the assert judges its output: the wait runs on its own');
    const byRc = await runPlaybook({ inventory: INVENTORY(dir), playbook: playbook(`{ cmd: "true" }`), dir });
    assert.equal(execs(byRc).length, 1, 'the assert is decided by its exit code: one script (the wait is not waited for twice)');
    assert.deepEqual(statuses(byRc.report), statuses(byOutput.report));
  });

  it("a check's retries run on their own; a failure on what it was served is its result", async () => {
    const dir = tmp();
    const playbook = checksPlay(`
    - { name: fine, assert: { cmd: "echo fine" } }
    - { name: broken, assert: { cmd: "echo run >> {{ base }}/runs; echo nope", expect_stdout: '^yes$', retries: 1, delay: 0 } }
`);
    const r = await runPlaybook({ inventory: INVENTORY(dir), playbook, dir });
    assert.deepEqual(statuses(r.report), ['h1|fine|ok', 'h1|broken|failed']);
    assert.match(r.report.tasks[1].error ?? '', /after 2 attempts/);
    // its first attempt ran ahead, its retry on its own
    assert.equal(lineCount(join(dir, 'runs')), 2);
    // without retries: the attempt run ahead is its only one, at its turn after 'fine'
    writeFileSync(join(dir, 'runs'), '');
    process.env.PROVISION_CHECKS_AHEAD = 'off';
    const alone = await runPlaybook({ inventory: INVENTORY(dir), playbook: playbook.replace('retries: 1', 'retries: 0'), dir });
    delete process.env.PROVISION_CHECKS_AHEAD;
    const once = await runPlaybook({ inventory: INVENTORY(dir), playbook: playbook.replace('retries: 1', 'retries: 0'), dir });
    assert.deepEqual(statuses(once.report), ['h1|fine|ok', 'h1|broken|failed']);
    assert.equal(once.report.tasks[1].error, alone.report.tasks[1].error);
    assert.equal(lineCount(join(dir, 'runs')), 2, 'once alone, once ahead');
    assert.equal(execs(once).length, 1);
  });

  it('only checks of one connection that read: a writing check, a state task or another target ends the run', async () => {
    const dir = tmp();
    const playbook = checksPlay(`
    - { name: a, assert: { cmd: "echo a" } }
    - { name: b, assert: { cmd: "echo b" } }
    - { name: writes, assert: { cmd: "echo w > {{ base }}/w", writes: true } }
    - { name: c, assert: { cmd: "cat {{ base }}/w" , expect_stdout: '^w$' } }
    - { name: d, delegate_to: localhost, assert: { cmd: "echo d" } }
    - { name: e, delegate_to: localhost, assert: { cmd: "echo e" } }
    - { name: f, file: { path: "{{ base }}/w", mode: '0644' } }
    - { name: g, assert: { cmd: "echo g" } }
`);
    const r = await runPlaybook({ inventory: INVENTORY(dir), playbook, dir });
    assert.ok(r.report.tasks.every((t) => t.status !== 'failed'), statuses(r.report).join(', '));
    // h1: [a b], writes, c, f's read and apply, g; localhost: [d e]
    const own = execs(r);
    assert.equal(own.filter((c) => c.includes("'@@PROVISION-") && c.includes('__pv_c=')).length, 1, own.join('\n----\n'));
    assert.equal(r.conns.get('localhost')!.execs.length, 1, 'd and e in one round trip on the controller');
  });

  it('check mode: run ahead while nothing is predicted to change, not after', async () => {
    const dir = tmp();
    const playbook = checksPlay(`
    - { name: a, assert: { cmd: "echo a" } }
    - { name: b, assert: { cmd: "echo b" } }
    - { name: change, copy: { dest: "{{ base }}/new", content: "x\\n" } }
    - { name: c, assert: { cmd: "echo c" } }
    - { name: d, assert: { cmd: "echo d" } }
`);
    const r = await runPlaybook({ inventory: INVENTORY(dir), playbook, dir, check: true });
    assert.deepEqual(statuses(r.report), ['h1|a|ok', 'h1|b|ok', 'h1|change|changed', 'h1|c|unknown', 'h1|d|unknown']);
    assert.equal(execs(r).filter((c) => c.includes('__pv_c=')).length, 1);
  });
});
