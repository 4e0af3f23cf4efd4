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
}

export const aptSimulationFact: FactKind<{ names: string[]; state: 'present' | 'absent'; recommends: boolean }, AptSimulationFact> = {
  kind: 'apt_simulation',
  key: (p) => `apt_simulation:${p.state}:${p.names.join(',')}`,
  // simulate only when something is to do (apt-get -s takes seconds): a package missing, or present to remove
  script: (p) =>
    [
      `need=0; for p in ${p.names.map((n) => sq(n.replace(/=.*$/, ''))).join(' ')}; do`,
      `  if dpkg-query -W -f='\${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.i'; then ${p.state === 'present' ? ':' : 'need=1'}; else ${p.state === 'present' ? 'need=1' : ':'}; fi`,
      `done`,
      `[ "$need" = 1 ] || [ -n "${p.names.some((n) => n.includes('=')) ? 'pinned' : ''}" ] || { echo rc=0; exit 0; }`,
      `LC_ALL=C apt-get -s -q ${p.state === 'present' ? `install${p.recommends ? '' : ' --no-install-recommends'}` : 'remove'} ${p.names.map(sq).join(' ')} 2>&1; echo "rc=$?"`,
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
