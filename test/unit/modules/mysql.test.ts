import { predictedFacts } from './helpers.js';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Change, ModuleContext } from '../../../src/modules/contract.js';
import { TaskError, Unknown } from '../../../src/modules/contract.js';
import { mysqlDatabaseFact, mysqlReplicationFact, mysqlUserFact, parseSlaveStatus, replicationPasswordDigest, type MysqlDbFact, type MysqlReplicationFact, type MysqlUserFact, type ReplicaStatus } from '../../../src/modules/mysql/facts.js';
import { mysqlNativePasswordHash, quoteIdent, quoteString, SQL_PRELUDE } from '../../../src/modules/mysql/sql.js';
import { normalisePrivileges, parseAnsiblePriv, parseCreateUserAuth, parseShowGrants } from '../../../src/modules/mysql/grants.js';
import { desiredCharset, mysqlDb, mysqlDbSchema, type MysqlDbArgs } from '../../../src/modules/mysql/mysql_db.js';
import { mysqlUser, mysqlUserSchema, type MysqlUserArgs } from '../../../src/modules/mysql/mysql_user.js';
import {
  mysqlReplication,
  mysqlReplicationSchema,
  renderReplicaStatus,
  type MysqlReplicationArgs,
} from '../../../src/modules/mysql/mysql_replication.js';

type Ctx = ModuleContext & { notes: string[] };

function ctx(over: Partial<ModuleContext> = {}): Ctx {
  const notes: string[] = [];
  return {
    host: 'db1',
    check: false,
    become: true,
    user: 'root',
    root: '/nonexistent',
    mask: (s) => s,
    note: (s) => notes.push(s),
    render: (s) => s,
    notes,
    ...over,
  };
}

const sql = (...stmts: string[]) => [SQL_PRELUDE, ...stmts.map((s) => s + ';')].join('\n') + '\n';
const CLIENT = 'mysql --batch --skip-column-names';
const UNAVAILABLE = { server: 'unavailable' as const, error: "ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)" };
/** Check mode: unavailable now, but an earlier task starts the freshly installed server. */
const FRESH = { ...UNAVAILABLE, freshServer: true };

function isTaskError(re: RegExp) {
  return (e: unknown) => e instanceof TaskError && re.test(e.message);
}

/** No secret anywhere a human or a log can see it: summaries and command lines. */
function assertNoSecret(changes: Change[], secret: string) {
  for (const c of changes) {
    assert.ok(!c.summary.includes(secret), `summary leaks the secret: ${c.summary}`);
    for (const cmd of c.commands) assert.ok(!cmd.cmd.includes(secret), `command line leaks the secret: ${cmd.cmd}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Quoting and hashing
// ---------------------------------------------------------------------------------------------

describe('mysql helpers', () => {
  it('quotes identifiers and strings', () => {
    assert.equal(quoteIdent('app'), '`app`');
    assert.equal(quoteIdent('we`ird'), '`we``ird`');
    assert.equal(quoteString("it's"), "'it\\'s'");
    assert.equal(quoteString('a\\b'), "'a\\\\b'");
    assert.equal(quoteString('l1\nl2\0'), "'l1\\nl2\\0'");
  });

  it('computes mysql_native_password hashes like MariaDB', () => {
    // values read back from MariaDB 10.11 (CREATE USER ... IDENTIFIED BY 'x' / 'password')
    assert.equal(mysqlNativePasswordHash('x'), '*B69027D44F6E5EDC07F1AEAD1477967B16F28227');
    assert.equal(mysqlNativePasswordHash('password'), '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
    assert.equal(mysqlNativePasswordHash(''), '');
  });

  it('schemas have defaults and are strict', () => {
    assert.deepEqual(mysqlDbSchema.parse({ name: 'app' }), { name: 'app', state: 'present', encoding: 'utf8mb4' });
    assert.equal(mysqlUserSchema.parse({ name: 'app' }).host, 'localhost');
    assert.equal(mysqlUserSchema.parse({ name: 'app', host: 'DB1.example' }).host, 'db1.example');
    const r = mysqlReplicationSchema.parse({ primary_host: 'db0', user: 'repl', password: 'pw' });
    assert.equal(r.primary_port, 3306);
    assert.equal(r.use_gtid, 'slave_pos');
    assert.equal(r.state, 'running');
    assert.equal(mysqlDbSchema.safeParse({ name: 'app', colation: 'x' }).success, false);
    assert.equal(mysqlUserSchema.safeParse({ name: 'app', passwd: 'x' }).success, false);
  });
});

// ---------------------------------------------------------------------------------------------
// Fact parsers on captured MariaDB 10.11 output
// ---------------------------------------------------------------------------------------------

const USER_OUT = `#mysql:ok
#mysql:create
CREATE USER \`u1\`@\`localhost\` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'
#mysql:grants
GRANT PROCESS, REPLICATION SLAVE ON *.* TO \`u1\`@\`localhost\` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'
GRANT SELECT, INSERT ON \`a b\`.* TO \`u1\`@\`localhost\`
GRANT SELECT ON \`a\\\\_b\`.* TO \`u1\`@\`localhost\` WITH GRANT OPTION
GRANT SELECT (\`User\`) ON \`mysql\`.\`db\` TO \`u1\`@\`localhost\`
GRANT ALL PRIVILEGES ON \`mysql\`.\`user\` TO \`u1\`@\`localhost\``;

