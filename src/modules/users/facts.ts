/** User and group facts from the host's account databases. */
import { sq } from '../../engine/shell.js';
import { fact, TaskError, type FactKind, type FactRequest } from '../contract.js';
import { keyValues, parseId } from '../files/facts.js';

export interface UserFact {
  exists: boolean;
  uid?: number;
  group?: string;
  groups?: string[];
  home?: string;
  shell?: string;
}

export const userFact: FactKind<{ name: string }, UserFact> = {
  kind: 'user',
  key: (p) => `user:${p.name}`,
  script: (p) => {
    const n = sq(p.name);
    // one `id` for the primary group and the groups, and getent straight to the output, not in a
    // $(…) of a subshell (forks are what a host spends its time on)
    return `printf 'passwd='; if getent passwd ${n}; then printf 'id='; LC_ALL=C id ${n}; else echo; fi`;
  },
  inline: true,
  parse: (out) => {
    const lines = keyValues(out);
    if (!lines.passwd) return { exists: false };
    const f = lines.passwd.split(':');
    const { group: primary, groups } = parseId(lines.id ?? '');
    return {
      exists: true,
      uid: Number(f[2]),
      home: f[5],
      shell: f[6],
      group: primary,
      groups: groups.filter((g) => g !== primary).sort(),
    };
  },
};

export interface GroupFact {
  exists: boolean;
  gid?: number;
}

export const groupFact: FactKind<{ name: string }, GroupFact> = {
  kind: 'group',
  key: (p) => `group:${p.name}`,
  script: (p) => `getent group ${sq(p.name)} || true`,
  inline: true,
  parse: (out) => {
    const line = out.trim();
    if (!line) return { exists: false };
    return { exists: true, gid: Number(line.split(':')[2]) };
  },
};

/** What useradd reads from /etc/login.defs: the mode of new home directories. */
export interface LoginDefsFact {
  homeMode: string;
}

export const loginDefsFact: FactKind<Record<string, never>, LoginDefsFact> = {
  kind: 'login_defs',
  key: () => 'login_defs',
  script: () => `grep -E '^[[:space:]]*(HOME_MODE|UMASK)[[:space:]]' /etc/login.defs 2>/dev/null || true`,
  inline: true,
  parse: (out) => {
    const kv: Record<string, string> = {};
    for (const line of out.split('\n')) {
      const m = /^\s*(HOME_MODE|UMASK)\s+(\S+)/.exec(line);
      if (m) kv[m[1]] = m[2];
    }
    // useradd: HOME_MODE, else 0777 & ~UMASK (UMASK defaults to 022)
    const mode = kv.HOME_MODE ? parseInt(kv.HOME_MODE, 8) : 0o777 & ~parseInt(kv.UMASK ?? '022', 8);
    return { homeMode: mode.toString(8).padStart(4, '0') };
  },
};

/** The accounts a file task names as owner and group (numeric ids are not looked up). */
export interface AccountFacts {
  ownerAccount?: UserFact;
  groupAccount?: GroupFact;
}

const numeric = (s: string) => /^\d+$/.test(s);

export function accountFacts(owner?: string, group?: string): { ownerAccount?: FactRequest<UserFact>; groupAccount?: FactRequest<GroupFact> } {
  return {
    ...(owner && !numeric(owner) ? { ownerAccount: fact(userFact, { name: owner }) } : {}),
    ...(group && !numeric(group) ? { groupAccount: fact(groupFact, { name: group }) } : {}),
  };
}

/** chown/chgrp to an account that does not exist fails: say so before anything runs. */
export function requireAccounts(f: AccountFacts, owner?: string, group?: string): void {
  if (f.ownerAccount && !f.ownerAccount.exists) throw new TaskError(`owner '${owner}': no such user on this host`);
  if (f.groupAccount && !f.groupAccount.exists) throw new TaskError(`group '${group}': no such group on this host`);
}

/**
 * A user's password field in /etc/shadow, known only by its SHA-256 digest: the hash itself is
 * never kept in a fact (facts may be shown with -v). `readable: false` when /etc/shadow cannot be
 * read (not root): whether the password differs is then not known.
 */
export interface ShadowFact {
  exists: boolean;
  readable?: boolean;
  digest?: string;
}

export const shadowFact: FactKind<{ name: string }, ShadowFact> = {
  kind: 'shadow',
  key: (p) => `shadow:${p.name}`,
  // the digest is taken on the host: the hash never crosses the wire in the fact's output
  script: (p) =>
    `if [ ! -r /etc/shadow ]; then echo readable=no; elif e=$(getent shadow ${sq(p.name)}); then printf 'digest='; printf '%s' "$e" | cut -d: -f2 | tr -d '\\n' | sha256sum | cut -d' ' -f1; else echo readable=yes; fi`,
  parse: (out) => {
    const kv = keyValues(out);
    if (kv.readable === 'no') return { exists: false, readable: false };
    if (kv.digest) return { exists: true, readable: true, digest: kv.digest.trim() };
    return { exists: false, readable: true };
  },
};
