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
});
