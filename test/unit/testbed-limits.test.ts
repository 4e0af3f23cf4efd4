/** The testbed raises the kernel limits many hosts need, only when they are below that, never lowering them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { limitsToRaise } from '../../src/testbed/index.js';

describe('testbed kernel limits', () => {
  const defaults: Record<string, number> = { 'fs.inotify.max_user_instances': 128, 'fs.inotify.max_user_watches': 8192 };
  it('3 hosts fit the defaults; 30 hosts raise max_user_instances above the 8 instances a booted host uses', () => {
    assert.deepEqual(limitsToRaise(3, (k) => defaults[k]), []);
    const raised = limitsToRaise(30, (k) => defaults[k]);
    const inst = raised.find(([k]) => k === 'fs.inotify.max_user_instances');
    assert.ok(inst && inst[1] === 128 && inst[2] >= 2 * 8 * 30, JSON.stringify(raised));
    const watches = raised.find(([k]) => k === 'fs.inotify.max_user_watches');
    assert.ok(watches && watches[2] >= 2 * 35 * 30, JSON.stringify(raised));
  });
  it('never lowers a limit that is already high enough, and skips limits this kernel does not have', () => {
    assert.deepEqual(limitsToRaise(30, () => 1_000_000), []);
    assert.deepEqual(limitsToRaise(30, () => undefined), []);
  });
});
