import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskError } from '../../../src/modules/contract.js';
import type { AptCacheFact, AptSimulationFact, PackageFact } from '../../../src/modules/packages/facts.js';
import { apt } from '../../../src/modules/packages/apt.js';
import { assertConverges, cmds, makeCtx, parse, predictedFacts } from './helpers.js';
import { HostPrediction } from '../../../src/engine/prediction.js';

const ENV = 'DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a';
const OPTS = '-y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';
const UPDATE = `${ENV} apt-get update -q -o DPkg::Lock::Timeout=120 && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp`;

/** The policy-rc.d wrapping that keeps maintainer scripts from starting services. */
function noStart(cmd: string): string {
  return [
    `if [ -e /usr/sbin/policy-rc.d ]; then ${cmd}; exit $?; fi`,
    `printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d`,
    `trap 'rm -f /usr/sbin/policy-rc.d' EXIT`,
    cmd,
  ].join('\n');
}

type Facts = Record<string, PackageFact | AptCacheFact | AptSimulationFact>;
const installed = (version: string): PackageFact => ({ installed: true, version });
const notInstalled: PackageFact = { installed: false };
const NOW = 1_800_000_000;

describe('apt: args', () => {
  test('a single name becomes a list and defaults apply', () => {
    const a = parse(apt, { name: 'nginx' });
    assert.deepEqual(a, { name: ['nginx'], state: 'present', update_cache: false, cache_valid_time: 0, install_recommends: false, start_services: false });
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

describe('apt: plan', () => {
  test('converged: every package installed -> no change', () => {
    const a = parse(apt, { name: ['nginx', 'curl'] });
    assert.deepEqual(apt.plan(a, { nginx: installed('1.22.1-9'), curl: installed('7.88.1-10') }, makeCtx()), []);
  });

  test('install: only the missing packages, policy-rc.d wrapped, without recommends', () => {
    const a = parse(apt, { name: ['nginx', 'curl', 'libnginx-mod-stream'] });
    const changes = apt.plan(a, { nginx: notInstalled, curl: installed('7.88.1-10'), 'libnginx-mod-stream': notInstalled }, makeCtx());
    assert.equal(changes.length, 1);
    const [c] = changes;
    assert.equal(c.action, 'install');
    assert.equal(c.target, 'nginx libnginx-mod-stream');
    assert.equal(c.summary, 'install nginx, libnginx-mod-stream');
    assert.equal(c.oneShot, undefined);
    assert.deepEqual(cmds(changes), [noStart(`${ENV} apt-get install ${OPTS} --no-install-recommends nginx libnginx-mod-stream`)]);
    // errors name the apt-get command, not the policy-rc.d wrapping around it
    assert.equal(changes[0].commands[0].display, `${ENV} apt-get install ${OPTS} --no-install-recommends nginx libnginx-mod-stream`);
  });

  test('install_recommends and start_services change the command', () => {
    const a = parse(apt, { name: 'nginx', install_recommends: true, start_services: true });
    assert.deepEqual(cmds(apt.plan(a, { nginx: notInstalled }, makeCtx())), [`${ENV} apt-get install ${OPTS} nginx`]);
    const b = parse(apt, { name: 'nginx', install_recommends: true });
    const [cmd] = cmds(apt.plan(b, { nginx: notInstalled }, makeCtx()));
    assert.ok(cmd.startsWith('if [ -e /usr/sbin/policy-rc.d ]; then '));
    assert.ok(!cmd.includes('--no-install-recommends'));
  });

  test('a pinned version is installed when another version is present, and converged when equal', () => {
    const a = parse(apt, { name: 'nginx=1.22.1-9' });
    const changes = apt.plan(a, { nginx: installed('1.22.0-1') }, makeCtx());
    assert.equal(changes[0].target, 'nginx');
    assert.equal(changes[0].summary, 'install nginx=1.22.1-9');
    assert.deepEqual(cmds(changes), [noStart(`${ENV} apt-get install ${OPTS} --no-install-recommends nginx=1.22.1-9`)]);
    assert.deepEqual(apt.plan(a, { nginx: installed('1.22.1-9') }, makeCtx()), []);
  });

  test('absent: remove installed packages only', () => {
    const a = parse(apt, { name: ['telnet', 'rsh-client'], state: 'absent' });
    const changes = apt.plan(a, { telnet: installed('0.17+2.4-2'), 'rsh-client': notInstalled }, makeCtx());
    assert.deepEqual(
      changes.map((c) => [c.action, c.target, c.summary]),
      [['remove', 'telnet', 'remove telnet']],
    );
    assert.deepEqual(cmds(changes), [`${ENV} apt-get remove ${OPTS} telnet`]);
    assert.deepEqual(apt.plan(a, { telnet: notInstalled, 'rsh-client': notInstalled }, makeCtx()), []);
  });

  test('update_cache: a never-updated index is refreshed (one-shot, stamped)', () => {
    const a = parse(apt, { update_cache: true });
    const changes = apt.plan(a, { __cache: { updatedAt: 0, now: NOW } }, makeCtx());
    assert.deepEqual(
      changes.map((c) => [c.action, c.target, c.summary, c.oneShot]),
      [['update', 'apt index', 'update package index (never updated)', true]],
    );
    assert.deepEqual(cmds(changes), [UPDATE]);
  });

  test('update_cache: a stale index is refreshed before the install', () => {
    const a = parse(apt, { name: 'nginx', update_cache: true, cache_valid_time: 3600 });
    const changes = apt.plan(a, { __cache: { updatedAt: NOW - 7200, now: NOW }, nginx: notInstalled }, makeCtx());
    assert.deepEqual(
      changes.map((c) => [c.action, c.summary]),
      [
        ['update', 'update package index (120 min old > 60 min)'],
        ['install', 'install nginx'],
      ],
    );
  });

  test('update_cache: a fresh index is not refreshed, and says so when nothing else changes', () => {
    const a = parse(apt, { name: 'nginx', update_cache: true, cache_valid_time: 3600 });
    const ctx = makeCtx();
    assert.deepEqual(apt.plan(a, { __cache: { updatedAt: NOW - 600, now: NOW }, nginx: installed('1.22.1-9') }, ctx), []);
    assert.deepEqual(ctx.notes, ['package index is 10 min old (valid for 60 min)']);

    const ctx2 = makeCtx();
    const changes = apt.plan(a, { __cache: { updatedAt: NOW - 600, now: NOW }, nginx: notInstalled }, ctx2);
    assert.deepEqual(
      changes.map((c) => c.action),
      ['install'],
    );
    assert.deepEqual(ctx2.notes, []);
  });

  test('with the default cache_valid_time 0 the index is always refreshed (and the refresh is one-shot)', () => {
    const a = parse(apt, { name: 'nginx', update_cache: true });
    const changes = apt.plan(a, { __cache: { updatedAt: NOW - 1, now: NOW }, nginx: installed('1.22.1-9') }, makeCtx());
    assert.deepEqual(
      changes.map((c) => [c.action, c.oneShot]),
      [['update', true]],
    );
  });

  test('error: not a Debian host', () => {
    const a = parse(apt, { name: 'nginx' });
    assert.throws(
      () => apt.plan(a, { nginx: { installed: false, unavailable: true } }, makeCtx()),
      (e: unknown) => e instanceof TaskError && /Debian-based host/.test(e.message),
    );
  });
});

describe('apt: predict and convergence', () => {
  const check = () => makeCtx({ check: true });
  const sim = (installs: Record<string, string>, removes: string[] = []) => ({ ok: true, installs, removes });
  test('predict: what apt-get -s installs (dependencies included) with its versions; the index fresh', () => {
    const a = parse(apt, { name: ['nginx=1.22.1-9', 'curl', 'jq'], update_cache: true });
    const facts: Facts = {
      __cache: { updatedAt: 0, now: NOW },
      __sim: sim({ nginx: '1.22.1-9', 'nginx-common': '1.22.1-9', jq: '1.6-2.1', libjq1: '1.6-2.1' }),
      nginx: notInstalled,
      curl: installed('7.88.1-10'),
      jq: notInstalled,
    };
    const p = predictedFacts(apt, a, facts, check());
    assert.deepEqual(p, { ...facts, __cache: { updatedAt: NOW, now: NOW }, nginx: { installed: true, version: '1.22.1-9' }, jq: { installed: true, version: '1.6-2.1' } });
    // a dependency is installed too: a later task naming it reads it as installed
    const dep = parse(apt, { name: 'libjq1' });
    const host = new HostPrediction('h1');
    host.record(apt.predict!(a, facts, apt.plan(a, facts, check()), check()));
    assert.deepEqual(host.foldAll(['package:libjq1'], notInstalled), { installed: true, version: '1.6-2.1' });
    assert.deepEqual(apt.plan(dep, { libjq1: host.foldAll(['package:libjq1'], notInstalled) }, makeCtx()), []);
    const r = parse(apt, { name: 'jq', state: 'absent' });
    assert.deepEqual(predictedFacts(apt, r, { jq: installed('1.6-2.1'), __sim: sim({}, ['jq']) }, check()).jq, { installed: false });
  });

  test('predict without a simulation (no package index): the packages are unknown', () => {
    const a = parse(apt, { name: 'nginx' });
    const facts: Facts = { nginx: notInstalled, __sim: { ok: false, installs: {}, removes: [], error: 'E: Unable to locate package nginx' } };
    assert.throws(() => apt.plan(a, facts, check()), (e: Error) => e.name === 'Unknown');
  });

  const cases: [string, unknown, Facts][] = [
    ['install', { name: ['nginx', 'curl'] }, { nginx: notInstalled, curl: installed('7.88.1-10'), __sim: sim({ nginx: '1.22.1-9' }) }],
    ['pin upgrade', { name: 'nginx=1.22.1-9' }, { nginx: installed('1.22.0-1'), __sim: sim({ nginx: '1.22.1-9' }) }],
    ['remove', { name: 'telnet', state: 'absent' }, { telnet: installed('0.17'), __sim: sim({}, ['telnet']) }],
    ['update + install', { name: 'nginx', update_cache: true, cache_valid_time: 3600 }, { __cache: { updatedAt: 0, now: NOW }, nginx: notInstalled, __sim: sim({ nginx: '1.22.1-9' }) }],
    ['update only, default validity', { update_cache: true }, { __cache: { updatedAt: NOW - 5, now: NOW } }],
    ['converged', { name: 'nginx' }, { nginx: installed('1.22.1-9'), __sim: sim({}) }],
  ];
  for (const [name, args, facts] of cases) {
    test(`convergence: ${name}`, () => assertConverges(apt, parse(apt, args), facts, check()));
  }
});
