/**
 * get_url and git on a fresh test host, from an HTTP server this test starts on the controller
 * (bound to the test bridge's address; the host reaches nothing else): a file by checksum and a
 * bare repository over git's dumb HTTP protocol. --check, then the real run: the same outcome
 * task by task (every unknown explained); the file and the commit are on the host; a download
 * whose checksum differs fails and keeps the old file; after a new commit on the server, --check
 * knows (git ls-remote) exactly which checkout moves; a last run changes nothing.
 *
 * Needs root (systemd-nspawn); run it under the testbed lock:
 *   flock /tmp/provision-testbed.lock node --test dist/test/e2e/modules-fetch.test.js
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runReport, type RunReport } from '../../src/engine/report.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const isRoot = process.getuid?.() === 0;
const KEEP = process.env.PROVISION_KEEP_TESTBED === '1';

/** provision as a child process, asynchronously: this process serves the downloads meanwhile. */
function provision(args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((done) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, CI: '1', NO_COLOR: '1' }, timeout: 10 * 60_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => done({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0 }));
  });
}

function ssh(address: string, cmd: string): string {
  const dir = join(ROOT, '.provision', 'testbed');
  const r = spawnSync('ssh', ['-i', join(dir, 'id_ed25519'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${address}`, cmd], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ssh ${cmd}: ${r.stderr}`);
  return r.stdout;
}

const key = (t: RunReport['tasks'][number]) => `${t.host} | ${t.task}`;
const sha = (algo: string, s: string) => createHash(algo).update(s).digest('hex');
const RELEASE = 'release 1.0 of the tool\n';

/** A static file server (git's dumb HTTP protocol is static files) for `dir`, on `address`. */
function serve(dir: string, address: string): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const path = normalize(join(dir, decodeURIComponent((req.url ?? '/').split('?')[0])));
    if (!path.startsWith(dir + '/') || !statSync(path, { throwIfNoEntry: false })?.isFile()) return void res.writeHead(404).end();
    createReadStream(path).pipe(res);
  });
  return new Promise((ok) => server.listen(0, address, () => ok({ server, port: (server.address() as { port: number }).port, requests })));
}

