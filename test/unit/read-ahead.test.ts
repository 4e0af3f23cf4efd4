/**
 * Speculative facts (engine/pipeline/fact-cache.ts, read-ahead.ts): a converged host costs one
 * round trip per play; a change re-reads only what it touches; nothing stale is ever served.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { runPlaybook, statuses, tmp, FakeConnection } from '../helpers/fake.js';
import { FactCache } from '../../src/engine/pipeline/fact-cache.js';
import { gatherFacts, HOST_FACTS_SCRIPT, readFacts } from '../../src/engine/pipeline/facts.js';
import { fileFact } from '../../src/modules/files/facts.js';
import { fact, TaskError } from '../../src/modules/contract.js';
import { exitFact } from '../../src/modules/commands/facts.js';
import { serverFact } from '../../src/modules/haproxy/facts.js';
import { aptCacheFact } from '../../src/modules/packages/facts.js';

const inventory = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1 }
vars:
  base: ${dir}
`;

/** What h1's play sent to the host: everything but the host facts (read beside the first read-ahead). */
const taskExecs = (conns: Map<string, FakeConnection>) => conns.get('h1')!.execs.filter((c) => c !== HOST_FACTS_SCRIPT);
const isFactRead = (cmd: string) => cmd.includes("'@@PROVISION-");

const previous = process.env.PROVISION_FACT_CACHE;
afterEach(() => {
  if (previous === undefined) delete process.env.PROVISION_FACT_CACHE;
  else process.env.PROVISION_FACT_CACHE = previous;
});

const FILES = `
- name: Files
  hosts: h1
  tasks:
    - { name: dir, file: { path: "{{ base }}/d", state: directory, mode: '0750' } }
    - { name: a, copy: { dest: "{{ base }}/d/a.txt", content: "a\\n", mode: '0640' } }
    - { name: b, copy: { dest: "{{ base }}/d/b.txt", content: "b\\n" } }
    - { name: a mode, file: { path: "{{ base }}/d/a.txt", mode: '0640' } }
    - { name: link, file: { path: "{{ base }}/l", src: "{{ base }}/d", state: link } }
`;

describe('read-ahead facts', () => {
  it('a converged host costs one round trip for the whole play (and one per task without it)', async () => {
    const dir = tmp();
    await runPlaybook({ inventory: inventory(dir), playbook: FILES, dir });
    const again = await runPlaybook({ inventory: inventory(dir), playbook: FILES, dir });
    assert.ok(again.report.tasks.every((t) => t.status === 'ok'), statuses(again.report).join(', '));
    assert.equal(taskExecs(again.conns).length, 1, 'one read-ahead, no per-task read');

    const check = await runPlaybook({ inventory: inventory(dir), playbook: FILES, dir, check: true });
    assert.ok(check.report.tasks.every((t) => t.status === 'ok'));
    assert.equal(taskExecs(check.conns).length, 1, 'check mode too');

    process.env.PROVISION_FACT_CACHE = 'off';
    const off = await runPlaybook({ inventory: inventory(dir), playbook: FILES, dir });
    assert.deepEqual(statuses(off.report), statuses(again.report));
    assert.equal(taskExecs(off.conns).length, 5, 'without the read-ahead: a round trip per task');
  });

  it('a change re-reads only what it touches; the rest is served from the read-ahead', async () => {
    const dir = tmp();
    await runPlaybook({ inventory: inventory(dir), playbook: FILES, dir });
    writeFileSync(join(dir, 'd', 'a.txt'), 'changed behind our back\n');
    const r = await runPlaybook({ inventory: inventory(dir), playbook: FILES, dir });
    assert.deepEqual(
      r.report.tasks.map((t) => `${t.task}:${t.status}`),
      ['dir:ok', 'a:changed', 'b:ok', 'a mode:ok', 'link:ok'],
    );
    const execs = taskExecs(r.conns);
    // read-ahead; a: write, verify; 'a mode' reads a.txt again (the write touched it); b and link: none
    assert.equal(execs.length, 4, execs.map((c) => c.split('\n')[0]).join('\n'));
    assert.deepEqual(execs.map(isFactRead), [true, false, true, true]);
  });

  it('a command (its effects unknown) voids every fact read ahead; the rest of the play is read ahead again, once', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - { name: file, copy: { dest: "{{ base }}/f.txt", content: "x\\n" } }
    - { name: cmd, command: { cmd: "rm -f {{ base }}/f.txt" } }
    - { name: again, copy: { dest: "{{ base }}/f.txt", content: "x\\n" } }
    - { name: other, copy: { dest: "{{ base }}/g.txt", content: "g\\n" } }
    - { name: dir, file: { path: "{{ base }}", state: directory } }
`;
    await runPlaybook({ inventory: inventory(dir), playbook, dir });
    const r = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    // the command removed the file: the second copy must see that, not the first read-ahead
    assert.deepEqual(
      r.report.tasks.map((t) => `${t.task}:${t.status}`),
      ['file:ok', 'cmd:changed', 'again:changed', 'other:ok', 'dir:ok'],
    );
    assert.ok(existsSync(join(dir, 'f.txt')));
    // read-ahead; cmd runs; read-ahead of the rest; again: write, verify; other and dir: none
    assert.deepEqual(taskExecs(r.conns).map(isFactRead), [true, false, true, false, true]);
  });

  it('nothing is generated ahead: a secret needed only by a task that ends up skipped is never created', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - { name: probe, command: { cmd: "false" }, register: probe, ignore_errors: true }
    - name: only when the probe passed
      copy: { dest: "{{ base }}/s.conf", content: "{{ secret('never') }}" }
      when: "probe.rc == 0"
`;
    const r = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(
      r.report.tasks.map((t) => t.status),
      ['failed', 'skipped'],
    );
    assert.equal(existsSync(join(dir, 'secrets.json')), false, 'no secret was generated');
  });
});

