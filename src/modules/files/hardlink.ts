/**
 * file state: hard: whether `path` is a hard link to `src` (the same inode), for the file module.
 * The fact answers for both paths (aliases): in check mode, any earlier effect on either of them
 * (a copy that replaces src with a new inode, a removal) turns it into something that is not a
 * hard-link fact, and the plan says it cannot know (see linkState).
 */
import { sq } from '../../engine/shell.js';
import { Unknown, type FactKind } from '../contract.js';
import { keyValues } from './facts.js';
import { normPath } from './effects.js';

export interface HardLinkFact {
  kind: 'hardlink';
  /** Both exist and are one inode. */
  same: boolean;
  /** The two paths with their directories' symlinks resolved (other names of the same files). */
  realPath?: string;
  realSrc?: string;
}

export interface HardLinkParams {
  path: string;
  src: string;
}

const real = (p: string) => `d=$(timeout 5 realpath -m -- ${sq(p.replace(/\/[^/]*\/?$/, '') || '/')} 2>/dev/null) && printf '%s/%s\\n' "\${d%/}" ${sq(p.slice(p.lastIndexOf('/') + 1))}`;

export const hardLinkFact: FactKind<HardLinkParams, HardLinkFact> = {
  kind: 'hardlink',
  key: (p) => `hardlink:${normPath(p.path)}=${normPath(p.src)}`,
  // -ef: same device and inode (false when either is missing)
  script: (p) => [`if [ ${sq(p.path)} -ef ${sq(p.src)} ]; then echo same=yes; else echo same=no; fi`, `printf 'rpath='; ${real(p.path)} || echo`, `printf 'rsrc='; ${real(p.src)} || echo`].join('\n'),
  parse: (out) => {
    const kv = keyValues(out);
    return { kind: 'hardlink', same: kv.same === 'yes', ...(kv.rpath ? { realPath: kv.rpath } : {}), ...(kv.rsrc ? { realSrc: kv.rsrc } : {}) };
  },
  aliases: (p, live) => [...new Set([p.path, p.src, live?.realPath, live?.realSrc].filter((x): x is string => !!x).map((x) => `file:${normPath(x)}`))],
};

/** Whether path and src are one inode; Unknown when an earlier task's effect on either path left something else. */
export function linkState(f: unknown, path: string, src: string): boolean {
  if (f && typeof f === 'object' && (f as HardLinkFact).kind === 'hardlink') return (f as HardLinkFact).same;
  throw new Unknown(`whether ${path} and ${src} are one file (a hard link) after an earlier task changes either of them is not modelled`);
}
