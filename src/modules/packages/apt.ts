/**
 * apt: Debian packages present or absent; refresh the package index only when older than
 * `cache_valid_time`. Packages are installed with a policy-rc.d that keeps their services
 * from auto-starting, so that services start only when a `service` task says so, with the
 * configuration in place (and so that --check can predict the service tasks exactly).
 */
import { z } from 'zod';
import { shellJoin } from '../../engine/shell.js';
import { fact, TaskError, type Change, type FactRequest, type StateModule } from '../contract.js';
import { aptCacheFact, packageFact, type AptCacheFact, type PackageFact } from './facts.js';

const pkgName = z.string().regex(/^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+)?$/, 'a Debian package name');

const schema = z
  .object({
    name: z.union([pkgName, z.array(pkgName)]).transform((v) => (Array.isArray(v) ? v : [v])).optional(),
    state: z.enum(['present', 'absent']).default('present'),
    update_cache: z.boolean().default(false),
    cache_valid_time: z.number().int().nonnegative().default(0),
    install_recommends: z.boolean().default(false),
    start_services: z.boolean().default(false),
  })
  .strict()
  .refine((a) => (a.name && a.name.length > 0) || a.update_cache, { message: "give 'name' (packages) and/or update_cache: true" });

type Args = z.infer<typeof schema>;
type Facts = Record<string, PackageFact | AptCacheFact>;

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

const UPDATE_STAMP = '/var/lib/apt/periodic/update-success-stamp';

const bare = (n: string) => n.replace(/=.*$/, '');

export const apt: StateModule<Args, Facts> = {
  name: 'apt',
  type: 'state',
  schema,
  facts(args) {
    const f: Record<string, FactRequest> = {};
    if (args.update_cache) f.__cache = fact(aptCacheFact, {});
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
      const stale = cache.updatedAt === 0 || age > args.cache_valid_time;
      if (stale) {
        changes.push({
          action: 'update',
          target: 'apt index',
          summary: cache.updatedAt === 0 ? 'update package index (never updated)' : `update package index (${Math.round(age / 60)} min old > ${Math.round(args.cache_valid_time / 60)} min)`,
          // One-shot: with cache_valid_time 0 the index is stale again a second later.
          oneShot: true,
          // apt keeps the server's mtime on list files: stamp the update time (as Ubuntu's hook does).
          commands: [{ cmd: `${ENV} apt-get update -q -o DPkg::Lock::Timeout=120 && mkdir -p /var/lib/apt/periodic && touch ${UPDATE_STAMP}` }],
        });
      } else if (missing.length === 0) {
        ctx.note(`package index is ${Math.round(age / 60)} min old (valid for ${Math.round(args.cache_valid_time / 60)} min)`);
      }
    }
    if (missing.length === 0) return changes;
    if (args.state === 'present') {
      const rec = args.install_recommends ? '' : ' --no-install-recommends';
      const cmd = `${ENV} apt-get install ${APT_OPTS}${rec} ${shellJoin(missing)}`;
      changes.push({
        action: 'install',
        target: missing.map(bare).join(' '),
        summary: `install ${missing.join(', ')}`,
        commands: [{ cmd: args.start_services ? cmd : noStart(cmd), display: cmd }],
      });
    } else {
      changes.push({
        action: 'remove',
        target: missing.join(' '),
        summary: `remove ${missing.join(', ')}`,
        commands: [{ cmd: `${ENV} apt-get remove ${APT_OPTS} ${shellJoin(missing)}` }],
      });
    }
    return changes;
  },
  predict(args, facts) {
    const out: Facts = {};
    const cache = facts.__cache as AptCacheFact | undefined;
    if (cache) out.__cache = { updatedAt: cache.now, now: cache.now };
    for (const n of args.name ?? []) {
      const version = n.includes('=') ? n.slice(n.indexOf('=') + 1) : (facts[bare(n)] as PackageFact).version;
      out[bare(n)] = args.state === 'present' ? { installed: true, version: version ?? 'predicted' } : { installed: false };
    }
    return out;
  },
};
