/**
 * apt: Debian packages present or absent; refresh the package index only when older than
 * `cache_valid_time`. Packages are installed with a policy-rc.d that keeps their services
 * from auto-starting, so that services start only when a `service` task says so, with the
 * configuration in place (and so that --check can predict the service tasks exactly).
 */
import { z } from 'zod';
import { int } from '../bounds.js';
import { shellJoin } from '../../engine/shell.js';
import { fact, TaskError, Unknown, type Change, type Command, type Effect, type FactRequest, type ModuleContext, type StateModule } from '../contract.js';
import { setsTo, unknownUnder, UnknownFact } from '../../engine/prediction.js';
import type { FileFact } from '../files/facts.js';
import type { UnitFact } from '../services/facts.js';
import { aptActionSimFact, aptCacheFact, aptPolicyFact, aptSimulationFact, debFileFact, packageFact, type AptCacheFact, type AptPolicyFact, type AptSimulationFact, type DebFileFact, type PackageFact, type SimulationStale } from './facts.js';

const pkgName = z.string().regex(/^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+)?$/, 'a Debian package name');

const UPGRADES = { no: undefined, yes: 'upgrade', safe: 'upgrade', full: 'dist-upgrade', dist: 'dist-upgrade' } as const;

const schema = z
  .object({
    name: z.union([pkgName, z.array(pkgName)]).transform((v) => (Array.isArray(v) ? v : [v])).optional(),
    state: z.enum(['present', 'absent', 'latest']).default('present'),
    /** a .deb file on the host (as Ansible's, without its download: get_url it first) */
    deb: z
      .string()
      .refine((v) => !v.includes('://'), { message: "a .deb file's path on the host: download it first (get_url: url: ..., dest: /tmp/x.deb), then give deb: /tmp/x.deb" })
      .refine((v) => v.startsWith('/'), { message: "an absolute path of a .deb file on the host (copy it there first to install one from the controller)" })
      .optional(),
    /** yes/safe: apt-get upgrade --with-new-pkgs; dist/full: apt-get dist-upgrade */
    upgrade: z
      .union([z.boolean().transform((b) => (b ? 'yes' : 'no')), z.enum(['no', 'yes', 'safe', 'full', 'dist'])])
      .default('no'),
    autoremove: z.boolean().default(false),
    update_cache: z.boolean().default(false),
    /** seconds; at most a year */
    cache_valid_time: int(0, 31536000, 'cache_valid_time (seconds)').default(0),
    install_recommends: z.boolean().default(false),
    start_services: z.boolean().default(false),
  })
  .strict()
  .refine((a) => (a.name && a.name.length > 0) || a.update_cache || a.deb || a.upgrade !== 'no' || a.autoremove, {
    message: "give 'name' (packages), 'deb', 'upgrade', autoremove: true and/or update_cache: true",
  })
  // as Ansible's: one of them per task
  .refine((a) => [a.name?.length ? 1 : 0, a.deb ? 1 : 0, a.upgrade !== 'no' ? 1 : 0].reduce((x, y) => x + y, 0) <= 1, { message: "give only one of 'name', 'deb' and 'upgrade' in one task" })
  .refine((a) => a.state !== 'latest' || !a.name?.some((n) => n.includes('=')), { message: 'state: latest takes package names without a version (name=VERSION pins one: use state: present)' })
  .refine((a) => !a.deb || a.state === 'present', { message: "'deb' installs a file: state must be present" });

type Args = z.infer<typeof schema>;
type Facts = Record<string, PackageFact | AptCacheFact | AptSimulationFact | AptPolicyFact | DebFileFact>;

const ENV = 'DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a';
const APT_OPTS = '-y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

/** Wrap a command so that package maintainer scripts cannot start services (unless allowed). */
function noStart(cmd: string): string {
  return [
    `if [ -e /usr/sbin/policy-rc.d ]; then ${cmd}; exit $?; fi`,
    `printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d`,
    `trap 'rm -f /usr/sbin/policy-rc.d' EXIT`,
    cmd,
  ].join('\n');
}