const ROOT_OUT = `#mysql:ok
#mysql:create
CREATE USER \`root\`@\`localhost\` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket
#mysql:grants
GRANT ALL PRIVILEGES ON *.* TO \`root\`@\`localhost\` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket WITH GRANT OPTION
GRANT PROXY ON \`\`@\`%\` TO \`root\`@\`localhost\` WITH GRANT OPTION`;

const STATUS_HEADER =
  'Slave_IO_State\tMaster_Host\tMaster_User\tMaster_Port\tConnect_Retry\tMaster_Log_File\tRead_Master_Log_Pos\tRelay_Log_File\tRelay_Log_Pos\tRelay_Master_Log_File\tSlave_IO_Running\tSlave_SQL_Running\tReplicate_Do_DB\tReplicate_Ignore_DB\tReplicate_Do_Table\tReplicate_Ignore_Table\tReplicate_Wild_Do_Table\tReplicate_Wild_Ignore_Table\tLast_Errno\tLast_Error\tSkip_Counter\tExec_Master_Log_Pos\tRelay_Log_Space\tUntil_Condition\tUntil_Log_File\tUntil_Log_Pos\tMaster_SSL_Allowed\tMaster_SSL_CA_File\tMaster_SSL_CA_Path\tMaster_SSL_Cert\tMaster_SSL_Cipher\tMaster_SSL_Key\tSeconds_Behind_Master\tMaster_SSL_Verify_Server_Cert\tLast_IO_Errno\tLast_IO_Error\tLast_SQL_Errno\tLast_SQL_Error\tReplicate_Ignore_Server_Ids\tMaster_Server_Id\tMaster_SSL_Crl\tMaster_SSL_Crlpath\tUsing_Gtid\tGtid_IO_Pos\tReplicate_Do_Domain_Ids\tReplicate_Ignore_Domain_Ids\tParallel_Mode\tSQL_Delay\tSQL_Remaining_Delay\tSlave_SQL_Running_State\tSlave_DDL_Groups\tSlave_Non_Transactional_Groups\tSlave_Transactional_Groups\tReplicate_Rewrite_DB';
const STATUS_ROW =
  "Connecting to master\t127.0.0.1\trepl\t2\t10\t\t4\tpid-relay-bin.000001\t4\t\tConnecting\tYes\t\t\t\t\t\t\t0\t\t0\t4\t256\tNone\t\t0\tNo\t\t\t\t\t\tNULL\tNo\t2003\terror connecting to master 'repl@127.0.0.1:2' - retry-time: 10  maximum-retries: 100000  message: Can't connect to server on '127.0.0.1' (111 \"Connection refused\")\t0\t\t\t0\t\t\tSlave_Pos\t\t\t\toptimistic\t0\tNULL\tSlave has read all relay log; waiting for more updates\t0\t0\t0\t";
const REPL_OUT = `#mysql:ok
#mysql:vars
0-1-42\t1
#mysql:status
${STATUS_HEADER}
${STATUS_ROW}
#mysql:pwdigest 7571ce1f8e21c6b13dd7ec2c5ec7c9e4dd9852e209869511853f2f1f74b17927`;

