/**
 * Every module provision has, in one playbook (test/e2e/modules-all/site.yml) on one fresh test
 * host: --check, then the real run with the same outcome task by task (every unknown expected
 * and explained); what each section did, read back on the host over SSH; then a new commit on
 * the git server and a download whose checksum differs (it fails and keeps the old file), where
 * --check knows exactly which checkout moves; then a run that changes nothing and a --check
 * that predicts nothing (0 would-change, 0 unknown).
 *
 * The host reboots once, in the first real run (a marker file keeps later runs from it); its
 * boot id says so, and the checks after the reboot read what a boot must keep.
 *
 * Downloads come from an HTTP server this test starts on the controller, bound to the test
 * bridge's address (only the test host reaches it): a file, a release tar.xz made here and a
 * bare git repository served over git's dumb HTTP protocol; a signed apt repository (test/support/local-apt-repo.ts).
 * mysql_* and haproxy_backend_server are covered by the site e2e.
 *
 * A new module: a section in site.yml (see its header), its unknowns in EXPECTED_UNKNOWN and
 * its outcome on the host in the real run's SECTIONS below.
 *
 * Needs root (systemd-nspawn); run it under the testbed lock:
 *   flock /tmp/provision-testbed.lock node --test dist/test/e2e/modules-all.test.js
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runReport, type RunReport } from '../../src/engine/report.js';
import { SPOOL_HEADER } from '../../src/modules/system/cron.js';
import { testbedBridgeAddress } from '../../src/testbed/index.js';
import { compareReports, formatMismatch } from '../difftest/compare.js';
import { buildDeb, buildRepo } from '../support/local-apt-repo.js';
import { serveStatic, type StaticServer } from '../support/static-server.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'bin', 'provision.js');
const PLAYBOOK = join(ROOT, 'test', 'e2e', 'modules-all', 'site.yml');
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

let address = '';
/** The test host's boot id at start: the reboot section reboots it once, in the first real run only. */
let bootId = '';
let hostName = '';
function ssh(cmd: string): string {
  const dir = join(ROOT, '.provision', 'testbed');
  const r = spawnSync('ssh', ['-i', join(dir, 'id_ed25519'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${address}`, cmd], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ssh ${cmd}: ${r.stderr}`);
  return r.stdout;
}

const key = (t: RunReport['tasks'][number]) => `${t.handler ? 'handler: ' : ''}${t.task}`;
const sha = (algo: string, s: string) => createHash(algo).update(s).digest('hex');
const RELEASE = 'release 1.0 of the tool\n';
const PASSWORD_HASH = '$6$am2026salt$dCwwXqb9y8VS/7ES9FghUIQ4UH8c5P/ISLprNNGAnlgYlzg4cs6NC7.O0knWHGn.zr2UiwBgkDsk5lag.QcXr1';
const KEYS = [
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOCeoBBEqi3zJO/wLeP0p+a8fNU/Bjhh+TMu8BRq4n8M alice@laptop',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIw373Q76muTD7QUvVSokommuOA5bOp7Myd+igtUejkD ci@deploy',
];
/** Release 2.0 as a tar.xz in www/ (fetched by get_url, unpacked on the host): tool-2.0/{bin/tool,VERSION}. */
const RELEASE2 = "mkdir -p rel/tool-2.0/bin; printf '#!/bin/sh\\necho tool 2.0\\n' > rel/tool-2.0/bin/tool; echo 2.0 > rel/tool-2.0/VERSION; chmod 755 rel/tool-2.0 rel/tool-2.0/bin rel/tool-2.0/bin/tool; chmod 644 rel/tool-2.0/VERSION; tar -C rel -cJf www/tool-2.0.tar.xz tool-2.0";
const BAD_CHECKSUM = "A checksum the server's file does not have";
const CHECKS = ['sshd answers', 'The server serves the release', 'The release over HTTP', 'Forwarding is live'];

/**
 * The first --check on the fresh host: every task it cannot predict, and why. Nothing else is
 * unknown; every other task is predicted exactly.
 */
const EXPECTED_UNKNOWN: Record<string, RegExp> = {
  // the user is created in this run: what /etc/skel puts in its home is not modelled
  "App's keys, only these": /\/home\/app is filled from \/etc\/skel by useradd/,
  // validate's verdict is known only when it runs (and the next edit of that file reads its result)
  'sshd keeps idle sessions alive': /whether '\/usr\/sbin\/sshd -t -f %s' accepts the new content of \/etc\/ssh\/sshd_config is known only when it runs/,
  'sshd logs more': /whether '\/usr\/sbin\/sshd -t -f %s' accepts the new content/,
  // the spool directory and the crontab group come with the cron package the first task installs
  "App's nightly report": /\/var\/spool\/cron\/crontabs and the crontab group come with the cron package a pending install brings/,
  "App's groups": /check_mode: false runs it for real in a dry run, but earlier tasks are predicted to change the hosts/,
  // assert that: reads the command's registered output, known only when it runs
  'App is in ops, its limits sane': /'app_groups' is the result of a task whose outcome is unknown/,
  // what a URL serves is known only by downloading it; git is not installed yet
  'Download by checksum': /what http:\/\/.*\/tool\.txt serves .* is known only when it is downloaded/,
  'Same file, md5': /\/srv\/dl\/tool\.txt is written by a task whose outcome is unknown/,
  'Checkout at the tag': /git is not on the host yet/,
  'Checkout main': /git is not on the host yet/,
  'Deployed commit recorded once': /exit status is known only when it runs/,
  'Facts of the download': /\/srv\/dl\/tool\.txt is written by a task whose outcome is unknown/,
  'What stat saw': /'tool' is the result of a task whose outcome is unknown/,
  'Last move': /'at_main' is the result of a task whose outcome is unknown/,
  // trees: a recurse over what an earlier copy wrote reads the tree as the host has it
  'Site group-readable, closed to others': /what lies under \/srv\/am\/www is changed by an earlier task, and the tree is read as a whole/,
  // release tarballs: the fetched one is known only when downloaded, and it is read on the host
  'Release 2.0 fetched': /what http:\/\/.*\/tool-2\.0\.tar\.xz serves .* is known only when it is downloaded/,
  'Release 2.0 unpacked on the host, once': /unarchive_src '\/srv\/dl\/tool-2\.0\.tar\.xz\|\/opt\/tool2\|1' reads state that earlier tasks are predicted to change/,
  // the reboot section comes after 'What stat saw': whether the marker exists, hence whether it reboots, is unknown
  'Reboot marker': /'What stat saw' \(unknown in check mode\) may have changed anything here/,
  'Reboot once': /'reboot_marker' is the result of a task whose outcome is unknown in check mode/,
  'Back after the reboot': /not run in check mode: earlier tasks are predicted to change the hosts/,
  'Rebooted once': /'What stat saw' \(unknown in check mode\) may have changed anything here/,
  // checks run in --check only while nothing is predicted to change
  ...Object.fromEntries(CHECKS.map((c) => [c, /not run in check mode: earlier tasks are predicted to change the hosts/])),
  // notified by a predicted change, but a task with unknown arguments ran before it
  'handler: Restart am-sleep': /'What stat saw' \(unknown in check mode\) may have changed anything here/,
  // apt repositories: what autoremove removes after this run's installs is known only then
  'Packages nothing needs go': /what apt-get would autoremove after the packages this task changes|may have changed anything here/,
  // the first task after 'What stat saw' that reads what it may have touched (a .deb names its package
  // inside it, and is read on the host as it is: after any predicted change it would be unknown anyway)
  'A package from a .deb file': /'What stat saw' \(unknown in check mode\) may have changed anything here/,
};

// --- apt repositories (deb822_repository, apt_repository, apt latest and autoremove)
const APT_REPO_TASKS = ['The local repository, deb822', 'Its next suite, one line', 'The newest provtest-hello', 'A tool from it, by the generic module', 'The old source gone, the index updated'];
const APT_PRE_LIST = '/etc/apt/sources.list.d/provtest-pre.list';
/** The last play's autoremove, after 'Last move' (unknown arguments: it may have changed anything) in the --check after a new commit. */
const APT_REPO_AFTER_UNKNOWN = ['A package from a .deb file: unknown', 'Packages nothing needs go: unknown'];
/** The .deb file apt's deb: installs (built here with the local repository's tooling, not in its index). */
const DEB_DIR = '/var/cache/provtest';
/**
 * The local signed repository (test/support/local-apt-repo.ts) under the test's HTTP server, known
 * to the host's index already (through a source the playbook removes, so check mode's apt-get -s
 * sees its packages), and a package installed as a dependency that nothing needs (autoremove's);
 * provtest-up 1.0 installed, 1.1 in the repository (dist-upgrade's); a .deb file on the host (deb's).
 */
async function aptRepoBefore(repoDir: string, base: string): Promise<void> {
  const { key } = buildRepo(repoDir, ['1.0', '2.0'], [
    { name: 'provtest-orphan', version: '1.0' },
    { name: 'provtest-tool', version: '1.0' },
    { name: 'provtest-up', version: '1.0' },
    { name: 'provtest-up', version: '1.1' },
  ]);
  const deb = readFileSync(buildDeb(join(repoDir, '..', '..', 'debs'), { name: 'provtest-local', version: '1.0' }));
  const only = `-o Dir::Etc::sourcelist=${APT_PRE_LIST} -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0`;
  await sshServing(
    `set -e; mkdir -p /etc/apt/keyrings ${DEB_DIR}; printf '%s' '${key}' > /etc/apt/keyrings/provtest.asc; ` +
      `echo 'deb [signed-by=/etc/apt/keyrings/provtest.asc] ${base}/apt next main' > ${APT_PRE_LIST}; ` +
      `printf '%s' '${deb.toString('base64')}' | base64 -d > ${DEB_DIR}/provtest-local_1.0_all.deb; ` +
      // Debian's packages never upgrade here (priority < 100: installed only when not installed):
      // after a point release the dist-upgrade would pull them all (slow, and not the same from run to run)
      `printf 'Package: *\\nPin: release o=Debian\\nPin-Priority: 50\\n' > /etc/apt/preferences.d/provtest-hold-debian; ` +
      `apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${only} provtest-orphan provtest-up=1.0 >/dev/null; apt-mark auto provtest-orphan >/dev/null`,
  );
  // the index is updated above from every source; with Debian's packages held, only provtest-up is upgradable
  assert.equal(await sshServing("apt-get -s -q dist-upgrade | awk '/^Inst / { print $2 }'"), 'provtest-up\n', 'what dist-upgrade would upgrade');
}
/** ssh without blocking this process: the host fetches from this process's HTTP server meanwhile. */
function sshServing(cmd: string): Promise<string> {
  const dir = join(ROOT, '.provision', 'testbed');
  const args = ['-i', join(dir, 'id_ed25519'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${address}`, cmd];
  return new Promise((done, fail) => {
    const p = spawn('ssh', args);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`ssh ${cmd.slice(-200)}: exit ${code}: ${err}`))));
  });
}
/** What the section did: the sources written (Ansible's field order), the old one gone, provtest-hello at the newest version, the orphan autoremoved. */
function aptRepoAfter(base: string): void {
  assert.equal(
    ssh(`cat /etc/apt/sources.list.d/provtest.sources /etc/apt/sources.list.d/provtest-next.list; test ! -e ${APT_PRE_LIST} && echo pre gone`),
    `Components: main\nX-Repolib-Name: provtest\nSigned-By: /etc/apt/keyrings/provtest.asc\nSuites: stable next\nTypes: deb\nURIs: ${base}/apt\n` +
      `deb [signed-by=/etc/apt/keyrings/provtest.asc] ${base}/apt next main\npre gone\n`,
  );
  assert.equal(
    ssh("dpkg-query -W -f='${Package} ${Version} ${Status}\\n' provtest-hello provtest-lib; apt-mark showauto provtest-lib; dpkg-query -W provtest-orphan 2>&1 | grep -c 'no packages found' || true"),
    'provtest-hello 2.0 install ok installed\nprovtest-lib 1.0 install ok installed\nprovtest-lib\n1\n',
  );
  // package (apt on Debian), deb (the file's package, not in any source), dist-upgrade (provtest-up from 1.0 to 1.1)
  assert.equal(
    ssh("dpkg-query -W -f='${Package} ${Version} ${Status}\\n' provtest-local provtest-tool provtest-up; cat /usr/share/provtest/provtest-local"),
    'provtest-local 1.0 install ok installed\nprovtest-tool 1.0 install ok installed\nprovtest-up 1.1 install ok installed\n1.0\n',
  );
}


describe('every module in one playbook on a fresh test host', { skip: !isRoot && 'needs root (systemd-nspawn test hosts)' }, () => {
  let http: StaticServer;
  const dir = mkdtempSync(join(tmpdir(), 'prov-allmods-'));
  const commits: Record<string, string> = {};
  let base = '';
  const t0 = Date.now();

  before(async () => {
    // a bare repository with two commits, a tag on the first, served as static files
    const g = `git -c user.name=t -c user.email=t@t.invalid -c init.defaultBranch=main`;
    const made = spawnSync('sh', ['-c', `set -e; mkdir www; printf %s '${RELEASE}' > www/tool.txt; ${g} init -q src; cd src; echo 1 > VERSION; git add VERSION; ${g} commit -qm one; ${g} tag -a v1.0 -m v1.0; echo 2 > VERSION; ${g} commit -qam two; cd ..; git clone -q --bare src www/app.git; git -C www/app.git update-server-info; ${RELEASE2}; git -C src rev-parse HEAD HEAD~1`], { cwd: dir, encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    [commits.main, commits.v1] = made.stdout.trim().split('\n');
    await provision(['testbed', 'down']);
    const up = await provision(['testbed', 'up', '--hosts', '1', '--quiet']);
    assert.equal(up.code, 0, `testbed up failed: ${up.stderr}`);
    [[hostName, { address }]] = Object.entries((parse(readFileSync(join(ROOT, 'inventory', 'testbed.yml'), 'utf8')) as { hosts: Record<string, { address: string }> }).hosts);
    // the bridge's address (the testbed's subnet, as `testbed up` above chose it): only the test host reaches it
    const bridge = testbedBridgeAddress();
    http = await serveStatic(join(dir, 'www'), bridge);
    base = `http://${bridge}:${http.port}`;
    // what the playbook changes that a fresh host does not have: a user with its own groups, one to remove, an old release
    ssh('useradd -m -s /bin/bash -G users deployer && useradd -m olduser && echo old > /home/olduser/notes && mkdir -p /srv/old-release/v0');
    // a tree the host has (file recurse, exact in --check): dirs and a script 0755, a file 0644, all root's
    ssh('mkdir -p /srv/legacy/lib && printf "#!/bin/sh\\n" > /srv/legacy/run && echo a > /srv/legacy/lib/a.txt && chmod 755 /srv/legacy /srv/legacy/lib /srv/legacy/run && chmod 644 /srv/legacy/lib/a.txt');
    bootId = ssh('cat /proc/sys/kernel/random/boot_id');
    await aptRepoBefore(join(dir, 'www', 'apt'), base);
    process.stderr.write(`modules-all: test host up in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  });
  after(async () => {
    http?.server.close();
    if (!KEEP) await provision(['testbed', 'down']);
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`modules-all: ${((Date.now() - t0) / 1000).toFixed(1)} s in all\n`);
  });

  const run = async (label: string, extra: string[]) => {
    const r = await provision([PLAYBOOK, '--inventory', 'testbed', '-e', `base=${base}`, ...extra, '--json']);
    assert.ok(r.stdout.trim().startsWith('{'), `expected a JSON report, got exit ${r.code}: ${r.stdout.slice(0, 300)} ${r.stderr.slice(-1500)}`);
    process.stderr.write(`modules-all ${label}: ${(r.ms / 1000).toFixed(1)} s\n`);
    return runReport.parse(JSON.parse(r.stdout));
  };
  const unexpectedFailures = (r: RunReport) => r.tasks.filter((t) => t.status === 'failed' && t.task !== BAD_CHECKSUM).map((t) => `${key(t)}: ${t.error}`);
  const statusOf = (r: RunReport) => Object.fromEntries(r.tasks.map((t) => [key(t), t.status]));
  /** check = real for every pair check was sure of; nothing ran that check did not list. */
  const sameAsCheck = (check: RunReport, real: RunReport) => {
    const c = compareReports(check, real);
    assert.deepEqual(c.mismatches.map(formatMismatch), []);
    assert.deepEqual(real.tasks.map(key), check.tasks.map(key), 'the same tasks ran');
    return c;
  };

  let check: RunReport;
  it('--check on the fresh host: every task predicted, or unknown for its expected reason', async () => {
    check = await run('--check', ['--check']);
    assert.deepEqual(unexpectedFailures(check), []);
    const unknown = check.tasks.filter((t) => t.status === 'unknown');
    assert.deepEqual(unknown.filter((t) => !EXPECTED_UNKNOWN[key(t)]?.test(t.note ?? '')).map((t) => `${key(t)}: ${t.note}`), []);
    assert.deepEqual(unknown.map(key).sort(), Object.keys(EXPECTED_UNKNOWN).sort());
    // the rest is exact; what is certain here: the installs, the accounts, the files, the settings
    const s = statusOf(check);
    for (const t of ['Everything upgraded', 'Tools', 'Group app', 'User app', 'Old user gone with its home', 'Settings hard link', 'Message of the day, the old one kept', 'os-release copied on the host', 'Hosts of the app', 'Passwords expire', 'Daily cleanup', 'Forwarding on', 'Host name', 'Time zone', 'am-sleep running', 'No e2scrub in a container', 'cron running', 'Site contents', 'Site directory itself', "Legacy tree is app's, closed to others", 'Start page hard link', 'Release directories', 'Release 1.0 from the controller', 'App limits']) {
      assert.equal(s[t], 'changed', t);
    }
    for (const t of ['Not installed stays not installed', 'Limits of the app', 'am-sleep settles']) assert.equal(s[t], 'ok', t);
    assert.ok(check.tasks.find((t) => t.task === 'am-sleep settles')!.durationMs < 1000, 'pause does not wait in a dry run');
    for (const t of APT_REPO_TASKS) assert.equal(s[t], 'changed', t);
    assert.equal(s[BAD_CHECKSUM], 'skipped');
    assert.equal(ssh('cat /proc/sys/kernel/random/boot_id'), bootId, '--check does not reboot');
  });

  it('the real run does what --check said, task by task; every section did it on the host', async () => {
    const real = await run('real', []);
    assert.deepEqual(unexpectedFailures(real), []);
    const c = sameAsCheck(check, real);
    process.stderr.write(`modules-all: ${c.pairs} pairs, ${c.exact} exact, ${c.unknown} unknown (of ${c.realChanged} that changed, ${c.unknownChanged} unknown)\n`);
    const s = statusOf(real);
    // what check could not know, as it turned out
    const expected = (status: string, tasks: string[]) => Object.fromEntries(tasks.map((t) => [t, status]));
    const unknownWas = Object.fromEntries(Object.keys(EXPECTED_UNKNOWN).map((t) => [t, s[t]]));
    assert.deepEqual(unknownWas, {
      ...expected('changed', Object.keys(EXPECTED_UNKNOWN)),
      ...expected('ok', ["App's groups", 'App is in ops, its limits sane', 'Same file, md5', 'Facts of the download', 'Reboot marker', 'Back after the reboot', ...CHECKS]),
    });
    // packages
    assert.equal(ssh("dpkg-query -W -f='${Package} ${Status}\\n' cron curl git; command -v nano || echo no nano"), 'cron install ok installed\ncurl install ok installed\ngit install ok installed\nno nano\n');
    // users, groups, keys
    assert.match(ssh('getent group app ops'), /^app:x:2001:\nops:x:(\d+):app,deployer\n$/);
    assert.ok(Number(/ops:x:(\d+)/.exec(ssh('getent group ops'))![1]) < 1000, 'ops is a system group');
    assert.equal(ssh('getent shadow app | cut -d: -f2; id -nG app; id -nG deployer; id olduser 2>&1 || true; ls /home'), `${PASSWORD_HASH}\napp ops\ndeployer users ops\nid: ‘olduser’: no such user\napp\ndeployer\n`);
    assert.equal(ssh('cat /home/app/.ssh/authorized_keys; stat -c "%U %a" /home/app/.ssh /home/app/.ssh/authorized_keys'), `${KEYS.join('\n')}\napp 700\napp 600\n`);
    // files
    assert.equal(
      ssh('stat -c "%U %G %a" /srv/am /srv/am/app.conf; cat /srv/am/app.conf; stat -c "%i %h" /srv/am/app.conf /srv/am/app.conf.link | uniq; readlink /srv/am/current; test ! -e /srv/old-release && stat -c %s /srv/am/touched'),
      `app app 750\napp app 640\n# app settings, rendered for ${hostName}\nlisten = 8080\nfeature.search = on\nfeature.export = on\n${ssh('stat -c %i /srv/am/app.conf').trim()} 2\n/srv/app\n0\n`,
    );
    // copy backup: the old motd beside the new one (dest.PID.DATE@TIME~); remote_src: the host's own file
    assert.match(ssh('cat /etc/motd; ls /etc/motd.*~ | wc -l; cat /etc/motd.*~'), /^Managed by provision\.\n1\n\nThe programs included with the Debian GNU\/Linux system/);
    assert.equal(ssh('cmp /usr/lib/os-release /srv/am/os-release && stat -c %a /srv/am/os-release'), '600\n');
    // text editors (sshd still accepts its configuration)
    assert.equal(
      ssh("grep -c '^ClientAliveInterval 120$' /etc/ssh/sshd_config; grep -A1 '^#SyslogFacility' /etc/ssh/sshd_config; /usr/sbin/sshd -t && echo sshd ok; sed -n '/BEGIN app hosts/,/END app hosts/p' /etc/hosts; grep '^PASS_MAX_DAYS' /etc/login.defs"),
      '1\n#SyslogFacility AUTH\nLogLevel VERBOSE\nsshd ok\n# BEGIN app hosts\n10.87.200.1 db.app.internal\n10.87.200.2 cache.app.internal\n# END app hosts\nPASS_MAX_DAYS   90\n',
    );
    // cron: the user's crontab (marked as Ansible marks it) and a cron.d file with its PATH line
    // crontab -l (and -e) skip three leading comment lines: crontab(1)'s header is there, so the marker shows
    const job = '#Ansible: nightly report\n30 2 * * * /usr/local/bin/report >/dev/null\n';
    assert.equal(ssh('crontab -l -u app; stat -c "%U %G %a" /var/spool/cron/crontabs/app'), `${job}app crontab 600\n`);
    assert.equal(ssh('cat /var/spool/cron/crontabs/app'), `${SPOOL_HEADER.join('\n')}\n${job}`);
    assert.equal(ssh('cat /etc/cron.d/am-cleanup'), "PATH=/usr/bin:/bin\n#Ansible: cleanup\n@daily root find /srv/am -name '*.tmp' -delete\n");
    // sysctl live and in its file; host name; time zone
    assert.equal(
      ssh('sysctl -n net.ipv4.ip_forward net.ipv4.ip_local_port_range; cat /etc/sysctl.d/60-am.conf; hostname; cat /etc/hostname /etc/timezone; readlink /etc/localtime'),
      '1\n20000\t40000\nnet.ipv4.ip_forward=1\nnet.ipv4.ip_local_port_range=20000 40000\nweb-allmods\nweb-allmods\nEurope/Berlin\n/usr/share/zoneinfo/Europe/Berlin\n',
    );
    assert.match(ssh('date +%Z'), /^CES?T\n$/);
    // services: the unit running and enabled (restarted by its handler), the timer masked, cron running
    assert.equal(ssh('systemctl is-active am-sleep cron; systemctl is-enabled am-sleep cron; systemctl is-enabled e2scrub_all.timer || true'), 'active\nactive\nenabled\nenabled\nmasked\n');
    assert.equal(s['handler: Restart am-sleep'], 'changed');
    // downloads and checkouts: the file by its checksum, the commits, what stat and git registered
    assert.equal(ssh('stat -c %a /srv/dl/tool.txt; sha256sum < /srv/dl/tool.txt; ls -a /srv/dl | grep -c provision-tmp || true'), `640\n${sha('sha256', RELEASE)}  -\n0\n`);
    assert.equal(ssh('git -C /srv/tag rev-parse HEAD; cat /srv/tag/VERSION; git -C /srv/app rev-parse HEAD; cat /srv/app/VERSION; cat /srv/am/deployed'), `${commits.v1}\n1\n${commits.main}\n2\n${commits.main}\n`);
    assert.equal(ssh('cat /srv/am/tool.stat'), `${sha('sha256', RELEASE)} 0640 ${RELEASE.length}\n`);
    assert.equal(ssh('cat /srv/moved'), `${commits.v1}  -> ${commits.main}`);
    assert.ok(http.requests.some((u) => u.startsWith('/app.git/')), 'git fetched over HTTP from this server');
    // trees: site/ (contents) into www, then group app and u=rwX,g=rX,o= on it (X: dirs and files with an x bit;
    // copy without mode gives new files the umask's 0644, as Ansible does, so hello has none);
    // site (the directory itself) into releases/site with directory_mode and mode; the start page hard-linked to its copy there;
    // a tree the host had: app's, u=rwX,g=rX,o= (the script keeps its x bit for u and g)
    assert.equal(
      ssh('cd /srv/am && find www releases -printf "%p %y %m %u:%g\\n" | sort; stat -c %h releases/site/index.html index.html; test releases/site/index.html -ef index.html && echo one inode; cat index.html www/bin/hello; find /srv/legacy -printf "%p %m %u:%g\\n" | sort'),
      [
        'releases d 750 root:root', 'releases/site d 750 root:root', 'releases/site/bin d 750 root:root', 'releases/site/bin/hello f 640 root:root',
        'releases/site/css d 750 root:root', 'releases/site/css/site.css f 640 root:root', 'releases/site/index.html f 640 root:root',
        'www d 750 root:app', 'www/bin d 750 root:app', 'www/bin/hello f 640 root:app', 'www/css d 750 root:app', 'www/css/site.css f 640 root:app', 'www/index.html f 640 root:app',
        '2', '2', 'one inode', '<h1>am site</h1>', '#!/bin/sh', 'echo hello from the site',
        '/srv/legacy 750 app:app', '/srv/legacy/lib 750 app:app', '/srv/legacy/lib/a.txt 640 app:app', '/srv/legacy/run 750 app:app', '',
      ].join('\n'),
    );
    // release tarballs: 1.0 from files/ (owned by the task's user), 2.0 fetched and unpacked on the host (app's), both stripped of their top directory
    assert.equal(
      ssh("find /opt/tool /opt/tool2 -printf '%p %m %u:%g\\n' | sort; /opt/tool/bin/tool; /opt/tool2/bin/tool; cat /opt/tool2/VERSION; dpkg-query -W -f='${Status}\\n' xz-utils"),
      [
        '/opt/tool 755 root:root', '/opt/tool/bin 755 root:root', '/opt/tool/bin/tool 755 root:root', '/opt/tool/conf 755 root:root', '/opt/tool/conf/tool.conf 644 root:root',
        '/opt/tool2 755 root:root', '/opt/tool2/VERSION 644 app:app', '/opt/tool2/bin 755 app:app', '/opt/tool2/bin/tool 755 app:app',
        'tool 1.0', 'tool 2.0', '2.0', 'install ok installed', '',
      ].join('\n'),
    );
    assert.ok(http.requests.includes('/tool-2.0.tar.xz'), 'the release fetched from this server');
    // the reboot: a new boot id, the marker; what a boot must keep (sysctl from its file, the enabled services) is checked by the checks after it
    const [booted, marker] = ssh('cat /proc/sys/kernel/random/boot_id /var/lib/am-rebooted').split('\n');
    assert.notEqual(`${booted}\n`, bootId, 'the host rebooted');
    bootId = `${booted}\n`;
    assert.equal(marker, 'rebooted by modules-all');
    assert.equal(s['Reboot once'], 'changed');
    aptRepoAfter(base);
    assert.deepEqual(real.tasks.find((t) => t.task === 'Everything upgraded')!.changes.map((c) => c.summary), ['dist-upgrade: provtest-up']);
    // include_vars: the file's values, read by a later copy (and by the assert, which passed)
    assert.equal(ssh('cat /srv/am/limits.conf'), 'max_connections = 200\nworkers = 4\n');
    assert.ok(real.tasks.find((t) => t.task === 'am-sleep settles')!.durationMs >= 1000, 'pause waited its second');
    // (a new section's outcome on the host: here)
  });

  it('a new commit on main and a download whose checksum differs: --check knows which checkout moves; the bad download fails and keeps the file', async () => {
    const pushed = spawnSync('sh', ['-c', `set -e; cd src; echo 3 > VERSION; git -c user.name=t -c user.email=t@t.invalid commit -qam three; git push -q ../www/app.git main; git -C ../www/app.git update-server-info; git rev-parse HEAD`], { cwd: dir, encoding: 'utf8' });
    assert.equal(pushed.status, 0, pushed.stderr);
    const three = pushed.stdout.trim();
    const bad = ['-e', '{"try_bad_checksum": true}'];
    const requests = http.requests.length;
    const check2 = await run('--check after a new commit', ['--check', ...bad]);
    assert.deepEqual(http.requests.slice(requests).filter((u) => u.includes('tool.txt')), [], 'check mode downloads nothing');
    // exact: everything else is ok, main's checkout moves; unknown: the download whose checksum
    // differs, the move that reads main's registered result, and the checks (a change is predicted)
    const notOk = check2.tasks.filter((t) => t.status !== 'ok').map((t) => `${key(t)}: ${t.status}`);
    const afterLastMove = ['Reboot marker', 'Reboot once', 'Back after the reboot', 'Rebooted once', ...CHECKS];
    assert.deepEqual(notOk, ['Checkout main: changed', `${BAD_CHECKSUM}: unknown`, 'Last move: unknown', ...afterLastMove.map((c) => `${c}: unknown`), ...APT_REPO_AFTER_UNKNOWN]);
    assert.match(check2.tasks.find((t) => t.task === 'Last move')!.note ?? '', /'at_main' is the result of a task/);
    const real2 = await run('real after a new commit', bad);
    assert.deepEqual(unexpectedFailures(real2), []);
    sameAsCheck(check2, real2);
    assert.equal(statusOf(real2)[BAD_CHECKSUM], 'failed');
    assert.equal(statusOf(real2)['Reboot once'], 'skipped', 'the marker is there: no second reboot');
    assert.match(real2.tasks.find((t) => t.task === BAD_CHECKSUM)!.error!, /the sha1 of .* is not the checksum given .* left as it was/s);
    assert.equal(ssh('cat /srv/dl/tool.txt; ls -a /srv/dl | grep -c provision-tmp || true'), `${RELEASE}0\n`);
    assert.equal(ssh('git -C /srv/app rev-parse HEAD; cat /srv/moved; git -C /srv/tag rev-parse HEAD; cat /srv/am/deployed'), `${three}\n${commits.v1} ${commits.main} -> ${three}${commits.v1}\n${commits.main}\n`);
  });

  it('a second run changes nothing, and --check then predicts nothing', async () => {
    const again = await run('second run', []);
    assert.deepEqual(unexpectedFailures(again), []);
    assert.deepEqual(again.tasks.filter((t) => t.status !== 'ok' && t.status !== 'skipped').map((t) => `${key(t)}: ${t.status}`), []);
    const check3 = await run('--check after it', ['--check']);
    assert.deepEqual(check3.tasks.filter((t) => t.status !== 'ok' && t.status !== 'skipped').map((t) => `${key(t)}: ${t.status} ${t.note ?? ''}`), []);
    assert.equal(ssh('cat /srv/dl/tool.txt'), RELEASE);
    assert.equal(ssh('cat /proc/sys/kernel/random/boot_id'), bootId, 'no reboot after the first real run');
  });
});