describe('get_url and git from a server on the controller, on a fresh test host', { skip: !isRoot && 'needs root (systemd-nspawn test hosts)' }, () => {
  let address = '';
  let http: Awaited<ReturnType<typeof serve>>;
  const dir = mkdtempSync(join(tmpdir(), 'prov-fetch-'));
  const www = join(dir, 'www');
  const commits: Record<string, string> = {};
  let playbook = '';

  before(async () => {
    // a bare repository with two commits, a tag on the first, served as static files
    const g = `git -c user.name=t -c user.email=t@t.invalid -c init.defaultBranch=main`;
    const made = spawnSync('sh', ['-c', `set -e; mkdir www; printf %s '${RELEASE}' > www/tool.txt; ${g} init -q src; cd src; echo 1 > VERSION; git add VERSION; ${g} commit -qm one; ${g} tag -a v1.0 -m v1.0; echo 2 > VERSION; ${g} commit -qam two; cd ..; git clone -q --bare src www/app.git; git -C www/app.git update-server-info; git -C src rev-parse HEAD HEAD~1`], { cwd: dir, encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    [commits.main, commits.v1] = made.stdout.trim().split('\n');
    await provision(['testbed', 'down']);
    const up = await provision(['testbed', 'up', '--hosts', '1', '--quiet']);
    assert.equal(up.code, 0, `testbed up failed: ${up.stderr}`);
    address = (parse(readFileSync(join(ROOT, 'inventory', 'testbed.yml'), 'utf8')) as { hosts: Record<string, { address: string }> }).hosts['lb-01'].address;
    // the bridge's address (the testbed gives it .1 of the hosts' subnet): only the test host reaches it
    http = await serve(www, address.replace(/\.\d+$/, '.1'));
    const base = `http://${address.replace(/\.\d+$/, '.1')}:${http.port}`;
    playbook = join(dir, 'fetch.yml');
    writeFileSync(
      playbook,
      `- name: Fetch
  hosts: lb-01
  tasks:
    - name: What get_url and git need on the host
      apt: { name: [curl, git] }
    - name: Download directory
      file: { path: /srv/dl, state: directory }
    - name: Download by checksum
      get_url: { url: "${base}/tool.txt", dest: /srv/dl/tool.txt, checksum: "sha256:${sha('sha256', RELEASE)}", mode: "0640" }
    - name: Same file, md5
      get_url: { url: "${base}/tool.txt", dest: /srv/dl/tool.txt, checksum: "md5:${sha('md5', RELEASE)}", mode: "0640" }
    - name: A checksum the server's file does not have
      get_url: { url: "${base}/tool.txt", dest: /srv/dl/tool.txt, checksum: "sha1:${'0'.repeat(40)}" }
      ignore_errors: true
    - name: Checkout at the tag
      git: { repo: "${base}/app.git", dest: /srv/tag, version: v1.0 }
      register: at_tag
    - name: Checkout main
      git: { repo: "${base}/app.git", dest: /srv/app, version: main }
      register: at_main
    - name: Last move
      copy: { dest: /srv/moved, content: "{{ at_tag.after }} {{ at_main.before }} -> {{ at_main.after }}" }
      when: at_main.changed
`,
    );
  });
  after(async () => {
    http?.server.close();
    if (!KEEP) await provision(['testbed', 'down']);
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (extra: string[]) => {
    const r = await provision([playbook, '--inventory', 'testbed', ...extra, '--json']);
    assert.ok(r.stdout.trim().startsWith('{'), `expected a JSON report, got exit ${r.code}: ${r.stdout.slice(0, 300)} ${r.stderr.slice(-1500)}`);
    process.stderr.write(`fetch ${extra.join(' ') || 'real'}: ${(r.ms / 1000).toFixed(1)} s\n`);
    return runReport.parse(JSON.parse(r.stdout));
  };
  const unexpectedFailures = (r: RunReport) => r.tasks.filter((t) => t.status === 'failed' && t.task !== 'A checksum the server\'s file does not have').map((t) => `${key(t)}: ${t.error}`);
  const sameAsCheck = (check: RunReport, real: RunReport) => {
    const realStatus = new Map(real.tasks.map((t) => [key(t), t.status]));
    assert.deepEqual(check.tasks.filter((t) => t.status !== 'unknown' && realStatus.get(key(t)) !== t.status).map((t) => `${key(t)}: check ${t.status}, real ${realStatus.get(key(t))}`), []);
    assert.deepEqual(real.tasks.map(key), check.tasks.map(key), 'the same tasks ran');
  };

  let check: RunReport;
  it('--check: every download unknown (what the URL serves is known only by downloading), the rest explained', async () => {
    check = await run(['--check']);
    assert.deepEqual(unexpectedFailures(check), []);
    const unknown = check.tasks.filter((t) => t.status === 'unknown');
    process.stderr.write(unknown.map((t) => `  unknown: ${key(t)}: ${t.note}\n`).join(''));
    const expected: Record<string, RegExp> = {
      'Download by checksum': /what http:\/\/.*\/tool\.txt serves .* is known only when it is downloaded/,
      'Same file, md5': /written by a task whose outcome is unknown/,
      "A checksum the server's file does not have": /written by a task whose outcome is unknown/,
      // git is not on the fresh host until the apt task installs it: ls-remote runs in the real run
      'Checkout at the tag': /git is not on the host yet/,
      'Checkout main': /git is not on the host yet/,
      'Last move': /'at_main' is the result of a task whose outcome is unknown/,
    };
    assert.deepEqual(unknown.map((t) => t.task).sort(), Object.keys(expected).sort());
    for (const t of unknown) assert.match(t.note ?? '', expected[t.task], key(t));
  });

  it('the real run does what --check said; the file and the commit are on the host; a bad checksum failed and kept the file', async () => {
    const real = await run([]);
    assert.deepEqual(unexpectedFailures(real), []);
    sameAsCheck(check, real);
    const status = Object.fromEntries(real.tasks.map((t) => [t.task, t.status]));
    assert.equal(status['Download by checksum'], 'changed');
    assert.equal(status['Same file, md5'], 'ok');
    assert.equal(status["A checksum the server's file does not have"], 'failed');
    assert.match(real.tasks.find((t) => t.status === 'failed')!.error!, /the sha1 of .* is not the checksum given .* left as it was/s);
    assert.equal(status['Checkout at the tag'], 'changed');
    assert.equal(status['Checkout main'], 'changed');
    assert.equal(ssh(address, 'stat -c %a /srv/dl/tool.txt; cat /srv/dl/tool.txt; ls -a /srv/dl | grep -c provision-tmp || true'), `640\n${RELEASE}0\n`);
    assert.equal(ssh(address, 'git -C /srv/tag rev-parse HEAD; cat /srv/tag/VERSION; git -C /srv/app rev-parse HEAD; cat /srv/app/VERSION'), `${commits.v1}\n1\n${commits.main}\n2\n`);
    // registered like Ansible's: before/after commits (none before the clone)
    assert.equal(ssh(address, 'cat /srv/moved'), `${commits.v1}  -> ${commits.main}`);
    assert.ok(http.requests.some((u) => u.startsWith('/app.git/')), 'git fetched over HTTP from this server');
  });

  it('a new commit on main: --check knows from ls-remote that only that checkout moves; the real run moves it', async () => {
    const pushed = spawnSync('sh', ['-c', `set -e; cd src; echo 3 > VERSION; git -c user.name=t -c user.email=t@t.invalid commit -qam three; git push -q ../www/app.git main; git -C ../www/app.git update-server-info; git rev-parse HEAD`], { cwd: dir, encoding: 'utf8' });
    assert.equal(pushed.status, 0, pushed.stderr);
    const three = pushed.stdout.trim();
    const requests = http.requests.length;
    const check2 = await run(['--check']);
    assert.deepEqual(http.requests.slice(requests).filter((u) => u.includes('tool.txt')), [], 'check mode downloads nothing');
    // exact: the downloads whose checksum matches are ok, the tag's checkout stays, main's moves;
    // unknown: the download whose checksum differs, and what reads a changed task's registered result
    const notOk = check2.tasks.filter((t) => t.status !== 'ok').map((t) => `${t.task}: ${t.status}`);
    assert.deepEqual(notOk, ["A checksum the server's file does not have: unknown", 'Checkout main: changed', 'Last move: unknown']);
    assert.match(check2.tasks.find((t) => t.task === 'Last move')!.note ?? '', /'at_main' is the result of a task/);
    const real2 = await run([]);
    assert.deepEqual(unexpectedFailures(real2), []);
    sameAsCheck(check2, real2);
    assert.equal(ssh(address, 'git -C /srv/app rev-parse HEAD; cat /srv/moved; git -C /srv/tag rev-parse HEAD'), `${three}\n${commits.v1} ${commits.main} -> ${three}${commits.v1}\n`);
  });

  it('a second run changes nothing', async () => {
    const again = await run([]);
    assert.deepEqual(unexpectedFailures(again), []);
    assert.deepEqual(again.tasks.filter((t) => t.status === 'changed').map(key), []);
    assert.equal(ssh(address, 'cat /srv/dl/tool.txt'), RELEASE);
  });
});