/** h1 and h2 share this machine's file system: what one writes, the other reads (like a replica). */
const TWO_HOSTS = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1 }
  h2: { address: 10.0.0.2 }
vars:
  base: ${dir}
`;
const reads = (r: { conns: Map<string, FakeConnection> }, host: string) => r.conns.get(host)!.execs.filter((c) => c !== HOST_FACTS_SCRIPT && isFactRead(c)).length;

describe('facts read before their play (engine/next-play.ts)', () => {
  it('a host reads its next play\'s facts while an earlier play runs; with nothing written since, the play uses them', async () => {
    const dir = tmp();
    const playbook = `
- { name: one, hosts: h1, tasks: [ { name: a, copy: { dest: "{{ base }}/a.txt", content: "a\\n" } } ] }
- { name: two, hosts: h2, tasks: [ { name: b, copy: { dest: "{{ base }}/b.txt", content: "b\\n" } } ] }
- { name: three, hosts: h2, tasks: [ { name: c, file: { path: "{{ base }}/b.txt", mode: '0644' } } ] }
`;
    await runPlaybook({ inventory: TWO_HOSTS(dir), playbook, dir });
    for (const check of [false, true]) {
      const r = await runPlaybook({ inventory: TWO_HOSTS(dir), playbook, dir, check, trace: true });
      assert.deepEqual(statuses(r.report), ['h1|a|ok', 'h2|b|ok', 'h2|c|ok']);
      assert.equal(reads(r, 'h2'), 2, 'one read per play of h2, none at their starts');
      // h2 read play two's facts before play one ended
      const firstEnd = r.events.findIndex((e) => e.type === 'play-end');
      const h2read = r.events.findIndex((e) => e.type === 'command' && e.host === 'h2' && e.task === 'two (read ahead)');
      assert.ok(h2read >= 0 && h2read < firstEnd, `h2's read at ${h2read}, play one ended at ${firstEnd}`);
    }
  });

  it('a waiting host reads its coming plays one after another; a host never reads ahead while it runs a play', async () => {
    const dir = tmp();
    const playbook = `
- { name: one, hosts: h1, tasks: [ { name: slow, assert: { cmd: "sleep 1" } } ] }
- { name: two, hosts: h2, tasks: [ { name: b, copy: { dest: "{{ base }}/b.txt", content: "b\\n" } } ] }
- { name: three, hosts: h2, tasks: [ { name: c, file: { path: "{{ base }}/b.txt", mode: '0644' } } ] }
- { name: four, hosts: h1, tasks: [ { name: d, copy: { dest: "{{ base }}/d.txt", content: "d\\n" } } ] }
`;
    await runPlaybook({ inventory: TWO_HOSTS(dir), playbook, dir });
    const r = await runPlaybook({ inventory: TWO_HOSTS(dir), playbook, dir, trace: true });
    assert.deepEqual(statuses(r.report), ['h1|slow|ok', 'h2|b|ok', 'h2|c|ok', 'h1|d|ok']);
    const at = (host: string, task: string) => r.events.findIndex((e) => e.type === 'command' && e.host === host && e.task === task);
    const firstEnd = r.events.findIndex((e) => e.type === 'play-end');
    // h2 waits through play one: it reads two, then three
    assert.ok(at('h2', 'two (read ahead)') < at('h2', 'three (read ahead)') && at('h2', 'three (read ahead)') < firstEnd, 'both of h2\'s plays read while play one ran');
    assert.equal(reads(r, 'h2'), 2, 'and none at their starts');
    // h1 runs play one from the start: its read of four comes only when it has finished it
    const slowDone = r.events.findIndex((e) => e.type === 'task-result' && e.result.task === 'slow');
    assert.ok(at('h1', 'four (read ahead)') > slowDone, `h1 read four at ${at('h1', 'four (read ahead)')}, before its play ended at ${slowDone}`);
  });

  it('a write anywhere after the read began drops it: the play reads again and sees what the earlier play wrote', async () => {
    const dir = tmp();
    // play one writes the file that play two's task reads on the other host
    const playbook = `
- { name: one, hosts: h1, tasks: [ { name: write, copy: { dest: "{{ base }}/shared.txt", content: "new\\n" } } ] }
- { name: two, hosts: h2, tasks: [ { name: same, copy: { dest: "{{ base }}/shared.txt", content: "new\\n" } } ] }
`;
    const r = await runPlaybook({ inventory: TWO_HOSTS(dir), playbook, dir });
    assert.deepEqual(statuses(r.report), ['h1|write|changed', 'h2|same|ok']);
    assert.equal(reads(r, 'h2'), 2, 'read before the play, dropped, read again at its start');
  });

  it('with serial batches: what the first batch wrote is seen by the second (its early read is dropped)', async () => {
    const dir = tmp();
    const playbook = `
- name: rolling
  hosts: h1,h2
  serial: 1
  tasks:
    - { name: same, copy: { dest: "{{ base }}/rolled.txt", content: "v2\\n" } }
- { name: after, hosts: "h1,h2", tasks: [ { name: other, copy: { dest: "{{ base }}/{{ host.name }}.txt", content: "x\\n" } } ] }
`;
    const r = await runPlaybook({ inventory: TWO_HOSTS(dir), playbook, dir });
    // the batches run in order; the second play's hosts in parallel (sorted here)
    assert.deepEqual(statuses(r.report).slice(0, 2), ['h1|same|changed', 'h2|same|ok']);
    assert.deepEqual(statuses(r.report).slice(2).sort(), ['h1|other|changed', 'h2|other|changed']);
    const again = await runPlaybook({ inventory: TWO_HOSTS(dir), playbook, dir });
    assert.deepEqual(statuses(again.report).sort(), ['h1|other|ok', 'h1|same|ok', 'h2|other|ok', 'h2|same|ok']);
    assert.equal(reads(again, 'h2'), 2, 'converged: one read per play, each made before the play');
  });

  it('so does a check that writes', async () => {
    const dir = tmp();
    const playbook = `
- name: one
  hosts: h1
  tasks:
    - { name: drill, assert: { cmd: "printf 'x\\\\n' > {{ base }}/drill.txt", writes: true } }
- { name: two, hosts: h2, tasks: [ { name: same, copy: { dest: "{{ base }}/drill.txt", content: "x\\n" } } ] }
`;
    const r = await runPlaybook({ inventory: TWO_HOSTS(dir), playbook, dir });
    assert.deepEqual(statuses(r.report), ['h1|drill|ok', 'h2|same|ok']);
    assert.equal(reads(r, 'h2'), 2);
  });

  it('PROVISION_FACT_CACHE=off reads nothing ahead', async () => {
    const dir = tmp();
    process.env.PROVISION_FACT_CACHE = 'off';
    const playbook = `
- { name: one, hosts: h1, tasks: [ { name: a, copy: { dest: "{{ base }}/a.txt", content: "a\\n" } } ] }
- { name: two, hosts: h2, tasks: [ { name: b, copy: { dest: "{{ base }}/b.txt", content: "b\\n" } } ] }
`;
    await runPlaybook({ inventory: TWO_HOSTS(dir), playbook, dir });
    const r = await runPlaybook({ inventory: TWO_HOSTS(dir), playbook, dir, trace: true });
    assert.deepEqual(statuses(r.report), ['h1|a|ok', 'h2|b|ok']);
    assert.ok(!r.events.some((e) => e.type === 'command' && e.task.endsWith('(read ahead)')));
  });
});