/**
 * Two runs at once on one host (README, "Concurrent runs"): provision's apt commands take this
 * lock first, so that one run's policy-rc.d is never removed under the other's install and the
 * index update and installs do not interleave. A run that finds it held says so on stderr and
 * waits (bounded); apt itself also waits for dpkg's lock (DPkg::Lock::Timeout) held by anything
 * else (unattended-upgrades). apt and dpkg get the lock's descriptor closed (9>&-): a daemon a
 * maintainer script starts must not hold it after the run.
 */
export const APT_LOCK = '/run/provision-apt.lock';
export const APT_LOCK_WAIT_S = 300;

function serialised(script: string): string {
  return [
    `exec 9>>${APT_LOCK}`,
    `if command -v flock >/dev/null 2>&1 && ! flock -n 9; then echo "provision: another run is using apt on this host: waiting up to ${APT_LOCK_WAIT_S} s for it (lock ${APT_LOCK})" >&2; ` +
      `flock -w ${APT_LOCK_WAIT_S} 9 || { echo "provision: gave up after ${APT_LOCK_WAIT_S} s: another run still holds ${APT_LOCK}" >&2; exit 1; }; echo "provision: the other run's apt is done, going on" >&2; fi`,
    script,
  ].join('\n');
}

const UPDATE_STAMP = '/var/lib/apt/periodic/update-success-stamp';

/** The change that refreshes the package index (apt, and the repository modules after they change a source). */
export function updateIndexChange(summary: string): Change {
  return {
    action: 'update',
    target: 'apt index',
    summary,
    // One-shot: with cache_valid_time 0 the index is stale again a second later.
    oneShot: true,
    // apt keeps the server's mtime on list files: stamp the update time (as Ubuntu's hook does).
    commands: [
      {
        cmd: serialised(`${ENV} apt-get update -q -o DPkg::Lock::Timeout=120 9>&- && mkdir -p /var/lib/apt/periodic && touch ${UPDATE_STAMP}`),
        display: `${ENV} apt-get update -q -o DPkg::Lock::Timeout=120 && mkdir -p /var/lib/apt/periodic && touch ${UPDATE_STAMP}`,
      },
    ],
  };
}

/** Check mode, after an index update: the index's age, and what apt would install from it is known only after it. */
export function indexUpdated(cache: AptCacheFact | undefined, why: string): Effect[] {
  return [
    ...(cache ? [setsTo('apt_cache', { updatedAt: cache.now, now: cache.now })] : []),
    unknownUnder('apt_policy:', `the versions apt offers after ${why}`),
    unknownUnder('apt_action:', `what apt-get would upgrade or autoremove after ${why}`),
  ];
}

const bare = (n: string) => n.replace(/=.*$/, '');

/** The named packages that are not as asked (missing, another version, not the candidate, installed to remove). */
function notAsAsked(args: Args, facts: Facts): string[] {
  return (args.name ?? []).filter((n) => {
    const f = facts[bare(n)] as PackageFact;
    if (args.state === 'absent') return f.installed;
    if (args.state === 'latest') {
      const cand = (facts[`__policy:${n}`] as AptPolicyFact).candidate;
      if (cand === undefined && !f.installed) throw new TaskError(`no installation candidate for ${n}: no configured source has it (an apt-get update missing?)`);
      return !f.installed || (cand !== undefined && f.version !== cand);
    }
    const version = n.includes('=') ? n.slice(n.indexOf('=') + 1) : undefined;
    return !f.installed || (version !== undefined && f.version !== version);
  });
}

function installCommand(args: Args, targets: string[], downgrade = false): Command {
  const rec = `${args.install_recommends ? '' : ' --no-install-recommends'}${downgrade ? ' --allow-downgrades' : ''}`;
  const cmd = `${ENV} apt-get install ${APT_OPTS}${rec} ${shellJoin(targets)}`;
  const run = `${cmd} 9>&-`;
  return { cmd: serialised(args.start_services ? run : noStart(run)), display: cmd };
}

