/** Debian package facts: installed state and version; age of the package index. */
import { sq } from '../../engine/shell.js';
import type { FactKind } from '../contract.js';
import { keyValues } from '../files/facts.js';

export interface PackageFact {
  installed: boolean;
  version?: string;
  /** dpkg could not be queried (not a Debian host). */
  unavailable?: boolean;
}

const NO_DPKG = `if ! command -v dpkg-query >/dev/null 2>&1; then echo unavailable=yes; else `;

export const packageFact: FactKind<{ name: string }, PackageFact> = {
  kind: 'package',
  key: (p) => `package:${p.name}`,
  script: (p) => `${NO_DPKG}dpkg-query -W -f='status=\${db:Status-Abbrev}\\nversion=\${Version}\\n' ${sq(p.name)} 2>/dev/null || echo status=none; fi`,
  // one dpkg-query for all: a line per package it knows, in its database's order, as for one name
  batch: {
    script: (ps) => `${NO_DPKG}dpkg-query -W -f='\${Package}\\t\${Architecture}\\t\${db:Status-Abbrev}\\t\${Version}\\n' ${ps.map((p) => sq(p.name)).join(' ')} 2>/dev/null; fi`,
    split: (out, ps) => {
      if (/^unavailable=yes$/m.test(out)) return ps.map(() => 'unavailable=yes\n');
      const rows = out.split('\n').filter(Boolean).map((l) => l.split('\t'));
      return ps.map(({ name }) => {
        const [pkg, arch] = name.split(':');
        const mine = rows.filter((r) => r[0] === pkg && (arch === undefined || r[1] === arch));
        return mine.length ? mine.map((r) => `status=${r[2]}\nversion=${r[3] ?? ''}\n`).join('') : 'status=none\n';
      });
    },
  },
  parse: (out) => {
    const kv = keyValues(out);
    if (kv.unavailable) return { installed: false, unavailable: true };
    // db:Status-Abbrev is e.g. "ii " (desired=install, status=installed); "hi " is a held, installed package
    const installed = (kv.status ?? '').charAt(1) === 'i';
    return installed ? { installed, version: kv.version } : { installed: false };
  },
};

export interface AptCacheFact {
  /** mtime (epoch s) of the newest package list, 0 if there is none. */
  updatedAt: number;
  now: number;
}

export const aptCacheFact: FactKind<Record<string, never>, AptCacheFact> = {
  kind: 'apt_cache',
  key: () => 'apt_cache',
  // the regular files among them (builtins), then one stat for all
  script: () =>
    `set --; for f in /var/lib/apt/periodic/update-success-stamp /var/lib/apt/lists/*_Packages /var/lib/apt/lists/*_Packages.* ; do ` +
    `[ -f "$f" ] && set -- "$@" "$f"; done; t=0; if [ $# -gt 0 ]; then for m in $(stat -c %Y "$@"); do [ "$m" -gt "$t" ] && t=$m; done; fi; ` +
    `echo updated=$t; echo now=$(date +%s)`,
  parse: (out) => {
    const kv = keyValues(out);
    return { updatedAt: Number(kv.updated ?? 0), now: Number(kv.now ?? 0) };
  },
  aged: (f, ms) => ({ ...f, now: f.now + Math.floor(ms / 1000) }),
  // whole seconds on both sides (2), and the time the host took to answer each read
  sameAs: (a, b, slackMs) => a.updatedAt === b.updatedAt && Math.abs(a.now - b.now) <= 2 + Math.ceil(slackMs / 1000),
};

/** Check mode: what `apt-get -s` says an install or removal would do (dependencies included). */
export interface AptSimulationFact {
  ok: boolean;
  /** packages that would be installed or upgraded: name -> version */
  installs: Record<string, string>;
  removes: string[];
  error?: string;
  /** check mode: what earlier tasks are predicted to change, which apt-get -s, run on the host as it is, does not see */
  stale?: SimulationStale;
}

/** Packages earlier tasks are predicted to install (name -> version) or remove, and an index update they run. */
export interface SimulationStale {
  installed: Record<string, string>;
  removed: string[];
  index?: string;
}

