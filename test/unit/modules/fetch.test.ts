/**
 * get_url and git: the pure parts (checksum parsing, ref resolution, plans), and the fact
 * scripts and plans run for real on this machine against a local HTTP server and a local bare
 * repository (facts -> plan -> apply -> facts -> empty plan).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskError, Unknown, type Change, type StateModule } from '../../../src/modules/contract.js';
import { gatherFacts } from '../../../src/engine/pipeline/facts.js';
import { parseChecksum, digestOf } from '../../../src/modules/fetch/checksum.js';
import { getUrl } from '../../../src/modules/fetch/get_url.js';
import { git } from '../../../src/modules/fetch/git.js';
import { parseLsRemote, resolveVersion, sameCommit, versionProblem } from '../../../src/modules/fetch/git-refs.js';
import { localConnection, makeCtx, parse, regularFile, sh, ROOT_WHO, SECRET } from './helpers.js';

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

describe('get_url: checksum', () => {
  test('ALGORITHM:HEX in Ansible\'s four algorithms, case-insensitive, lower-cased', () => {
    assert.deepEqual(parseChecksum(`sha256:${'AB'.repeat(32)}`), { algorithm: 'sha256', hex: 'ab'.repeat(32) });
    assert.deepEqual(parseChecksum(`md5:${'0'.repeat(32)}`), { algorithm: 'md5', hex: '0'.repeat(32) });
    assert.deepEqual(parseChecksum(`SHA1:${'f'.repeat(40)}`), { algorithm: 'sha1', hex: 'f'.repeat(40) });
    assert.deepEqual(parseChecksum(`sha512:${'1'.repeat(128)}`), { algorithm: 'sha512', hex: '1'.repeat(128) });
  });
  test('the wrong length, an unknown algorithm, no algorithm, a checksum URL: refused with the reason', () => {
    assert.match(parseChecksum(`sha256:${'a'.repeat(63)}`) as string, /sha256 needs exactly 64 hex digits/);
    assert.match(parseChecksum(`sha384:${'a'.repeat(96)}`) as string, /one of md5, sha1, sha256, sha512/);
    assert.match(parseChecksum('a'.repeat(64)) as string, /ALGORITHM:HEX/);
    assert.match(parseChecksum('sha256:https://example.invalid/SUMS') as string, /checksum file URL is not supported/);
    assert.throws(() => parse(getUrl, { url: 'http://h/x', dest: '/x', checksum: 'sha256:zz' }), /64 hex digits/);
  });
  test('arguments: a URL scheme curl fetches, a file path, header names and one-line values; unknown keys refused', () => {
    assert.throws(() => parse(getUrl, { url: 'gopher://h/x', dest: '/x' }), /http:\/\/, https:\/\/ or ftp:\/\//);
    assert.throws(() => parse(getUrl, { url: 'http://h/x', dest: '/srv/' }), /a directory dest is not supported/);
    assert.throws(() => parse(getUrl, { url: 'http://h/x', dest: '/x', headers: { 'Bad Name': 'v' } }), /an HTTP header name/);
    assert.throws(() => parse(getUrl, { url: 'http://h/x', dest: '/x', headers: { A: 'x\ny' } }), /one line/);
    assert.throws(() => parse(getUrl, { url: 'http://h/x', dest: '/x', url_password: 'p' }), /url_password/);
    assert.throws(() => parse(getUrl, { url: 'http://h/x', dest: '/x', timeout: 0 }), /more than 0/);
  });
});

type GetUrlFacts = Parameters<typeof getUrl.plan>[1];
const CURL = { installed: true, version: '7.88.1' };
const urlFacts = (file: GetUrlFacts['file'], over: Partial<GetUrlFacts> = {}): GetUrlFacts => ({ file, who: ROOT_WHO, curl: CURL, ...over });
const planUrl = (args: unknown, facts: GetUrlFacts) => getUrl.plan(parse(getUrl, args), facts, makeCtx(), undefined);

describe('get_url: plan', () => {
  const body = 'release 1\n';
  const A = { url: 'http://10.0.0.1/app.txt', dest: '/srv/app.txt' };
  test('a matching checksum: nothing downloaded, only attributes', () => {
    assert.deepEqual(planUrl({ ...A, checksum: `sha256:${sha256(body)}` }, urlFacts(regularFile({ sha256: sha256(body) }))), []);
    const ch = planUrl({ ...A, checksum: `sha256:${sha256(body)}`, mode: '0600' }, urlFacts(regularFile({ sha256: sha256(body) })));
    assert.deepEqual(ch.map((c) => [c.action, c.summary, c.uncertain]), [['chmod', 'mode 0644 -> 0600', undefined]]);
  });
  test('md5 of the existing file from the digest fact while it describes the same content; else from the content; else unknown', () => {
    const md5 = digestOf('md5', Buffer.from(body));
    const f = regularFile({ sha256: sha256(body) });
    assert.deepEqual(planUrl({ ...A, checksum: `md5:${md5}` }, urlFacts(f, { digest: { sha256: sha256(body), sum: md5 } })), []);
    // check mode: an earlier task wrote other content (the digest fact is the live one)
    const other = regularFile({ sha256: sha256('x'), content: Buffer.from('x').toString('base64') });
    assert.equal(planUrl({ ...A, checksum: `md5:${md5}` }, urlFacts(other, { digest: { sha256: sha256(body), sum: md5 } })).length, 1);
    assert.throws(() => planUrl({ ...A, checksum: `md5:${md5}` }, urlFacts(regularFile({ sha256: sha256('x') }), { digest: { sha256: sha256(body), sum: md5 } })), (e) => e instanceof Unknown && /md5 .* is not known/.test(e.message));
  });
  test('a differing checksum or a missing file: a download whose outcome check mode cannot know', () => {
    const [c] = planUrl({ ...A, checksum: `sha256:${sha256(body)}` }, urlFacts(regularFile({ sha256: sha256('old') })));
    assert.equal(c.action, 'update');
    assert.match(c.summary, /its sha256 is .*, not the checksum given/);
    assert.match(c.uncertain!, /known only when it is downloaded/);
    assert.equal(c.oneShot, undefined);
    const [n] = planUrl(A, urlFacts({ type: 'absent', parentExists: true }));
    assert.equal(n.action, 'create');
  });
  test('no checksum: an existing file is left alone unless force, which downloads every time (one-shot)', () => {
    assert.deepEqual(planUrl(A, urlFacts(regularFile({ sha256: sha256('anything') }))), []);
    const [c] = planUrl({ ...A, force: true }, urlFacts(regularFile({ sha256: sha256('anything') })));
    assert.equal(c.oneShot, true);
    assert.match(c.summary, /force: true/);
  });
  test('refused: a directory, a symlink, a missing parent, no curl on the host', () => {
    const err = (re: RegExp) => (e: unknown) => e instanceof TaskError && re.test(e.message);
    assert.throws(() => planUrl(A, urlFacts({ type: 'directory', parentExists: true })), err(/is a directory/));
    assert.throws(() => planUrl(A, urlFacts({ type: 'link', parentExists: true, target: '/x' })), err(/symlink/));
    assert.throws(() => planUrl(A, urlFacts({ type: 'absent', parentExists: false })), err(/parent directory/));
    assert.throws(() => planUrl(A, urlFacts({ type: 'absent', parentExists: true }, { curl: { installed: false } })), err(/curl is not installed/));
  });
  test('the URL\'s credentials and the headers reach curl on stdin only', () => {
    const [c] = planUrl({ url: `https://u:${SECRET}@10.0.0.1/a`, dest: '/srv/a', headers: { Authorization: `Bearer ${SECRET}` } }, urlFacts({ type: 'absent', parentExists: true }));
    const cmd = c.commands[0];
    assert.ok(!cmd.cmd.includes(SECRET) && !c.summary.includes(SECRET) && !c.uncertain!.includes(SECRET) && !cmd.display!.includes(SECRET));
    assert.match(String(cmd.stdin), new RegExp(`header = "Authorization: Bearer ${SECRET}"`));
  });
});

/** Gather the module's facts on this machine, plan, run the plan's commands, and plan again. */
async function converge<A>(mod: StateModule<A>, raw: unknown): Promise<{ changes: Change[]; again: Change[]; error?: string; registered?: Record<string, unknown> }> {
  const ctx = makeCtx();
  const args = parse(mod, raw);
  const facts = await gatherFacts(localConnection, mod.facts(args, ctx) as never, {});
  const changes = mod.plan(args, facts, ctx, undefined);
  const registered = mod.registerData?.(args, facts, changes, undefined, ctx);
  for (const c of changes)
    for (const cmd of c.commands) {
      const r = await sh(cmd.cmd, cmd.stdin);
      if (r.code !== 0) return { changes, again: [], error: r.stderr };
    }
  const after = await gatherFacts(localConnection, mod.facts(args, ctx) as never, {});
  return { changes, again: mod.plan(args, after, ctx, undefined).filter((c) => !c.oneShot), registered };
}

