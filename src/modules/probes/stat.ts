/**
 * stat: a path's facts registered as `<register>.stat` (Ansible's names: exists, isdir, isreg,
 * islnk, mode, uid, gid, pw_name, gr_name, size, checksum). Never changes anything, so it runs in
 * check mode too: there its answer is the path as earlier tasks are predicted to leave it (the
 * file fact, folded over their effects), or unknown where that prediction does not say (a new
 * owner's uid, a directory's size, a checksum of content not predicted).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { fact, Unknown, type StateModule } from '../contract.js';
import { partlyUnknown } from '../../engine/expr.js';
import { fileFact, type FileFact } from '../files/facts.js';
import { ALGORITHMS, statFact, statFollowFact, type Algorithm, type Inode, type StatFact } from './stat-facts.js';

const schema = z
  .object({
    path: z.string().startsWith('/', 'an absolute path'),
    follow: z.boolean().default(false),
    get_checksum: z.boolean().default(true),
    checksum_algorithm: z.enum(ALGORITHMS).default('sha1'),
  })
  .strict();

type Args = z.infer<typeof schema>;
type Facts = { file: FileFact; live: StatFact };

export const stat: StateModule<Args, Facts> = {
  name: 'stat',
  type: 'state',
  exactEffects: true,
  permissionsModelled: true,
  schema,
  facts: (a) => ({ file: fact(fileFact, { path: a.path }), live: fact(a.follow ? statFollowFact : statFact, { path: a.path, follow: a.follow, algorithm: a.checksum_algorithm }) }),
  plan: () => [],
  predict: () => [],
  footprint: () => [],
  registerData(a, facts, _changes, _local, ctx) {
    if (!ctx.check) return { stat: fromLive(a, facts.live) };
    if (sameInode(facts.file, facts.live)) {
      const live = fromLive(a, facts.live);
      if (live.isdir !== true) return { stat: live };
      // on some filesystems (tmpfs) a directory's size follows its entries, which earlier tasks may add
      const { size: _size, ...known } = live;
      return { stat: partlyUnknown(known, `${a.path} is a directory: its size follows its entries, which check mode does not model`) };
    }
    return { stat: fromPredicted(a, facts.file, facts.live.own) };
  },
};

/** Whether the file fact (predicted in check mode) still describes the path as read now. */
function sameInode(f: FileFact, { own, target }: StatFact): boolean {
  if (!own) return f.type === 'absent';
  return f.type === own.type && f.mode === own.mode && f.owner === own.owner && f.group === own.group && f.size === own.size && f.sha256 === own.sha256 && f.target === target;
}

function fromLive(a: Args, live: StatFact): Record<string, unknown> {
  const own = live.own;
  if (!own) return { exists: false };
  if (a.follow && own.type === 'link') {
    // Ansible: os.stat through a dangling link fails, so the path does not exist
    if (!live.followed) return { exists: false };
    return described(a, live.followed, undefined);
  }
  return described(a, own, live.target);
}

function described(a: Args, n: Inode, target: string | undefined): Record<string, unknown> {
  return {
    exists: true,
    path: a.path,
    mode: n.mode,
    isdir: n.type === 'directory',
    isreg: n.type === 'file',
    islnk: n.type === 'link',
    uid: n.uid,
    gid: n.gid,
    pw_name: n.owner,
    gr_name: n.group,
    size: n.size,
    ...(n.type === 'link' && target !== undefined ? { lnk_target: target } : {}),
    // Ansible: a checksum only of a regular file it may read
    ...(a.get_checksum && n.type === 'file' && n.checksum !== undefined ? { checksum: n.checksum } : {}),
  };
}

/**
 * Check mode: the path as earlier tasks leave it, from the predicted file fact. What that does
 * not say (a new owner's uid, a new directory's size, a checksum of content not predicted) is
 * left unknown field by field: reading it makes the reading task unknown, the rest is known.
 */
function fromPredicted(a: Args, f: FileFact, own: Inode | undefined): Record<string, unknown> {
  const why = `${a.path} is changed by an earlier task`;
  if (f.type === 'absent') return { exists: false };
  if (a.follow && (f.type === 'link' || own?.type === 'link')) throw new Unknown(`${why}, and what a symlink there leads to is not predicted (follow: true)`);
  if (f.type === 'link') throw new Unknown(`${why}: the link's own attributes are not predicted`);
  if (f.mode === undefined || f.owner === undefined || f.group === undefined) throw new Unknown(`${why}: its mode and owner are known only after the real run`);
  const known: Record<string, unknown> = {
    exists: true,
    path: a.path,
    mode: f.mode,
    isdir: f.type === 'directory',
    isreg: f.type === 'file',
    islnk: false,
    pw_name: f.owner,
    gr_name: f.group,
  };
  const uid = idOf(f.owner, own?.owner, own?.uid);
  const gid = idOf(f.group, own?.group, own?.gid);
  if (uid !== undefined) known.uid = uid;
  if (gid !== undefined) known.gid = gid;
  if (f.size !== undefined) known.size = f.size;
  if (a.get_checksum && f.type === 'file') {
    const sum = checksumOf(f, a.checksum_algorithm);
    if (sum !== undefined) known.checksum = sum;
  }
  return withUnknown(known, uid, gid, why);
}

/** The known fields, and the others unknown (as a check-mode result of a task that has not run). */
function withUnknown(known: Record<string, unknown>, uid: number | undefined, gid: number | undefined, why: string): Record<string, unknown> {
  const missing = [uid === undefined ? 'uid' : '', gid === undefined ? 'gid' : '', known.size === undefined ? 'size' : '', known.isreg && known.checksum === undefined ? 'checksum' : ''].filter(Boolean);
  return partlyUnknown(known, `${why}: ${missing.length ? `its ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'}` : 'this field is'} known only after the real run`);
}

/** The number of an account the path will belong to: root's, or the one it has now (undefined: not known ahead). */
function idOf(name: string, nowName: string | undefined, nowId: number | undefined): number | undefined {
  if (name === 'root') return 0;
  return name === nowName ? nowId : undefined;
}

function checksumOf(f: FileFact, algorithm: Algorithm): string | undefined {
  if (algorithm === 'sha256' && f.sha256) return f.sha256;
  if (f.content !== undefined) return createHash(algorithm).update(Buffer.from(f.content, 'base64')).digest('hex');
  return undefined;
}
