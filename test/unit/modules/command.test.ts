import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExitFact } from '../../../src/modules/commands/facts.js';
import type { FileFact } from '../../../src/modules/files/facts.js';
import { command, shell } from '../../../src/modules/commands/command.js';
import { absentFile, assertConverges, cmds, directory, makeCtx, parse, regularFile } from './helpers.js';
import { HostPrediction } from '../../../src/engine/prediction.js';

type Facts = { creates?: FileFact; removes?: FileFact; unless?: ExitFact };

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

describe('command: plan', () => {
  test('unguarded: runs every time, one-shot', () => {
    const ctx = makeCtx();
    const changes = command.plan(parse(command, { cmd: 'systemctl reset-failed' }), {}, ctx);
    assert.deepEqual(
      changes.map((c) => [c.action, c.target, c.summary, c.oneShot]),
      [['run', 'systemctl reset-failed', 'run: systemctl reset-failed', true]],
    );
    assert.deepEqual(cmds(changes), ['systemctl reset-failed']);
    assert.deepEqual(ctx.notes, []);
  });

  test('chdir prefixes a cd (quoted when needed)', () => {
    assert.deepEqual(cmds(command.plan(parse(command, { cmd: 'make install', chdir: '/srv/app' }), {}, makeCtx())), ['cd /srv/app || exit 1\nmake install']);
    assert.deepEqual(cmds(shell.plan(parse(shell, { cmd: 'ls | wc -l', chdir: '/srv/my app' }), {}, makeCtx())), [`cd '/srv/my app' || exit 1\nls | wc -l`]);
  });

  test('a multi-line script is summarised by its first line', () => {
    const script = 'set -e\n' + 'x'.repeat(200) + '\necho done';
    const [c] = shell.plan(parse(shell, { cmd: script }), {}, makeCtx());
    assert.equal(c.target, 'set -e');
    assert.equal(c.summary, 'run: set -e');
    assert.equal(c.commands[0].cmd, script);
    const [d] = shell.plan(parse(shell, { cmd: 'y'.repeat(200) }), {}, makeCtx());
    assert.equal(d.target.length, 80);
    assert.equal(d.summary, `run: ${'y'.repeat(120)}`);
  });

  test('creates: skipped with a note when the path exists (file or directory)', () => {
    for (const f of [regularFile(), directory()]) {
      const ctx = makeCtx();
      assert.deepEqual(command.plan(parse(command, { cmd: 'tar xf app.tgz', creates: '/opt/app' }), { creates: f }, ctx), []);
      assert.deepEqual(ctx.notes, ['not run: /opt/app exists']);
    }
  });

  test('creates: runs (guarded, not one-shot) when the path is absent', () => {
    const ctx = makeCtx();
    const changes = command.plan(parse(command, { cmd: 'tar xf app.tgz', creates: '/opt/app' }), { creates: absentFile() }, ctx);
    assert.deepEqual(
      changes.map((c) => [c.summary, c.oneShot]),
      [['run: tar xf app.tgz (/opt/app does not exist)', false]],
    );
    assert.deepEqual(ctx.notes, []);
  });

  test('removes: skipped with a note when the path is absent, run when present', () => {
    const ctx = makeCtx();
    const a = parse(command, { cmd: 'rm -f /var/run/app.lock && systemctl start app', removes: '/var/run/app.lock' });
    assert.deepEqual(command.plan(a, { removes: absentFile() }, ctx), []);
    assert.deepEqual(ctx.notes, ['not run: /var/run/app.lock does not exist']);
    const changes = command.plan(a, { removes: regularFile() }, makeCtx());
    assert.deepEqual(
      changes.map((c) => [c.summary, c.oneShot]),
      [['run: rm -f /var/run/app.lock && systemctl start app', false]],
    );
  });

  test('unless: skipped with a note when it succeeds, run with its exit code otherwise', () => {
    const a = parse(shell, { cmd: 'psql -c "create extension pgcrypto"', unless: 'psql -tAc "select 1 from pg_extension where extname=\'pgcrypto\'" | grep -q 1' });
    const ctx = makeCtx();
    assert.deepEqual(shell.plan(a, { unless: { rc: 0 } }, ctx), []);
    assert.deepEqual(ctx.notes, ["not run: 'unless' command succeeded"]);
    const changes = shell.plan(a, { unless: { rc: 1 } }, makeCtx());
    assert.deepEqual(
      changes.map((c) => [c.summary, c.oneShot]),
      [[`run: psql -c "create extension pgcrypto" ('unless' exited 1)`, false]],
    );
    assert.deepEqual(cmds(changes), ['psql -c "create extension pgcrypto"']);
  });

  test('creates is checked before unless', () => {
    const ctx = makeCtx();
    const a = parse(command, { cmd: 'make', creates: '/out', unless: 'false' });
    assert.deepEqual(command.plan(a, { creates: regularFile(), unless: { rc: 1 } }, ctx), []);
    assert.deepEqual(ctx.notes, ['not run: /out exists']);
  });
});

describe('command: predict and convergence', () => {
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

  const cases: [string, unknown, Facts][] = [
    ['removes', { cmd: 'rm /tmp/x', removes: '/tmp/x' }, { removes: regularFile() }],
  ];
  for (const [name, args, facts] of cases) {
    test(`convergence: ${name}`, () => {
      assertConverges(command, parse(command, args), facts);
      assertConverges(shell, parse(shell, args), facts);
    });
  }
});
