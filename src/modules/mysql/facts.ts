/**
 * MariaDB / MySQL facts and SQL helpers shared by the mysql_db, mysql_user and
 * mysql_replication modules.
 *
 * Every fact snippet talks to the server with the `mysql` client over the local unix socket
 * (Debian's root account authenticates with unix_socket; the engine runs facts as root or via
 * sudo). Snippets are read-only, run in a subshell, never call `exit` and always succeed: the
 * server's availability is itself a fact. Their output is line-oriented:
 *
 *   #mysql:ok                       connected; sections follow
 *   #mysql:unavailable <message>    client missing or cannot connect (classified by parse)
 *   #mysql:error <message>          a query failed (access denied, ...)
 *   #mysql:<section>                the raw `mysql --batch` output of one query follows
 *
 * `mysql --batch` escapes tab, newline and backslash inside values, so one row is one line.
 */
import type { FactKind, ModuleContext } from '../contract.js';
import { TaskError } from '../contract.js';
import { createHash } from 'node:crypto';
import { sq } from '../../engine/shell.js';
import { mysqlClient, quoteAccount, quoteString, SQL_PRELUDE } from './sql.js';
import { parseCreateUserAuth, parseShowGrants, type AuthMethod, type Grants } from './grants.js';

// ---------------------------------------------------------------------------------------------
// Fact snippet framework
// ---------------------------------------------------------------------------------------------

export type ServerStatus = 'ok' | 'unavailable' | 'error';

export interface ServerFact {
  /** ok: connected. unavailable: client missing / server not running. error: a query failed. */
  server: ServerStatus;
  /** The client's message when server !== 'ok'. */
  error?: string;
  /** Check mode: an earlier task starts a freshly installed server (see services/service.ts). */
  freshServer?: boolean;
}

export interface MysqlConnParams {
  /** --socket= for the mysql client; default: the client's configured socket. */
  socket?: string;
}

/**
 * Wrap a fact body in the availability check. Inside `body`, `__myq SECTION [mysql options]`
 * runs one query with `mysql --batch` and prints `#mysql:SECTION` + its output, or
 * `#mysql:error MESSAGE`.
 */
export function mysqlFactScript(socket: string | undefined, body: string): string {
  const base = mysqlClient(socket, { columnNames: true });
  return [
    '(',
    `__myq() { __mys=$1; shift; if __myo=$(${base} "$@" </dev/null 2>/dev/null); then printf '#mysql:%s\\n' "$__mys"; if [ -n "$__myo" ]; then printf '%s\\n' "$__myo"; fi; else printf '#mysql:error %s\\n' "$(${base} "$@" </dev/null 2>&1 >/dev/null | tr '\\n' ' ')"; fi; }`,
    'if ! command -v mysql >/dev/null 2>&1; then',
    "  echo '#mysql:unavailable mysql client is not installed'",
    `elif ! __mye=$(${base} --skip-column-names -e 'SELECT 1' </dev/null 2>&1 >/dev/null); then`,
    `  printf '#mysql:unavailable %s\\n' "$(printf '%s' "$__mye" | tr '\\n' ' ')"`,
    'else',
    "  echo '#mysql:ok'",
    body,
    'fi',
    ')',
  ].join('\n');
}

/** `-e` option with the prelude, shell-quoted. */
export function sqlArg(sql: string): string {
  return `-e ${sq(SQL_PRELUDE + ' ' + sql)}`;
}

export interface ParsedSections extends ServerFact {
  sections: Map<string, string[]>;
  /** Argument of a marker line (`#mysql:pwdigest abc` -> abc). */
  markers: Map<string, string>;
}

/** Client errors meaning "no server to talk to" (as opposed to access denied, syntax, ...). */
function isUnavailable(message: string): boolean {
  return /not installed|ERROR 20(02|03|05|06|13)\b|Can't connect|Lost connection|No such file or directory/i.test(message);
}