describe('FactCache', () => {
  it('audit mode: a fact served from the read-ahead that the host contradicts fails the task', async () => {
    const dir = tmp();
    const path = join(dir, 'x');
    writeFileSync(path, 'one\n');
    const conn = new FakeConnection('h1');
    const req = fact(fileFact, { path });
    const cache = new FactCache('audit');
    await readFacts(conn, [req], false, cache);
    writeFileSync(path, 'two, changed by nothing provision knows of\n');
    await assert.rejects(
      gatherFacts(conn, { f: req }, { cache }),
      (e) => e instanceof TaskError && /fact cache audit: file:.*\/x was served from the read-ahead/.test(e.message),
    );
    // in normal mode the same stale value would be served: that is what invalidation prevents
    const on = new FactCache('on');
    await readFacts(conn, [req], false, on);
    writeFileSync(path, 'three\n');
    const served = await gatherFacts(conn, { f: req }, { cache: on });
    assert.equal(served.f.size, 'two, changed by nothing provision knows of\n'.length);
  });

  it('a read that raced with a change is not kept; an effect drops what it touches and only that', async () => {
    const a = fact(fileFact, { path: '/a' });
    const b = fact(fileFact, { path: '/b' });
    const cache = new FactCache('on');
    const stamp = cache.stamp();
    cache.clear();
    cache.store(a, false, { type: 'absent', parentExists: true }, stamp);
    assert.equal(cache.get(a, false), undefined, 'stored after an invalidation that began during the read');
    cache.store(a, false, { type: 'absent', parentExists: true }, cache.stamp());
    cache.store(b, false, { type: 'absent', parentExists: true }, cache.stamp());
    assert.equal(cache.get(a, true), undefined, 'read with become is another entry');
    cache.invalidate([{ touches: (k) => k === 'file:/a', apply: (v) => v }]);
    assert.equal(cache.get(a, false), undefined);
    assert.ok(cache.get(b, false));
  });

  it('guards and volatile facts are never kept; a fact with the host clock is served aged', () => {
    const cache = new FactCache('on');
    const guard = fact(exitFact, { cmd: 'test -f /x' });
    const server = fact(serverFact, { socket: '/run/haproxy/admin.sock', backend: 'web', server: 'web-01' });
    cache.store(guard, false, { rc: 0 }, cache.stamp());
    cache.store(server, false, { found: true }, cache.stamp());
    assert.equal(cache.get(guard, false), undefined);
    assert.equal(cache.get(server, false), undefined);
    const apt = fact(aptCacheFact, {});
    cache.store(apt, true, { updatedAt: 1000, now: 2000 }, cache.stamp(), Date.now() - 5500);
    assert.deepEqual(cache.get(apt, true)?.value, { updatedAt: 1000, now: 2005 });
  });
});
