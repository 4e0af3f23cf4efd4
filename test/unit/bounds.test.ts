/** Nothing unbounded: diffs of large rewrites and large files, captured command output. */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runPlaybook, tmp } from '../helpers/fake.js';
import { displayDiff, MAX_DIFF_SHOWN_LINES } from '../../src/modules/files/diff.js';
import { BoundedOutput, OUTPUT_HEAD_BYTES, OUTPUT_TAIL_BYTES } from '../../src/ssh/output.js';
import { LocalConnection } from '../../src/ssh/local.js';

const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `line ${i} ${tag} ${(i * 7919) % 10007}`).join('\n') + '\n';

const inventory = (dir: string) => `
hosts:
  h1: { address: 10.0.0.1 }
vars:
  base: ${dir}
`;

describe('bounded diffs', () => {
  it('a 20,000-line rewrite plans in well under the 83 s it took (diff capped, still a diff)', async () => {
    const dir = tmp('prov-bounds-');
    mkdirSync(join(dir, 'files'));
    writeFileSync(join(dir, 'big.txt'), lines(20000, 'old'));
    writeFileSync(join(dir, 'files', 'big.txt'), lines(20000, 'new'));
    const pb = `
- hosts: h1
  tasks:
    - name: Rewrite
      copy: { src: big.txt, dest: "{{ base }}/big.txt" }
`;
    const t0 = Date.now();
    const r = await runPlaybook({ inventory: inventory(dir), playbook: pb, dir, check: true });
    const ms = Date.now() - t0;
    assert.equal(r.report.tasks[0].status, 'changed');
    assert.ok(ms < 8000, `took ${ms} ms`);
    const diff = r.report.tasks[0].changes[0].diff!;
    assert.match(diff, /^-line 0 old 0$/m);
    assert.match(diff, /diff truncated: \d+ more lines not shown/);
    assert.ok(diff.split('\n').length <= MAX_DIFF_SHOWN_LINES + 5);
  });

  it('sparse changes in 12,000 lines: every hunk right, fast', () => {
    const before = lines(12000, 'x');
    const after = before.split('\n').map((l, i) => (i % 1000 === 500 ? `${l} changed` : l)).join('\n');
    const t0 = Date.now();
    const d = displayDiff({ path: '/f', before, after, mask: (s) => s });
    assert.ok(Date.now() - t0 < 2000);
    assert.equal((d.match(/^@@ /gm) ?? []).length, 12);
    assert.match(d, /^@@ -498,7 \+498,7 @@$/m);
    assert.match(d, /^-line 500 x \d+$/m);
    assert.match(d, /^\+line 500 x \d+ changed$/m);
  });

  it('a 50 MB file plans in seconds (create and update)', async () => {
    const dir = tmp('prov-bounds-');
    mkdirSync(join(dir, 'files'));
    const row = 'y'.repeat(99) + '\n';
    writeFileSync(join(dir, 'files', 'huge.txt'), row.repeat(500_000));
    writeFileSync(join(dir, 'old.txt'), row.repeat(30_000) + 'old\n');
    const pb = `
- hosts: h1
  tasks:
    - name: Create
      copy: { src: huge.txt, dest: "{{ base }}/new.txt" }
    - name: Update
      copy: { src: huge.txt, dest: "{{ base }}/old.txt" }
`;
    const t0 = Date.now();
    const r = await runPlaybook({ inventory: inventory(dir), playbook: pb, dir, check: true });
    const ms = Date.now() - t0;
    assert.deepEqual(r.report.tasks.map((t) => t.status), ['changed', 'changed']);
    assert.ok(ms < 15000, `took ${ms} ms`);
    for (const t of r.report.tasks) assert.match(t.changes[0].diff!, /not diffed: .*larger than/);
  });
});

describe('bounded command output', () => {
  it('keeps the head and the tail and says how much was dropped', () => {
    const b = new BoundedOutput(10, 6);
    for (const part of ['0123456', '789abcdef', 'ghijklmnop', 'qr', 'stuvwxyz']) b.push(Buffer.from(part));
    assert.equal(b.total, 36);
    assert.equal(b.toString(), '0123456789\n[provision: 20 bytes of output dropped (kept the first 10 and the last 6 of 36)]\nuvwxyz');
    const small = new BoundedOutput(10, 6);
    small.push(Buffer.from('short'));
    assert.equal(small.toString(), 'short');
    const exact = new BoundedOutput(4, 4);
    exact.push(Buffer.from('abcdefgh'));
    assert.equal(exact.toString(), 'abcdefgh');
    // one huge chunk: only its end is kept
    const big = new BoundedOutput(2, 3);
    big.push(Buffer.alloc(1000, 'x'));
    big.push(Buffer.from('end'));
    assert.equal(big.toString(), 'xx\n[provision: 998 bytes of output dropped (kept the first 2 and the last 3 of 1003)]\nend');
  });

  it('a local command printing 400 MB leaves the controller memory bounded', async () => {
    const local = new LocalConnection();
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const r = await local.exec('yes | head -c 400000000; echo tail-marker');
    clearInterval(timer);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.length <= OUTPUT_HEAD_BYTES + OUTPUT_TAIL_BYTES + 200);
    assert.match(r.stdout, /bytes of output dropped/);
    assert.ok(r.stdout.endsWith('y\ny\ntail-marker\n'));
    const grew = (peak - base) / 1024 / 1024;
    assert.ok(grew < 250, `rss grew by ${grew.toFixed(0)} MB`);
  });
});