describe('get_url: for real, against a local HTTP server', { skip: process.getuid?.() !== 0 && 'the facts ask dpkg for curl; run as root in CI' }, () => {
  let server: Server;
  let base = '';
  const dir = mkdtempSync(join(tmpdir(), 'provision-get-url-'));
  const body = 'release 2\n';
  const seen: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push(String(req.headers['x-token'] ?? ''));
      if (req.url === '/app.txt') res.end(body);
      else res.writeHead(404).end('no');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => server.close());

  test('downloaded with its checksum and mode; then nothing to do', async () => {
    const dest = join(dir, 'app.txt');
    const r = await converge(getUrl, { url: `${base}/app.txt`, dest, checksum: `sha1:${digestOf('sha1', Buffer.from(body))}`, mode: '0640', headers: { 'X-Token': 't1' } });
    assert.equal(r.error, undefined);
    assert.equal(r.changes.length, 1);
    assert.deepEqual(r.again, []);
    assert.equal(readFileSync(dest, 'utf8'), body);
    assert.equal((await sh(`stat -c %a ${dest}`)).stdout.trim(), '640');
    assert.equal(seen.at(-1), 't1');
  });
  test('a checksum that differs, or a URL that fails: the task fails and the old file stays', async () => {
    const dest = join(dir, 'keep.txt');
    writeFileSync(dest, 'old\n');
    const bad = await converge(getUrl, { url: `${base}/app.txt`, dest, checksum: `sha256:${'0'.repeat(64)}` });
    assert.match(bad.error!, /the sha256 of .* is not the checksum given .* left as it was/s);
    assert.equal(readFileSync(dest, 'utf8'), 'old\n');
    const missing = await converge(getUrl, { url: `${base}/none`, dest, force: true });
    assert.match(missing.error!, /downloading .* failed .*curl exit 22/s);
    assert.equal(readFileSync(dest, 'utf8'), 'old\n');
    assert.deepEqual((await sh(`ls -A ${dir}`)).stdout.split('\n').filter((n) => n.startsWith('.provision-tmp')), [], 'no temp file left');
  });
});

