/**
 * git: a checkout of `repo` at `dest`, at the commit `version` names on the remote (a branch,
 * a tag, HEAD or a commit hash). The remote is read with `git ls-remote` (read-only) in the
 * facts, so the plan, and --check, know whether the checked-out commit moves. `changed` means
 * it moved (or the checkout was made, its origin URL set, or its local changes discarded);
 * the registered result has `before` and `after` (commits), as Ansible's.
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { UnknownFact } from '../../engine/prediction.js';
import { fact, TaskError, Unknown, type Change, type Effect, type StateModule } from '../contract.js';
import { int } from '../bounds.js';
import { fileFact, identityFact, modeUnder, type FileFact, type IdentityFact } from '../files/facts.js';
import { crosses, missingParentsMade, normPath } from '../files/effects.js';
import { packageFact, type PackageFact } from '../packages/facts.js';
import { remoteFact, repoFact, resolveVersion, sameCommit, versionProblem, type RemoteFact, type RepoFact, type Target } from './git-refs.js';

const schema = z
  .object({
    repo: z.string().min(1).regex(/^[^-\s]\S*$/, 'a repository URL or path (no spaces, not starting with -)'),
    dest: z.string().startsWith('/', 'an absolute path'),
    version: z
      .string()
      .superRefine((v, c) => {
        const why = versionProblem(v);
        if (why) c.addIssue({ code: 'custom', message: why });
      })
      .default('HEAD'),
    force: z.boolean().default(false),
    depth: int(1, 1_000_000, 'depth').optional(),
    update: z.boolean().default(true),
  })
  .strict();

type Args = z.infer<typeof schema>;
type Facts = { git: PackageFact; repo: RepoFact; tree: FileFact; remote: RemoteFact; who: IdentityFact };

const GIT = `git -c safe.directory='*' -c advice.detachedHead=false`;

/** What dest is for this task: the live checkout fact, unless check mode's file facts say an earlier task removed or made it. */
function destState(f: Facts): RepoFact {
  if (f.tree.type === 'absent') return { type: 'absent' };
  // a directory an earlier task makes (the live path is not there): new, so empty
  if (f.repo.type === 'absent' && f.tree.type === 'directory') return { type: 'directory', empty: true };
  if (f.repo.type === 'absent') return { type: 'other' };
  return f.repo;
}

/** The target commit, or why there is none (the remote cannot be read, the version is not there). */
function target(a: Args, f: Facts): Target {
  if (f.remote.noGit) {
    if (!f.git.installed) throw new TaskError('git is not installed on the host (install it first: apt, name: git)');
    throw new Unknown(`git is not on the host yet (an earlier task installs it): ${a.repo} is read in the real run`);
  }
  if (f.remote.error !== undefined) throw new TaskError(`cannot read ${a.repo} (git ls-remote): ${f.remote.error}`);
  const t = resolveVersion(a.version, f.remote);
  if (typeof t === 'string') throw new TaskError(`${a.repo}: ${t}`);
  return t;
}

const notAdvertised = (a: Args, t: Target) =>
  t.kind === 'commit' && !t.advertised ? `whether ${a.repo} has commit ${t.commit} (no branch or tag of it points there) is known only when it is fetched` : undefined;

/**
 * --depth over http(s): git's dumb HTTP transport (a plain web server) cannot fetch shallow, and
 * `git ls-remote` reads both transports alike (difftest seed 40221).
 */
const shallowOverHttp = (a: Args, t: Target, repo: string) =>
  a.depth !== undefined && t.kind !== 'commit' && /^https?:\/\//i.test(a.repo)
    ? `whether ${repo} serves shallow fetches (depth; git's dumb HTTP transport does not) is known only when it runs`
    : undefined;