describe('mysql fact parsers', () => {
  it('parses a database row, and absence', () => {
    const p = { name: 'a b' };
    assert.deepEqual(mysqlDatabaseFact.parse('#mysql:ok\n#mysql:db\ndb\ta b\tutf8mb4\tutf8mb4_unicode_ci', p), {
      server: 'ok',
      exists: true,
      charset: 'utf8mb4',
      collation: 'utf8mb4_unicode_ci',
    });
    assert.deepEqual(mysqlDatabaseFact.parse('#mysql:ok\n#mysql:db', p), { server: 'ok', exists: false });
    assert.equal(mysqlDatabaseFact.key({ name: 'app' }), 'mysql_db:app');
    assert.equal(mysqlDatabaseFact.key({ name: 'app', socket: '/tmp/s' }), 'mysql_db:app?socket=/tmp/s');
  });

  it('classifies an unavailable server and a failing query', () => {
    const p = { name: 'app' };
    assert.deepEqual(mysqlDatabaseFact.parse('#mysql:unavailable mysql client is not installed', p), {
      server: 'unavailable',
      error: 'mysql client is not installed',
      exists: false,
    });
    const down = mysqlDatabaseFact.parse("#mysql:unavailable ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2) ", p);
    assert.equal(down.server, 'unavailable');
    const denied = mysqlDatabaseFact.parse("#mysql:unavailable ERROR 1698 (28000): Access denied for user 'deploy'@'localhost' ", p);
    assert.equal(denied.server, 'error');
    assert.match(denied.error ?? '', /Access denied/);
    assert.equal(mysqlDatabaseFact.parse("#mysql:ok\n#mysql:error ERROR 1142 (42000): SELECT command denied", p).server, 'error');
    assert.equal(mysqlDatabaseFact.parse('', p).server, 'error');
  });

  it('parses a user: auth chain, grants (escaped batch output), PROXY ignored', () => {
    const u = mysqlUserFact.parse(USER_OUT, { name: 'u1', host: 'localhost' });
    assert.equal(u.exists, true);
    assert.deepEqual(u.auth, [{ plugin: 'mysql_native_password', authString: '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' }]);
    assert.deepEqual(u.grants, {
      '*.*': ['PROCESS', 'REPLICATION SLAVE'],
      '`a b`.*': ['INSERT', 'SELECT'],
      '`a\\_b`.*': ['GRANT OPTION', 'SELECT'],
      '`mysql`.`db`': ['SELECT (`User`)'],
      '`mysql`.`user`': ['ALL PRIVILEGES'],
    });
    const root = mysqlUserFact.parse(ROOT_OUT, { name: 'root', host: 'localhost' });
    assert.deepEqual(root.auth, [
      { plugin: 'mysql_native_password', authString: 'invalid' },
      { plugin: 'unix_socket', authString: '' },
    ]);
    assert.deepEqual(root.grants, { '*.*': ['ALL PRIVILEGES', 'GRANT OPTION'] });
    assert.deepEqual(mysqlUserFact.parse('#mysql:ok\n#mysql:absent', { name: 'x', host: 'localhost' }), {
      server: 'ok',
      exists: false,
      auth: [],
      grants: {},
      roles: [],
    });
  });

  it('parses SHOW CREATE USER variants', () => {
    assert.deepEqual(parseCreateUserAuth('CREATE USER `u2`@`%`'), []);
    assert.deepEqual(parseCreateUserAuth("CREATE USER `u5`@`%` IDENTIFIED VIA unix_socket OR mysql_native_password USING '*B69027D44F6E5EDC07F1AEAD1477967B16F28227'"), [
      { plugin: 'unix_socket', authString: '' },
      { plugin: 'mysql_native_password', authString: '*B69027D44F6E5EDC07F1AEAD1477967B16F28227' },
    ]);
    assert.deepEqual(
      parseCreateUserAuth("CREATE USER `u6`@`%` IDENTIFIED BY PASSWORD '*B69027D44F6E5EDC07F1AEAD1477967B16F28227' WITH MAX_QUERIES_PER_HOUR 10 ACCOUNT LOCK PASSWORD EXPIRE"),
      [{ plugin: 'mysql_native_password', authString: '*B69027D44F6E5EDC07F1AEAD1477967B16F28227' }],
    );
  });

  it('parses column privileges, full privilege sets and roles from SHOW GRANTS', () => {
    const g = parseShowGrants([
      'GRANT USAGE ON *.* TO `u4`@`%` WITH MAX_QUERIES_PER_HOUR 10',
      'GRANT INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER, DELETE HISTORY ON `db5`.* TO `u4`@`%`',
      'GRANT SELECT (`a`, `b`), INSERT, INSERT (`a`), UPDATE ON `test`.`t` TO `u4`@`%`',
      'GRANT EXECUTE ON PROCEDURE `app`.`p` TO `u4`@`%`',
      'GRANT `dba` TO `u4`@`%`',
    ]);
    assert.deepEqual(g.grants, {
      '`db5`.*': normalisePrivileges('`db5`.*', ['INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER', 'CREATE TEMPORARY TABLES', 'LOCK TABLES', 'EXECUTE', 'CREATE VIEW', 'SHOW VIEW', 'CREATE ROUTINE', 'ALTER ROUTINE', 'EVENT', 'TRIGGER', 'DELETE HISTORY']),
      '`test`.`t`': ['INSERT', 'INSERT (`a`)', 'SELECT (`a`)', 'SELECT (`b`)', 'UPDATE'],
      'PROCEDURE `app`.`p`': ['EXECUTE'],
    });
    assert.ok(!g.grants['`db5`.*'].includes('ALL PRIVILEGES'), 'SELECT is missing, so not collapsed');
    assert.deepEqual(g.roles, ['dba']);
  });

  it('normalises Ansible priv strings: ALL, aliases, case, order, GRANT, columns', () => {
    assert.deepEqual(parseAnsiblePriv('app.*:select,insert'), parseAnsiblePriv('app.*:INSERT, SELECT'));
    assert.deepEqual(parseAnsiblePriv('app.*:ALL/*.*:REPLICATION CLIENT,process'), {
      '*.*': ['BINLOG MONITOR', 'PROCESS'],
      '`app`.*': ['ALL PRIVILEGES'],
    });
    assert.deepEqual(parseAnsiblePriv('`my.db`.`t`:SELECT(a, b),UPDATE/app.*:USAGE,GRANT'), {
      '`app`.*': ['GRANT OPTION'],
      '`my.db`.`t`': ['SELECT (`a`)', 'SELECT (`b`)', 'UPDATE'],
    });
    assert.deepEqual(parseAnsiblePriv({ 'app.*': ['SELECT'], '*.*': 'USAGE' }), { '`app`.*': ['SELECT'] });
    // every db-level privilege spelled out = ALL PRIVILEGES, as SHOW GRANTS prints it
    const all = 'SELECT,INSERT,UPDATE,DELETE,CREATE,DROP,REFERENCES,INDEX,ALTER,CREATE TEMPORARY TABLES,LOCK TABLES,EXECUTE,CREATE VIEW,SHOW VIEW,CREATE ROUTINE,ALTER ROUTINE,EVENT,TRIGGER,DELETE HISTORY';
    assert.deepEqual(parseAnsiblePriv(`app.*:${all}`), { '`app`.*': ['ALL PRIVILEGES'] });
    assert.throws(() => parseAnsiblePriv('app:SELECT'), isTaskError(/invalid privilege object/));
    assert.throws(() => parseAnsiblePriv('app.*'), isTaskError(/invalid priv entry/));
  });

  it('parses SHOW SLAVE STATUS (batch with header), empty when not a replica', () => {
    assert.equal(parseSlaveStatus([]), null);
    const f = mysqlReplicationFact.parse(REPL_OUT, { salt: 'abc' });
    assert.equal(f.server, 'ok');
    assert.equal(f.gtidSlavePos, '0-1-42');
    assert.equal(f.readOnly, true);
    assert.equal(f.passwordDigest, replicationPasswordDigest('abc', 'x'));
    assert.deepEqual(
      { ...f.replica, lastIoError: undefined },
      {
        masterHost: '127.0.0.1',
        masterPort: 2,
        masterUser: 'repl',
        connectRetry: 10,
        usingGtid: 'slave_pos',
        ioRunning: 'Connecting',
        sqlRunning: 'Yes',
        ioState: 'Connecting to master',
        secondsBehindMaster: 'NULL',
        gtidIoPos: '',
        lastIoErrno: 2003,
        lastIoError: undefined,
        lastSqlErrno: 0,
        lastSqlError: '',
      },
    );
    assert.match(f.replica?.lastIoError ?? '', /Connection refused/);
    const none = mysqlReplicationFact.parse('#mysql:ok\n#mysql:vars\n\t0\n#mysql:status', { salt: 'abc' });
    assert.equal(none.replica, null);
    assert.equal(none.passwordDigest, '');
  });

  it('fact scripts are read-only, quote names, never exit', () => {
    const s = mysqlUserFact.script({ name: "o'brien", host: '%', socket: '/tmp/my sock' });
    assert.match(s, /SHOW GRANTS FOR/);
    assert.ok(!/\bexit\b/.test(s));
    assert.ok(s.includes(`'--socket=/tmp/my sock'`));
    assert.ok(!/\b(INSERT|UPDATE|DELETE|DROP|CREATE USER|GRANT ALL|ALTER)\b/.test(s.replace(/SHOW CREATE USER/g, '')));
    const r = mysqlReplicationFact.script({ salt: 'abc' });
    assert.match(r, /master\.info/);
    assert.match(r, /sha256sum/);
  });
});

