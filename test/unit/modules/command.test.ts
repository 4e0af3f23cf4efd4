import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { command } from '../../../src/modules/commands/command.js';
import { absentFile, makeCtx, parse, regularFile } from './helpers.js';
import { HostPrediction } from '../../../src/engine/prediction.js';

describe('command: args and facts', () => {
  test('paths must be absolute; cmd is required', () => {
    assert.throws(() => parse(command, { cmd: 'make', creates: 'build/out' }), /absolute path/);
    assert.throws(() => parse(command, { cmd: '' }));
    assert.throws(() => parse(command, { cmd: 'make', timeout: 5 }));
  });

  test('facts only for the guards given', () => {
    assert.deepEqual(command.facts(parse(command, { cmd: 'make' }), makeCtx()), {});
    const f = command.facts(parse(command, { cmd: 'make', creates: '/srv/app/out', removes: '/tmp/lock', unless: 'test -f x', chdir: '/srv/app' }), makeCtx()) as Required<
      ReturnType<typeof command.facts>
    >;
    assert.deepEqual(Object.keys(f), ['creates', 'removes', 'unless']);
    assert.equal(f.creates.kind.key(f.creates.params), 'file:/srv/app/out');
    assert.equal(f.removes.kind.key(f.removes.params), 'file:/tmp/lock');
    assert.deepEqual(f.unless.params, { cmd: 'test -f x', chdir: '/srv/app' });
    assert.equal(f.unless.kind.key(f.unless.params), 'exit:/srv/app:test -f x');
  });
});

describe('command: predict (other paths than its guards: what the fixtures cannot show)', () => {
  const check = () => makeCtx({ check: true });
  test('predict: what is under `creates` is unknown, `removes` is gone; a command that declares nothing makes everything unknown', () => {
    const a = parse(command, { cmd: 'make', creates: '/out', removes: '/in' });
    const facts = { creates: absentFile(), removes: regularFile() };
    const host = new HostPrediction('h1');
    host.record(command.predict!(a, facts, command.plan(a, facts, check()), check()));
    assert.throws(() => host.foldAll(['file:/out'], absentFile()), /written by the command 'make'/);
    assert.throws(() => host.foldAll(['file:/out/x'], absentFile()), /written by the command 'make'/);
    assert.deepEqual(host.foldAll(['file:/in'], regularFile()), { type: 'absent', parentExists: true });
    assert.deepEqual(host.foldAll(['file:/in/x'], regularFile()), { type: 'absent', parentExists: false });
    assert.deepEqual(host.foldAll(['file:/elsewhere'], regularFile()), regularFile());
    const bare = new HostPrediction('h1');
    bare.record(command.predict!(parse(command, { cmd: 'date' }), {}, [], check()));
    assert.throws(() => bare.foldAll(['unit:nginx.service'], {}), /declares no effects/);
    const declared = new HostPrediction('h1');
    declared.record(command.predict!(parse(command, { cmd: 'tar x', writes: ['/srv/app/'] }), {}, [], check()));
    assert.throws(() => declared.foldAll(['file:/srv/app/index.html'], absentFile()), /written by the command/);
    assert.deepEqual(declared.foldAll(['file:/srv/other'], absentFile()), absentFile());
  });

});
