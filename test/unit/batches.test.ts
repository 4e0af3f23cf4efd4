import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { computeBatches, describeStop, serialSize, stopReason } from '../../src/engine/batches.js';
import { runPlaybook, tmp } from '../helpers/fake.js';
import { loadPlaybook } from '../../src/load/playbook.js';
import { builtinModules } from '../../src/modules/all.js';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`);

describe('serial batches (Ansible semantics)', () => {
  it('a number, a percentage (rounded down, at least 1), a list whose last value repeats, 0 = all', () => {
    assert.deepEqual(computeBatches(hosts(5), [2]), [['h1', 'h2'], ['h3', 'h4'], ['h5']]);
    assert.deepEqual(computeBatches(hosts(3), [1]), [['h1'], ['h2'], ['h3']]);
    assert.equal(serialSize('30%', 10), 3);
    assert.equal(serialSize('30%', 3), 1, '0.9 rounds down to 0, then at least 1');
    assert.equal(serialSize('50%', 5), 2);
    assert.deepEqual(computeBatches(hosts(5), ['50%']), [['h1', 'h2'], ['h3', 'h4'], ['h5']]);
    assert.deepEqual(computeBatches(hosts(10), [1, '50%']), [['h1'], hosts(6).slice(1), hosts(10).slice(6)]);
    assert.deepEqual(computeBatches(hosts(7), [1, 2, 10]), [['h1'], ['h2', 'h3'], hosts(7).slice(3)]);
    assert.deepEqual(computeBatches(hosts(4), [1, 0]), [['h1'], ['h2', 'h3', 'h4']]);
    assert.deepEqual(computeBatches(hosts(3), [0]), [hosts(3)]);
    assert.deepEqual(computeBatches(hosts(2), undefined), [hosts(2)]);
    assert.deepEqual(computeBatches([], [1]), []);
  });

  it('stops when the failed share is strictly above max_fail_percentage, or the whole batch failed', () => {
    assert.equal(stopReason(['a', 'b'], [], 0), undefined);
    assert.match(stopReason(['a'], ['a'], 0)!, /1 of 1 host\(s\) of the batch failed \(100%\), above max_fail_percentage 0%/);
    assert.equal(stopReason(['a', 'b', 'c', 'd'], ['a'], 25), undefined, '25% is not above 25%');
    assert.match(stopReason(['a', 'b', 'c', 'd'], ['a', 'b'], 25)!, /2 of 4 .*\(50%\)/);
    assert.match(stopReason(['a', 'b', 'c'], ['a'], 30)!, /\(33\.3%\), above max_fail_percentage 30%/);
    // without max_fail_percentage: only a batch where every host failed stops the run
    assert.equal(stopReason(['a', 'b'], ['a'], undefined), undefined);
    assert.match(stopReason(['a', 'b'], ['a', 'b'], undefined)!, /every host of the batch failed \(2 of 2\)/);
    // max_fail_percentage 100 never stops on the percentage, but a fully failed batch still does
    assert.match(stopReason(['a'], ['a'], 100)!, /every host/);
  });

  it('describes the stop for the recap', () => {
    const line = describeStop({ play: 'Deploy', batch: 1, batches: 2, hosts: ['web-01'], failed: ['web-01'], reason: 'r', notRun: ['web-02'] });
    assert.equal(line, "play 'Deploy' stopped at batch 1 of 2 [web-01]: r; failed: web-01; not run: web-02; the remaining batches and plays did not run");
  });

  it('play keys: serial (number, "N%", list) and max_fail_percentage are validated with file:line', () => {
    const dir = tmp();
    const file = join(dir, 'pb.yml');
    writeFileSync(file, '- hosts: all\n  serial: [1, "50%", "3"]\n  max_fail_percentage: 0\n  tasks: []\n');
    const pb = loadPlaybook(file, builtinModules());
    assert.deepEqual(pb.plays[0].serial, [1, '50%', 3]);
    assert.equal(pb.plays[0].maxFailPercentage, 0);
    writeFileSync(file, '- hosts: all\n  serial: half\n  tasks: []\n');
    assert.throws(() => loadPlaybook(file, builtinModules()), /pb\.yml:2:\d+.*serial/s);
    writeFileSync(file, '- hosts: all\n  max_fail_percentage: 150\n  tasks: []\n');
    assert.throws(() => loadPlaybook(file, builtinModules()), /pb\.yml:2:\d+.*max_fail_percentage/s);
  });
});

const inventory = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1 }
  h2: { address: 10.0.0.2 }
  h3: { address: 10.0.0.3 }
  h4: { address: 10.0.0.4 }
groups:
  web: { hosts: [h1, h2, h3, h4] }
vars:
  base: ${dir}
`;

