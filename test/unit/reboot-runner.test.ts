import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runPlaybook, statuses, tmp } from '../helpers/fake.js';

const inventory = (dir: string) => `
hosts:
  h1: { address: 127.0.0.1 }
vars:
  base: ${dir}
`;

// The "reboot" writes a new boot id and changes a file: what was read of it before (kept in the
// fact cache after the first copy verified it) must not be served after it.
const playbook = `
- name: Reboot
  hosts: h1
  tasks:
    - name: Before
      copy: { dest: "{{ base }}/motd", content: "hello\\n" }
    - name: Reboot
      reboot:
        reboot_command: "sh -c 'echo second > {{ base }}/boot_id; echo changed-by-boot > {{ base }}/motd'"
        boot_time_command: "cat {{ base }}/boot_id"
        reboot_timeout: 30
      register: rebooted
    - name: After
      copy: { dest: "{{ base }}/motd", content: "hello\\n" }
    - name: Connection
      wait_for_connection: { timeout: 10 }
    - name: Show
      assert: { cmd: "test {{ rebooted.rebooted }} = true" }
`;

describe('reboot in a run', () => {
  it('reconnects the host, drops the facts read before, registers rebooted', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'boot_id'), 'first\n');
    const real = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.deepEqual(statuses(real.report), ['h1|Before|changed', 'h1|Reboot|changed', 'h1|After|changed', 'h1|Connection|ok', 'h1|Show|ok']);
    assert.equal(real.connects.get('h1'), 2, 'a second connection after the reboot');
  });

  it('check mode: not run; with its own commands unknown (their exit status), the host unknown after it', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'boot_id'), 'first\n');
    const check = await runPlaybook({ inventory: inventory(dir), playbook, dir, check: true });
    assert.deepEqual(statuses(check.report), ['h1|Before|changed', 'h1|Reboot|unknown', 'h1|After|unknown', 'h1|Connection|unknown', 'h1|Show|unknown']);
    assert.equal(check.connects.get('h1'), 1);
    assert.ok(!check.conns.get('h1')!.execs.some((c) => c.includes('echo second')), 'the reboot command did not run');
    assert.match(check.report.tasks[1].note ?? '', /whether reboot_command, boot_time_command succeed is known only when it runs/);
  });

  it('check mode: the default reboot as root is a change', async () => {
    const dir = tmp();
    const pb = `
- name: Reboot
  hosts: h1
  tasks:
    - name: Reboot
      reboot: {}
    - name: After
      copy: { dest: "{{ base }}/motd", content: "hello\\n" }
`;
    const check = await runPlaybook({ inventory: inventory(dir), playbook: pb, dir, check: true });
    assert.deepEqual(statuses(check.report), ['h1|Reboot|changed', 'h1|After|unknown']);
  });

  it('refused on the controller (connection: local or delegate_to)', async () => {
    const dir = tmp();
    const pb = `
- name: Local
  hosts: h1
  tasks:
    - name: Reboot elsewhere
      reboot: {}
      delegate_to: localhost
`;
    const r = await runPlaybook({ inventory: inventory(dir), playbook: pb, dir });
    assert.deepEqual(statuses(r.report), ['h1|Reboot elsewhere|failed']);
    assert.match(r.report.tasks[0].error ?? '', /reboot acts on the task's own host's connection: it cannot run with connection: local or delegate_to/);
  });
});