/** Split a fact snippet's output into its sections. */
export function parseSections(stdout: string): ParsedSections {
  const sections = new Map<string, string[]>();
  const markers = new Map<string, string>();
  let server: ServerStatus | undefined;
  let error: string | undefined;
  let current: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const m = /^#mysql:([a-z_]+)(?: (.*))?$/.exec(line);
    if (m) {
      const [, name, arg = ''] = m;
      if (name === 'ok') server ??= 'ok';
      else if (name === 'unavailable') {
        server = isUnavailable(arg) ? 'unavailable' : 'error';
        error = arg.trim();
      } else if (name === 'error') {
        server = 'error';
        error ??= arg.trim();
      } else {
        current = [];
        sections.set(name, current);
        markers.set(name, arg.trim());
      }
      continue;
    }
    if (current && line !== '') current.push(line);
  }
  if (server === undefined) {
    server = 'error';
    error = `unexpected output from the MariaDB fact script: ${stdout.slice(0, 200)}`;
  }
  return { server, error, sections, markers };
}

/** Undo `mysql --batch` escaping of one field (\\t \\n \\0 \\\\). */
export function unescapeBatch(field: string): string {
  return field.replace(/\\([\\tn0])/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === '0' ? '\0' : '\\'));
}

/** Split one batch row into unescaped fields. */
export function batchFields(line: string): string[] {
  return line.split('\t').map(unescapeBatch);
}

/**
 * The facts to plan against, given the server's availability:
 * - ok: the facts as read;
 * - error (connected, but a query failed): TaskError;
 * - unavailable, and check mode predicts that an earlier task starts a freshly installed server
 *   (`freshServer`, set by the service module's effects): the state of a fresh, empty server;
 * - unavailable otherwise: TaskError.
 */
export function effectiveFacts<T extends ServerFact>(f: T, ctx: Pick<ModuleContext, 'note'>, fresh: () => T, note = true): T {
  if (f.server === 'ok') return f;
  if (f.server === 'error') throw new TaskError(`MariaDB query failed: ${f.error ?? 'unknown error'}`);
  if (f.freshServer) {
    if (note) ctx.note('MariaDB is not running yet (an earlier task starts the freshly installed server): planned against a fresh, empty server');
    return fresh();
  }
  throw new TaskError(`MariaDB is not running on this host (mysql: ${f.error ?? 'unavailable'})`);
}

/** Resource key suffix for a non-default socket. */
function socketSuffix(socket?: string): string {
  return socket ? `?socket=${socket}` : '';
}

// ---------------------------------------------------------------------------------------------
// Databases
// ---------------------------------------------------------------------------------------------

export interface MysqlDbParams extends MysqlConnParams {
  name: string;
}

export interface MysqlDbFact extends ServerFact {
  exists: boolean;
  /** Default character set and collation of the database, when it exists. */
  charset?: string;
  collation?: string;
}

export const mysqlDatabaseFact: FactKind<MysqlDbParams, MysqlDbFact> = {
  kind: 'mysql_db',
  key: (p) => `mysql_db:${p.name}${socketSuffix(p.socket)}`,
  script: (p) =>
    mysqlFactScript(
      p.socket,
      `  __myq db --skip-column-names ${sqlArg(
        `SELECT 'db', SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${quoteString(p.name)}`,
      )}`,
    ),
  parse: (stdout, p) => {
    const s = parseSections(stdout);
    if (s.server !== 'ok') return { server: s.server, error: s.error, exists: false };
    for (const line of s.sections.get('db') ?? []) {
      const [tag, name, charset, collation] = batchFields(line);
      if (tag === 'db' && name === p.name) return { server: 'ok', exists: true, charset, collation };
    }
    return { server: 'ok', exists: false };
  },
};

// ---------------------------------------------------------------------------------------------
// Users and grants
// ---------------------------------------------------------------------------------------------

export interface MysqlUserParams extends MysqlConnParams {
  name: string;
  host: string;
}

export interface MysqlUserFact extends ServerFact {
  exists: boolean;
  /** Authentication chain (IDENTIFIED VIA a OR b ...), empty when the user has no password. */
  auth: AuthMethod[];
  /** Privileges per object; USAGE dropped; WITH GRANT OPTION as the pseudo privilege 'GRANT OPTION'. */
  grants: Grants;
  /** Roles granted to the user (not managed, informational). */
  roles: string[];
}

