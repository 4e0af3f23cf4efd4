import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { UnitFact } from '../../../src/modules/services/facts.js';
import { service } from '../../../src/modules/services/service.js';
import { assertConverges, makeCtx, parse } from './helpers.js';

const unit = (active: string, enabled: string, needDaemonReload = false): UnitFact => ({ exists: true, active, enabled, needDaemonReload });

describe('service: args', () => {
  test('needs state, enabled or daemon_reload', () => {
    assert.throws(() => parse(service, { name: 'nginx' }), /give 'state' and\/or 'enabled'/);
    assert.deepEqual(parse(service, { name: 'nginx', enabled: true }), { name: 'nginx', enabled: true, daemon_reload: false });
    assert.throws(() => parse(service, { name: 'nginx', state: 'running' }));
  });

  test('facts: the unit fact, keyed by the full unit name', () => {
    const f = service.facts(parse(service, { name: 'nginx', state: 'started' }), makeCtx());
    assert.equal(f.unit.kind.key(f.unit.params), 'unit:nginx.service');
    const g = service.facts(parse(service, { name: 'fstrim.timer', state: 'started' }), makeCtx());
    assert.equal(g.unit.kind.key(g.unit.params), 'unit:fstrim.timer');
  });
});

describe('service: convergence over every state, enabled and unit state', () => {
  const states = ['started', 'stopped', 'restarted', 'reloaded', undefined];
  const enableds = [true, false, undefined];
  const units: [string, UnitFact][] = [
    ['active/enabled', unit('active', 'enabled')],
    ['inactive/disabled', unit('inactive', 'disabled')],
    ['failed/static', unit('failed', 'static')],
    ['active/disabled, needs daemon-reload', unit('active', 'disabled', true)],
  ];
  for (const state of states) {
    for (const enabled of enableds) {
      if (state === undefined && enabled === undefined) continue;
      for (const [uname, u] of units) {
        test(`convergence: state=${state} enabled=${enabled} on ${uname}`, () => assertConverges(service, parse(service, { name: 'app', state, enabled }), { unit: u }));
      }
    }
  }

});