export const aptSimulationFact: FactKind<{ names: string[]; state: 'present' | 'absent' | 'latest'; recommends: boolean; autoremove?: boolean }, AptSimulationFact> = {
  kind: 'apt_simulation',
  key: (p) => `apt_simulation:${p.state}${p.autoremove ? '+autoremove' : ''}:${p.names.join(',')}`,
  // simulate only when something is to do (apt-get -s takes seconds): a package missing, or present to remove
  script: (p) =>
    [
      `need=0; for p in ${p.names.map((n) => sq(n.replace(/=.*$/, ''))).join(' ')}; do`,
      `  if dpkg-query -W -f='\${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.i'; then ${p.state === 'absent' ? 'need=1' : ':'}; else ${p.state === 'absent' ? ':' : 'need=1'}; fi`,
      `done`,
      // latest: an installed package may still be upgraded (apt-get -s says whether)
      `[ "$need" = 1 ] || [ -n "${p.names.some((n) => n.includes('=')) || p.state === 'latest' ? 'always' : ''}" ] || { echo rc=0; exit 0; }`,
      `LC_ALL=C apt-get -s -q ${p.state !== 'absent' ? `install${p.recommends ? '' : ' --no-install-recommends'}` : `remove${p.autoremove ? ' --auto-remove' : ''}`} ${p.names.map(sq).join(' ')} 2>&1; echo "rc=$?"`,
    ].join('\n'),
  parse: (out) => {
    const installs: Record<string, string> = {};
    const removes: string[] = [];
    for (const line of out.split('\n')) {
      const inst = /^Inst (\S+) (?:\[[^\]]*\] )?\((\S+)/.exec(line);
      if (inst) installs[inst[1]] = inst[2];
      const remv = /^Remv (\S+)/.exec(line);
      if (remv) removes.push(remv[1]);
    }
    const rc = Number(/^rc=(\d+)$/m.exec(out)?.[1] ?? 1);
    const error = out.split('\n').filter((l) => /^E: /.test(l)).join('; ');
    return { ok: rc === 0, installs, removes, ...(rc !== 0 ? { error: error || `apt-get -s exited ${rc}` } : {}) };
  },
};

/** `apt-cache policy`: the version apt would install (state: latest), none when no source has it. */
export interface AptPolicyFact {
  candidate?: string;
}

function policyBlocks(out: string): Map<string, string | undefined> {
  const m = new Map<string, string | undefined>();
  let name: string | undefined;
  for (const line of out.split('\n')) {
    const head = /^(\S+):$/.exec(line);
    if (head) name = head[1];
    const cand = /^\s+Candidate: (\S+)/.exec(line);
    if (cand && name !== undefined) m.set(name, cand[1] === '(none)' ? undefined : cand[1]);
  }
  return m;
}

export const aptPolicyFact: FactKind<{ name: string }, AptPolicyFact> = {
  kind: 'apt_policy',
  key: (p) => `apt_policy:${p.name}`,
  script: (p) => `LC_ALL=C apt-cache policy ${sq(p.name)} 2>/dev/null`,
  // one apt-cache for all: it prints a block per name ("name:" then "  Candidate: ...")
  batch: {
    script: (ps) => `LC_ALL=C apt-cache policy ${ps.map((p) => sq(p.name)).join(' ')} 2>/dev/null`,
    split: (out, ps) => {
      const m = policyBlocks(out);
      return ps.map(({ name }) => (m.has(name) ? `${name}:\n  Candidate: ${m.get(name) ?? '(none)'}\n` : ''));
    },
  },
  parse: (out, p) => {
    const c = policyBlocks(out).get(p.name);
    return c === undefined ? {} : { candidate: c };
  },
};

/** A .deb file on the host: the package and version it holds, and what dpkg has of that package. */
export interface DebFileFact {
  exists: boolean;
  package?: string;
  version?: string;
  /** the version of that package installed now, if any */
  installed?: string;
  /** dpkg-deb cannot read it */
  error?: string;
}

export const debFileFact: FactKind<{ path: string }, DebFileFact> = {
  kind: 'deb_file',
  key: (p) => `deb_file:${p.path}`,
  // the package's name is in the file: what earlier tasks do to the file or the package is not modelled here
  readsAnything: true,
  script: (p) =>
    [
      `f=${sq(p.path)}`,
      `if [ ! -f "$f" ]; then echo exists=no; else echo exists=yes`,
      `  if pkg=$(dpkg-deb -f "$f" Package 2>&1) && ver=$(dpkg-deb -f "$f" Version 2>&1); then echo "package=$pkg"; echo "version=$ver"`,
      `    dpkg-query -W -f='\${db:Status-Abbrev} \${Version}\\n' "$pkg" 2>/dev/null | awk '$1 ~ /^.i/ { print "installed=" $2 }'`,
      `  else echo "error=$(echo "$pkg" | tail -n 1)"; fi`,
      `fi`,
    ].join('\n'),
  parse: (out) => {
    const kv = keyValues(out);
    if (kv.exists !== 'yes') return { exists: false };
    if (kv.error !== undefined || !kv.package) return { exists: true, error: kv.error || 'not a Debian package' };
    return { exists: true, package: kv.package, version: kv.version, ...(kv.installed ? { installed: kv.installed } : {}) };
  },
};

/** What `apt-get -s upgrade|dist-upgrade|autoremove` says it would do: read in both modes (it decides whether anything changes). */
export const aptActionSimFact: FactKind<{ action: 'upgrade' | 'dist-upgrade' | 'autoremove' }, AptSimulationFact> = {
  kind: 'apt_action',
  key: (p) => `apt_action:${p.action}`,
  script: (p) => `LC_ALL=C apt-get -s -q ${p.action === 'upgrade' ? 'upgrade --with-new-pkgs' : p.action} 2>&1; echo "rc=$?"`,
  parse: (out) => aptSimulationFact.parse(out, { names: [], state: 'present', recommends: false }),
};