/** Pure: clone, or fetch and check out, so that dest's checked-out commit is the one `version` names. */
export function planGit(a: Args, f: Facts, mask: (s: string) => string = (s) => s): Change[] {
  const repo = mask(a.repo);
  const d = destState(f);
  const dest = sq(a.dest);
  if (d.type === 'other') throw new TaskError(`${a.dest} exists and is not a directory`);
  if (d.type === 'directory' && !d.empty) throw new TaskError(`${a.dest} exists, is not empty and is not a git checkout`);
  if (d.type === 'repo' && !a.update) return [];
  const t = target(a, f);
  const uncertain = notAdvertised(a, t) ?? shallowOverHttp(a, t, repo);
  const checkCommit = `${GIT} -C ${dest} cat-file -e ${sq(`${t.commit}^{commit}`)} 2>/dev/null || { printf '%s\\n' ${sq(`git: commit ${t.commit} is not in ${a.repo}`)} >&2; exit 3; }`;
  if (d.type !== 'repo') {
    // --depth fetches one branch: a commit given by hash may lie on any, so it gets a full clone
    const depth = a.depth !== undefined && t.kind !== 'commit' ? ` --depth ${a.depth}` : '';
    const branch = t.kind === 'branch' || t.kind === 'tag' ? ` --branch ${sq(a.version)}` : '';
    const steps = ['set -e', `${GIT} clone --quiet${depth}${branch} -- ${sq(a.repo)} ${dest}`];
    if (t.kind === 'commit') steps.push(checkCommit, `${GIT} -C ${dest} checkout --quiet --detach ${sq(t.commit)}`);
    return [
      {
        action: 'clone',
        target: a.dest,
        summary: `clone ${repo} into ${a.dest} at ${a.version}${t.kind === 'commit' ? '' : ` (${t.commit.slice(0, 12)})`}`,
        ...(uncertain ? { uncertain } : {}),
        commands: [{ cmd: steps.join('\n'), display: `git clone ${repo} ${a.dest} (${a.version})` }],
      },
    ];
  }
  if (d.noGit) throw new Unknown(`the commit checked out in ${a.dest} is read once git is installed (the real run)`);
  const moves = !sameCommit(d.head, t);
  const originMoves = d.origin !== a.repo;
  if (moves && d.dirty && !a.force) throw new TaskError(`${a.dest} has local modifications (force: true discards them)`);
  if (!moves && !originMoves && !(d.dirty && a.force)) return [];
  const steps = ['set -e'];
  const what: string[] = [];
  if (originMoves) {
    steps.push(d.origin === undefined ? `${GIT} -C ${dest} remote add origin ${sq(a.repo)}` : `${GIT} -C ${dest} remote set-url origin ${sq(a.repo)}`);
    what.push(`origin ${d.origin === undefined ? '(none)' : mask(d.origin)} -> ${repo}`);
  }
  if (moves) {
    const depth = a.depth !== undefined && t.kind !== 'commit' ? ` --depth ${a.depth}` : '';
    steps.push(`${GIT} -C ${dest} fetch --quiet${depth} origin '+refs/heads/*:refs/remotes/origin/*' '+refs/tags/*:refs/tags/*'`, checkCommit);
    what.push(`${(d.head ?? 'no commit').slice(0, 12)} -> ${t.commit.slice(0, 12)} (${a.version})`);
  }
  const f_ = a.force ? ' --force' : '';
  if (moves && t.kind === 'branch') steps.push(`${GIT} -C ${dest} checkout --quiet${f_} -B ${sq(a.version)} ${sq(t.commit)}`);
  else if (moves) steps.push(`${GIT} -C ${dest} checkout --quiet${f_} --detach ${sq(t.commit)}`);
  else if (d.dirty && a.force) {
    steps.push(`${GIT} -C ${dest} reset --quiet --hard HEAD`);
    what.push('discard local modifications');
  }
  return [
    {
      action: moves ? 'checkout' : 'update',
      target: a.dest,
      summary: `${a.dest}: ${what.join(', ')}`,
      ...(uncertain && moves ? { uncertain } : {}),
      commands: [{ cmd: steps.join('\n'), display: `git ${moves ? 'fetch and checkout' : 'update'} in ${a.dest}` }],
    },
  ];
}

export const git: StateModule<Args, Facts> = {
  name: 'git',
  type: 'state',
  schema,
  facts: (a, ctx) => ({
    git: fact(packageFact, { name: 'git' }),
    repo: fact(repoFact, { dest: a.dest }),
    tree: fact(fileFact, { path: a.dest }),
    remote: fact(remoteFact, { repo: a.repo }),
    who: fact(identityFact, { become: ctx.become }),
  }),
  plan: (a, f, ctx) => planGit(a, f, ctx.mask),
  registerData(a, f, changes) {
    const before = destState(f).head ?? null;
    if (changes.length === 0) return { before, after: before };
    try {
      return { before, after: target(a, f).commit };
    } catch {
      return { before };
    }
  },
  predict(a, f): Effect[] {
    const t = target(a, f);
    const dest = normPath(a.dest);
    const why = `the files git checks out into ${a.dest}`;
    const made = destState(f).type !== 'repo';
    const fresh: FileFact = { type: 'directory', parentExists: true, mode: modeUnder(f.who.umask, 0o777), owner: f.who.user, group: f.who.group };
    return [
      { touches: (k) => k === `git_repo:${a.dest}`, apply: (before) => ({ ...(before as RepoFact), type: 'repo', head: t.commit, dirty: false, origin: a.repo }) },
      {
        within: (dir) => crosses([dest], dir),
        touches: (k) => k.startsWith('file:') && (normPath(k.slice(5)) === dest || normPath(k.slice(5)).startsWith(`${dest}/`)),
        apply: (before, k) => {
          if (normPath(k.slice(5)) === dest) return made && (before as FileFact).type === 'absent' ? fresh : before;
          return new UnknownFact(why);
        },
      },
      ...(made && !f.tree.parentExists ? [missingParentsMade(a.dest, `git clone creates the missing directories above ${a.dest}`)] : []),
    ];
  },
  footprint: (a) => {
    const dest = normPath(a.dest);
    const why = `${a.dest} is checked out by a git task whose outcome is unknown in check mode`;
    return [
      { within: (dir) => crosses([dest], dir), touches: (k) => k === `git_repo:${a.dest}` || (k.startsWith('file:') && (normPath(k.slice(5)) === dest || normPath(k.slice(5)).startsWith(`${dest}/`))), apply: () => new UnknownFact(why) },
      missingParentsMade(a.dest, why),
    ];
  },
};
