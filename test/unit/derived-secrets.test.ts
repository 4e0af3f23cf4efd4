import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { derivedSpans, NOT_SHOWN, Redactor } from '../../src/engine/display.js';
import { MASK, Masker } from '../../src/engine/secrets.js';
import { runPlaybook, tmp } from '../helpers/fake.js';

const PW = 'correct-horse-battery';
const DERIVED = PW.toUpperCase();
const b64 = (s: string) => Buffer.from(s).toString('base64');

const inventory = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1 }
vars:
  base: ${dir}
`;

describe('values derived from secrets', () => {
  it('a derived value is masked wherever it comes back: -vv output, registered and written elsewhere with a diff, errors, the report', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'templates', 'b64.ejs'), "token=<%- Buffer.from(secret('pw')).toString('base64') %>\n");
    const playbook = `
- hosts: h1
  tasks:
    - name: Write derived
      copy: { dest: "{{ base }}/pw.txt", content: "user=app\\npass={{ secret('pw').toUpperCase() }}\\n" }
    - name: Template derived
      template: { src: b64.ejs, dest: "{{ base }}/b64.txt" }
    - name: Read it back
      command: { cmd: "cat {{ base }}/pw.txt {{ base }}/b64.txt" }
      register: out
    - name: Write it elsewhere
      copy: { dest: "{{ base }}/copy.txt", content: "{{ out.stdout }}\\n" }
    - name: Fail with it
      command: { cmd: "cat {{ base }}/copy.txt >&2; exit 3" }
`;
    const { report, events } = await runPlaybook({ inventory: inventory(dir), playbook, dir, trace: true, env: { PROVISION_SECRET_PW: PW } });
    assert.equal(readFileSync(join(dir, 'copy.txt'), 'utf8'), `user=app\npass=${DERIVED}\ntoken=${b64(PW)}\n`, 'the host got the real values');
    const all = JSON.stringify({ report, events });
    assert.ok(all.includes(MASK), 'something was masked');
    for (const clear of [DERIVED, b64(PW)]) assert.ok(!all.includes(clear), `${clear} does not appear in the events or the report`);
    const failed = report.tasks.find((t) => t.task === 'Fail with it')!;
    assert.equal(failed.status, 'failed');
    assert.ok(/pass=\*{8}/.test(JSON.stringify(events)), 'the -vv output shows the mask where the value was');

    // a later run with the secret rotated still masks the old derived value (hashed in the history)
    const history = readFileSync(join(dir, 'secrets.history.json'), 'utf8');
    assert.ok(!history.includes(DERIVED) && !history.includes(b64(PW)), 'the history keeps hashes only');
    const again = await runPlaybook({
      inventory: inventory(dir),
      playbook: `- hosts: h1\n  tasks:\n    - name: Old file\n      command: { cmd: "cat {{ base }}/copy.txt; exit 1" }\n`,
      dir,
      trace: true,
      env: { PROVISION_SECRET_PW: 'a-new-rotated-value' },
    });
    const later = JSON.stringify({ report: again.report, events: again.events });
    assert.ok(later.includes('user=app'), 'the output is there');
    for (const clear of [DERIVED, b64(PW)]) assert.ok(!later.includes(clear), `${clear} masked in a later run`);
  });

  it('derivedSpans: what differs, line by line, without what the lines share', () => {
    assert.deepEqual(derivedSpans('PW=ABCDEFG\nx=1', 'PW=«SECRET PW»\nx=1'), ['ABCDEFG']);
    assert.deepEqual(derivedSpans('a\nb\ntoken=Zm9vYmFy', 'a\nb'), ['token=Zm9vYmFy']);
    assert.deepEqual(derivedSpans('same', 'same'), []);
    assert.deepEqual(derivedSpans('k=ab', 'k=«secret x»'), [], 'too short to mask');
  });

  it('only spans the renders locate are recorded: not what a failed display render left unknown', () => {
    const seen: string[] = [];
    const r = new Redactor({ addDerived: (v) => seen.push(v) });
    r.add('/srv/app/config.env', NOT_SHOWN);
    r.add('user=app pass=HUNTER22', 'user=app pass=«SECRET PW»');
    assert.deepEqual(seen, ['HUNTER22']);
    assert.equal(r.redact('path /srv/app/config.env'), `path ${NOT_SHOWN}`, 'still redacted in the task itself');
  });

  it('masking is one linear pass: 100 MB takes about 10x what 10 MB takes with 50 derived values', () => {
    const masker = new Masker();
    const values = Array.from({ length: 50 }, () => randomBytes(18).toString('base64'));
    for (const v of values) masker.addDerived(v.toUpperCase());
    const line = `the quick brown fox jumps over the lazy dog 0123456789 ${values[7].toUpperCase()} tail\n`;
    const time = (mb: number) => {
      const s = line.repeat(Math.ceil((mb * 1e6) / line.length));
      // CPU time, not wall time: on a loaded machine the longer run is descheduled more often
      const t0 = process.cpuUsage();
      const out = masker.mask(s);
      const used = process.cpuUsage(t0);
      const ms = (used.user + used.system) / 1e3;
      assert.ok(!out.includes(values[7].toUpperCase()) && out.includes(MASK));
      return ms;
    };
    time(1); // warm up
    const small = Math.min(time(10), time(10));
    const big = time(100);
    const ratio = big / small;
    process.stderr.write(`masking 10 MB: ${small.toFixed(0)} ms, 100 MB: ${big.toFixed(0)} ms, ratio ${ratio.toFixed(1)}\n`);
    assert.ok(ratio < 25, `linear: 100 MB took ${ratio.toFixed(1)}x 10 MB`);
  });
});
