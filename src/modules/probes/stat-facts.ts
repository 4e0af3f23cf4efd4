/**
 * stat's own reading of a path: what the file fact does not carry (numeric ids, a checksum in
 * the asked algorithm, the followed target). Nothing predicts it: stat.ts uses it only where the
 * file fact, which check mode predicts, says the path is as it is now.
 */
import { sq } from '../../engine/shell.js';
import type { FactKind } from '../contract.js';
import { keyValues } from '../files/facts.js';

export const ALGORITHMS = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** One inode as `stat` sees it (lstat, or stat through a link). */
export interface Inode {
  type: 'file' | 'directory' | 'link' | 'other';
  mode: string;
  uid: number;
  gid: number;
  owner: string;
  group: string;
  size: number;
  /** regular files that could be read: sha256 (compared with the file fact) and the asked algorithm */
  sha256?: string;
  checksum?: string;
}

export interface StatFact {
  /** the path itself (not followed); undefined: nothing there, not even a dangling link */
  own?: Inode;
  target?: string;
  /** follow: what the path leads to; undefined when the link dangles */
  followed?: Inode;
}

export interface StatParams {
  path: string;
  follow: boolean;
  algorithm: Algorithm;
}

const FORMAT = 'type=%F\\nmode=%a\\nuid=%u\\ngid=%g\\nowner=%U\\ngroup=%G\\nsize=%s\\n';

function inodeScript(prefix: string, statOpt: string, test: string, algorithm: Algorithm): string {
  const hash = (cmd: string, key: string) => `h=$(${cmd} < "$p" 2>/dev/null) && printf '${prefix}${key}=%s\\n' "\${h%% *}"`;
  return [
    `stat ${statOpt}--printf '${FORMAT}' -- "$p" | sed 's/^/${prefix}/'`,
    `if ${test}; then ${hash('sha256sum', 'sha256')}; ${hash(`${algorithm}sum`, 'checksum')}; fi`,
  ].join('\n');
}

const statKind: Omit<FactKind<StatParams, StatFact>, 'kind'> = {
  // no effect names this key (file: keys do): never read ahead, where a change would leave it stale
  volatile: true,
  key: (p) => `stat:${p.follow ? 'follow' : 'own'}:${p.algorithm}:${p.path}`,
  script: (p) =>
    [
      `p=${sq(p.path)}`,
      `if [ -e "$p" ] || [ -L "$p" ]; then`,
      inodeScript('l_', '', '[ -f "$p" ] && [ ! -L "$p" ]', p.algorithm),
      `if [ -L "$p" ]; then printf 'target=%s\\n' "$(readlink -- "$p")"; fi`,
      ...(p.follow ? [`if [ -L "$p" ] && [ -e "$p" ]; then`, inodeScript('f_', '-L ', '[ -f "$p" ]', p.algorithm), `fi`] : []),
      `fi`,
    ].join('\n'),
  parse: (out) => {
    const kv = keyValues(out);
    const inode = (pre: string): Inode | undefined => {
      if (kv[`${pre}type`] === undefined) return undefined;
      const t = kv[`${pre}type`];
      return {
        type: /regular/.test(t) ? 'file' : t === 'directory' ? 'directory' : t === 'symbolic link' ? 'link' : 'other',
        mode: (kv[`${pre}mode`] ?? '').padStart(4, '0'),
        uid: Number(kv[`${pre}uid`]),
        gid: Number(kv[`${pre}gid`]),
        owner: kv[`${pre}owner`] ?? '',
        group: kv[`${pre}group`] ?? '',
        size: Number(kv[`${pre}size`]),
        ...(kv[`${pre}sha256`] ? { sha256: kv[`${pre}sha256`] } : {}),
        ...(kv[`${pre}checksum`] ? { checksum: kv[`${pre}checksum`] } : {}),
      };
    };
    const own = inode('l_');
    const followed = inode('f_');
    return { ...(own ? { own } : {}), ...(kv.target !== undefined ? { target: kv.target } : {}), ...(followed ? { followed } : {}) };
  },
};

export const statFact: FactKind<StatParams, StatFact> = { kind: 'stat', ...statKind };

/**
 * follow: true reads through a symlink to a path no fact names ahead of the read: once anything
 * on the host is predicted to change, check mode cannot say what it leads to.
 */
export const statFollowFact: FactKind<StatParams, StatFact> = { kind: 'stat_follow', readsAnything: true, ...statKind };
