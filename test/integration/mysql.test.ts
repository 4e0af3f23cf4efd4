/**
 * mysql_db / mysql_user / mysql_replication against a real, throwaway MariaDB server.
 *
 * Needs root and the Debian mariadb-server package (installed here with apt-get when missing;
 * skipped when that is impossible). The server runs from /tmp/provtest-mysql-<pid> on its own
 * unix socket with networking off, and is stopped and removed afterwards.
 *
 * A minimal local executor plays the engine: fact snippets run with sh (all of a task's
 * snippets in one script, each in a subshell), plan(), the commands run with their stdin, facts
 * are gathered again and the plan must then be empty; a second run must change nothing.
 */
import assert from 'node:assert/strict';
import { predictedFacts } from '../unit/modules/helpers.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { AnyStateModule, Change, FactRequest, ModuleContext } from '../../src/modules/contract.js';
import { TaskError } from '../../src/modules/contract.js';
import { sq } from '../../src/engine/shell.js';
import { mysqlNativePasswordHash } from '../../src/modules/mysql/sql.js';
import { mysqlDb } from '../../src/modules/mysql/mysql_db.js';
import { mysqlUser } from '../../src/modules/mysql/mysql_user.js';
import { mysqlReplication, renderReplicaStatus } from '../../src/modules/mysql/mysql_replication.js';
import { mysqlUserFact } from '../../src/modules/mysql/facts.js';

const BASE = `/tmp/provtest-mysql-${process.pid}`;
const SOCK = `${BASE}/sock`;
const ROOT = `${BASE}/project`;

let skipReason: string | undefined;
let server: ChildProcess | undefined;
let primary: ChildProcess | undefined;
let primaryPort = 0;