describe('git: versions and refs', () => {
  test('a version is a ref name, HEAD or a hash; anything else is refused at load', () => {
    for (const ok of ['HEAD', 'main', 'release/1.x', 'v1.0', 'abc1234', 'a'.repeat(40)]) assert.equal(versionProblem(ok), undefined, ok);
    for (const bad of ['a b', 'x..y', '-rf', 'a:b', 'x.lock', 'a//b', 'a/', '.hidden', 'x~1', '']) assert.match(versionProblem(bad) ?? '', /neither a branch or tag name nor a commit hash/, bad);
    assert.throws(() => parse(git, { repo: 'http://h/r.git', dest: '/srv/r', version: 'x y' }), /neither a branch/);
    assert.throws(() => parse(git, { repo: '--upload-pack=x', dest: '/srv/r' }), /not starting with -/);
    assert.throws(() => parse(git, { repo: 'r', dest: '/srv/r', depth: 0 }), /depth/);
  });
  const C1 = '1'.repeat(40);
  const C2 = '2'.repeat(40);
  const C3 = '3'.repeat(40);
  const remote = parseLsRemote(`ref: refs/heads/main\tHEAD\n${C1}\tHEAD\n${C1}\trefs/heads/main\n${C2}\trefs/heads/stable\n${C3}\trefs/tags/v1\n${C2}\trefs/tags/v1^{}\n`);
  test('ls-remote: refs, and the branch HEAD points to', () => {
    assert.equal(remote.headRef, 'refs/heads/main');
    assert.equal(remote.refs['refs/tags/v1^{}'], C2);
  });
  test('HEAD, a branch, an annotated tag (the commit it points to), an advertised hash, an unknown hash, nothing', () => {
    assert.deepEqual(resolveVersion('HEAD', remote), { commit: C1, kind: 'head' });
    assert.deepEqual(resolveVersion('stable', remote), { commit: C2, kind: 'branch' });
    assert.deepEqual(resolveVersion('v1', remote), { commit: C2, kind: 'tag' });
    assert.deepEqual(resolveVersion('2222222', remote), { commit: C2, kind: 'commit', advertised: true });
    assert.deepEqual(resolveVersion('abcdef0', remote), { commit: 'abcdef0', kind: 'commit', advertised: false });
    assert.match(resolveVersion('nope', remote) as string, /neither a branch, a tag nor a commit/);
    assert.ok(sameCommit(C2, { commit: '2222222', kind: 'commit' }));
    assert.ok(!sameCommit(undefined, { commit: C2, kind: 'tag' }));
  });
});