/** The body of one account's fact, inside mysqlFactScript's `ok` branch. */
function userBody(p: MysqlUserParams): string {
  const acct = quoteAccount(p.name, p.host);
  const exists = `SELECT 'user' FROM mysql.user WHERE User = ${quoteString(p.name)} AND Host = ${quoteString(p.host)}`;
  // SHOW GRANTS / SHOW CREATE USER fail for a missing user: only run them when it exists.
  return [
    `  if [ -n "$(${mysqlClient(p.socket)} ${sqlArg(exists)} </dev/null 2>/dev/null)" ]; then`,
    `    __myq create --skip-column-names ${sqlArg(`SHOW CREATE USER ${acct}`)}`,
    `    __myq grants --skip-column-names ${sqlArg(`SHOW GRANTS FOR ${acct}`)}`,
    '  else',
    "    echo '#mysql:absent'",
    '  fi',
  ].join('\n');
}

// Lines of the batched user script (never the first word of a SHOW's row, nor a fact section)
const FAST = '#mysql-batch fast';
const EACH = '#mysql-batch each';
const SHOWS = '#mysql-batch shows';
const MEMBER = '#mysql-member';

/**
 * All the accounts of a round trip in two `mysql` runs instead of three or four each (each run
 * of the client costs ~25 ms of a host's CPU): one asks which of them exist, one shows the
 * CREATE USER and the grants of those that do, each behind a marker row. If either run fails
 * (a SHOW refused, say), each account is read on its own, as its own script reads it.
 */
function userBatchScript(ps: MysqlUserParams[]): string {
  const socket = ps[0].socket;
  // accounts behind other sockets are other servers: each account on its own
  if (ps.some((p) => p.socket !== socket)) return ps.map((p, i) => `echo '${MEMBER} ${i}'\n${mysqlUserFact.script(p)}`).join('\n');
  const client = mysqlClient(socket);
  const exists = ps.map((p, i) => `SELECT 'e${i}' FROM mysql.user WHERE User = ${quoteString(p.name)} AND Host = ${quoteString(p.host)};`).join(' ');
  const shows = ps.map((p, i) => {
    const acct = quoteAccount(p.name, p.host);
    const sql = ` SELECT '${MEMBER} ${i} create'; SHOW CREATE USER ${acct}; SELECT '${MEMBER} ${i} grants'; SHOW GRANTS FOR ${acct};`;
    return `    case "$__myw" in *' e${i} '*) __mysql="$__mysql"${sq(sql)} ;; esac`;
  });
  return mysqlFactScript(
    socket,
    [
      '  __myok=; __mys=',
      `  if __myx=$(${client} ${sqlArg(exists)} </dev/null 2>/dev/null); then`,
      // a line `e<i>` per existing account; unquoted, they make one line of words
      `    __mysql=${sq(SQL_PRELUDE)}; __myw=" $(echo $__myx) "`,
      ...shows,
      `    if [ "$__mysql" = ${sq(SQL_PRELUDE)} ] || __mys=$(${client} -e "$__mysql" </dev/null 2>/dev/null); then`,
      `      printf '%s\\n%s\\n%s\\n%s\\n' '${FAST}' "$__myx" '${SHOWS}' "$__mys"`,
      '      __myok=1',
      '    fi',
      '  fi',
      '  if [ -z "$__myok" ]; then',
      `    echo '${EACH}'`,
      ...ps.map((p, i) => `    echo '${MEMBER} ${i}'\n${userBody(p)}`),
      '  fi',
    ].join('\n'),
  );
}

/** Split `#mysql-member <i>` blocks: each account's lines, `prefix` first. */
function memberBlocks(lines: string[], n: number, prefix: string): string[] {
  const blocks: string[] = new Array<string>(n).fill('');
  let at = -1;
  for (const line of lines) {
    const m = /^#mysql-member (\d+)$/.exec(line);
    if (m) at = Number(m[1]);
    else if (at >= 0 && at < n) blocks[at] += `${line}\n`;
  }
  return blocks.map((b) => prefix + b.replace(/\n+$/, '\n'));
}

