/**
 * git: what the host's checkout is (the repository fact), what the remote advertises
 * (`git ls-remote`, read-only), and which commit a `version` names there (pure).
 */
import { sq } from '../../engine/shell.js';
import type { FactKind } from '../contract.js';
import { keyValues } from '../files/facts.js';

/** A `version` a user may give: a branch or tag name (git's ref name rules), HEAD, or a commit hash (7 to 40 hex digits). */
export function versionProblem(v: string): string | undefined {
  if (v === 'HEAD' || /^[0-9a-f]{7,40}$/i.test(v)) return undefined;
  const bad =
    v.length === 0 ||
    [...v].some((ch) => ch <= ' ' || ch === '\x7f') ||
    /[~^:?*[\\]/.test(v) ||
    v.includes('..') ||
    v.includes('@{') ||
    v.startsWith('-') ||
    v.startsWith('/') ||
    v.endsWith('/') ||
    v.endsWith('.') ||
    v.endsWith('.lock') ||
    v.split('/').some((c) => c === '' || c.startsWith('.'));
  return bad ? `version '${v}': neither a branch or tag name nor a commit hash (7 to 40 hex digits)` : undefined;
}

/** The remote's refs as `git ls-remote --symref` prints them: ref name -> commit; `HEAD` -> its commit. */
export interface RemoteFact {
  /** git is not installed on the host: the remote was not read */
  noGit?: boolean;
  /** ls-remote failed: its message */
  error?: string;
  refs: Record<string, string>;
  /** the branch the remote's HEAD points to (`refs/heads/main`), when it says */
  headRef?: string;
}

export interface Target {
  commit: string;
  kind: 'head' | 'branch' | 'tag' | 'commit';
  /** for a commit given by hash: whether the remote advertises it as the tip of a ref (else it is known only by fetching) */
  advertised?: boolean;
}

/** Which commit `version` names on the remote, or the reason it names none. */
export function resolveVersion(version: string, remote: RemoteFact): Target | string {
  const r = remote.refs;
  if (version === 'HEAD') return r.HEAD ? { commit: r.HEAD, kind: 'head' } : 'the remote has no HEAD (an empty repository?)';
  if (r[`refs/heads/${version}`]) return { commit: r[`refs/heads/${version}`], kind: 'branch' };
  // an annotated tag: the commit it points to (^{}), as a checkout gets it
  const tag = r[`refs/tags/${version}^{}`] ?? r[`refs/tags/${version}`];
  if (tag) return { commit: tag, kind: 'tag' };
  if (/^[0-9a-f]{7,40}$/i.test(version)) {
    const v = version.toLowerCase();
    const tips = [...new Set(Object.values(r).filter((c) => c.startsWith(v)))];
    if (tips.length === 1) return { commit: tips[0], kind: 'commit', advertised: true };
    return { commit: v, kind: 'commit', advertised: false };
  }
  return `version '${version}' is neither a branch, a tag nor a commit of the remote`;
}

/** Whether the checked-out commit `head` is the target (a hash given shorter than 40 digits matches its prefix). */
export const sameCommit = (head: string | undefined, t: Target): boolean => head !== undefined && (t.commit.length === 40 ? head === t.commit : head.startsWith(t.commit));

export function parseLsRemote(out: string): Pick<RemoteFact, 'refs' | 'headRef'> {
  const refs: Record<string, string> = {};
  let headRef: string | undefined;
  for (const line of out.split('\n')) {
    const sym = /^ref: (\S+)\tHEAD$/.exec(line);
    if (sym) headRef = sym[1];
    const m = /^([0-9a-f]{40})\t(\S+)$/.exec(line);
    if (m) refs[m[2]] = m[1];
  }
  return headRef ? { refs, headRef } : { refs };
}

const GIT = `git -c safe.directory='*'`;

export const remoteFact: FactKind<{ repo: string }, RemoteFact> = {
  kind: 'git_remote',
  key: (p) => `git_remote:${p.repo}`,
  // another host or a push changes it: read when the task runs
  volatile: true,
  script: (p) =>
    `if ! command -v git >/dev/null 2>&1; then echo nogit=yes; else ` +
    `if out=$(GIT_TERMINAL_PROMPT=0 timeout 60 ${GIT} ls-remote --symref -- ${sq(p.repo)} 2>&1); then echo ok=yes; printf '%s\\n' "$out"; ` +
    `else echo ok=no; printf '%s\\n' "$out" | tail -n 3 | sed 's/^/error=/'; fi; fi; :`,
  parse: (out) => {
    if (/^nogit=yes$/m.test(out)) return { noGit: true, refs: {} };
    if (/^ok=no$/m.test(out)) {
      const error = out.split('\n').filter((l) => l.startsWith('error=')).map((l) => l.slice(6)).join(' ').trim();
      return { error: error || 'git ls-remote failed', refs: {} };
    }
    return parseLsRemote(out);
  },
};

/** The host's checkout at `dest`. */
export interface RepoFact {
  /** what dest is: a git checkout (dest/.git exists), a directory (empty or not), something else, or nothing */
  type: 'repo' | 'directory' | 'other' | 'absent';
  empty?: boolean;
  /** the checked-out commit */
  head?: string;
  /** tracked files differ from the commit */
  dirty?: boolean;
  origin?: string;
  /** git is not installed: a checkout's commit was not read */
  noGit?: boolean;
}

export const repoFact: FactKind<{ dest: string }, RepoFact> = {
  kind: 'git_repo',
  key: (p) => `git_repo:${p.dest}`,
  script: (p) =>
    [
      `d=${sq(p.dest)}`,
      `if [ -e "$d/.git" ]; then echo type=repo`,
      `  if ! command -v git >/dev/null 2>&1; then echo nogit=yes; else`,
      `    h=$(${GIT} -C "$d" rev-parse -q --verify 'HEAD^{commit}' 2>/dev/null) && echo head=$h`,
      `    s=$(${GIT} -C "$d" status --porcelain --untracked-files=no 2>/dev/null) && [ -n "$s" ] && echo dirty=yes`,
      `    u=$(${GIT} -C "$d" config --get remote.origin.url 2>/dev/null) && printf 'origin=%s\\n' "$u"`,
      `  fi`,
      `elif [ -d "$d" ]; then echo type=directory; if [ -z "$(ls -A "$d")" ]; then echo empty=yes; fi`,
      `elif [ -e "$d" ] || [ -L "$d" ]; then echo type=other`,
      `else echo type=absent; fi`,
      ':',
    ].join('\n'),
  parse: (out) => {
    const kv = keyValues(out);
    const f: RepoFact = { type: (kv.type as RepoFact['type']) ?? 'absent' };
    if (kv.type === 'directory') f.empty = kv.empty === 'yes';
    if (kv.nogit) f.noGit = true;
    if (kv.head) f.head = kv.head;
    if (kv.type === 'repo' && !kv.nogit) f.dirty = kv.dirty === 'yes';
    if (kv.origin !== undefined) f.origin = kv.origin;
    return f;
  },
};
