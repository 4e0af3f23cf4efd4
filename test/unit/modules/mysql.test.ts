import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ModuleContext } from '../../../src/modules/contract.js';
import { TaskError } from '../../../src/modules/contract.js';
import { mysqlDatabaseFact, mysqlReplicationFact, mysqlUserFact, parseSlaveStatus, replicationPasswordDigest } from '../../../src/modules/mysql/facts.js';
import { mysqlNativePasswordHash, quoteIdent, quoteString } from '../../../src/modules/mysql/sql.js';
import { normalisePrivileges, parseAnsiblePriv, parseCreateUserAuth, parseShowGrants } from '../../../src/modules/mysql/grants.js';
import { desiredCharset, mysqlDb, mysqlDbSchema, type MysqlDbArgs } from '../../../src/modules/mysql/mysql_db.js';
import { mysqlUserSchema } from '../../../src/modules/mysql/mysql_user.js';
import { mysqlReplicationSchema, renderReplicaStatus } from '../../../src/modules/mysql/mysql_replication.js';

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

function isTaskError(re: RegExp) {
  return (e: unknown) => e instanceof TaskError && re.test(e.message);
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

describe('mysql_db prepare and encodings', () => {
  it('prepare() reads the import file under files/ (byte for byte), and nothing outside it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'provtest-mysqldb-'));
    mkdirSync(join(root, 'files', 'app'), { recursive: true });
    writeFileSync(join(root, 'files', 'app', 'schema.sql'), 'CREATE TABLE t (id int);\n');
    const c = ctx({ root });
    const imported = await mysqlDb.prepare!(dbArgs({ import: 'app/schema.sql', login_unix_socket: '/tmp/s' }), c);
    assert.equal(imported?.toString(), 'CREATE TABLE t (id int);\n');
    assert.equal(await mysqlDb.prepare!(dbArgs(), c), undefined);
    await assert.rejects(async () => mysqlDb.prepare!(dbArgs({ import: '../secret.sql' }), c), isTaskError(/inside files/));
    await assert.rejects(async () => mysqlDb.prepare!(dbArgs({ import: 'missing.sql' }), c), isTaskError(/cannot read/));
    rmSync(root, { recursive: true, force: true });
  });

  it('validates encoding and collation', () => {
    assert.deepEqual(desiredCharset({ encoding: 'utf8', collation: 'utf8_bin' }), { charset: 'utf8mb3', collation: 'utf8mb3_bin' });
    assert.throws(() => desiredCharset({ encoding: 'latin1', collation: 'utf8mb4_bin' }), isTaskError(/does not belong/));
    assert.throws(() => desiredCharset({ encoding: 'klingon' }), isTaskError(/unknown encoding/));
  });
});

// ---------------------------------------------------------------------------------------------
// mysql_replication (its plans, and those of mysql_db and mysql_user: fixtures/)
// ---------------------------------------------------------------------------------------------

describe('mysql_replication status', () => {
  it('renders a replica status summary for -v output', () => {
    const out = renderReplicaStatus(mysqlReplicationFact.parse(REPL_OUT, { salt: 'abc' }));
    assert.match(out, /Slave_IO_Running: Connecting/);
    assert.match(out, /Slave_SQL_Running: Yes/);
    assert.match(out, /Seconds_Behind_Master: NULL/);
    assert.match(out, /Gtid_IO_Pos: -/);
    assert.match(out, /Last_IO_Error \(2003\): error connecting to master/);
    assert.match(renderReplicaStatus({ server: 'ok', replica: null, gtidSlavePos: '0-1-42', readOnly: true, passwordDigest: '', salt: 'abc' }), /not a replica/);
  });
});

describe('mysql_replication args', () => {
  it('a replica still needs its primary, user and password', () => {
    assert.throws(() => mysqlReplicationSchema.parse({ state: 'running' }), /needs 'primary_host', 'user' and 'password'/);
  });
});
