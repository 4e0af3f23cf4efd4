import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, realpathSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { buildFactScript, HOST_FACTS_SCRIPT, parseFactOutput, parseHostFacts } from '../../src/engine/pipeline/facts.js';
import { fact, TaskError, type FactRequest } from '../../src/modules/contract.js';
import { aptCacheFact, packageFact } from '../../src/modules/packages/facts.js';
import { exitFact } from '../../src/modules/commands/facts.js';
import { fileFact, keyValues, normMode, parseId, type FileFact } from '../../src/modules/files/facts.js';
import { unitFact, unitFileWritten, unitName, type UnitFact } from '../../src/modules/services/facts.js';
import { groupFact, userFact, type UserFact } from '../../src/modules/users/facts.js';

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

describe('keyValues and normMode', () => {
  test('keyValues splits at the first = and ignores other lines', () => {
    assert.deepEqual(keyValues('a=1\nb=x=y\n\nnoise\n=bad\nc=\n'), { a: '1', b: 'x=y', c: '' });
  });

  test('normMode', () => {
    assert.equal(normMode('644'), '0644');
    assert.equal(normMode('0o750'), '0750');
    assert.equal(normMode('2775'), '2775');
    assert.equal(normMode(0o600), '0600');
    assert.equal(normMode(undefined), undefined);
    assert.throws(() => normMode('rw-r--r--'), /invalid mode 'rw-r--r--'/);
  });
});