/** The changes after the index update: install/remove/deb/upgrade, then autoremove. */
function packageChanges(args: Args, facts: Facts, ctx: ModuleContext, pending: boolean): Change[] {
  const changes: Change[] = [];
  const sim = facts.__sim as AptSimulationFact | undefined;
  // with an index update in this task, what latest/upgrade/autoremove do is decided by the new index
  const afterUpdate = pending ? { uncertain: `what apt does after this task's apt-get update is known only after it`, oneShot: true } : {};
  if (args.deb) {
    const d = facts.__deb as DebFileFact;
    if (!d.exists) throw new TaskError(`deb: ${args.deb} does not exist on the host`);
    if (d.error !== undefined) throw new TaskError(`deb: ${args.deb} is not a readable .deb file (${d.error})`);
    if (d.installed === d.version) return autoremoveChanges(args, facts, changes);
    if (sim && !sim.ok) throw new Unknown(`apt-get -s cannot simulate installing ${args.deb} now: ${sim.error}`);
    checkSimulation(sim, `installing ${args.deb}`, false);
    changes.push({
      action: 'install',
      target: d.package!,
      summary: `install ${d.package} ${d.version} from ${args.deb}${d.installed ? ` (installed: ${d.installed})` : ''}`,
      // as Ansible's (dpkg -i): the file's version is installed, also when it is older
      commands: [installCommand(args, [args.deb], true)],
    });
    return autoremoveChanges(args, facts, changes);
  }
  if (args.upgrade !== 'no') {
    const up = facts.__upgrade as AptSimulationFact;
    const mode = UPGRADES[args.upgrade];
    if (!up.ok && !pending) {
      if (ctx.check) throw new Unknown(`apt-get -s ${mode} cannot simulate now: ${up.error}`);
      throw new TaskError(`apt-get ${mode} would fail: ${up.error}`);
    }
    const n = Object.keys(up.installs).length + up.removes.length;
    if (n > 0 || pending) {
      const cmd = `${ENV} apt-get ${mode === 'upgrade' ? 'upgrade --with-new-pkgs' : 'dist-upgrade'} ${APT_OPTS}`;
      changes.push({
        action: 'upgrade',
        target: 'packages',
        summary: pending ? `${mode} after the index update` : `${mode}: ${Object.keys(up.installs).join(', ')}${up.removes.length ? `; removes ${up.removes.join(', ')}` : ''}`,
        ...afterUpdate,
        commands: [{ cmd: serialised(args.start_services ? `${cmd} 9>&-` : noStart(`${cmd} 9>&-`)), display: cmd }],
      });
    }
    return autoremoveChanges(args, facts, changes);
  }
  const latestPending = pending && args.state === 'latest';
  const missing = latestPending ? (args.name ?? []) : notAsAsked(args, facts);
  if (missing.length === 0) return autoremoveChanges(args, facts, changes);
  if (sim && !sim.ok && !latestPending) throw new Unknown(`apt-get -s cannot simulate this ${args.state === 'absent' ? 'removal' : 'install'} now: ${sim.error}`);
  if (!latestPending) checkSimulation(sim, `${args.state === 'absent' ? 'removing' : 'installing'} ${missing.join(', ')}`, args.state === 'absent');
  if (args.state !== 'absent') {
    changes.push({
      action: 'install',
      target: missing.map(bare).join(' '),
      summary: latestPending ? `install or upgrade ${missing.join(', ')} to the latest version after the index update` : `${args.state === 'latest' ? 'install or upgrade' : 'install'} ${missing.join(', ')}`,
      ...(latestPending ? afterUpdate : {}),
      commands: [installCommand(args, missing)],
    });
    return autoremoveChanges(args, facts, changes);
  }
  // autoremove with a removal: apt-get remove --auto-remove (the dependencies it leaves go too)
  const auto = args.autoremove ? ' --auto-remove' : '';
  const cmd = `${ENV} apt-get remove ${APT_OPTS}${auto} ${shellJoin(missing)}`;
  changes.push({ action: 'remove', target: missing.join(' '), summary: `remove ${missing.join(', ')}${auto ? ' and the packages no longer needed' : ''}`, commands: [{ cmd: serialised(`${cmd} 9>&-`), display: cmd }] });
  return changes;
}

