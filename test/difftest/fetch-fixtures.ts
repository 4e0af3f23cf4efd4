/**
 * What the differential tester's HTTP server serves to get_url and git cases, and how it is
 * built: two small files and a bare repository (served over git's dumb HTTP protocol) whose
 * commits have fixed authors and dates, so that their hashes are constants the generator can
 * write into a case (`version: <hash>`) without the server running. The harness builds the
 * repository at start and refuses to go on if a hash differs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Files under /dt/ on the server (a name not here is a 404). */
export const FETCH_FILES: Readonly<Record<string, string>> = { 'one.txt': 'release one\n', 'two.txt': 'release two\n' };

/** The repository's commits: c1 (VERSION 1, tag v1.0) <- c2 (VERSION 2, main); c1 <- c3 (next). */
export const GIT_COMMITS = {
  c1: '3e4aecba8882d5c031355c7b5808a4bd0bad72fe',
  c2: '4ee70c67f2a93dcb311b8badea4ddc1303ada210',
  c3: '4e7723961770e0bdd3ded4d41d0939342b963715',
} as const;

const GIT = 'git -c user.name=difftest -c user.email=dt@provision.invalid -c init.defaultBranch=main -c commit.gpgsign=false -c tag.gpgsign=false';

/** The script that makes the repository (in the working directory: src/ and www/dt/app.git). */
const REPO_SCRIPT = `set -e
${GIT} init -q src
cd src
echo 1 > VERSION && git add VERSION && ${GIT} commit -qm one && ${GIT} tag -a v1.0 -m v1.0
${GIT} checkout -q -b next && echo 3 > VERSION && ${GIT} commit -qam three
${GIT} checkout -q main && echo 2 > VERSION && ${GIT} commit -qam two
cd ..
git clone -q --bare src www/dt/app.git
git -C www/dt/app.git update-server-info
git -C src rev-parse v1.0^{commit} main next`;

/** Builds the served tree under `dir` (www/): the files and the repository; returns www's path. */
export function buildFetchTree(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'www', 'dt'), { recursive: true });
  for (const [name, body] of Object.entries(FETCH_FILES)) writeFileSync(path.join(dir, 'www', 'dt', name), body);
  const date = '2026-01-01T00:00:00Z';
  const env = { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
  const made = spawnSync('sh', ['-c', REPO_SCRIPT], { cwd: dir, env, encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`building the difftest git repository failed: ${made.stderr.trim()}`);
  const [c1, c2, c3] = made.stdout.trim().split('\n');
  const got = { c1, c2, c3 };
  if (JSON.stringify(got) !== JSON.stringify(GIT_COMMITS)) {
    throw new Error(`the difftest git repository's commits are ${JSON.stringify(got)}, not GIT_COMMITS ${JSON.stringify(GIT_COMMITS)} (fetch-fixtures.ts)`);
  }
  return path.join(dir, 'www');
}
