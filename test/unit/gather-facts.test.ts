/**
 * `gather_facts: false` (like Ansible's): a host none of whose plays wants the host facts never
 * reads them (one process less per host and run); `facts` is then an undefined variable, and
 * the login user is the inventory's.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runPlaybook, statuses, tmp } from '../helpers/fake.js';
import { HOST_FACTS_SCRIPT } from '../../src/engine/pipeline/facts.js';
import { loadPlaybook } from '../../src/load/playbook.js';
import { ConfigError } from '../../src/load/yaml.js';
import { builtinModules } from '../../src/modules/all.js';

const inventory = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1 }
  h2: { address: 10.0.0.2 }
vars:
  base: ${dir}
`;
const factReads = (r: Awaited<ReturnType<typeof runPlaybook>>, host: string) => r.conns.get(host)!.execs.filter((c) => c.includes(HOST_FACTS_SCRIPT)).length;

describe('gather_facts: false', () => {
  it('a host none of whose plays gathers facts never reads them; one that has such a play does', async () => {
    const dir = tmp();
    const playbook = `
- name: no facts
  hosts: h1,h2
  gather_facts: false
  tasks:
    - { name: a, copy: { dest: "{{ base }}/{{ host.name }}.txt", content: "a\\\\n" } }
- name: facts on h2
  hosts: h2
  tasks:
    - { name: b, copy: { dest: "{{ base }}/b.txt", content: "{{ facts.hostname }}\\\\n" } }
`;
    const r = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    // the hosts run the first play at once: which of them reports first is not determined
    assert.deepEqual(statuses(r.report).sort(), ['h1|a|changed', 'h2|a|changed', 'h2|b|changed']);
    assert.equal(factReads(r, 'h1'), 0);
    assert.equal(factReads(r, 'h2'), 1);
  });

  it("the host facts ride in the first play's read-ahead: one command for both, or on their own when it reads nothing", async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  tasks:
    - { name: a, copy: { dest: "{{ base }}/a.txt", content: "a\\n" } }
    - { name: c, copy: { dest: "{{ base }}/c.txt", content: "{{ facts.hostname }}\\n" } }
- hosts: h2
  tasks:
    - { name: b, debug: { msg: "{{ facts.hostname }}" } }
`;
    const r = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(statuses(r.report).sort(), ['h1|a|changed', 'h1|c|changed', 'h2|b|ok']);
    const h1 = r.conns.get('h1')!.execs;
    // h1: the host facts and a.txt's facts in one command (c.txt's args need the facts: read when it runs)
    assert.equal(h1.filter((c) => c.includes(HOST_FACTS_SCRIPT) && c.includes(`${dir}/a.txt`)).length, 1, h1.join('\n----\n'));
    assert.equal(h1.filter((c) => c.includes(HOST_FACTS_SCRIPT)).length, 1);
    // h2: nothing to read ahead, so the host facts alone
    assert.deepEqual(r.conns.get('h2')!.execs.filter((c) => c.includes(HOST_FACTS_SCRIPT)), [HOST_FACTS_SCRIPT]);
    assert.equal(readFileSync(join(dir, 'c.txt'), 'utf8'), `${hostname()}\n`);
  });

  it('`facts` is then an undefined variable: the task fails naming it', async () => {
    const dir = tmp();
    const playbook = `
- hosts: h1
  gather_facts: false
  tasks:
    - { name: a, copy: { dest: "{{ base }}/a.txt", content: "{{ facts.hostname }}\\\\n" } }
`;
    for (const check of [false, true]) {
      const r = await runPlaybook({ inventory: inventory(dir), playbook, dir, check });
      const t = r.report.tasks[0];
      assert.equal(t.status, 'failed');
      assert.match(t.error ?? '', /undefined variable: facts/);
    }
  });

  it('the key takes a boolean only, refused with the file and line', () => {
    const dir = tmp();
    const file = join(dir, 'pb.yml');
    writeFileSync(file, '- hosts: all\n  gather_facts: "no"\n  tasks: []\n');
    assert.throws(() => loadPlaybook(file, builtinModules()), (e) => e instanceof ConfigError && /pb\.yml:2.*gather_facts/s.test(e.message));
  });
});