describe('git: for real, against a local bare repository', { skip: process.getuid?.() !== 0 && 'the facts ask dpkg for git; run as root in CI' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'provision-git-'));
  const bare = join(dir, 'repo.git');
  const commits: Record<string, string> = {};
  before(async () => {
    const g = `git -c user.name=t -c user.email=t@t.invalid -c init.defaultBranch=main`;
    const r = await sh(
      `set -e; ${g} init -q src; cd src; echo 1 > f; git add f; ${g} commit -qm one; ${g} tag -a v1 -m v1; echo 2 > f; ${g} commit -qam two; ${g} branch old HEAD~1; cd ..; git clone -q --bare src repo.git; ` +
        `git -C src rev-parse HEAD HEAD~1`,
      undefined,
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    [commits.two, commits.one] = r.stdout.trim().split('\n');
  });
  const dest = join(dir, 'app');
  test('clone at HEAD: before null, after the commit; then nothing to do', async () => {
    const r = await converge(git, { repo: bare, dest });
    assert.equal(r.error, undefined);
    assert.deepEqual(r.changes.map((c) => c.action), ['clone']);
    assert.deepEqual(r.registered, { before: null, after: commits.two });
    assert.deepEqual(r.again, []);
    assert.equal(readFileSync(join(dest, 'f'), 'utf8'), '2\n');
  });
  test('to an annotated tag, a branch, a hash: the commit moves each time, and stays', async () => {
    for (const [version, want] of [['v1', commits.one], ['main', commits.two], [commits.one.slice(0, 10), commits.one]] as const) {
      const r = await converge(git, { repo: bare, dest, version });
      assert.equal(r.error, undefined, `${version}: ${r.error}`);
      assert.equal(r.changes.length, 1, version);
      assert.equal(r.registered?.after, want, version);
      assert.deepEqual(r.again, [], version);
      assert.equal((await sh(`git -C ${dest} rev-parse HEAD`)).stdout.trim(), want);
    }
  });
  test('local modifications: refused without force, discarded with it', async () => {
    writeFileSync(join(dest, 'f'), 'local\n');
    await assert.rejects(converge(git, { repo: bare, dest, version: 'main' }), (e) => e instanceof TaskError && /local modifications/.test(e.message));
    const r = await converge(git, { repo: bare, dest, version: 'main', force: true });
    assert.equal(r.error, undefined);
    assert.equal(readFileSync(join(dest, 'f'), 'utf8'), '2\n');
    assert.deepEqual(r.again, []);
  });
  test('a version the remote does not have, an unreadable remote, a non-empty directory: refused with the reason', async () => {
    await assert.rejects(converge(git, { repo: bare, dest, version: 'nope' }), /neither a branch, a tag nor a commit/);
    await assert.rejects(converge(git, { repo: join(dir, 'missing.git'), dest: join(dir, 'x') }), /cannot read .*missing\.git \(git ls-remote\)/);
    await sh(`mkdir -p ${dir}/full && echo x > ${dir}/full/x`);
    await assert.rejects(converge(git, { repo: bare, dest: join(dir, 'full') }), /is not empty and is not a git checkout/);
    assert.ok(existsSync(join(dir, 'full', 'x')));
  });
  test('update: false leaves an existing checkout where it is', async () => {
    const r = await converge(git, { repo: bare, dest, version: 'v1', update: false });
    assert.deepEqual(r.changes, []);
  });
});
