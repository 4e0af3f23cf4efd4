/**
 * `gather_facts: false` (like Ansible's): a host none of whose plays wants the host facts never
 * reads them (one process less per host and run); `facts` is then an undefined variable, and
 * the login user is the inventory's.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
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
const factReads = (r: Awaited<ReturnType<typeof runPlaybook>>, host: string) => r.conns.get(host)!.execs.filter((c) => c === HOST_FACTS_SCRIPT).length;

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