/** autoremove: what apt-get -s autoremove says (read before the task: an install in it makes it uncertain). */
function autoremoveChanges(args: Args, facts: Facts, changes: Change[]): Change[] {
  const auto = facts.__autoremove as AptSimulationFact | undefined;
  if (!args.autoremove || !auto) return changes;
  if (!auto.ok) throw new TaskError(`apt-get -s autoremove fails: ${auto.error}`);
  if (auto.removes.length === 0) return changes;
  const cmd = `${ENV} apt-get autoremove ${APT_OPTS}`;
  const after = changes.length ? { uncertain: `what autoremove removes after this task's ${changes.map((c) => c.action).join(', ')} is known only then` } : {};
  return [...changes, { action: 'autoremove', target: auto.removes.join(' '), summary: `autoremove ${auto.removes.join(', ')}`, ...after, commands: [{ cmd: serialised(`${cmd} 9>&-`), display: cmd }] }];
}

export const apt: StateModule<Args, Facts> = {
  name: 'apt',
  type: 'state',
  schema,
  facts(args, ctx) {
    const f: Record<string, FactRequest> = {};
    if (args.update_cache) f.__cache = fact(aptCacheFact, {});
    const named = args.name ?? [];
    // check mode: the dependencies an install pulls in are a fact (apt-get -s), not a guess
    if (ctx.check && named.length) f.__sim = fact(aptSimulationFact, { names: named, state: args.state, recommends: args.install_recommends, ...(args.autoremove && args.state === 'absent' ? { autoremove: true } : {}) });
    if (ctx.check && args.deb) f.__sim = fact(aptSimulationFact, { names: [args.deb], state: 'present', recommends: args.install_recommends });
    for (const n of named) f[bare(n)] = fact(packageFact, { name: bare(n) });
    if (args.state === 'latest') for (const n of named) f[`__policy:${n}`] = fact(aptPolicyFact, { name: n });
    if (args.deb) f.__deb = fact(debFileFact, { path: args.deb });
    const mode = UPGRADES[args.upgrade];
    if (mode) f.__upgrade = fact(aptActionSimFact, { action: mode });
    if (args.autoremove) f.__autoremove = fact(aptActionSimFact, { action: 'autoremove' });
    return f as never;
  },
  plan(args, facts, ctx) {
    const changes: Change[] = [];
    for (const n of args.name ?? []) {
      if ((facts[bare(n)] as PackageFact).unavailable) throw new TaskError('dpkg-query not found: the apt module needs a Debian-based host');
    }
    const cache = facts.__cache as AptCacheFact | undefined;
    let pending = false;
    if (cache) {
      const age = cache.now - cache.updatedAt;
      // cache_valid_time 0 (the default): always refresh, as Ansible does
      const stale = cache.updatedAt === 0 || args.cache_valid_time === 0 || age > args.cache_valid_time;
      if (stale) {
        pending = true;
        changes.push(updateIndexChange(cache.updatedAt === 0 ? 'update package index (never updated)' : `update package index (${Math.round(age / 60)} min old > ${Math.round(args.cache_valid_time / 60)} min)`));
      }
    }
    const rest = packageChanges(args, facts, ctx, pending);
    if (cache && !pending && rest.length === 0) {
      ctx.note(`package index is ${Math.round((cache.now - cache.updatedAt) / 60)} min old (valid for ${Math.round(args.cache_valid_time / 60)} min)`);
    }
    return [...changes, ...rest];
  },
  predict(args, facts, changes) {
    const effects = predictPackages(args, facts, changes);
    // what this task does to packages, as later tasks' simulations must take it (checkSimulation)
    const delta: SimulationStale = { installed: {}, removed: [] };
    for (const e of effects) {
      const set = (e as { packageSet?: [string, PackageFact] }).packageSet;
      if (!set) continue;
      if (set[1].installed) delta.installed[set[0]] = set[1].version ?? '';
      else delta.removed.push(set[0]);
    }
    return Object.keys(delta.installed).length || delta.removed.length ? [...effects, simulationsSee(delta)] : effects;
  },
  // an apt task whose outcome is unknown may have changed anything but what Debian policy leaves to the admin
  footprint: () => [
    {
      touches: (k) => !(k.startsWith('file:') && ADMIN_PATHS.test(k.slice(5))),
      apply: () => new UnknownFact('what an apt task whose outcome is unknown in check mode changed'),
    },
  ],
};

/** The package `name` will be as `value` (the effect remembers it for simulationsSee). */
function packageSetsTo(name: string, value: PackageFact): Effect {
  return Object.assign(setsTo(`package:${name}`, value), { packageSet: [name, value] as [string, PackageFact] });
}

