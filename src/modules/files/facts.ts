/** File facts: type, mode, owner, group, checksum and (optionally) content. */
import { createHash } from 'node:crypto';
import type { FactKind } from '../contract.js';
import { fileBatch } from './file-batch.js';
import { fileScript, MAX_CONTENT, type FileParams } from './file-script.js';

export { MAX_CONTENT, type FileParams };

export interface FileFact {
  type: 'file' | 'directory' | 'link' | 'absent' | 'other';
  mode?: string; // octal, 4 digits: '0644'
  owner?: string;
  group?: string;
  size?: number;
  sha256?: string;
  /** base64 content, when requested and the file is at most MAX_CONTENT bytes. */
  content?: string;
  target?: string; // link target
  /** Whether the parent directory exists (for messages and check-mode predictions). */
  parentExists: boolean;
  /** The path with its directories' symlinks resolved (realpath -m): another name for the same file. */
  real?: string;
  /** An ancestor that exists and is not a directory: nothing can be created at the path. */
  blocked?: string;
  /** Whether the reading user may create entries in the path's directory (its nearest existing ancestor). */
  dirWritable?: boolean;
  /** For an absent path: its nearest existing ancestor (its directory, when that exists). */
  near?: string;
  /**
   * Check mode: that nearest ancestor as an earlier task leaves it (its owner and mode decide
   * who may create and reach entries there), or null when an earlier task changed the access
   * to this path in a way not modelled (a non-root user's changes are then unknown).
   */
  nearDir?: { owner: string; mode: string } | null;
  /** The reading user may not search the nearest existing ancestor: what lies below it is hidden from it. */
  hidden?: boolean;
  /**
   * Check mode: directories above the path that earlier tasks make or change (owner and mode):
   * a user other than root sees the path only if it may search every one of them.
   */
  gates?: { owner: string; mode: string }[];
  /** Check mode: a pending package install may create the parent directory (see packages/apt.ts). */
  parentByInstall?: boolean;
}