/** Each account's output from the batched script, as its own script prints it. */
function splitUserBatch(out: string, ps: MysqlUserParams[]): string[] {
  const lines = out.split('\n');
  if (lines[0] === `${MEMBER} 0`) return memberBlocks(lines, ps.length, '');
  // unavailable: one line, the same for every account
  if (lines[0] !== '#mysql:ok') return ps.map(() => out);
  const ok = '#mysql:ok\n';
  if (lines[1] === EACH) return memberBlocks(lines.slice(2), ps.length, ok);
  if (lines[1] !== FAST) throw new TaskError(`unexpected output from the batched MariaDB user facts: ${out.slice(0, 200)}`);
  const showsAt = lines.indexOf(SHOWS, 2);
  if (showsAt < 0) throw new TaskError('the batched MariaDB user facts are truncated');
  const existing = new Set(lines.slice(2, showsAt).filter(Boolean));
  const rows = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of lines.slice(showsAt + 1)) {
    const m = /^#mysql-member (\d+) (create|grants)$/.exec(line);
    if (m) rows.set(`${m[1]} ${m[2]}`, (current = []));
    else if (current && line !== '') current.push(line);
  }
  return ps.map((_, i) => {
    if (!existing.has(`e${i}`)) return `${ok}#mysql:absent\n`;
    const section = (name: string) => {
      const r = rows.get(`${i} ${name}`);
      if (!r) throw new TaskError(`the batched MariaDB user facts lack the ${name} of account ${i}`);
      return `#mysql:${name}\n${r.map((l) => `${l}\n`).join('')}`;
    };
    return ok + section('create') + section('grants');
  });
}

export const mysqlUserFact: FactKind<MysqlUserParams, MysqlUserFact> = {
  kind: 'mysql_user',
  key: (p) => `mysql_user:${p.name}@${p.host}${socketSuffix(p.socket)}`,
  script: (p) => mysqlFactScript(p.socket, userBody(p)),
  batch: { script: userBatchScript, split: splitUserBatch },
  parse: (stdout) => {
    const s = parseSections(stdout);
    const empty = { exists: false, auth: [], grants: {}, roles: [] };
    if (s.server !== 'ok') return { server: s.server, error: s.error, ...empty };
    const create = s.sections.get('create');
    if (!create) return { server: 'ok', ...empty };
    const g = parseShowGrants((s.sections.get('grants') ?? []).map(unescapeBatch));
    return { server: 'ok', exists: true, auth: parseCreateUserAuth(unescapeBatch(create[0] ?? '')), grants: g.grants, roles: g.roles };
  },
};

// ---------------------------------------------------------------------------------------------
// Replication
// ---------------------------------------------------------------------------------------------

export interface MysqlReplicationParams extends MysqlConnParams {
  /**
   * Salt for the replication password digest (random per controller process). The snippet
   * prints sha256(salt + password stored in master.info), so the password never leaves the host.
   */
  salt: string;
}

/** The fields of SHOW SLAVE STATUS the modules use (values as printed by MariaDB). */
export interface ReplicaStatus {
  masterHost: string;
  masterPort: number;
  masterUser: string;
  connectRetry: number;
  /** no | slave_pos | current_pos */
  usingGtid: string;
  /** Yes | No | Connecting | Preparing */
  ioRunning: string;
  sqlRunning: string;
  ioState: string;
  /** 'NULL' or seconds */
  secondsBehindMaster: string;
  gtidIoPos: string;
  lastIoErrno: number;
  lastIoError: string;
  lastSqlErrno: number;
  lastSqlError: string;
}

export interface MysqlReplicationFact extends ServerFact {
  /** null: not configured as a replica (SHOW SLAVE STATUS is empty). */
  replica: ReplicaStatus | null;
  gtidSlavePos: string;
  readOnly: boolean;
  /** sha256(salt + replication password) from master.info; '' when it cannot be read. */
  passwordDigest: string;
  salt: string;
}