/**
 * Check mode: an apt-get -s a later task reads ran against the host as it is. This notes on it
 * what this task is predicted to change in its packages (checkSimulation decides whether it stands).
 */
function simulationsSee(delta: SimulationStale): Effect {
  return {
    touches: (k) => k.startsWith('apt_simulation:'),
    apply: (before) => {
      const s = before as AptSimulationFact;
      const was = s.stale ?? { installed: {}, removed: [] };
      const installed = { ...was.installed };
      for (const n of delta.removed) delete installed[n];
      Object.assign(installed, delta.installed);
      const removed = [...new Set([...was.removed.filter((n) => !(n in delta.installed)), ...delta.removed])];
      return { ...s, stale: { ...was, installed, removed } } satisfies AptSimulationFact;
    },
  };
}

/**
 * Check mode: apt-get -s ran against the host as it is, not as earlier tasks are predicted to
 * leave it. Where they change packages, the simulation stands only where it cannot disagree with
 * the predicted state; else this task's outcome is unknown, with the reason (never a guess).
 * A removal cannot see the reverse dependencies among packages predicted to be installed; an
 * install sees packages predicted to be removed as still there (it would not bring them back),
 * and one that would install a package at another version than predicted is not what will run.
 */
function checkSimulation(sim: AptSimulationFact | undefined, what: string, removal: boolean): void {
  const st = sim?.stale;
  if (!sim || !st) return;
  const few = (ns: string[]) => (ns.length > 4 ? `${ns.slice(0, 4).join(', ')} and ${ns.length - 4} more` : ns.join(', '));
  const installed = Object.keys(st.installed);
  if (removal) {
    if (installed.length) {
      throw new Unknown(`apt-get -s ran against the host as it is, without ${few(installed)}, which earlier tasks are predicted to install: what ${what} takes with it is known only in the real run`);
    }
    return;
  }
  // a removed package the simulation installs anyway is one it saw missing (installed by an earlier task of this run)
  const unseen = st.removed.filter((n) => !(n in sim.installs));
  if (unseen.length) {
    throw new Unknown(`apt-get -s ran against the host as it is, still with ${few(unseen)}, which earlier tasks are predicted to remove: whether ${what} brings any back is known only in the real run`);
  }
  const other = Object.entries(sim.installs).filter(([n, v]) => st.installed[n] !== undefined && st.installed[n] !== v);
  if (other.length) {
    throw new Unknown(`apt-get -s would install ${few(other.map(([n, v]) => `${n} ${v}`))} for ${what}, another version than earlier tasks are predicted to install: what it installs is known only in the real run`);
  }
}

function predictPackages(args: Args, facts: Facts, changes: Change[]): Effect[] {
  const effects: Effect[] = [];
  const pkgChange = changes.find((c) => c.action !== 'update' && !(c.action === 'autoremove' && changes.length === 1));
  // apt-get remove --auto-remove leaves nothing to autoremove
  const done = pkgChange?.action === 'upgrade' && changes.length === 1 ? UPGRADES[args.upgrade] : pkgChange?.action === 'remove' && args.autoremove ? 'autoremove' : undefined;
  if (pkgChange) effects.push(actionsAfter(done));
  const cache = facts.__cache as AptCacheFact | undefined;
  if (changes.some((c) => c.action === 'update')) effects.push(...indexUpdated(cache, 'the apt-get update of this task'));
  else if (cache) effects.push(setsTo('apt_cache', { updatedAt: cache.now, now: cache.now }));
  const sim = facts.__sim as AptSimulationFact | undefined;
  const named = (args.name ?? []).map(bare);
  const auto = changes.find((c) => c.action === 'autoremove');
  if (auto) {
    for (const n of (facts.__autoremove as AptSimulationFact).removes) effects.push(packageSetsTo(n, { installed: false }));
    if (!auto.uncertain && changes.length === 1) effects.push(actionsAfter('autoremove'));
    effects.push(unknownUnder('unit:', `units after autoremove`));
  }
  const up = changes.find((c) => c.action === 'upgrade');
  if (up) {
    const s = facts.__upgrade as AptSimulationFact;
    if (up.uncertain) return [...effects, unknownUnder('package:', up.uncertain)];
    for (const n of s.removes) effects.push(packageSetsTo(n, { installed: false }));
    for (const [n, version] of Object.entries(s.installs)) effects.push(packageSetsTo(n, { installed: true, version }));
    effects.push(...providedByInstall(Object.keys(s.installs), args.start_services));
    return effects;
  }
  const inst = changes.find((c) => c.action === 'install');
  if (args.state === 'absent') {
    if (!changes.some((c) => c.action === 'remove')) return effects;
    const removed = sim?.ok ? [...new Set([...sim.removes, ...named])] : named;
    for (const n of removed) effects.push(packageSetsTo(n, { installed: false }));
    // removal runs maintainer scripts: what they stop or delete is not modelled
    effects.push(unknownUnder('unit:', `units after removing ${named.join(', ')}`));
    return effects;
  }
  if (!inst) return effects;
  if (inst.uncertain || !sim?.ok) {
    // without a simulation (no package index yet) the dependencies are not known
    effects.push(unknownUnder('package:', inst.uncertain ?? `the packages an install of ${inst.target} pulls in (apt-get -s: ${sim?.error ?? 'not run'})`));
    return effects;
  }
  const installed = Object.keys(sim.installs);
  for (const [n, version] of Object.entries(sim.installs)) effects.push(packageSetsTo(n, { installed: true, version }));
  effects.push(...providedByInstall(installed, args.start_services));
  return effects;
}

