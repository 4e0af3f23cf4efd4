/**
 * apt: Debian packages present or absent; refresh the package index only when older than
 * `cache_valid_time`. Packages are installed with a policy-rc.d that keeps their services
 * from auto-starting, so that services start only when a `service` task says so, with the
 * configuration in place (and so that --check can predict the service tasks exactly).
 */
import { z } from 'zod';
import { int } from '../bounds.js';
import { shellJoin } from '../../engine/shell.js';
import { fact, TaskError, Unknown, type Change, type Effect, type FactRequest, type StateModule } from '../contract.js';
import { setsTo, unknownUnder, UnknownFact } from '../../engine/prediction.js';
import type { FileFact } from '../files/facts.js';
import type { UnitFact } from '../services/facts.js';
import { aptCacheFact, aptSimulationFact, packageFact, type AptCacheFact, type AptSimulationFact, type PackageFact } from './facts.js';

const pkgName = z.string().regex(/^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+)?$/, 'a Debian package name');

const schema = z
  .object({
    name: z.union([pkgName, z.array(pkgName)]).transform((v) => (Array.isArray(v) ? v : [v])).optional(),
    state: z.enum(['present', 'absent']).default('present'),
    update_cache: z.boolean().default(false),
    /** seconds; at most a year */
    cache_valid_time: int(0, 31536000, 'cache_valid_time (seconds)').default(0),
    install_recommends: z.boolean().default(false),
    start_services: z.boolean().default(false),
  })
  .strict()
  .refine((a) => (a.name && a.name.length > 0) || a.update_cache, { message: "give 'name' (packages) and/or update_cache: true" });

type Args = z.infer<typeof schema>;
type Facts = Record<string, PackageFact | AptCacheFact | AptSimulationFact>;

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

const bare = (n: string) => n.replace(/=.*$/, '');

export const apt: StateModule<Args, Facts> = {
  name: 'apt',
  type: 'state',
  schema,
  facts(args, ctx) {
    const f: Record<string, FactRequest> = {};
    if (args.update_cache) f.__cache = fact(aptCacheFact, {});
    // check mode: the dependencies an install pulls in are a fact (apt-get -s), not a guess
    if (ctx.check && args.name?.length) f.__sim = fact(aptSimulationFact, { names: args.name, state: args.state, recommends: args.install_recommends });
    for (const n of args.name ?? []) f[bare(n)] = fact(packageFact, { name: bare(n) });
    return f as never;
  },
  plan(args, facts, ctx) {
    const changes: Change[] = [];
    const pkgs = args.name ?? [];
    for (const n of pkgs) {
      if ((facts[bare(n)] as PackageFact).unavailable) throw new TaskError('dpkg-query not found: the apt module needs a Debian-based host');
    }
    const cache = facts.__cache as AptCacheFact | undefined;
    const missing = pkgs.filter((n) => {
      const f = facts[bare(n)] as PackageFact;
      const version = n.includes('=') ? n.slice(n.indexOf('=') + 1) : undefined;
      return args.state === 'present' ? !f.installed || (version !== undefined && f.version !== version) : f.installed;
    });
    if (cache) {
      const age = cache.now - cache.updatedAt;
      // cache_valid_time 0 (the default): always refresh, as Ansible does
      const stale = cache.updatedAt === 0 || args.cache_valid_time === 0 || age > args.cache_valid_time;
      if (stale) {
        changes.push({
          action: 'update',
          target: 'apt index',
          summary: cache.updatedAt === 0 ? 'update package index (never updated)' : `update package index (${Math.round(age / 60)} min old > ${Math.round(args.cache_valid_time / 60)} min)`,
          // One-shot: with cache_valid_time 0 the index is stale again a second later.
          oneShot: true,
          // apt keeps the server's mtime on list files: stamp the update time (as Ubuntu's hook does).
          commands: [
            {
              cmd: serialised(`${ENV} apt-get update -q -o DPkg::Lock::Timeout=120 9>&- && mkdir -p /var/lib/apt/periodic && touch ${UPDATE_STAMP}`),
              display: `${ENV} apt-get update -q -o DPkg::Lock::Timeout=120 && mkdir -p /var/lib/apt/periodic && touch ${UPDATE_STAMP}`,
            },
          ],
        });
      } else if (missing.length === 0) {
        ctx.note(`package index is ${Math.round(age / 60)} min old (valid for ${Math.round(args.cache_valid_time / 60)} min)`);
      }
    }
    if (missing.length === 0) return changes;
    const sim = facts.__sim as AptSimulationFact | undefined;
    if (sim && !sim.ok) throw new Unknown(`apt-get -s cannot simulate this install now: ${sim.error}`);
    if (args.state === 'present') {
      const rec = args.install_recommends ? '' : ' --no-install-recommends';
      const cmd = `${ENV} apt-get install ${APT_OPTS}${rec} ${shellJoin(missing)}`;
      const run = `${cmd} 9>&-`;
      changes.push({
        action: 'install',
        target: missing.map(bare).join(' '),
        summary: `install ${missing.join(', ')}`,
        commands: [{ cmd: serialised(args.start_services ? run : noStart(run)), display: cmd }],
      });
    } else {
      changes.push({
        action: 'remove',
        target: missing.join(' '),
        summary: `remove ${missing.join(', ')}`,
        commands: [{ cmd: serialised(`${ENV} apt-get remove ${APT_OPTS} ${shellJoin(missing)} 9>&-`), display: `${ENV} apt-get remove ${APT_OPTS} ${shellJoin(missing)}` }],
      });
    }
    return changes;
  },
  predict(args, facts) {
    const effects: Effect[] = [];
    const cache = facts.__cache as AptCacheFact | undefined;
    if (cache) effects.push(setsTo('apt_cache', { updatedAt: cache.now, now: cache.now }));
    const sim = facts.__sim as AptSimulationFact | undefined;
    const named = (args.name ?? []).map(bare);
    if (args.state === 'absent') {
      const removed = sim?.ok ? [...new Set([...sim.removes, ...named])] : named;
      for (const n of removed) effects.push(setsTo(`package:${n}`, { installed: false }));
      // removal runs maintainer scripts: what they stop or delete is not modelled
      effects.push(unknownUnder('unit:', `units after removing ${named.join(', ')}`));
      return effects;
    }
    if (!sim?.ok) {
      // without a simulation (no package index yet) the dependencies are not known
      effects.push(unknownUnder('package:', `the packages an install of ${named.join(', ')} pulls in (apt-get -s: ${sim?.error ?? 'not run'})`));
      return effects;
    }
    const installed = Object.keys(sim.installs);
    for (const [n, version] of Object.entries(sim.installs)) effects.push(setsTo(`package:${n}`, { installed: true, version } satisfies PackageFact));
    effects.push(...providedByInstall(installed, args.start_services));
    return effects;
  },
};

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
