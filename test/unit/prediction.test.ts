/**
 * Check mode's effect log (src/engine/prediction.ts): effects recorded after a task of their
 * host that may fail and stop it are certain for that host's own later tasks and unknown for
 * every other host's (difftest seed 9684).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Prediction, setsTo } from '../../src/engine/prediction.js';
import { Unknown } from '../../src/modules/contract.js';

describe('prediction: effects after a possible stop', () => {
  it('are certain for the host that made them and unknown for the others', () => {
    const p = new Prediction();
    const h2 = p.host('h2');
    h2.record([setsTo('file:/a', 'made before')], { host: 'h1' });
    p.mayStop('h1', "'t1' on h1 may fail");
    assert.equal(p.mayHaveStopped('h1'), "'t1' on h1 may fail");
    assert.equal(p.mayHaveStopped('h2'), undefined);
    h2.record([setsTo('file:/b', 'made after')], { host: 'h1', mayHaveStopped: p.mayHaveStopped('h1') });
    // made before the possible stop: certain for everyone
    assert.equal(h2.foldAll(['file:/a'], 'live', 'h2'), 'made before');
    // made after it: h1's own later tasks see it, h2's own tasks cannot know it
    assert.equal(h2.foldAll(['file:/b'], 'live', 'h1'), 'made after');
    assert.throws(() => h2.foldAll(['file:/b'], 'live', 'h2'), (e: unknown) => e instanceof Unknown && /'t1' on h1 may fail/.test(e.message));
    assert.throws(() => h2.foldAll(['file:/b'], 'live', 'h3'), Unknown);
    // an effect that leaves the value as it was stays exact for everyone
    h2.record([setsTo('file:/c', 'same')], { host: 'h1', mayHaveStopped: p.mayHaveStopped('h1') });
    assert.equal(h2.foldAll(['file:/c'], 'same', 'h2'), 'same');
  });

  it('stay conditional while a handler makes them uncertain, and after', () => {
    const p = new Prediction();
    const h1 = p.host('h1');
    h1.record([setsTo('file:/x', 'x')], { host: 'h1', mayHaveStopped: 'h1 may have stopped' });
    const restore = h1.uncertainSince(0, 'a task before the handler may fail', 'h1');
    assert.throws(() => h1.foldAll(['file:/x'], 'live', 'h1'), /a task before the handler may fail/);
    assert.throws(() => h1.foldAll(['file:/x'], 'live', 'h2'), Unknown);
    restore();
    assert.equal(h1.foldAll(['file:/x'], 'live', 'h1'), 'x');
    assert.throws(() => h1.foldAll(['file:/x'], 'live', 'h2'), /h1 may have stopped/);
  });

  it("a host's possible stop leaves what other hosts' tasks recorded meanwhile certain (was: the notes e2e, now and then)", () => {
    const p = new Prediction();
    const h2 = p.host('h2');
    // h1 enters a block; meanwhile h2's own task and h1's delegated one record on h2
    const mark = p.sizes();
    h2.record([setsTo('file:/own', 'by h2')], { host: 'h2' });
    h2.record([setsTo('file:/delegated', 'by h1')], { host: 'h1' });
    // a task of h1's block may have failed: only h1's effects since the mark may not have happened
    p.uncertainSinceAll(mark, "h1's block may fail", 'h1');
    assert.equal(h2.foldAll(['file:/own'], 'live', 'h2'), 'by h2');
    assert.throws(() => h2.foldAll(['file:/delegated'], 'live', 'h2'), /h1's block may fail/);
  });

  it('keep an effect made uncertain for good when a temporary uncertainty ends', () => {
    const p = new Prediction();
    const h1 = p.host('h1');
    h1.record([setsTo('file:/x', 'x')], { host: 'h1' });
    const restore = h1.uncertainSince(0, 'for the handler', 'h1');
    p.uncertainSinceAll(new Map([['h1', 0]]), 'for good', 'h1');
    restore();
    assert.throws(() => h1.foldAll(['file:/x'], 'live', 'h1'), Unknown);
  });
});
