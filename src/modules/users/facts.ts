/** User and group facts from the host's account databases. */
import { sq } from '../../engine/shell.js';
import type { FactKind } from '../contract.js';
import { keyValues } from '../files/facts.js';

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
    return `if e=$(getent passwd ${n}); then echo "passwd=$e"; echo "group=$(id -gn ${n})"; echo "groups=$(id -Gn ${n})"; else echo passwd=; fi`;
  },
  parse: (out) => {
    const lines = keyValues(out);
    if (!lines.passwd) return { exists: false };
    const f = lines.passwd.split(':');
    const primary = lines.group ?? '';
    return {
      exists: true,
      uid: Number(f[2]),
      home: f[5],
      shell: f[6],
      group: primary,
      groups: (lines.groups ?? '').split(' ').filter((g) => g && g !== primary).sort(),
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
  parse: (out) => {
    const line = out.trim();
    if (!line) return { exists: false };
    return { exists: true, gid: Number(line.split(':')[2]) };
  },
};
