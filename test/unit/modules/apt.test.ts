import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AptCacheFact, AptSimulationFact, PackageFact } from '../../../src/modules/packages/facts.js';
import { apt } from '../../../src/modules/packages/apt.js';
import { makeCtx, parse } from './helpers.js';
import { HostPrediction } from '../../../src/engine/prediction.js';

type Facts = Record<string, PackageFact | AptCacheFact | AptSimulationFact>;
const installed = (version: string): PackageFact => ({ installed: true, version });
const notInstalled: PackageFact = { installed: false };
const NOW = 1_800_000_000;

describe('apt: args', () => {
  test('a single name becomes a list and defaults apply', () => {
    const a = parse(apt, { name: 'nginx' });
    assert.deepEqual(a, { name: ['nginx'], state: 'present', upgrade: 'no', autoremove: false, update_cache: false, cache_valid_time: 0, install_recommends: false, start_services: false });
  });

  test('rejects bad package names and an empty task', () => {
    assert.throws(() => parse(apt, { name: 'nginx; rm -rf /' }), /Debian package name/);
    assert.throws(() => parse(apt, { name: 'Nginx' }), /Debian package name/);
    assert.throws(() => parse(apt, {}), /give 'name'/);
    assert.throws(() => parse(apt, { name: 'nginx', bogus: 1 }));
  });

  test('facts: one package fact per bare name, the cache fact only with update_cache', () => {
    const f = apt.facts(parse(apt, { name: ['nginx=1.22.1-9', 'curl'] }), makeCtx()) as Record<string, { kind: { kind: string }; params: unknown }>;
    assert.deepEqual(Object.keys(f), ['nginx', 'curl']);
    assert.deepEqual(f.nginx.params, { name: 'nginx' });
    assert.equal(f.nginx.kind.kind, 'package');
    const g = apt.facts(parse(apt, { name: 'curl', update_cache: true }), makeCtx()) as Record<string, { kind: { kind: string } }>;
    assert.deepEqual(Object.keys(g), ['__cache', 'curl']);
    assert.equal(g.__cache.kind.kind, 'apt_cache');
  });
});

describe('apt: predict (what the fixtures cannot show: a later task)', () => {
  const check = () => makeCtx({ check: true });
  test('a dependency apt-get -s installs is read as installed by a later task naming it', () => {
    const a = parse(apt, { name: ['nginx=1.22.1-9', 'curl', 'jq'], update_cache: true });
    const facts: Facts = {
      __cache: { updatedAt: 0, now: NOW },
      __sim: { ok: true, installs: { nginx: '1.22.1-9', 'nginx-common': '1.22.1-9', jq: '1.6-2.1', libjq1: '1.6-2.1' }, removes: [] },
      nginx: notInstalled,
      curl: installed('7.88.1-10'),
      jq: notInstalled,
    };
    const dep = parse(apt, { name: 'libjq1' });
    const host = new HostPrediction('h1');
    host.record(apt.predict!(a, facts, apt.plan(a, facts, check()), check()));
    assert.deepEqual(host.foldAll(['package:libjq1'], notInstalled), { installed: true, version: '1.6-2.1' });
    assert.deepEqual(apt.plan(dep, { libjq1: host.foldAll(['package:libjq1'], notInstalled) }, makeCtx()), []);
  });

  test("a unit named after an installed package exists, stopped (policy-rc.d); with start_services its state is unknown", () => {
    const facts: Facts = { __sim: { ok: true, installs: { cron: '3.0pl1-162' }, removes: [] }, cron: notInstalled };
    const missingUnit = { exists: false, active: 'inactive', enabled: 'unknown', needDaemonReload: false };
    for (const startServices of [false, true]) {
      const a = parse(apt, { name: 'cron', start_services: startServices });
      const host = new HostPrediction('h1');
      host.record(apt.predict!(a, facts, apt.plan(a, facts, check()), check()));
      if (!startServices) assert.deepEqual(host.foldAll(['unit:cron.service'], missingUnit), { exists: true, active: 'inactive', enabled: 'unknown', needDaemonReload: false, byInstall: true });
      else assert.throws(() => host.foldAll(['unit:cron.service'], missingUnit), /start_services: its maintainer scripts may start it/);
    }
  });

  test('ex7: a later removal reads its simulation with the installs check mode predicted, and is unknown; the removals a later install cannot see make it unknown too', () => {
    const a = parse(apt, { name: 'jq' });
    const facts: Facts = { __sim: { ok: true, installs: { libonig5: '6.9.8-1', libjq1: '1.6-2.1', jq: '1.6-2.1' }, removes: [] }, jq: notInstalled };
    const host = new HostPrediction('h1');
    host.record(apt.predict!(a, facts, apt.plan(a, facts, check()), check()));
    // the host as it is: libjq1 is not installed, so apt-get -s remove had nothing to do
    const remove = parse(apt, { name: 'libjq1', state: 'absent' });
    const liveSim: AptSimulationFact = { ok: true, installs: {}, removes: [] };
    const seen = host.foldAll(['apt_simulation:absent:libjq1'], liveSim);
    assert.deepEqual(seen.stale, { installed: { libonig5: '6.9.8-1', libjq1: '1.6-2.1', jq: '1.6-2.1' }, removed: [] });
    const removeFacts: Facts = { __sim: seen, libjq1: host.foldAll(['package:libjq1'], notInstalled) };
    assert.throws(() => apt.plan(remove, removeFacts, check()), (e: Error) => e.constructor.name === 'Unknown' && /without libonig5, libjq1, jq, which earlier tasks are predicted to install/.test(e.message));
    // a task that finds its packages as asked does not need the simulation: still exact
    const again = parse(apt, { name: ['libonig5', 'jq'] });
    assert.deepEqual(apt.plan(again, { __sim: host.foldAll(['apt_simulation:present:libonig5,jq'], liveSim), libonig5: host.foldAll(['package:libonig5'], notInstalled), jq: host.foldAll(['package:jq'], notInstalled) }, check()), []);
    // a predicted removal of jq: later simulations see it as removed, and it no longer counts as installed
    const rm = parse(apt, { name: 'jq', state: 'absent' });
    const rmFacts: Facts = { __sim: { ok: true, installs: {}, removes: ['jq'] }, jq: installed('1.6-2.1') };
    host.record(apt.predict!(rm, rmFacts, apt.plan(rm, rmFacts, check()), check()));
    assert.deepEqual(host.foldAll(['apt_simulation:present:jq'], liveSim).stale, { installed: { libonig5: '6.9.8-1', libjq1: '1.6-2.1' }, removed: ['jq'] });
    const install = parse(apt, { name: 'jq' });
    assert.throws(() => apt.plan(install, { __sim: host.foldAll(['apt_simulation:present:jq'], { ok: true, installs: {}, removes: [] }), jq: host.foldAll(['package:jq'], installed('1.6-2.1')) }, check()), /still with jq, which earlier tasks are predicted to remove/);
    // on a host where jq never was, apt-get -s installs it (and lists it): that simulation stands
    const fresh: AptSimulationFact = { ok: true, installs: { jq: '1.6-2.1' }, removes: [] };
    assert.equal(apt.plan(install, { __sim: host.foldAll(['apt_simulation:present:jq'], fresh), jq: host.foldAll(['package:jq'], notInstalled) }, check()).length, 1);
  });
});