function sh(cmd: string, stdin?: string | Buffer, timeoutMs = 60_000) {
  const r = spawnSync('sh', ['-c', cmd], { input: stdin ?? '', timeout: timeoutMs, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** Query the test server as root. */
function q(sql: string, opts = '--batch --skip-column-names'): string {
  const r = sh(`mysql ${opts} --socket=${SOCK}`, sql);
  assert.equal(r.code, 0, `query failed: ${sql}\n${r.stderr}`);
  return r.stdout.trim();
}

function which(bin: string): boolean {
  return sh(`command -v ${bin} || test -x /usr/sbin/${bin}`).code === 0;
}

function ensureMariadb(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (mariadbd, unix_socket auth as root)';
  if (which('mariadbd') && which('mariadb-install-db') && which('mysql')) return undefined;
  const env = 'DEBIAN_FRONTEND=noninteractive';
  let r = sh(`${env} apt-get install -y -q mariadb-server mariadb-client`, undefined, 600_000);
  if (r.code !== 0) r = sh(`apt-get update -q && ${env} apt-get install -y -q mariadb-server mariadb-client`, undefined, 900_000);
  if (r.code !== 0 || !which('mariadbd')) return `mariadb-server is not installable here: ${r.stderr.trim().split('\n').pop()}`;
  return undefined;
}

async function startServer(): Promise<void> {
  rmSync(BASE, { recursive: true, force: true });
  mkdirSync(join(ROOT, 'files'), { recursive: true });
  const bin = (b: string) => (existsSync(`/usr/sbin/${b}`) ? `/usr/sbin/${b}` : b);
  const inst = sh(
    `${bin('mariadb-install-db')} --no-defaults --datadir=${BASE}/data --user=root --auth-root-authentication-method=socket --skip-test-db`,
    undefined,
    120_000,
  );
  assert.equal(inst.code, 0, `mariadb-install-db failed: ${inst.stdout}${inst.stderr}`);
  server = spawn(
    bin('mariadbd'),
    [
      '--no-defaults',
      `--datadir=${BASE}/data`,
      `--socket=${SOCK}`,
      `--pid-file=${BASE}/mariadbd.pid`,
      `--log-error=${BASE}/error.log`,
      '--skip-networking',
      '--user=root',
      '--server-id=2',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 120; i++) {
    if (existsSync(SOCK) && sh(`mysql --socket=${SOCK} -e 'SELECT 1'`).code === 0) return;
    if (server.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const log = sh(`tail -n 20 ${BASE}/error.log`).stdout;
  throw new Error(`MariaDB did not start:\n${log}`);
}

/** A free loopback TCP port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** A second server on 127.0.0.1 with a binlog: the primary for the replication test. */
async function startPrimary(): Promise<void> {
  const bin = (b: string) => (existsSync(`/usr/sbin/${b}`) ? `/usr/sbin/${b}` : b);
  const dir = `${BASE}/primary`;
  const inst = sh(`${bin('mariadb-install-db')} --no-defaults --datadir=${dir} --user=root --auth-root-authentication-method=socket --skip-test-db`, undefined, 120_000);
  assert.equal(inst.code, 0, `mariadb-install-db (primary) failed: ${inst.stderr}`);
  primaryPort = await freePort();
  primary = spawn(
    bin('mariadbd'),
    [
      '--no-defaults',
      `--datadir=${dir}`,
      `--socket=${BASE}/primary.sock`,
      `--pid-file=${BASE}/primary.pid`,
      `--log-error=${BASE}/primary.log`,
      '--bind-address=127.0.0.1',
      `--port=${primaryPort}`,
      '--skip-name-resolve',
      '--user=root',
      '--server-id=1',
      '--log-bin=primary-bin',
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 120; i++) {
    if (existsSync(`${BASE}/primary.sock`) && sh(`mysql --socket=${BASE}/primary.sock -e 'SELECT 1'`).code === 0) return;
    if (primary.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`primary MariaDB did not start:\n${sh(`tail -n 20 ${BASE}/primary.log`).stdout}`);
}

async function stop(p: ChildProcess | undefined): Promise<void> {
  if (p && p.exitCode === null) {
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([done, new Promise((r) => setTimeout(r, 20_000))]);
    if (p.exitCode === null) p.kill('SIGKILL');
  }
}

async function stopServer(): Promise<void> {
  await stop(primary);
  await stop(server);
  rmSync(BASE, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// A minimal engine
// ---------------------------------------------------------------------------------------------

function makeCtx(over: Partial<ModuleContext> = {}): ModuleContext & { notes: string[] } {
  const notes: string[] = [];
  return {
    host: 'local',
    check: false,
    become: false,
    user: 'root',
    root: ROOT,
    mask: (s) => s,
    note: (s) => notes.push(s),
    render: (s) => s,
    notes,
    ...over,
  };
}

/** All snippets of a task in one sh script, each in a subshell, framed by boundaries. */
function gather<F>(requests: Record<string, FactRequest>): F {
  const names = Object.keys(requests);
  const script = names
    .map((n, i) => `echo '@@B ${i}'\n(\n${requests[n].kind.script(requests[n].params)}\n)\necho '@@B end'`)
    .join('\n');
  const r = sh(script);
  assert.equal(r.code, 0, `fact script failed: ${r.stderr}`);
  const out: Record<string, unknown> = {};
  names.forEach((n, i) => {
    const from = r.stdout.indexOf(`@@B ${i}\n`) + `@@B ${i}\n`.length;
    const body = r.stdout.slice(from, r.stdout.indexOf('@@B end', from)).replace(/\n$/, '');
    out[n] = requests[n].kind.parse(body, requests[n].params);
  });
  return out as F;
}

interface RunResult {
  changes: Change[];
  failed?: { code: number; stderr: string };
  ctx: ReturnType<typeof makeCtx>;
  facts: any;
  after: any;
  replan: Change[];
  predicted?: any;
}

/** plan -> apply -> re-gather -> re-plan, like the engine. */
async function run(mod: AnyStateModule, rawArgs: unknown, opts: { check?: boolean; expectFailure?: boolean } = {}): Promise<RunResult> {
  const ctx = makeCtx({ check: !!opts.check });
  const args = mod.schema.parse(rawArgs);
  const local = mod.prepare ? await mod.prepare(args, ctx) : undefined;
  const facts = gather<any>(mod.facts(args, ctx) as Record<string, FactRequest>);
  const changes = mod.plan(args, facts, ctx, local);
  const predicted = mod.predict && changes.length ? predictedFacts(mod, args, facts, ctx, changes, local) : mod.predict ? facts : undefined;
  let failed: RunResult['failed'];
  if (!opts.check) {
    outer: for (const c of changes) {
      for (const cmd of c.commands) {
        const r = sh(cmd.cmd, cmd.stdin, 60_000);
        if (r.code !== 0) {
          failed = { code: r.code, stderr: r.stderr };
          break outer;
        }
      }
    }
  }
  if (failed && !opts.expectFailure) assert.fail(`apply failed (${failed.code}): ${failed.stderr}`);
  if (!failed && opts.expectFailure) assert.fail('apply was expected to fail');
  const after = gather<any>(mod.facts(args, ctx) as Record<string, FactRequest>);
  const replanCtx = makeCtx();
  const replan = mod.plan(args, after, replanCtx, local).filter((c) => !c.oneShot);
  ctx.notes.push(...replanCtx.notes);
  return { changes, failed, ctx, facts, after, replan, predicted };
}

/** Apply, require convergence, then require a second run to change nothing. */
async function converge(mod: AnyStateModule, args: unknown, opts: { exactPrediction?: boolean } = {}): Promise<RunResult> {
  const check = await run(mod, args, { check: true });
  const r = await run(mod, args);
  assert.deepEqual(r.replan, [], `not converged: ${JSON.stringify(r.replan.map((c) => c.summary))}`);
  // check mode planned exactly what the real run did, and predicted the resulting facts
  assert.deepEqual(check.changes, r.changes);
  if (check.predicted && opts.exactPrediction !== false) assert.deepEqual(check.predicted, r.after, 'predict() differs from the facts after apply');
  const again = await run(mod, args);
  assert.deepEqual(again.changes, [], `second run not idempotent: ${JSON.stringify(again.changes.map((c) => c.summary))}`);
  return r;
}

function skip(t: TestContext): boolean {
  if (skipReason) t.skip(skipReason);
  return !!skipReason;
}

// ---------------------------------------------------------------------------------------------

describe('mysql modules against a real MariaDB', { timeout: 600_000 }, () => {
  before(async () => {
    skipReason = ensureMariadb();
    // CI installs MariaDB (scripts/setup.sh): there, not having it is a failure, not a skip.
    if (skipReason && process.env.CI && process.getuid?.() === 0) throw new Error(`MariaDB is required in CI: ${skipReason}`);
    if (!skipReason) await startServer();
  });
  after(async () => {
    await stopServer();
  });

  it('mysql_db: create + one-time import, alter collation, drop', async (t) => {
    if (skip(t)) return;
    writeFileSync(join(ROOT, 'files', 'app.sql'), "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));\nINSERT INTO t VALUES (1, 'it''s'), (2, 'b\\\\c');\n");
    const args = { name: "provtest we'ird`db", import: 'app.sql', login_unix_socket: SOCK };
    const r = await converge(mysqlDb, args);
    assert.equal(r.changes.length, 1);
    assert.match(r.changes[0].summary, /and import files\/app.sql/);
    assert.equal(q("SELECT COUNT(*) FROM `provtest we'ird``db`.t"), '2');
    assert.equal(q("SELECT v FROM `provtest we'ird``db`.t WHERE id = 2"), 'b\\\\c');
    assert.equal(q("SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'provtest we\\'ird`db'"), 'utf8mb4_general_ci');

    const alter = await converge(mysqlDb, { ...args, collation: 'utf8mb4_unicode_ci' });
    assert.equal(alter.changes[0].action, 'update');
    assert.equal(q("SELECT COUNT(*) FROM `provtest we'ird``db`.t"), '2', 'not imported again');

    const latin = await converge(mysqlDb, { name: 'provtest_latin', encoding: 'latin1', login_unix_socket: SOCK });
    assert.equal(latin.after.db.collation, 'latin1_swedish_ci');

    const drop = await converge(mysqlDb, { ...args, state: 'absent' });
    assert.equal(drop.changes[0].action, 'remove');
    assert.equal(drop.after.db.exists, false);
  });

  it('mysql_db: a failed import drops the fresh database so the next run retries', async (t) => {
    if (skip(t)) return;
    writeFileSync(join(ROOT, 'files', 'broken.sql'), 'CREATE TABLE t (id INT);\nTHIS IS NOT SQL;\n');
    const r = await run(mysqlDb, { name: 'provtest_broken', import: 'broken.sql', login_unix_socket: SOCK }, { expectFailure: true });
    assert.match(r.failed?.stderr ?? '', /ERROR 1064/);
    assert.match(r.failed?.stderr ?? '', /import of files\/broken.sql failed; database provtest_broken dropped again/);
    assert.equal(r.after.db.exists, false);
    assert.equal(r.replan[0].action, 'create');
  });

  it('mysql_user: create with hash, password rotation, grants owned, drop', async (t) => {
    if (skip(t)) return;
    q('CREATE DATABASE IF NOT EXISTS provtest_app; CREATE TABLE IF NOT EXISTS provtest_app.t (id INT, secret INT); CREATE DATABASE IF NOT EXISTS provtest_rep');
    const login = (pw: string) => sh(`mysql --batch --skip-column-names --socket=${SOCK} -u provtest --password=${sq(pw)} -e 'SELECT 1'`).code === 0;
    const base = { name: 'provtest', password: "pa'ss\\word", login_unix_socket: SOCK };

    const created = await converge(mysqlUser, { ...base, priv: 'provtest_app.*:SELECT,insert/*.*:REPLICATION CLIENT,process' });
    assert.equal(created.changes.length, 1);
    assert.equal(created.changes[0].action, 'create');
    assert.ok(!created.changes[0].summary.includes("pa'ss"));
    assert.equal(q("SELECT authentication_string FROM mysql.user WHERE User = 'provtest'"), mysqlNativePasswordHash("pa'ss\\word"));
    assert.ok(login("pa'ss\\word"), 'the password works');
    assert.ok(!login('wrong'), 'a wrong password does not');

    const rotated = await converge(mysqlUser, { ...base, password: 'n3w', priv: 'provtest_app.*:SELECT,INSERT/*.*:REPLICATION CLIENT,PROCESS' });
    assert.deepEqual(rotated.changes.map((c) => c.summary), ['password differs']);
    assert.ok(login('n3w'));

    // columns, table-level ALL, grant option, aliases; extra privileges revoked
    const priv = 'provtest_app.t:SELECT(id),UPDATE(id)/provtest_rep.*:ALL,GRANT/*.*:REPLICA MONITOR';
    const grants = await converge(mysqlUser, { ...base, password: 'n3w', priv });
    assert.deepEqual(grants.after.user.grants, {
      '*.*': ['SLAVE MONITOR'],
      '`provtest_app`.`t`': ['SELECT (`id`)', 'UPDATE (`id`)'],
      '`provtest_rep`.*': ['ALL PRIVILEGES', 'GRANT OPTION'],
    });
    assert.ok(grants.changes.some((c) => c.action === 'revoke' && /`provtest_app`\.\*/.test(c.summary)));

    // ALL -> fewer, every db privilege spelled out (collapsed), grant option removed
    const all = 'SELECT,INSERT,UPDATE,DELETE,CREATE,DROP,REFERENCES,INDEX,ALTER,CREATE TEMPORARY TABLES,LOCK TABLES,EXECUTE,CREATE VIEW,SHOW VIEW,CREATE ROUTINE,ALTER ROUTINE,EVENT,TRIGGER,DELETE HISTORY';
    await converge(mysqlUser, { ...base, priv: `provtest_rep.*:SELECT/provtest_app.*:${all}/provtest_app.t:SELECT(id, secret)` });
    const fewer = await converge(mysqlUser, { ...base, priv: 'provtest_app.*:SELECT/provtest_app.t:SELECT(id)' });
    assert.deepEqual(fewer.after.user.grants, { '`provtest_app`.*': ['SELECT'], '`provtest_app`.`t`': ['SELECT (`id`)'] });

    // no priv: grants untouched; empty priv: everything revoked
    const untouched = await run(mysqlUser, { name: 'provtest', login_unix_socket: SOCK });
    assert.deepEqual(untouched.changes, []);
    const none = await converge(mysqlUser, { ...base, priv: '' });
    assert.deepEqual(none.after.user.grants, {});
    assert.ok(login(base.password), 'authentication untouched by grant changes');

    const dropped = await converge(mysqlUser, { ...base, state: 'absent' });
    assert.equal(dropped.changes[0].action, 'remove');
    assert.equal(dropped.after.user.exists, false);
  });

  it('mysql_user: odd names and hosts; a unix_socket account keeps unix_socket', async (t) => {
    if (skip(t)) return;
    await converge(mysqlUser, { name: "o'brien`x", host: '%', password: 'x', priv: '`provtest_app`.*:SELECT', login_unix_socket: SOCK });
    q("CREATE USER 'provsock'@'localhost' IDENTIFIED VIA unix_socket");
    const r = await converge(mysqlUser, { name: 'provsock', password: 'pw', login_unix_socket: SOCK });
    assert.equal(r.changes[0].summary, 'password differs (authentication: unix_socket)');
    assert.match(q("SHOW CREATE USER 'provsock'@'localhost'"), new RegExp(`USING '\\${mysqlNativePasswordHash('pw')}' OR unix_socket`));
    await converge(mysqlUser, { name: 'provsock', state: 'absent', login_unix_socket: SOCK });
    await converge(mysqlUser, { name: "o'brien`x", host: '%', state: 'absent', login_unix_socket: SOCK });
  });

  it('mysql_user facts read in one batch equal each account read on its own (fast path, fallback, no server, two sockets)', async (t) => {
    if (skip(t)) return;
    q("CREATE USER 'provbatch'@'%' IDENTIFIED BY 'pw'");
    q("CREATE USER 'prov\\'odd\\\\x'@'10.%' IDENTIFIED VIA unix_socket");
    q("CREATE ROLE provrole; GRANT SELECT ON mysql.* TO provrole; GRANT provrole TO 'provbatch'@'%'; GRANT INSERT, UPDATE (User) ON mysql.user TO 'provbatch'@'%' WITH GRANT OPTION");
    try {
      const params = [
        { name: 'provbatch', host: '%' },
        { name: 'missing', host: 'localhost' },
        { name: "prov'odd\\x", host: '10.%' },
        { name: 'root', host: 'localhost' },
        { name: 'provbatch', host: '%' },
        { name: 'missing', host: '%' },
      ].map((p) => ({ ...p, socket: SOCK }));
      const batch = mysqlUserFact.batch!;
      const own = (ps: typeof params, env = '') => ps.map((p) => sh(`${env}${mysqlUserFact.script(p)}`).stdout);
      const batched = (ps: typeof params, env = '') => {
        const r = sh(`${env}(\n${batch.script(ps)}\n)`);
        assert.equal(r.code, 0, r.stderr);
        return batch.split(r.stdout, ps);
      };
      const expected = own(params);
      assert.match(expected[0], /#mysql:create\nCREATE USER `provbatch`@`%` IDENTIFIED BY PASSWORD/);
      assert.match(expected[1], /#mysql:absent/);
      assert.deepEqual(batched(params), expected);
      // the fast path took two client runs, not three or four per account
      const shim = `${BASE}/shim`;
      mkdirSync(shim, { recursive: true });
      writeFileSync(`${shim}/mysql`, `#!/bin/sh\necho run >>${shim}/runs\nexec ${sh('command -v mysql').stdout.trim()} "$@"\n`, { mode: 0o755 });
      rmSync(`${shim}/runs`, { force: true });
      assert.deepEqual(batched(params, `PATH=${shim}:$PATH; `), expected);
      assert.equal(sh(`cat ${shim}/runs`).stdout.split('\n').filter(Boolean).length, 3, 'SELECT 1, which exist, their SHOWs');
      // a SHOW of the batch refused: each account is read on its own, as its own script reads it
      writeFileSync(`${shim}/mysql`, `#!/bin/sh\ncase "$*" in *'#mysql-member'*) exit 1 ;; esac\nexec ${sh('command -v mysql').stdout.trim()} "$@"\n`, { mode: 0o755 });
      assert.deepEqual(batched(params, `PATH=${shim}:$PATH; `), expected);
      // no server behind the socket: the same line for every account
      const gone = params.map((p) => ({ ...p, socket: `${BASE}/nope.sock` }));
      assert.deepEqual(batched(gone), own(gone));
      assert.match(batched(gone)[0], /^#mysql:unavailable /);
      // two sockets: two servers, each account read on its own
      const mixed = [params[0], gone[1], params[1]];
      assert.deepEqual(batched(mixed), own(mixed));
      assert.deepEqual(
        batched(params).map((o, i) => mysqlUserFact.parse(o, params[i])),
        expected.map((o, i) => mysqlUserFact.parse(o, params[i])),
      );
    } finally {
      q("DROP USER IF EXISTS 'provbatch'@'%', 'prov\\'odd\\\\x'@'10.%'; DROP ROLE IF EXISTS provrole");
    }
  });

  it('server not running: TaskError, or fresh predictions in check mode after a predicted install', async (t) => {
    if (skip(t)) return;
    const ctx = makeCtx();
    const args = mysqlUser.schema.parse({ name: 'x', login_unix_socket: `${BASE}/nope.sock` });
    const facts = gather<any>(mysqlUser.facts(args, ctx) as Record<string, FactRequest>);
    assert.equal(facts.user.server, 'unavailable');
    assert.throws(() => mysqlUser.plan(args, facts, ctx), (e) => e instanceof TaskError && /MariaDB is not running on this host \(mysql: ERROR 2002/.test(e.message));
    assert.equal(mysqlUser.plan(args, { user: { ...facts.user, freshServer: true } }, makeCtx({ check: true }))[0].action, 'create');
  });

  it('mysql_replication: configure against an unreachable primary, rotate password, stop, start', async (t) => {
    if (skip(t)) return;
    const base = { primary_host: '127.0.0.1', primary_port: 1, user: 'repl', password: "r3pl'pw", connect_retry: 30, login_unix_socket: SOCK };

    const check = await run(mysqlReplication, base, { check: true });
    const first = await run(mysqlReplication, base, { expectFailure: true });
    assert.deepEqual(check.changes, first.changes);
    assert.equal(first.changes[0].action, 'create');
    assert.equal(first.changes[0].commands.length, 2);
    // the start-and-wait command reports the IO error (no replication to a closed port)
    assert.match(first.failed?.stderr ?? '', /Last_IO_Error: error connecting to master 'repl@127.0.0.1:1'.*Connection refused/);
    // configured and started: the IO thread keeps connecting, which counts as running
    assert.deepEqual(first.replan, []);
    assert.match(first.ctx.notes.join('\n'), /IO thread is Connecting/);
    const st = first.after.replica.replica;
    assert.equal(st.masterHost, '127.0.0.1');
    assert.equal(st.masterPort, 1);
    assert.equal(st.connectRetry, 30);
    assert.equal(st.usingGtid, 'slave_pos');
    assert.equal(st.sqlRunning, 'Yes');
    assert.notEqual(first.after.replica.passwordDigest, '', 'master.info digest readable');
    assert.match(renderReplicaStatus(first.after.replica), /Slave_IO_Running: Connecting/);
    // the password is on stdin only, and not in the summary
    assert.ok(!first.changes[0].summary.includes("r3pl'pw"));
    assert.ok(first.changes[0].commands.every((c) => !c.cmd.includes("r3pl'pw")));

    // a second run against the same settings changes nothing (does not stop the replica)
    const again = await run(mysqlReplication, base);
    assert.deepEqual(again.changes, []);

    // password rotation is detected through the salted master.info digest
    const rotated = await run(mysqlReplication, { ...base, password: 'rotated' }, { expectFailure: true });
    assert.equal(rotated.changes[0].summary, 'reconfigure replica: password differs, restart replication');
    assert.deepEqual(rotated.replan, []);

    // stop, then start only
    const stopped = await converge(mysqlReplication, { ...base, password: 'rotated', state: 'stopped' });
    assert.equal(stopped.changes[0].action, 'stop');
    assert.equal(stopped.after.replica.replica.ioRunning, 'No');
    const started = await run(mysqlReplication, { ...base, password: 'rotated' }, { expectFailure: true });
    assert.equal(started.changes[0].action, 'start');
    assert.ok(!started.changes[0].commands[0].cmd.includes('CHANGE MASTER'));
    assert.deepEqual(started.replan, []);

    q('STOP SLAVE; RESET SLAVE ALL');
    const reset = await run(mysqlReplication, { ...base, state: 'stopped' });
    assert.equal(reset.facts.replica.replica, null);
    assert.equal(reset.changes[0].action, 'create');
    assert.deepEqual(reset.replan, []);
    q('RESET SLAVE ALL');
  });

  it('mysql_replication: a real primary on 127.0.0.1 — replicates, converges, reports access denied', async (t) => {
    if (skip(t)) return;
    await startPrimary();
    const P = `--socket=${BASE}/primary.sock`;
    const pq = (sql: string) => {
      const r = sh(`mysql --batch --skip-column-names ${P}`, sql);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    pq("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'g00d-pw'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'");
    const args = { primary_host: '127.0.0.1', primary_port: primaryPort, user: 'repl', password: 'g00d-pw', login_unix_socket: SOCK };

    const r = await converge(mysqlReplication, args, { exactPrediction: false });
    assert.equal(r.changes[0].action, 'create');
    assert.equal(r.after.replica.replica.ioRunning, 'Yes');
    assert.equal(r.after.replica.replica.sqlRunning, 'Yes');
    assert.match(renderReplicaStatus(r.after.replica), /Slave_IO_Running: Yes/);

    pq('CREATE DATABASE provtest_replicated; CREATE TABLE provtest_replicated.t (id INT PRIMARY KEY); INSERT INTO provtest_replicated.t VALUES (7)');
    let seen = '';
    for (let i = 0; i < 40 && seen !== '7'; i++) {
      await new Promise((res) => setTimeout(res, 250));
      seen = sh(`mysql --batch --skip-column-names --socket=${SOCK} -e 'SELECT id FROM provtest_replicated.t'`).stdout.trim();
    }
    assert.equal(seen, '7', 'the row reached the replica');
    const facts = gather<any>(mysqlReplication.facts(mysqlReplication.schema.parse(args), makeCtx()) as Record<string, FactRequest>);
    assert.match(facts.replica.gtidSlavePos, /^0-1-\d+$/);

    // a wrong password: reconfigured, and the start command reports the primary's refusal
    const bad = await run(mysqlReplication, { ...args, password: 'wr0ng' }, { expectFailure: true });
    assert.equal(bad.changes[0].summary, 'reconfigure replica: password differs, restart replication');
    assert.match(bad.failed?.stderr ?? '', /Access denied for user 'repl'/);
    assert.ok(!bad.failed?.stderr.includes('wr0ng'));

    // back to the right password: converges again
    const fixed = await converge(mysqlReplication, args, { exactPrediction: false });
    assert.equal(fixed.changes[0].summary, 'reconfigure replica: password differs, restart replication');
    assert.equal(fixed.after.replica.replica.ioRunning, 'Yes');
    q('STOP SLAVE; RESET SLAVE ALL');
  });
});