/** Check mode, after packages change: what upgrade/autoremove would do then is unknown, but for the one just done (nothing left). */
function actionsAfter(done: string | undefined): Effect {
  return {
    touches: (k) => k.startsWith('apt_action:'),
    apply: (_before, k) => (k === `apt_action:${done}` ? ({ ok: true, installs: {}, removes: [] } satisfies AptSimulationFact) : new UnknownFact(`what apt-get would ${k.slice(11)} after the packages this task changes`)),
  };
}

/** Package names' stems: `mariadb` for mariadb-server, mariadb-server-core … */
function provides(installed: string[], name: string): boolean {
  return installed.some((p) => p === name || p.startsWith(`${name}-`) || name.startsWith(`${p}-`));
}

/**
 * What a pending install may bring that this engine does not read from the packages
 * themselves: units named after an installed package exist (stopped: policy-rc.d; with
 * `start_services` the maintainer scripts may have started them: their state is unknown), other
 * missing units, users and groups named after one are unknown; the missing directories of a
 * path outside what Debian policy leaves to the admin (/srv, /home, /opt, /usr/local, /root,
 * /tmp) may be created.
 */
function providedByInstall(installed: string[], startServices: boolean): Effect[] {
  const why = `a pending install of ${installed.join(', ')}`;
  return [
    {
      touches: (k) => k.startsWith('unit:'),
      apply: (before, key) => {
        const u = before as UnitFact;
        if (u.exists) return before;
        const stem = key.slice(5).replace(/\.(service|socket|timer|target|mount|path)$/, '');
        // another install may still provide it: missing-but-maybe until then (service.ts: unknown)
        if (!provides(installed, stem)) return { ...u, maybeByInstall: `whether ${key.slice(5)} comes with ${why}` };
        if (startServices) return new UnknownFact(`${key.slice(5)} comes with ${why} (start_services: its maintainer scripts may start it)`);
        return { exists: true, active: 'inactive', enabled: 'unknown', needDaemonReload: false, byInstall: true };
      },
    },
    {
      touches: (k) => k.startsWith('user:') || k.startsWith('group:'),
      apply: (before, key) => ((before as { exists: boolean }).exists || !provides(installed, key.slice(key.indexOf(':') + 1)) ? before : new UnknownFact(`whether ${why} creates ${key}`)),
    },
    {
      touches: (k) => k.startsWith('file:') && !ADMIN_PATHS.test(k.slice(5)),
      apply: (before) => {
        const f = before as FileFact;
        return f.type === 'absent' && !f.parentExists ? { ...f, parentByInstall: true } : before;
      },
    },
  ];
}

const ADMIN_PATHS = /^\/(srv|home|opt|usr\/local|root|tmp)(\/|$)/;