// ---------------------------------------------------------------------------------------------
// mysql_db
// ---------------------------------------------------------------------------------------------

const dbArgs = (a: Partial<MysqlDbArgs> = {}): MysqlDbArgs => ({ ...mysqlDbSchema.parse({ name: 'app' }), ...a });
const dbFacts = (db: Partial<MysqlDbFact> = {}) => ({ db: { server: 'ok' as const, exists: false, ...db } });
const PRESENT = { exists: true, charset: 'utf8mb4', collation: 'utf8mb4_general_ci' };

describe('mysql_db plan', () => {
  it('absent -> create with the default collation', () => {
    assert.deepEqual(mysqlDb.plan(dbArgs(), dbFacts(), ctx()), [
      {
        action: 'create',
        target: 'app',
        summary: 'create database app (utf8mb4, utf8mb4_general_ci)',
        commands: [{ cmd: CLIENT, stdin: sql('CREATE DATABASE `app` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci') }],
      },
    ]);
  });

  it('absent -> create + import in the same change, file read by prepare()', async () => {
    const root = mkdtempSync(join(tmpdir(), 'provtest-mysqldb-'));
    mkdirSync(join(root, 'files', 'app'), { recursive: true });
    writeFileSync(join(root, 'files', 'app', 'schema.sql'), 'CREATE TABLE t (id int);\n');
    const c = ctx({ root });
    const args = dbArgs({ import: 'app/schema.sql', login_unix_socket: '/tmp/s' });
    const imported = await mysqlDb.prepare!(args, c);
    const changes = mysqlDb.plan(args, dbFacts(), c, imported);
    assert.equal(changes.length, 1);
    assert.equal(changes[0].summary, 'create database app (utf8mb4, utf8mb4_general_ci) and import files/app/schema.sql');
    assert.equal(changes[0].commands.length, 2);
    assert.equal(changes[0].commands[0].cmd, `${CLIENT} --socket=/tmp/s`);
    assert.match(changes[0].commands[1].cmd, /^\( mysql --batch --skip-column-names --socket=\/tmp\/s --database=app \|\| /);
    assert.match(changes[0].commands[1].cmd, /DROP DATABASE `app`/);
    assert.equal(changes[0].commands[1].stdin?.toString(), 'CREATE TABLE t (id int);\n');
    // never imported again once the database exists
    assert.deepEqual(mysqlDb.plan(args, dbFacts(PRESENT), c, imported), []);
    await assert.rejects(async () => mysqlDb.prepare!(dbArgs({ import: '../secret.sql' }), c), isTaskError(/inside files/));
    await assert.rejects(async () => mysqlDb.prepare!(dbArgs({ import: 'missing.sql' }), c), isTaskError(/cannot read/));
    rmSync(root, { recursive: true, force: true });
  });

  it('present -> no change; wrong collation -> ALTER DATABASE', () => {
    assert.deepEqual(mysqlDb.plan(dbArgs(), dbFacts(PRESENT), ctx()), []);
    const c = ctx();
    assert.deepEqual(mysqlDb.plan(dbArgs(), dbFacts({ exists: true, charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' }), c), [
      {
        action: 'update',
        target: 'app',
        summary: 'database app: utf8mb4/utf8mb4_unicode_ci -> utf8mb4/utf8mb4_general_ci',
        commands: [{ cmd: CLIENT, stdin: sql('ALTER DATABASE `app` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci') }],
      },
    ]);
    assert.match(c.notes[0], /existing tables/);
    const latin = mysqlDb.plan(dbArgs({ encoding: 'latin1' }), dbFacts(PRESENT), ctx());
    assert.equal(latin[0].summary, 'database app: utf8mb4/utf8mb4_general_ci -> latin1/latin1_swedish_ci');
  });

  it('state absent: nothing when absent, DROP when present', () => {
    assert.deepEqual(mysqlDb.plan(dbArgs({ state: 'absent' }), dbFacts(), ctx()), []);
    assert.deepEqual(mysqlDb.plan(dbArgs({ state: 'absent' }), dbFacts(PRESENT), ctx()), [
      { action: 'remove', target: 'app', summary: 'drop database app', commands: [{ cmd: CLIENT, stdin: sql('DROP DATABASE `app`') }] },
    ]);
  });

  it('validates encoding and collation', () => {
    assert.deepEqual(desiredCharset({ encoding: 'utf8', collation: 'utf8_bin' }), { charset: 'utf8mb3', collation: 'utf8mb3_bin' });
    assert.throws(() => desiredCharset({ encoding: 'latin1', collation: 'utf8mb4_bin' }), isTaskError(/does not belong/));
    assert.throws(() => desiredCharset({ encoding: 'klingon' }), isTaskError(/unknown encoding/));
  });

  it('server unavailable: fresh predictions in check mode after a predicted install, TaskError otherwise', () => {
    const c = ctx({ check: true });
    const changes = mysqlDb.plan(dbArgs(), { db: { ...FRESH, exists: false } }, c);
    assert.equal(changes[0].action, 'create');
    assert.match(c.notes[0], /fresh, empty server/);
    assert.deepEqual(mysqlDb.plan(dbArgs({ state: 'absent' }), { db: { ...FRESH, exists: false } }, c), []);
    assert.throws(() => mysqlDb.plan(dbArgs({ name: 'mysql' }), { db: { ...FRESH, exists: false } }, c), (e) => e instanceof Unknown);
    assert.throws(() => mysqlDb.plan(dbArgs(), { db: { ...UNAVAILABLE, exists: false } }, ctx({ check: true })), isTaskError(/MariaDB is not running on this host \(mysql: ERROR 2002/));
    assert.throws(() => mysqlDb.plan(dbArgs(), { db: { server: 'error', error: 'Access denied', exists: false } }, c), isTaskError(/Access denied/));
  });

  it('predict() fed back into plan() gives no change', () => {
    const cases: [MysqlDbArgs, { db: MysqlDbFact }][] = [
      [dbArgs(), dbFacts()],
      [dbArgs({ collation: 'utf8mb4_unicode_ci' }), dbFacts(PRESENT)],
      [dbArgs({ encoding: 'latin1' }), dbFacts()],
      [dbArgs({ state: 'absent' }), dbFacts(PRESENT)],
      [dbArgs(), { db: { ...FRESH, exists: false } }],
    ];
    for (const [args, facts] of cases) {
      const c = ctx({ check: true });
      const changes = mysqlDb.plan(args, facts, c);
      assert.ok(changes.length > 0);
      const predicted = predictedFacts(mysqlDb, args, facts, c, changes);
      assert.deepEqual(mysqlDb.plan(args, predicted, ctx()), [], JSON.stringify(args));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// mysql_user
// ---------------------------------------------------------------------------------------------

const SECRET = 's3cr3t-P@ss';
const HASH = mysqlNativePasswordHash(SECRET);
const userArgs = (a: Partial<MysqlUserArgs> = {}): MysqlUserArgs => ({ ...mysqlUserSchema.parse({ name: 'app' }), ...a });
const userFacts = (u: Partial<MysqlUserFact> = {}) => ({ user: { server: 'ok' as const, exists: false, auth: [], grants: {}, roles: [], ...u } });
const EXISTING = { exists: true, auth: [{ plugin: 'mysql_native_password', authString: HASH }], grants: { '`app`.*': ['INSERT', 'SELECT'] } };
const ACCT = "'app'@'localhost'";

describe('mysql_user plan', () => {
  it('absent -> CREATE USER with the hash, then grants; no plaintext anywhere', () => {
    const changes = mysqlUser.plan(userArgs({ password: SECRET, priv: 'app.*:SELECT,INSERT/*.*:PROCESS' }), userFacts(), ctx());
    assert.deepEqual(changes, [
      {
        action: 'create',
        target: 'app@localhost',
        summary: 'create user app@localhost with password; grant PROCESS ON *.*; grant INSERT, SELECT ON `app`.*',
        commands: [
          {
            cmd: CLIENT,
            stdin: sql(`CREATE USER ${ACCT} IDENTIFIED BY PASSWORD '${HASH}'`, `GRANT PROCESS ON *.* TO ${ACCT}`, `GRANT INSERT, SELECT ON \`app\`.* TO ${ACCT}`),
          },
        ],
      },
    ]);
    assertNoSecret(changes, SECRET);
    assert.ok(!String(changes[0].commands[0].stdin).includes(SECRET), 'stdin carries the hash, not the password');
  });

  it('user correct -> no change (privileges compared case- and order-insensitively)', () => {
    assert.deepEqual(mysqlUser.plan(userArgs({ password: SECRET, priv: 'app.*:insert,Select' }), userFacts(EXISTING), ctx()), []);
    // no priv: grants are left alone; no password: authentication left alone
    assert.deepEqual(mysqlUser.plan(userArgs(), userFacts({ ...EXISTING, grants: { '*.*': ['SUPER'] } }), ctx()), []);
  });

  it('password differs -> ALTER USER with the hash; the summary says only "password differs"', () => {
    const changes = mysqlUser.plan(userArgs({ password: 'new-' + SECRET, priv: 'app.*:SELECT,INSERT' }), userFacts(EXISTING), ctx());
    const newHash = mysqlNativePasswordHash('new-' + SECRET);
    assert.deepEqual(changes, [
      { action: 'update', target: 'app@localhost', summary: 'password differs', commands: [{ cmd: CLIENT, stdin: sql(`ALTER USER ${ACCT} IDENTIFIED BY PASSWORD '${newHash}'`) }] },
    ]);
    assertNoSecret(changes, 'new-' + SECRET);
    assert.ok(!changes[0].summary.includes(newHash) && !changes[0].summary.includes(HASH));
  });

  it('keeps unix_socket when setting a password on a socket-authenticated account', () => {
    const root = mysqlUserFact.parse(ROOT_OUT, { name: 'root', host: 'localhost' });
    const changes = mysqlUser.plan(userArgs({ name: 'root', password: SECRET }), { user: root }, ctx());
    assert.equal(changes.length, 1);
    assert.equal(changes[0].summary, 'password differs');
    assert.equal(changes[0].commands[0].stdin, sql(`ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING '${HASH}' OR unix_socket`));
    const after = { ...root, auth: [{ plugin: 'mysql_native_password', authString: HASH }, { plugin: 'unix_socket', authString: '' }] };
    assert.deepEqual(mysqlUser.plan(userArgs({ name: 'root', password: SECRET }), { user: after }, ctx()), []);
  });

  it('grants differ -> grant missing, revoke extra (the module owns all grants)', () => {
    const facts = userFacts({
      ...EXISTING,
      grants: { '*.*': ['PROCESS'], '`app`.*': ['DELETE', 'SELECT'], '`old`.*': ['ALL PRIVILEGES', 'GRANT OPTION'] },
    });
    const changes = mysqlUser.plan(userArgs({ priv: 'app.*:SELECT,INSERT/reports.*:ALL,GRANT' }), facts, ctx());
    assert.deepEqual(
      changes.map((c) => [c.action, c.summary, c.commands[0].stdin]),
      [
        ['revoke', 'revoke PROCESS ON *.*', sql(`REVOKE PROCESS ON *.* FROM ${ACCT}`)],
        ['update', 'grant INSERT, revoke DELETE ON `app`.*', sql(`REVOKE DELETE ON \`app\`.* FROM ${ACCT}`, `GRANT INSERT ON \`app\`.* TO ${ACCT}`)],
        ['revoke', 'revoke ALL PRIVILEGES, GRANT OPTION ON `old`.*', sql(`REVOKE ALL PRIVILEGES ON \`old\`.* FROM ${ACCT}`, `REVOKE GRANT OPTION ON \`old\`.* FROM ${ACCT}`)],
        ['grant', 'grant ALL PRIVILEGES, GRANT OPTION ON `reports`.*', sql(`GRANT ALL PRIVILEGES ON \`reports\`.* TO ${ACCT} WITH GRANT OPTION`)],
      ],
    );
  });

  it('ALL PRIVILEGES -> fewer privileges: revoke all, grant the wanted ones', () => {
    const changes = mysqlUser.plan(userArgs({ priv: 'app.*:SELECT' }), userFacts({ ...EXISTING, grants: { '`app`.*': ['ALL PRIVILEGES'] } }), ctx());
    assert.deepEqual(changes[0].commands[0].stdin, sql(`REVOKE ALL PRIVILEGES ON \`app\`.* FROM ${ACCT}`, `GRANT SELECT ON \`app\`.* TO ${ACCT}`));
    const cols = mysqlUser.plan(userArgs({ priv: 'app.t:SELECT(a,b)' }), userFacts({ ...EXISTING, grants: {} }), ctx());
    assert.equal(cols[0].commands[0].stdin, sql(`GRANT SELECT (\`a\`, \`b\`) ON \`app\`.\`t\` TO ${ACCT}`));
  });

  it('state absent -> DROP USER when present, nothing when absent', () => {
    assert.deepEqual(mysqlUser.plan(userArgs({ state: 'absent' }), userFacts(), ctx()), []);
    assert.deepEqual(mysqlUser.plan(userArgs({ state: 'absent' }), userFacts(EXISTING), ctx()), [
      { action: 'remove', target: 'app@localhost', summary: 'drop user app@localhost', commands: [{ cmd: CLIENT, stdin: sql(`DROP USER ${ACCT}`) }] },
    ]);
  });

  it('server unavailable: create as on a fresh server after a predicted install, TaskError otherwise', () => {
    const unavailable = { user: { ...UNAVAILABLE, exists: false, auth: [], grants: {}, roles: [] } };
    const fresh = { user: { ...unavailable.user, freshServer: true } };
    const c = ctx({ check: true });
    const changes = mysqlUser.plan(userArgs({ password: SECRET, priv: 'app.*:ALL' }), fresh, c);
    assert.equal(changes.length, 1);
    assert.equal(changes[0].action, 'create');
    // root@localhost exists on a fresh Debian install (unix_socket)
    const root = mysqlUser.plan(userArgs({ name: 'root', priv: '*.*:ALL,GRANT' }), fresh, c);
    assert.deepEqual(root, []);
    assert.throws(() => mysqlUser.plan(userArgs(), unavailable, ctx()), isTaskError(/MariaDB is not running on this host/));
  });

  it('predict() fed back into plan() gives no change', () => {
    const cases: [MysqlUserArgs, { user: MysqlUserFact }][] = [
      [userArgs({ password: SECRET, priv: 'app.*:SELECT,INSERT/*.*:REPLICATION CLIENT' }), userFacts()],
      [userArgs({ password: 'other', priv: 'app.*:ALL,GRANT/x.t:SELECT(a)' }), userFacts(EXISTING)],
      [userArgs({ name: 'root', password: SECRET }), { user: mysqlUserFact.parse(ROOT_OUT, { name: 'root', host: 'localhost' }) }],
      [userArgs({ state: 'absent' }), userFacts(EXISTING)],
      [userArgs({ priv: '' }), userFacts(EXISTING)],
      [userArgs({ password: SECRET }), { user: { ...FRESH, exists: false, auth: [], grants: {}, roles: [] } }],
    ];
    for (const [args, facts] of cases) {
      const c = ctx({ check: true });
      const changes = mysqlUser.plan(args, facts, c);
      assert.ok(changes.length > 0, JSON.stringify(args));
      const predicted = predictedFacts(mysqlUser, args, facts, c, changes);
      assert.deepEqual(mysqlUser.plan(args, predicted, ctx()), [], JSON.stringify(args));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// mysql_replication
// ---------------------------------------------------------------------------------------------

const REPL_PW = 'r3pl-secret';
const SALT = 'fixture-salt';
const replArgs = (a: Partial<MysqlReplicationArgs> = {}): MysqlReplicationArgs => ({
  ...mysqlReplicationSchema.parse({ primary_host: 'db0.internal', user: 'repl', password: REPL_PW }),
  ...a,
});
const status = (s: Partial<ReplicaStatus> = {}): ReplicaStatus => ({
  masterHost: 'db0.internal',
  masterPort: 3306,
  masterUser: 'repl',
  connectRetry: 60,
  usingGtid: 'slave_pos',
  ioRunning: 'Yes',
  sqlRunning: 'Yes',
  ioState: 'Waiting for master to send event',
  secondsBehindMaster: '0',
  gtidIoPos: '0-1-42',
  lastIoErrno: 0,
  lastIoError: '',
  lastSqlErrno: 0,
  lastSqlError: '',
  ...s,
});
const replFacts = (replica: ReplicaStatus | null, f: Partial<MysqlReplicationFact> = {}) => ({
  replica: {
    server: 'ok' as const,
    replica,
    gtidSlavePos: '0-1-42',
    readOnly: true,
    passwordDigest: replica ? replicationPasswordDigest(SALT, REPL_PW) : '',
    salt: SALT,
    ...f,
  },
});
const CHANGE_MASTER = sql('STOP SLAVE', `CHANGE MASTER TO MASTER_HOST='db0.internal', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='${REPL_PW}', MASTER_USE_GTID=slave_pos`);

describe('mysql_replication plan', () => {
  it('not configured -> STOP SLAVE; CHANGE MASTER (password on stdin only); START SLAVE + wait', () => {
    const changes = mysqlReplication.plan(replArgs(), replFacts(null), ctx());
    assert.equal(changes.length, 1);
    assert.equal(changes[0].action, 'create');
    assert.equal(changes[0].summary, 'configure replica of repl@db0.internal:3306 (gtid slave_pos) and start it');
    assert.equal(changes[0].commands.length, 2);
    assert.deepEqual(changes[0].commands[0], { cmd: CLIENT, stdin: CHANGE_MASTER });
    assert.match(changes[0].commands[1].cmd, /START SLAVE/);
    assert.match(changes[0].commands[1].cmd, /Last_IO_Error/);
    assert.equal(changes[0].commands[1].stdin, undefined);
    assertNoSecret(changes, REPL_PW);
  });

  it('configured and running -> no change; IO thread still connecting counts as running (with a note)', () => {
    assert.deepEqual(mysqlReplication.plan(replArgs(), replFacts(status()), ctx()), []);
    const c = ctx();
    assert.deepEqual(mysqlReplication.plan(replArgs(), replFacts(status({ ioRunning: 'Connecting', lastIoError: "Access denied for user 'repl'" })), c), []);
    assert.match(c.notes[0], /IO thread is Connecting.*Access denied/);
    // digest unknown (master.info unreadable): not a difference
    assert.deepEqual(mysqlReplication.plan(replArgs(), replFacts(status(), { passwordDigest: '' }), ctx()), []);
  });

  it('configured but stopped -> START SLAVE only', () => {
    const changes = mysqlReplication.plan(replArgs(), replFacts(status({ ioRunning: 'No', sqlRunning: 'No' })), ctx());
    assert.equal(changes.length, 1);
    assert.equal(changes[0].action, 'start');
    assert.equal(changes[0].summary, 'start replication (Slave_IO_Running: No, Slave_SQL_Running: No)');
    assert.equal(changes[0].commands.length, 1);
    assert.ok(!changes[0].commands[0].cmd.includes('CHANGE MASTER') && !changes[0].commands[0].cmd.includes('STOP SLAVE'));
    const sqlStopped = mysqlReplication.plan(replArgs(), replFacts(status({ sqlRunning: 'No', lastSqlError: 'Duplicate entry' })), ctx());
    assert.match(sqlStopped[0].summary, /Last_SQL_Error: Duplicate entry/);
  });

  it('different primary / port / gtid / password -> reconfigure', () => {
    const changes = mysqlReplication.plan(replArgs(), replFacts(status({ masterHost: 'db9.internal', masterPort: 3307 })), ctx());
    assert.equal(changes[0].action, 'update');
    assert.equal(changes[0].summary, 'reconfigure replica: primary_host db9.internal -> db0.internal, primary_port 3307 -> 3306, restart replication');
    assert.deepEqual(changes[0].commands[0], { cmd: CLIENT, stdin: CHANGE_MASTER });
    const gtid = mysqlReplication.plan(replArgs({ use_gtid: 'current_pos', connect_retry: 10 }), replFacts(status()), ctx());
    assert.match(gtid[0].summary, /use_gtid slave_pos -> current_pos, connect_retry 60 -> 10/);
    assert.match(String(gtid[0].commands[0].stdin), /MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=10;/);
    const pw = mysqlReplication.plan(replArgs({ password: 'rotated' }), replFacts(status()), ctx());
    assert.equal(pw[0].summary, 'reconfigure replica: password differs, restart replication');
    assertNoSecret(pw, 'rotated');
  });

  it('state stopped: stops a running replica; configures without starting', () => {
    const stop = mysqlReplication.plan(replArgs({ state: 'stopped' }), replFacts(status({ ioRunning: 'Connecting' })), ctx());
    assert.deepEqual(stop, [{ action: 'stop', target: 'replica of db0.internal:3306', summary: 'stop replication', commands: [{ cmd: CLIENT, stdin: sql('STOP SLAVE') }] }]);
    assert.deepEqual(mysqlReplication.plan(replArgs({ state: 'stopped' }), replFacts(status({ ioRunning: 'No', sqlRunning: 'No' })), ctx()), []);
    const conf = mysqlReplication.plan(replArgs({ state: 'stopped' }), replFacts(null), ctx());
    assert.equal(conf[0].commands.length, 1);
  });

  it('server unavailable: configure+start predicted after a predicted install, TaskError otherwise', () => {
    const unavailable = { replica: { ...UNAVAILABLE, replica: null, gtidSlavePos: '', readOnly: false, passwordDigest: '', salt: SALT } };
    const changes = mysqlReplication.plan(replArgs(), { replica: { ...unavailable.replica, freshServer: true } }, ctx({ check: true }));
    assert.equal(changes[0].action, 'create');
    assert.equal(changes[0].commands.length, 2);
    assert.throws(() => mysqlReplication.plan(replArgs(), unavailable, ctx()), isTaskError(/MariaDB is not running on this host \(mysql: ERROR 2002/));
  });

  it('predict() fed back into plan() gives no change', () => {
    const cases: [MysqlReplicationArgs, ReturnType<typeof replFacts>][] = [
      [replArgs(), replFacts(null)],
      [replArgs({ primary_port: 3307, connect_retry: 5 }), replFacts(status())],
      [replArgs(), replFacts(status({ ioRunning: 'No', sqlRunning: 'No' }))],
      [replArgs({ password: 'rotated' }), replFacts(status())],
      [replArgs({ state: 'stopped' }), replFacts(status())],
      [replArgs(), { replica: { ...FRESH, replica: null, gtidSlavePos: '', readOnly: false, passwordDigest: '', salt: SALT } }],
    ];
    for (const [args, facts] of cases) {
      const c = ctx({ check: true });
      const changes = mysqlReplication.plan(args, facts, c);
      assert.ok(changes.length > 0, JSON.stringify(args));
      const predicted = predictedFacts(mysqlReplication, args, facts, c, changes);
      assert.deepEqual(mysqlReplication.plan(args, predicted, ctx()), [], JSON.stringify(args));
    }
  });

  it('renders a replica status summary for -v output', () => {
    const out = renderReplicaStatus(mysqlReplicationFact.parse(REPL_OUT, { salt: 'abc' }));
    assert.match(out, /Slave_IO_Running: Connecting/);
    assert.match(out, /Slave_SQL_Running: Yes/);
    assert.match(out, /Seconds_Behind_Master: NULL/);
    assert.match(out, /Gtid_IO_Pos: -/);
    assert.match(out, /Last_IO_Error \(2003\): error connecting to master/);
    assert.match(renderReplicaStatus(replFacts(null).replica), /not a replica/);
  });
});

describe('mysql_replication state: absent (promotion after a failover)', () => {
  const absent = () => mysqlReplicationSchema.parse({ state: 'absent' });
  it('a configured replica forgets its primary: STOP SLAVE; RESET SLAVE ALL', () => {
    const changes = mysqlReplication.plan(absent(), replFacts(status()), ctx());
    assert.deepEqual(
      changes.map((c) => [c.action, c.target]),
      [['remove', 'replica of db0.internal:3306']],
    );
    assert.equal(changes[0].commands[0].stdin, sql('STOP SLAVE', 'RESET SLAVE ALL'));
    assert.match(changes[0].summary, /RESET SLAVE ALL/);
  });
  it('not a replica: nothing to do; the prediction converges', () => {
    assert.deepEqual(mysqlReplication.plan(absent(), replFacts(null), ctx()), []);
    const facts = replFacts(status());
    const changes = mysqlReplication.plan(absent(), facts, ctx());
    const after = predictedFacts(mysqlReplication, absent(), facts, ctx(), changes);
    assert.deepEqual(mysqlReplication.plan(absent(), after, ctx()), []);
  });
  it('a replica still needs its primary, user and password', () => {
    assert.throws(() => mysqlReplicationSchema.parse({ state: 'running' }), /needs 'primary_host', 'user' and 'password'/);
  });
});