export const fileFact: FactKind<FileParams, FileFact> = {
  kind: 'file',
  key: (p) => `file:${p.path}`,
  script: fileScript,
  batch: fileBatch,
  parse: (out, p) => {
    const kv = keyValues(out);
    const f: FileFact = { type: (kv.type as FileFact['type']) ?? 'absent', parentExists: kv.parent === 'yes' };
    if (kv.dirw !== undefined) f.dirWritable = kv.dirw === 'yes';
    if (kv.blocked) f.blocked = kv.blocked;
    if (kv.near) f.near = kv.near;
    if (kv.hidden === 'yes') f.hidden = true;
    if (kv.mode !== undefined) f.mode = kv.mode.padStart(4, '0');
    if (kv.owner !== undefined) f.owner = kv.owner;
    if (kv.group !== undefined) f.group = kv.group;
    if (kv.size !== undefined) f.size = Number(kv.size);
    if (kv.sha256) f.sha256 = kv.sha256;
    else if (kv.content_read === 'yes' && kv.content !== undefined) f.sha256 = createHash('sha256').update(Buffer.from(kv.content, 'base64')).digest('hex');
    if (kv.content !== undefined) f.content = kv.content;
    if (kv.target !== undefined) f.target = kv.target;
    if (kv.real && kv.real.replace(/^\/\//, '/') !== p.path.replace(/\/+$/, '')) f.real = kv.real.replace(/^\/\//, '/');
    return f;
  },
  aliases: (_p, live) => (live.real ? [`file:${live.real}`] : []),
  seenBy: (f, reader) => {
    if (f.hidden) return `it is read as ${reader}, who may not search its directory: how an earlier task's change looks to ${reader} is not modelled`;
    if (f.gates?.some((g) => !modeGrants(g, reader, 1))) return `it is read as ${reader}, who may not search a directory that an earlier task makes or changes above it`;
    // its content as an earlier task leaves it is known here, but not to a reader it does not grant reading (seed 32309)
    if (f.type === 'file' && f.sha256 !== undefined && f.mode !== undefined && !modeGrants({ owner: f.owner ?? '', mode: f.mode }, reader, 4)) {
      return `it is read as ${reader}, whom the file as an earlier task leaves it (mode ${f.mode}, owner ${f.owner ?? 'unknown'}) does not grant reading its content`;
    }
    return undefined;
  },
};

/**
 * `id` (LC_ALL=C): `uid=0(root) gid=0(root) groups=0(root),4(adm)`. A number without a name
 * stands for itself, as `id -gn` / `id -Gn` print it.
 */
export function parseId(line: string): { user: string; group: string; groups: string[] } {
  const named = (field: string | undefined) => (field === undefined ? '' : (/^\d+\((.*)\)$/.exec(field)?.[1] ?? field));
  const field = (k: string) => new RegExp(`(?:^|\\s)${k}=(\\d+(?:\\([^)]*\\))?)`).exec(line)?.[1];
  const list = /(?:^|\s)groups=(\S+)/.exec(line)?.[1];
  return {
    user: named(field('uid')),
    group: named(field('gid')),
    groups: list ? list.split(',').map(named).filter(Boolean) : [],
  };
}

/** Who creates files, and with which umask: the login user, or root through sudo (become). */
export interface IdentityFact {
  user: string;
  group: string;
  umask: string;
}

export const identityFact: FactKind<{ become: boolean }, IdentityFact> = {
  kind: 'identity',
  key: (p) => `identity:${p.become ? 'become' : 'login'}`,
  // one `id`, and umask printed by the shell itself: no command substitution to fork for
  script: () => `printf 'id='; LC_ALL=C id; printf 'umask='; umask`,
  inline: true,
  parse: (out) => {
    const kv = keyValues(out);
    const { user, group } = parseId(kv.id ?? '');
    return { user, group, umask: (kv.umask ?? '0022').padStart(4, '0') };
  },
};

/** The owner and group a content write gives its new file (`chown` of the temporary file). */
export interface WriteOwnership {
  owner?: string;
  group?: string;
}

/**
 * Check mode: why `who` (not root) may not be able to make `changes` to the path of `f`, or
 * undefined when it may (it owns what it changes, and may write the directory).
 */
export function notPermitted(f: FileFact, who: IdentityFact, changes: { action: string }[], writes?: WriteOwnership): string | undefined {
  if (who.user === 'root' || changes.length === 0) return undefined;
  const canWriteDir = f.nearDir !== undefined ? f.nearDir !== null && mayEnter(f.nearDir, who.user) : f.dirWritable === true;
  const owns = f.type === 'absent' || f.owner === who.user;
  // a write chowns its new file to the old one's owner and group, then to the given ones: only
  // root gives a file away, and group membership beyond the primary group is not modelled
  const mayChown =
    writes === undefined ||
    ((writes.owner === undefined || writes.owner === who.user) &&
      (writes.group === undefined || writes.group === who.group) &&
      (f.type === 'absent' || f.group === who.group));
  for (const c of changes) {
    const write = c.action === 'create' || c.action === 'update';
    if (write && canWriteDir && owns && !mayChown) {
      const kept = f.type === 'absent' ? undefined : f;
      const owner = writes?.owner ?? kept?.owner;
      const group = writes?.group ?? kept?.group;
      const to = [owner !== undefined && owner !== who.user ? `owner ${owner}` : '', group !== undefined && group !== who.group ? `group ${group}` : ''].filter(Boolean).join(' and ');
      return `it runs as ${who.user} without become: whether ${who.user} may give the new file the ${to} is known only when it runs`;
    }
    const ok = write || c.action === 'remove' ? canWriteDir && owns : c.action === 'chmod' ? owns : false;
    if (!ok) return `it runs as ${who.user} without become: whether ${who.user} may ${c.action} this is known only when it runs`;
  }
  return undefined;
}

/**
 * Whether `user` (not root) has the permission `bits` (4 read, 2 write, 1 search) on a directory
 * or a file: the owner's class if it owns it; otherwise the group's or the others' class,
 * whichever applies (group membership is not modelled: both must grant it).
 */
export function modeGrants(path: { owner: string; mode: string }, user: string, bits: number): boolean {
  const m = parseInt(path.mode, 8);
  if (path.owner === user) return ((m >> 6) & bits) === bits;
  return ((m >> 3) & bits) === bits && (m & bits) === bits;
}

/** Whether `user` (not root) may create entries in a directory: write and search permission. */
const mayEnter = (dir: { owner: string; mode: string }, user: string) => modeGrants(dir, user, 3);

/** The mode a new file (base 0666) or directory (base 0777) gets under `umask`. */
export function modeUnder(umask: string, base: number): string {
  return (base & ~parseInt(umask, 8)).toString(8).padStart(4, '0');
}

/** Parse `key=value` lines (first `=` splits). */
export function keyValues(out: string): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv[line.slice(0, i)] = line.slice(i + 1);
  }
  return kv;
}

/** Normalise a mode given by a user ('644', '0644', 0o644 as number 420) to '0644'. */
export function normMode(mode: string | number | undefined): string | undefined {
  if (mode === undefined) return undefined;
  if (typeof mode === 'number') return mode.toString(8).padStart(4, '0');
  const m = mode.replace(/^0o/, '');
  if (!/^[0-7]{3,4}$/.test(m)) throw new Error(`invalid mode '${mode}': expected octal like '0644'`);
  return m.padStart(4, '0');
}