describe('file fact: parse', () => {
  const params = { path: '/etc/nginx/nginx.conf', content: true };

  test('a regular file with content', () => {
    const body = 'user www-data;\n';
    const out = `type=file\nparent=yes\nmode=644\nowner=root\ngroup=root\nsize=${body.length}\nsha256=${sha(body)}\ncontent=${Buffer.from(body).toString('base64')}\n`;
    assert.deepEqual(fileFact.parse(out, params), {
      type: 'file',
      parentExists: true,
      mode: '0644',
      owner: 'root',
      group: 'root',
      size: body.length,
      sha256: sha(body),
      content: Buffer.from(body).toString('base64'),
    });
  });

  test('an empty file has an empty content (not missing)', () => {
    const out = `type=file\nparent=yes\nmode=600\nowner=app\ngroup=app\nsize=0\nsha256=${sha('')}\ncontent=\n`;
    const f = fileFact.parse(out, params);
    assert.equal(f.content, '');
    assert.equal(f.size, 0);
  });

  test('absent, with and without its parent', () => {
    assert.deepEqual(fileFact.parse('type=absent\nparent=yes\n', params), { type: 'absent', parentExists: true });
    assert.deepEqual(fileFact.parse('type=absent\nparent=no\n', params), { type: 'absent', parentExists: false });
  });

  test('a symlink and a directory', () => {
    assert.deepEqual(fileFact.parse('type=link\ntarget=../sites-available/app\nparent=yes\nmode=777\nowner=root\ngroup=root\nsize=22\n', params), {
      type: 'link',
      target: '../sites-available/app',
      parentExists: true,
      mode: '0777',
      owner: 'root',
      group: 'root',
      size: 22,
    });
    assert.deepEqual(fileFact.parse('type=directory\nparent=yes\nmode=2775\nowner=www-data\ngroup=adm\nsize=4096\n', params), {
      type: 'directory',
      parentExists: true,
      mode: '2775',
      owner: 'www-data',
      group: 'adm',
      size: 4096,
    });
  });

  test('key and script', () => {
    assert.equal(fileFact.key(params), 'file:/etc/nginx/nginx.conf');
    assert.match(fileFact.script(params), /base64 -w0/);
    assert.doesNotMatch(fileFact.script({ path: '/x' }), /base64/);
    assert.match(fileFact.script({ path: "/srv/it's" }), /^p='\/srv\/it'\\''s'$/m);
  });
});

describe('package facts: parse', () => {
  test('dpkg-query output for an installed package', () => {
    assert.deepEqual(packageFact.parse('status=ii \nversion=1.22.1-9+deb12u1\n', { name: 'nginx' }), { installed: true, version: '1.22.1-9+deb12u1' });
  });

  test('a held, installed package is installed', () => {
    assert.deepEqual(packageFact.parse('status=hi \nversion=10.11.6-0+deb12u1\n', { name: 'mariadb-server' }), { installed: true, version: '10.11.6-0+deb12u1' });
  });

  test('removed (config files left), half-configured, unknown and never-heard-of packages are not installed', () => {
    assert.deepEqual(packageFact.parse('status=rc \nversion=2.4.57-2\n', { name: 'apache2' }), { installed: false });
    assert.deepEqual(packageFact.parse('status=iF \nversion=1.0\n', { name: 'x' }), { installed: false });
    assert.deepEqual(packageFact.parse('status=un \nversion=\n', { name: 'x' }), { installed: false });
    assert.deepEqual(packageFact.parse('status=none\n', { name: 'nosuch' }), { installed: false });
  });

  test('no dpkg-query: unavailable', () => {
    assert.deepEqual(packageFact.parse('unavailable=yes\n', { name: 'nginx' }), { installed: false, unavailable: true });
  });

  test('key and apt cache', () => {
    assert.equal(packageFact.key({ name: 'nginx' }), 'package:nginx');
    assert.deepEqual(aptCacheFact.parse('updated=1700000000\nnow=1700000600\n', {}), { updatedAt: 1_700_000_000, now: 1_700_000_600 });
    assert.deepEqual(aptCacheFact.parse('updated=0\nnow=1700000600\n', {}), { updatedAt: 0, now: 1_700_000_600 });
  });
});

describe('unit facts: parse systemctl show', () => {
  test('unitName adds .service unless a unit type is given', () => {
    assert.equal(unitName('nginx'), 'nginx.service');
    assert.equal(unitName('nginx.service'), 'nginx.service');
    assert.equal(unitName('docker.socket'), 'docker.socket');
    assert.equal(unitName('apt-daily.timer'), 'apt-daily.timer');
    assert.equal(unitName('srv-data.mount'), 'srv-data.mount');
    assert.equal(unitFact.key({ name: 'nginx' }), 'unit:nginx.service');
  });

  test('loaded, running, enabled', () => {
    // systemctl prints the properties in its own order, not the -p order
    const out = 'NeedDaemonReload=no\nLoadState=loaded\nCanReload=yes\nActiveState=active\nUnitFileState=enabled\n';
    assert.deepEqual(unitFact.parse(out, { name: 'nginx' }), { exists: true, active: 'active', enabled: 'enabled', needDaemonReload: false, canReload: true });
  });

  test('loaded, failed, static, changed on disk', () => {
    const out = 'NeedDaemonReload=yes\nLoadState=loaded\nActiveState=failed\nUnitFileState=static\n';
    assert.deepEqual(unitFact.parse(out, { name: 'app' }), { exists: true, active: 'failed', enabled: 'static', needDaemonReload: true, canReload: false });
  });

  test('not found', () => {
    const out = 'NeedDaemonReload=no\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n';
    assert.deepEqual(unitFact.parse(out, { name: 'nginx' }), { exists: false, active: 'inactive', enabled: 'unknown', needDaemonReload: false, canReload: false });
  });

  test('masked exists', () => {
    const out = 'NeedDaemonReload=no\nLoadState=masked\nActiveState=inactive\nUnitFileState=masked\n';
    assert.deepEqual(unitFact.parse(out, { name: 'nginx' }), { exists: true, active: 'inactive', enabled: 'masked', needDaemonReload: false, canReload: false });
  });

  test('systemctl failed (no systemd)', () => {
    assert.deepEqual(unitFact.parse('LoadState=error\n', { name: 'nginx' }), { exists: false, active: 'unknown', enabled: 'unknown', needDaemonReload: false, canReload: false });
  });
});

describe('unit facts: what writing a unit file or a drop-in predicts', () => {
  const loaded: UnitFact = { exists: true, active: 'active', enabled: 'enabled', needDaemonReload: false, canReload: false };
  const missing: UnitFact = { exists: false, active: 'inactive', enabled: 'unknown', needDaemonReload: false, canReload: false };
  const after = (path: string, content: string, before: UnitFact) => {
    const [e] = unitFileWritten(path, Buffer.from(content));
    assert.ok(e.touches(`unit:${path.split('/')[4].replace(/\.d$/, '')}`));
    return e.apply(before, '');
  };

  test('a new unit file: stopped, enabled or static by its [Install], reloadable by its ExecReload', () => {
    assert.deepEqual(after('/etc/systemd/system/app.service', '[Service]\nExecStart=/bin/app\nExecReload=/bin/kill -HUP $MAINPID\n[Install]\nWantedBy=multi-user.target\n', missing), {
      exists: true, active: 'inactive', enabled: 'disabled', needDaemonReload: false, canReload: true,
    });
    assert.deepEqual(after('/etc/systemd/system/app.service', '[Service]\nExecStart=/bin/app\n', missing), { exists: true, active: 'inactive', enabled: 'static', needDaemonReload: false, canReload: false });
  });

  test('a changed unit file or a new drop-in of a loaded unit: a daemon-reload is needed, and what it can do after is not known', () => {
    assert.deepEqual(after('/etc/systemd/system/cron.service', '[Service]\n', loaded), { ...loaded, needDaemonReload: true, canReload: undefined });
    assert.deepEqual(after('/etc/systemd/system/cron.service.d/override.conf', '[Service]\nExecReload=/bin/true\n', loaded), { ...loaded, needDaemonReload: true, canReload: undefined });
  });

  test('a drop-in alone does not make a unit; other paths are not unit files', () => {
    assert.deepEqual(after('/etc/systemd/system/nope.service.d/x.conf', '[Service]\n', missing), missing);
    assert.deepEqual(unitFileWritten('/etc/systemd/system/cron.service.d/notes.txt', Buffer.from('')), []);
    assert.deepEqual(unitFileWritten('/srv/app.service', Buffer.from('')), []);
  });
});

describe('user and group facts: parse getent', () => {
  test('an existing user', () => {
    const out = 'passwd=deploy:x:1001:1001:Deploy User,,,:/home/deploy:/bin/bash\nid=uid=1001(deploy) gid=1001(deploy) groups=1001(deploy),27(sudo),4(adm),998(docker)\n';
    assert.deepEqual(userFact.parse(out, { name: 'deploy' }), { exists: true, uid: 1001, home: '/home/deploy', shell: '/bin/bash', group: 'deploy', groups: ['adm', 'docker', 'sudo'] });
  });

  test('a system user with only its primary group; a GECOS field with =', () => {
    const out = 'passwd=www-data:x:33:33:www-data=web:/var/www:/usr/sbin/nologin\nid=uid=33(www-data) gid=33(www-data) groups=33(www-data)\n';
    assert.deepEqual(userFact.parse(out, { name: 'www-data' }), { exists: true, uid: 33, home: '/var/www', shell: '/usr/sbin/nologin', group: 'www-data', groups: [] });
  });

  test('an absent user', () => {
    assert.deepEqual(userFact.parse('passwd=\n', { name: 'nosuch' }), { exists: false });
  });

  test('read on this machine, in a fact script of several sections (the user section runs inline)', () => {
    const reqs = [fact(userFact, { name: 'root' }), fact(userFact, { name: 'no-such-user-pv' }), fact(groupFact, { name: 'root' })];
    const out = execFileSync('sh', ['-c', buildFactScript(reqs, 'B')], { encoding: 'utf8' });
    const [root, none, group] = parseFactOutput(reqs, out, 'B') as [UserFact, UserFact, { exists: boolean; gid?: number }];
    assert.deepEqual(root, { exists: true, uid: 0, home: '/root', shell: execFileSync('getent', ['passwd', 'root'], { encoding: 'utf8' }).trim().split(':')[6], group: 'root', groups: [] });
    assert.deepEqual(none, { exists: false });
    assert.deepEqual(group, { exists: true, gid: 0 });
  });

  test('`id` without names (no such user or group in the databases) gives the numbers, as `id -un` / `-Gn` print them', () => {
    assert.deepEqual(parseId('uid=12345 gid=23456 groups=23456,4(adm)'), { user: '12345', group: '23456', groups: ['23456', 'adm'] });
    assert.deepEqual(parseId('uid=0(root) gid=0(root) groups=0(root)'), { user: 'root', group: 'root', groups: ['root'] });
    assert.deepEqual(parseId(''), { user: '', group: '', groups: [] });
  });

  test('groups', () => {
    assert.deepEqual(groupFact.parse('docker:x:999:deploy,ci\n', { name: 'docker' }), { exists: true, gid: 999 });
    assert.deepEqual(groupFact.parse('', { name: 'nosuch' }), { exists: false });
    assert.equal(groupFact.key({ name: 'docker' }), 'group:docker');
  });
});

describe('exit fact', () => {
  test('parse', () => {
    assert.deepEqual(exitFact.parse('rc=0\n', { cmd: 'true' }), { rc: 0 });
    assert.deepEqual(exitFact.parse('rc=127\n', { cmd: 'nosuch' }), { rc: 127 });
    assert.deepEqual(exitFact.parse('', { cmd: 'x' }), { rc: 255 });
  });

  test('script discards output and keeps the exit code', () => {
    const out = execFileSync('sh', ['-c', exitFact.script({ cmd: 'echo rc=9; exit 3', chdir: '/' })], { encoding: 'utf8' });
    assert.equal(out, 'rc=3\n');
    assert.deepEqual(exitFact.parse(out, { cmd: 'x' }), { rc: 3 });
  });
});

describe('gather: buildFactScript / parseFactOutput', () => {
  const BOUNDARY = 'PROVISION-0123456789ab';

  test('parses each section by its boundary; noisy and empty sections', () => {
    const reqs: FactRequest[] = [fact(exitFact, { cmd: 'a' }), fact(groupFact, { name: 'g' }), fact(exitFact, { cmd: 'b' })];
    const out = `junk\n@@${BOUNDARY} 0\nrc=4\n\n@@${BOUNDARY} end 0\n@@${BOUNDARY} 1\n\n@@${BOUNDARY} end 0\n@@${BOUNDARY} 2\nrc=0\n\n@@${BOUNDARY} end 0\n`;
    assert.deepEqual(parseFactOutput(reqs, out, BOUNDARY), [{ rc: 4 }, { exists: false }, { rc: 0 }]);
  });

  test('a missing or truncated section is a TaskError', () => {
    const reqs: FactRequest[] = [fact(exitFact, { cmd: 'a' }), fact(groupFact, { name: 'g' })];
    assert.throws(
      () => parseFactOutput(reqs, `@@${BOUNDARY} 0\nrc=0\n\n@@${BOUNDARY} end 0\n`, BOUNDARY),
      (e: unknown) => e instanceof TaskError && e.message === 'fact group: no output (did the fact script abort?)',
    );
    assert.throws(
      () => parseFactOutput(reqs, `@@${BOUNDARY} 0\nrc=0\n\n@@${BOUNDARY} end 0\n@@${BOUNDARY} 1\nroot:x:0:\n`, BOUNDARY),
      (e: unknown) => e instanceof TaskError && e.message === 'fact group: truncated output',
    );
  });

  test("a kind that needs no subshell runs in the script's own shell (a fork less); the others keep theirs", () => {
    const reqs: FactRequest[] = [fact(groupFact, { name: 'provision-no-such-group' }), fact(exitFact, { cmd: 'x=1; exit 3' }), fact(groupFact, { name: 'root' })];
    const script = buildFactScript(reqs, BOUNDARY);
    const lines = script.split('\n');
    // the line after each section's header opens it
    assert.deepEqual(
      lines.flatMap((l, i) => (/^printf '%s\\n' '@@/.test(l) ? [lines[i + 1]] : [])),
      ['{', '(', '{'],
    );
    const r = spawnSync('sh', ['-c', `${script}\necho "x=\${x:-unset}"`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // the exit and the variable stayed in the exit fact's subshell
    assert.match(r.stdout, /\nx=unset\n$/);
    assert.deepEqual(parseFactOutput(reqs, r.stdout, BOUNDARY), [{ exists: false }, { rc: 3 }, { exists: true, gid: 0 }]);
  });

  test('round trip: the generated script run for real with sh -c on this machine (read-only)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provision-facts-'));
    const body = 'hello facts\nline 2\n';
    const filePath = join(dir, 'conf file.txt');
    writeFileSync(filePath, body);
    chmodSync(filePath, 0o640);
    mkdirSync(join(dir, 'sub'));
    chmodSync(join(dir, 'sub'), 0o2750);
    symlinkSync('conf file.txt', join(dir, 'link'));
    const me = userInfo();
    const myGroup = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
    const hasDpkg = spawnSync('sh', ['-c', 'command -v dpkg-query']).status === 0;

    const reqs: FactRequest[] = [
      fact(fileFact, { path: filePath, content: true }),
      fact(fileFact, { path: filePath }),
      fact(fileFact, { path: join(dir, 'missing') }),
      fact(fileFact, { path: join(dir, 'nodir', 'missing') }),
      fact(fileFact, { path: join(dir, 'link') }),
      fact(fileFact, { path: join(dir, 'sub') }),
      fact(packageFact, { name: 'coreutils' }),
      fact(packageFact, { name: 'provision-no-such-package' }),
      fact(exitFact, { cmd: 'test -d sub', chdir: dir }),
      fact(exitFact, { cmd: 'exit 7' }),
      fact(userFact, { name: me.username }),
      fact(userFact, { name: 'provision-no-such-user' }),
      fact(groupFact, { name: myGroup }),
      fact(groupFact, { name: 'provision-no-such-group' }),
      fact(aptCacheFact, {}),
    ];
    const script = buildFactScript(reqs, BOUNDARY);
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [content, plain, missing, noParent, link, sub, coreutils, nopkg, exitOk, exit7, userMe, noUser, groupMe, noGroup, cache] = parseFactOutput(reqs, r.stdout, BOUNDARY) as any[];

    assert.deepEqual(content, { type: 'file', dirWritable: true, parentExists: true, mode: '0640', owner: me.username, group: myGroup, size: body.length, sha256: sha(body), content: Buffer.from(body).toString('base64') });
    assert.deepEqual(plain, { type: 'file', dirWritable: true, parentExists: true, mode: '0640', owner: me.username, group: myGroup, size: body.length, sha256: sha(body) });
    assert.deepEqual(missing, { type: 'absent', dirWritable: true, parentExists: true, near: dir });
    // its nearest existing ancestor is the directory above the missing one
    assert.deepEqual(noParent, { type: 'absent', dirWritable: true, parentExists: false, near: dir });
    assert.equal(link.type, 'link');
    assert.equal(link.target, 'conf file.txt');
    assert.equal(link.mode, '0777');
    assert.equal(link.sha256, undefined);
    assert.equal(sub.type, 'directory');
    assert.equal(sub.mode, '2750');
    if (hasDpkg) {
      assert.equal(coreutils.installed, true);
      assert.match(coreutils.version, /^\d/);
      assert.equal(coreutils.version, execFileSync('dpkg-query', ['-W', '-f=${Version}', 'coreutils'], { encoding: 'utf8' }));
    } else {
      assert.deepEqual(coreutils, { installed: false, unavailable: true });
    }
    assert.deepEqual(nopkg, hasDpkg ? { installed: false } : { installed: false, unavailable: true });
    assert.deepEqual(exitOk, { rc: 0 });
    assert.deepEqual(exit7, { rc: 7 });
    assert.equal(userMe.exists, true);
    assert.equal(userMe.uid, me.uid);
    assert.equal(userMe.home, me.homedir);
    assert.equal(userMe.group, myGroup);
    assert.ok(!userMe.groups.includes(myGroup));
    assert.deepEqual(noUser, { exists: false });
    assert.deepEqual(groupMe, { exists: true, gid: me.gid });
    assert.deepEqual(noGroup, { exists: false });
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(cache.now - now) <= 5, `now=${cache.now}`);
    assert.ok(cache.updatedAt >= 0 && cache.updatedAt <= cache.now);
  });

  test('the resolved name (real) of the builtin fast path equals realpath -m, spelled any way', () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'provision-real-')));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'f'), 'x');
    symlinkSync('sub', join(dir, 'ln'));
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
    const paths = ['sub/f', 'ln/f', 'ln/missing', 'ln/a/b', 'dangling/x', 'dangling/x/y', 'sub/f/under-a-file', 'ln/', 'ln/./f', 'ln/../sub/f', 'sub//f', 'missing/deeper/x'].map((p) => `${dir}/${p}`);
    paths.push('/', '/tmp');
    const reqs: FactRequest[] = paths.map((path) => fact(fileFact, { path }));
    const r = spawnSync('sh', ['-c', buildFactScript(reqs, BOUNDARY)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = parseFactOutput(reqs, r.stdout, BOUNDARY) as FileFact[];
    paths.forEach((path, i) => {
      const parent = path.replace(/\/[^/]*\/?$/, '') || '/';
      const real = `${execFileSync('realpath', ['-m', '--', parent], { encoding: 'utf8' }).trim()}/${execFileSync('basename', ['--', path], { encoding: 'utf8' }).trim()}`.replace(/^\/\//, '/');
      assert.equal(got[i].real ?? path.replace(/\/+$/, ''), real, `real of ${path}`);
    });
    // a link into itself: realpath -m would never return (difftest seed 3105); the fact comes back, without another name
    symlinkSync(join(dir, 'self', 'a'), join(dir, 'self'));
    const loopReqs: FactRequest[] = [fact(fileFact, { path: join(dir, 'self', 'b', 'h.txt') })];
    const t0 = Date.now();
    const lr = spawnSync('sh', ['-c', buildFactScript(loopReqs, BOUNDARY)], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(lr.status, 0, lr.stderr);
    assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
    for (const f of parseFactOutput(loopReqs, lr.stdout, BOUNDARY) as FileFact[]) {
      assert.equal(f.type, 'absent');
      assert.equal(f.parentExists, false);
      assert.equal(f.real, undefined);
    }
    // the fact of a resolved name is the fact of the file itself
    assert.equal(got[1].sha256, got[0].sha256);
    assert.equal(got[1].type, 'file');
  });

  test('batched kinds (one dpkg-query, one systemctl show) give each fact what its own script gives', () => {
    const pkgs = ['bash', 'no-such-package-xyz', 'libc6', 'libc6:amd64', 'libc6:i386', 'coreutils', 'bash'];
    const units = ['ssh', 'no-such-unit', 'cron.service', 'ssh'];
    const reqs: FactRequest[] = [...pkgs.map((name) => fact(packageFact, { name })), fact(exitFact, { cmd: 'true' }), ...units.map((name) => fact(unitFact, { name }))];
    const run = (rs: FactRequest[]) => {
      const r = spawnSync('sh', ['-c', buildFactScript(rs, BOUNDARY)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return parseFactOutput(rs, r.stdout, BOUNDARY);
    };
    const script = buildFactScript(reqs, BOUNDARY);
    assert.equal(script.match(/dpkg-query -W/g)?.length, 1);
    assert.deepEqual(run(reqs), reqs.map((r) => run([r])[0]));
  });

  test('the batched unit output: a block per unit in order, or each on its own after a refusal', () => {
    const ps = [{ name: 'a' }, { name: 'b.service' }, { name: 'a.service' }];
    const fast = 'LoadState=loaded\nActiveState=active\n\nLoadState=not-found\nActiveState=inactive\n';
    assert.deepEqual(unitFact.batch!.split(fast, ps), ['LoadState=loaded\nActiveState=active', 'LoadState=not-found\nActiveState=inactive\n', 'LoadState=loaded\nActiveState=active']);
    const slow = '@@one-by-one\n@@one-by-one\nLoadState=error\n@@one-by-one\nLoadState=loaded\n';
    assert.deepEqual(unitFact.batch!.split(slow, ps).map((b) => unitFact.parse(b, { name: 'x' }).exists), [false, true, false]);
    assert.throws(() => unitFact.batch!.split('LoadState=loaded\n', ps), /printed 1 blocks for 2 units/);
  });
});

describe('host facts', () => {
  test('parsed: the default route names the interface, its first address is the default IPv4', () => {
    const out = [
      'hostname=web-01', 'login_user=deploy', 'fqdn=web-01.example', 'os_id=debian', 'os_version=12', 'os_codename=bookworm',
      'uname=6.1.0-18-amd64 x86_64', 'cpus=2', 'mem_kb=2048000',
      'default via 10.0.0.1 dev eth1 proto dhcp src 10.0.0.5 metric 100',
      'default via 10.9.0.1 dev eth0',
      '2: eth0    inet 10.9.0.7/24 brd 10.9.0.255 scope global eth0\\       valid_lft forever preferred_lft forever',
      '3: eth1    inet 10.0.0.5/24 brd 10.0.0.255 scope global dynamic eth1\\       valid_lft 86000sec preferred_lft 86000sec',
      '3: eth1    inet 10.0.0.6/24 scope global secondary eth1',
    ].join('\n');
    assert.deepEqual(parseHostFacts(out), {
      hostname: 'web-01', loginUser: 'deploy', fqdn: 'web-01.example', os: { id: 'debian', version: '12', codename: 'bookworm' },
      arch: 'x86_64', kernel: '6.1.0-18-amd64', cpus: 2, memoryMb: 2000,
      defaultIPv4: '10.0.0.5', defaultInterface: 'eth1', ipv4: ['10.9.0.7', '10.0.0.5', '10.0.0.6'],
    });
    assert.deepEqual(parseHostFacts('hostname=x\n'), {
      hostname: 'x', loginUser: '', fqdn: '', os: { id: 'unknown', version: '', codename: '' }, arch: '', kernel: '', cpus: 1, memoryMb: 0, defaultIPv4: '', defaultInterface: '', ipv4: [],
    });
  });

  test('the CPUs from a list of ranges, and uname and nproc where /proc and /sys lack them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provision-host-facts-'));
    try {
      writeFileSync(join(dir, 'online'), '0-3,8,10-11\n');
      const run = (script: string) => parseHostFacts(execFileSync('sh', ['-c', script], { encoding: 'utf8' }));
      assert.equal(run(HOST_FACTS_SCRIPT.replace('/sys/devices/system/cpu/online', join(dir, 'online'))).cpus, 7);
      const without = run(HOST_FACTS_SCRIPT.replace('/sys/devices/system/cpu/online', join(dir, 'none')).replace('/proc/sys/kernel/arch', join(dir, 'none')));
      assert.equal(without.cpus, Number(execFileSync('nproc', { encoding: 'utf8' })));
      assert.equal(`${without.kernel} ${without.arch}`, execFileSync('uname', ['-r', '-m'], { encoding: 'utf8' }).trim());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('read on this machine: what its own commands say', () => {
    const r = spawnSync('sh', ['-c', HOST_FACTS_SCRIPT], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const f = parseHostFacts(r.stdout);
    const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();
    assert.equal(f.hostname, sh('hostname'));
    assert.equal(f.loginUser, userInfo().username);
    assert.equal(f.kernel, sh('uname -r'));
    assert.equal(f.arch, sh('uname -m'));
    // the online CPUs, as /proc/cpuinfo lists them (Ansible's processor_vcpus), not nproc's affinity
    assert.equal(f.cpus, Number(sh('grep -c ^processor /proc/cpuinfo')));
    assert.equal(f.memoryMb, Math.round(Number(sh("awk '/^MemTotal:/ {print $2}' /proc/meminfo")) / 1024));
    if (spawnSync('sh', ['-c', 'command -v ip']).status === 0) {
      assert.deepEqual(f.ipv4, sh("ip -4 -o addr show scope global | awk '{split($4,a,\"/\"); print a[1]}'").split('\n').filter(Boolean));
      const dev = sh("ip -4 route show default | awk '{for (i=1;i<NF;i++) if ($i==\"dev\") {print $(i+1); exit}}'");
      assert.equal(f.defaultInterface, dev);
    }
  });
});