describe('runner: serial plays', () => {
  it('each batch runs the whole play, handlers included, before the next batch starts', async () => {
    const dir = tmp();
    const log = join(dir, 'order.log');
    const playbook = `
- name: Rolling
  hosts: web
  serial: [1, 2]
  tasks:
    - name: step
      command: { cmd: "echo task {{ host.name }} >> ${log}" }
      notify: restart
  handlers:
    - name: restart
      command: { cmd: "echo handler {{ host.name }} >> ${log}" }
`;
    const { report, events } = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    // batch 1 = h1 (task + handler) before anything of batch 2 (h2, h3), then batch 3 (h4)
    assert.deepEqual(lines.slice(0, 2), ['task h1', 'handler h1']);
    assert.deepEqual(new Set(lines.slice(2, 6)), new Set(['task h2', 'task h3', 'handler h2', 'handler h3']));
    assert.deepEqual(lines.slice(6), ['task h4', 'handler h4']);
    const starts = events.filter((e) => e.type === 'play-start');
    assert.deepEqual(
      starts.map((e) => (e.type === 'play-start' ? `${e.batch}:${e.hosts.join(',')}` : '')),
      ['1/3:h1', '2/3:h2,h3', '3/3:h4'],
    );
    assert.equal(report.stopped, undefined);
  });

  it('max_fail_percentage: 0 stops at the first failing batch; later batches and plays do not run', async () => {
    const dir = tmp();
    const playbook = `
- name: Deploy
  hosts: web
  serial: 1
  max_fail_percentage: 0
  tasks:
    - name: release
      command: { cmd: "test {{ host.name }} != h2" }
- name: Afterwards
  hosts: web
  tasks:
    - name: later
      command: { cmd: "true" }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    const ran = report.tasks.map((t) => `${t.host}|${t.task}|${t.status}`);
    assert.deepEqual(ran, ['h1|release|changed', 'h2|release|failed']);
    assert.deepEqual(report.stopped, {
      play: 'Deploy',
      batch: 2,
      batches: 4,
      hosts: ['h2'],
      failed: ['h2'],
      reason: '1 of 1 host(s) of the batch failed (100%), above max_fail_percentage 0%',
      notRun: ['h3', 'h4'],
    });
  });

  it('a failure under the threshold goes on; serial without max_fail_percentage stops only on a fully failed batch', async () => {
    const dir = tmp();
    const play = (extra: string) => `
- name: Half
  hosts: web
  serial: 2
  ${extra}
  tasks:
    - name: release
      command: { cmd: "test {{ host.name }} != h1" }
`;
    const under = await runPlaybook({ inventory: inventory(dir), playbook: play('max_fail_percentage: 50'), dir });
    assert.equal(under.report.stopped, undefined, '1 of 2 = 50% is not above 50%');
    assert.equal(under.report.recap.h4.changed, 1);
    const over = await runPlaybook({ inventory: inventory(dir), playbook: play('max_fail_percentage: 49'), dir });
    assert.equal(over.report.stopped?.batch, 1);
    assert.equal(over.report.recap.h2.changed, 1, 'the other host of the batch finished its play');
    assert.equal(over.report.recap.h3.changed + over.report.recap.h4.changed, 0);
    const plain = await runPlaybook({ inventory: inventory(dir), playbook: play(''), dir });
    assert.equal(plain.report.stopped, undefined);
    assert.equal(plain.report.recap.h4.changed, 1);
    const unreachable = await runPlaybook({ inventory: inventory(dir), playbook: play(''), dir, unreachable: ['h3', 'h4'] });
    assert.equal(unreachable.report.stopped?.batch, 2);
    assert.match(unreachable.report.stopped!.reason, /every host of the batch failed \(2 of 2\)/);
  });
});

describe('runner: delegate_to as a template', () => {
  it('a loop over hosts delegates each item to that host', async () => {
    const dir = tmp();
    const playbook = `
- name: Needs h3 and h4 in the run
  hosts: h3,h4
  tasks:
    - name: noop
      command: { cmd: "true" }
- name: Rolling
  hosts: h1
  tasks:
    - name: on each load balancer
      loop: [h3, h4]
      delegate_to: "{{ item }}"
      command: { cmd: "echo \\"for {{ host.name }} on $FAKE_HOST\\" >> ${join(dir, 'delegated.log')}" }
`;
    const { report } = await runPlaybook({ inventory: inventory(dir), playbook, dir });
    assert.equal(report.tasks.find((t) => t.task === 'on each load balancer')?.status, 'changed');
    assert.deepEqual(readFileSync(join(dir, 'delegated.log'), 'utf8').trim().split('\n'), ['for h1 on h3', 'for h1 on h4']);
  });
});