export function replicationPasswordDigest(salt: string, password: string): string {
  return createHash('sha256').update(salt + password, 'utf8').digest('hex');
}

/** Parse `SHOW SLAVE STATUS` in batch format with column names (header + one row, or nothing). */
export function parseSlaveStatus(lines: string[]): ReplicaStatus | null {
  if (lines.length < 2) return null;
  const header = lines[0].split('\t');
  const values = batchFields(lines[1]);
  const row: Record<string, string> = {};
  header.forEach((h, i) => (row[h] = values[i] ?? ''));
  const num = (s: string | undefined) => (s && /^\d+$/.test(s) ? Number(s) : 0);
  return {
    masterHost: row.Master_Host ?? '',
    masterPort: num(row.Master_Port),
    masterUser: row.Master_User ?? '',
    connectRetry: num(row.Connect_Retry),
    usingGtid: (row.Using_Gtid ?? 'No').toLowerCase(),
    ioRunning: row.Slave_IO_Running ?? 'No',
    sqlRunning: row.Slave_SQL_Running ?? 'No',
    ioState: row.Slave_IO_State ?? '',
    secondsBehindMaster: row.Seconds_Behind_Master ?? 'NULL',
    gtidIoPos: row.Gtid_IO_Pos ?? '',
    lastIoErrno: num(row.Last_IO_Errno),
    lastIoError: row.Last_IO_Error ?? '',
    lastSqlErrno: num(row.Last_SQL_Errno),
    lastSqlError: row.Last_SQL_Error ?? '',
  };
}

export const mysqlReplicationFact: FactKind<MysqlReplicationParams, MysqlReplicationFact> = {
  kind: 'mysql_replication',
  // a replica's threads follow its primary's state
  volatile: true,
  key: (p) => `mysql_replication:default${socketSuffix(p.socket)}`,
  script: (p) => {
    return mysqlFactScript(
      p.socket,
      [
        "  __mytab='\t'",
        // the data directory comes with the variables (the row's last field; parse reads the first two)
        `  __myq vars --skip-column-names ${sqlArg('SELECT @@gtid_slave_pos, @@read_only, @@datadir')}; __myd=\${__myo##*\${__mytab}}`,
        `  __myq status ${sqlArg('SHOW SLAVE STATUS')}`,
        // master.info line 6 is the replication password: print only a salted digest of it
        // (line 6 read by the shell itself: one process, sha256sum, instead of five)
        '  __myf="${__myd%/}/master.info"',
        '  if [ -n "$__myd" ] && [ -r "$__myf" ] && command -v sha256sum >/dev/null 2>&1; then',
        '    __myi=0; __myl=; while IFS= read -r __myr || [ -n "$__myr" ]; do __myi=$((__myi + 1)); if [ "$__myi" = 6 ]; then __myl=$__myr; break; fi; __myr=; done <"$__myf"',
        `    __myh=$(printf '%s%s' ${sq(p.salt)} "$__myl" | sha256sum); printf '#mysql:pwdigest %s\\n' "\${__myh%% *}"`,
        '  fi',
      ].join('\n'),
    );
  },
  parse: (stdout, p) => {
    const s = parseSections(stdout);
    const base = { replica: null, gtidSlavePos: '', readOnly: false, passwordDigest: '', salt: p.salt };
    if (s.server !== 'ok') return { server: s.server, error: s.error, ...base };
    const [gtid = '', ro = '0'] = batchFields((s.sections.get('vars') ?? [])[0] ?? '');
    const replica = parseSlaveStatus(s.sections.get('status') ?? []);
    const digest = s.markers.get('pwdigest') ?? '';
    return {
      server: 'ok',
      replica,
      gtidSlavePos: gtid,
      readOnly: ro === '1',
      // master.info may survive RESET SLAVE ALL in odd setups: only trust it for a configured replica
      passwordDigest: replica && /^[0-9a-f]{64}$/.test(digest) ? digest : '',
      salt: p.salt,
    };
  },
};
