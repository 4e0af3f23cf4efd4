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
import { createHash } from 'node:crypto';
import type { FactKind, ModuleContext } from '../core/types.js';
import { TaskError } from '../core/types.js';
import { sq } from '../core/shell.js';

// ---------------------------------------------------------------------------------------------
// SQL quoting
// ---------------------------------------------------------------------------------------------

/** Backtick-quote an SQL identifier (database, table, column), doubling embedded backticks. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new TaskError(`invalid SQL identifier (NUL byte): ${JSON.stringify(name)}`);
  return '`' + name.replace(/`/g, '``') + '`';
}

/**
 * Quote an SQL string literal: backslash, quote and control characters are escaped. Every SQL
 * text built by these modules starts with SQL_PRELUDE, which switches NO_BACKSLASH_ESCAPES off
 * for the session, so the escaping is right whatever the server's sql_mode.
 */
export function quoteString(s: string): string {
  let out = "'";
  for (const ch of s) {
    switch (ch) {
      case '\\': out += '\\\\'; break;
      case "'": out += "\\'"; break;
      case '\0': out += '\\0'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\x1a': out += '\\Z'; break;
      default: out += ch;
    }
  }
  return out + "'";
}

/** `'user'@'host'` */
export function quoteAccount(user: string, host: string): string {
  return `${quoteString(user)}@${quoteString(host)}`;
}

/** Makes backslash escapes in string literals reliable (see quoteString). Session-only. */
export const SQL_PRELUDE = "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');";

/** Join statements into one stdin script for the mysql client (prelude first). */
export function sqlScript(statements: string[]): string {
  return [SQL_PRELUDE, ...statements.map((s) => (s.trimEnd().endsWith(';') ? s : s + ';'))].join('\n') + '\n';
}

/**
 * The mysql client command line, as root over the unix socket. Options are shell-quoted.
 * `columnNames`: keep the header line (needed to parse SHOW SLAVE STATUS).
 */
export function mysqlClient(socket?: string, opts: { columnNames?: boolean; database?: string } = {}): string {
  const parts = ['mysql', '--batch'];
  if (!opts.columnNames) parts.push('--skip-column-names');
  if (socket) parts.push(sq(`--socket=${socket}`));
  if (opts.database !== undefined) parts.push(sq(`--database=${opts.database}`));
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------
// Passwords
// ---------------------------------------------------------------------------------------------

/**
 * mysql_native_password hash as MariaDB stores it: '*' + upper hex(SHA1(SHA1(password))).
 * The empty password is stored as the empty string.
 */
export function mysqlNativePasswordHash(password: string): string {
  if (password === '') return '';
  const inner = createHash('sha1').update(password, 'utf8').digest();
  return '*' + createHash('sha1').update(inner).digest('hex').toUpperCase();
}

// ---------------------------------------------------------------------------------------------
// Fact snippet framework
// ---------------------------------------------------------------------------------------------

export type ServerStatus = 'ok' | 'unavailable' | 'error';

export interface ServerFact {
  /** ok: connected. unavailable: client missing / server not running. error: a query failed. */
  server: ServerStatus;
  /** The client's message when server !== 'ok'. */
  error?: string;
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
 * - unavailable and ctx.predicted (check mode, an earlier task such as the package install is
 *   predicted to change the host): the state of a fresh, empty server, which is exact for a fresh
 *   install;
 * - unavailable otherwise: TaskError.
 */
export function effectiveFacts<T extends ServerFact>(f: T, ctx: ModuleContext, fresh: () => T, note = true): T {
  if (f.server === 'ok') return f;
  if (f.server === 'error') throw new TaskError(`MariaDB query failed: ${f.error ?? 'unknown error'}`);
  if (ctx.predicted) {
    if (note) ctx.note('MariaDB is not available yet (an earlier task is predicted to install or start it): planned against a fresh, empty server');
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

export interface AuthMethod {
  plugin: string;
  /** The USING string (the '*HASH' for mysql_native_password), '' when none. */
  authString: string;
}

/** Normalised grants: object (`*.*`, `` `db`.* ``, `` `db`.`tbl` ``, `` PROCEDURE `db`.`p` ``) -> sorted privileges. */
export type Grants = Record<string, string[]>;

export interface MysqlUserFact extends ServerFact {
  exists: boolean;
  /** Authentication chain (IDENTIFIED VIA a OR b ...), empty when the user has no password. */
  auth: AuthMethod[];
  /** Privileges per object; USAGE dropped; WITH GRANT OPTION as the pseudo privilege 'GRANT OPTION'. */
  grants: Grants;
  /** Roles granted to the user (not managed, informational). */
  roles: string[];
}

export const mysqlUserFact: FactKind<MysqlUserParams, MysqlUserFact> = {
  kind: 'mysql_user',
  key: (p) => `mysql_user:${p.name}@${p.host}${socketSuffix(p.socket)}`,
  script: (p) => {
    const acct = quoteAccount(p.name, p.host);
    const exists = `SELECT 'user' FROM mysql.user WHERE User = ${quoteString(p.name)} AND Host = ${quoteString(p.host)}`;
    // SHOW GRANTS / SHOW CREATE USER fail for a missing user: only run them when it exists.
    return mysqlFactScript(
      p.socket,
      [
        `  if [ -n "$(${mysqlClient(p.socket)} ${sqlArg(exists)} </dev/null 2>/dev/null)" ]; then`,
        `    __myq create --skip-column-names ${sqlArg(`SHOW CREATE USER ${acct}`)}`,
        `    __myq grants --skip-column-names ${sqlArg(`SHOW GRANTS FOR ${acct}`)}`,
        '  else',
        "    echo '#mysql:absent'",
        '  fi',
      ].join('\n'),
    );
  },
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

/** Read a backtick-quoted identifier at s[i] (which is '`'); returns [name, index after it]. */
function readBacktick(s: string, i: number): [string, number] {
  let out = '';
  let j = i + 1;
  while (j < s.length) {
    if (s[j] === '`') {
      if (s[j + 1] === '`') {
        out += '`';
        j += 2;
        continue;
      }
      return [out, j + 1];
    }
    out += s[j++];
  }
  throw new Error(`unterminated identifier in ${s}`);
}

/** Read a single-quoted SQL string at s[i]; returns [value, index after it]. */
function readQuoted(s: string, i: number): [string, number] {
  let out = '';
  let j = i + 1;
  while (j < s.length) {
    const c = s[j];
    if (c === '\\' && j + 1 < s.length) {
      const n = s[j + 1];
      out += n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n === '0' ? '\0' : n === 'Z' ? '\x1a' : n;
      j += 2;
      continue;
    }
    if (c === "'") {
      if (s[j + 1] === "'") {
        out += "'";
        j += 2;
        continue;
      }
      return [out, j + 1];
    }
    out += c;
    j++;
  }
  throw new Error(`unterminated string in ${s}`);
}

/** Skip an account `user`@`host` or 'user'@'host' at s[i]. */
function skipAccount(s: string, i: number): number {
  const part = (k: number): number => {
    if (s[k] === '`') return readBacktick(s, k)[1];
    if (s[k] === "'") return readQuoted(s, k)[1];
    while (k < s.length && /[^\s@]/.test(s[k])) k++;
    return k;
  };
  let j = part(i);
  if (s[j] === '@') j = part(j + 1);
  return j;
}

/** Split at top-level separators (outside backticks, quotes and parentheses). */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '`') i = readBacktick(s, i)[1] - 1;
    else if (c === "'") i = readQuoted(s, i)[1] - 1;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && s.startsWith(sep, i)) {
      out.push(s.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

/** Parse the authentication part of SHOW CREATE USER. */
export function parseCreateUserAuth(line: string): AuthMethod[] {
  const m = /^CREATE USER /i.exec(line);
  if (!m) return [];
  let i = skipAccount(line, m[0].length);
  const rest = () => line.slice(i);
  const ws = () => {
    while (line[i] === ' ') i++;
  };
  ws();
  let mm = /^IDENTIFIED BY PASSWORD /i.exec(rest());
  if (mm) {
    i += mm[0].length;
    const [hash] = readQuoted(line, i);
    return [{ plugin: 'mysql_native_password', authString: hash }];
  }
  mm = /^IDENTIFIED (?:VIA|WITH) /i.exec(rest());
  if (!mm) return [];
  i += mm[0].length;
  const chain: AuthMethod[] = [];
  for (;;) {
    ws();
    const pm = /^[A-Za-z0-9_]+/.exec(rest());
    if (!pm) break;
    i += pm[0].length;
    let authString = '';
    ws();
    const um = /^(?:USING|AS) /i.exec(rest());
    if (um) {
      i += um[0].length;
      ws();
      if (line[i] === "'") [authString, i] = readQuoted(line, i);
    }
    chain.push({ plugin: pm[0].toLowerCase(), authString });
    ws();
    const om = /^OR /i.exec(rest());
    if (!om) break;
    i += om[0].length;
  }
  return chain;
}

/** Aliases MariaDB 10.11 prints under another name. */
const PRIV_ALIASES: Record<string, string> = {
  ALL: 'ALL PRIVILEGES',
  GRANT: 'GRANT OPTION',
  'REPLICATION CLIENT': 'BINLOG MONITOR',
  'REPLICATION REPLICA': 'REPLICATION SLAVE',
  'REPLICA MONITOR': 'SLAVE MONITOR',
};

/** Every privilege of a level, as MariaDB 10.11 collapses them into ALL PRIVILEGES. */
const ALL_TABLE = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER', 'CREATE VIEW', 'SHOW VIEW', 'TRIGGER', 'DELETE HISTORY'];
const ALL_DB = [...ALL_TABLE, 'CREATE TEMPORARY TABLES', 'LOCK TABLES', 'EXECUTE', 'CREATE ROUTINE', 'ALTER ROUTINE', 'EVENT'];
const ALL_GLOBAL = [
  ...ALL_DB,
  'RELOAD', 'SHUTDOWN', 'PROCESS', 'FILE', 'SHOW DATABASES', 'SUPER', 'REPLICATION SLAVE', 'BINLOG MONITOR',
  'CREATE USER', 'CREATE TABLESPACE', 'SET USER', 'FEDERATED ADMIN', 'CONNECTION ADMIN', 'READ_ONLY ADMIN',
  'REPLICATION SLAVE ADMIN', 'REPLICATION MASTER ADMIN', 'BINLOG ADMIN', 'BINLOG REPLAY', 'SLAVE MONITOR',
];

/** Parse one privilege (`select`, `SELECT (a, b)`, "SELECT (`a`)") into normalised entries (one per column). */
function normalisePrivilege(raw: string): string[] {
  const p = raw.trim().replace(/\s+/g, ' ');
  if (p === '') return [];
  const m = /^([A-Za-z_ ]+?)\s*\((.*)\)$/s.exec(p);
  if (m) {
    const base = canonicalPrivName(m[1]);
    return splitTop(m[2], ',').map((c) => {
      const t = c.trim();
      const col = t.startsWith('`') ? readBacktick(t, 0)[0] : t;
      return `${base} (${quoteIdent(col)})`;
    });
  }
  const name = canonicalPrivName(p);
  return name === 'USAGE' ? [] : [name];
}

function canonicalPrivName(s: string): string {
  const u = s.trim().replace(/\s+/g, ' ').toUpperCase();
  return PRIV_ALIASES[u] ?? u;
}

/**
 * Normalise a privilege list for one object: aliases, USAGE dropped, ALL -> ALL PRIVILEGES, a
 * complete set of the level's privileges collapsed into ALL PRIVILEGES (as SHOW GRANTS does),
 * de-duplicated and sorted.
 */
export function normalisePrivileges(object: string, privs: string[]): string[] {
  const set = new Set<string>();
  for (const p of privs) for (const n of normalisePrivilege(p)) set.add(n);
  const level = /^(FUNCTION|PROCEDURE|PACKAGE)/.test(object) ? undefined : object === '*.*' ? ALL_GLOBAL : object.endsWith('.*') ? ALL_DB : ALL_TABLE;
  if (set.has('ALL PRIVILEGES') || (level && level.every((p) => set.has(p)))) {
    for (const p of level ?? []) set.delete(p);
    set.add('ALL PRIVILEGES');
  }
  return [...set].sort();
}

/** Canonical object key from parsed parts. */
function objectKey(prefix: string, db: string, table: string): string {
  const part = (x: string) => (x === '*' ? '*' : quoteIdent(x));
  return `${prefix ? prefix + ' ' : ''}${part(db)}.${part(table)}`;
}

/** Parse an object (`*.*`, `db.*`, "`my.db`.`t`", `PROCEDURE db.p`) into its canonical key. */
export function parseObject(raw: string): string {
  let s = raw.trim();
  let prefix = '';
  const pm = /^(PACKAGE BODY|PACKAGE|PROCEDURE|FUNCTION|TABLE)\s+/i.exec(s);
  if (pm) {
    prefix = pm[1].toUpperCase() === 'TABLE' ? '' : pm[1].toUpperCase();
    s = s.slice(pm[0].length);
  }
  const ident = (k: number): [string, number] => {
    if (s[k] === '`') return readBacktick(s, k);
    let j = k;
    while (j < s.length && s[j] !== '.') j++;
    return [s.slice(k, j).trim(), j];
  };
  const [db, i] = ident(0);
  if (s[i] !== '.') throw new TaskError(`invalid privilege object ${JSON.stringify(raw)} (expected db.table, db.* or *.*)`);
  let table: string;
  let j: number;
  if (s[i + 1] === '`') [table, j] = readBacktick(s, i + 1);
  else [table, j] = [s.slice(i + 1).trim(), s.length];
  if (j !== s.length || db === '' || table === '' || (db === '*' && table !== '*')) {
    throw new TaskError(`invalid privilege object ${JSON.stringify(raw)} (expected db.table, db.* or *.*)`);
  }
  return objectKey(prefix, db, table);
}

/** Merge privileges into a Grants map, then normalise every object. */
function finishGrants(acc: Map<string, string[]>): Grants {
  const out: Grants = {};
  for (const key of [...acc.keys()].sort()) {
    const privs = normalisePrivileges(key, acc.get(key) ?? []);
    if (privs.length) out[key] = privs;
  }
  return out;
}

/** Parse SHOW GRANTS FOR output (unescaped lines). PROXY grants are ignored; role grants are listed. */
export function parseShowGrants(lines: string[]): { grants: Grants; roles: string[] } {
  const acc = new Map<string, string[]>();
  const roles: string[] = [];
  for (const line of lines) {
    if (!/^GRANT /i.test(line)) continue;
    const body = line.slice(6);
    const parts = splitTop(body, ' ON ');
    if (parts.length < 2) {
      // GRANT `role` TO `user`@`host`
      const r = splitTop(body, ' TO ')[0].trim();
      roles.push(r.startsWith('`') ? readBacktick(r, 0)[0] : r);
      continue;
    }
    const privList = parts[0];
    const rest = parts.slice(1).join(' ON ');
    const [objRaw, ...after] = splitTop(rest, ' TO ');
    if (/^PROXY$/i.test(privList.trim())) continue;
    const key = parseObject(objRaw);
    const privs = splitTop(privList, ',');
    // WITH GRANT OPTION, outside quoted strings (the IDENTIFIED clause).
    const tail = after.join(' TO ').replace(/'(?:[^'\\]|\\.|'')*'/g, "''");
    if (/\bWITH\b.*\bGRANT OPTION\b/i.test(tail)) privs.push('GRANT OPTION');
    acc.set(key, [...(acc.get(key) ?? []), ...privs]);
  }
  return { grants: finishGrants(acc), roles };
}

/**
 * Parse Ansible-style privileges: `db.*:SELECT,INSERT/otherdb.tbl:ALL` or a mapping
 * { 'db.*': 'SELECT,INSERT' | ['SELECT', 'INSERT'] }. `GRANT` means WITH GRANT OPTION; column
 * privileges are written `SELECT (a, b)`. Case-insensitive, order-insensitive.
 */
export function parseAnsiblePriv(priv: string | Record<string, string | string[]>): Grants {
  const acc = new Map<string, string[]>();
  const add = (obj: string, privs: string[]) => {
    const key = parseObject(obj);
    for (const p of privs) {
      if (/^\s*REQUIRESSL\s*$/i.test(p)) throw new TaskError('priv: REQUIRESSL is not supported by mysql_user');
    }
    acc.set(key, [...(acc.get(key) ?? []), ...privs]);
  };
  if (typeof priv === 'string') {
    for (const part of splitTop(priv, '/')) {
      if (part.trim() === '') continue;
      // the last ':' outside quotes/parentheses separates object and privileges
      const pieces = splitTop(part, ':');
      if (pieces.length < 2) throw new TaskError(`invalid priv entry ${JSON.stringify(part)} (expected db.table:PRIV1,PRIV2)`);
      const privs = pieces.pop() as string;
      add(pieces.join(':'), splitTop(privs, ','));
    }
  } else {
    for (const [obj, privs] of Object.entries(priv)) add(obj, Array.isArray(privs) ? privs : splitTop(privs, ','));
  }
  return finishGrants(acc);
}

/** Render privileges for GRANT/REVOKE, grouping column privileges: SELECT (`a`, `b`). */
export function renderPrivileges(privs: string[]): string {
  const order: string[] = [];
  const cols = new Map<string, string[]>();
  for (const p of privs) {
    const m = /^(.*?) \((`.*`)\)$/.exec(p);
    if (m) {
      if (!cols.has(m[1])) {
        cols.set(m[1], []);
        order.push('\0' + m[1]);
      }
      cols.get(m[1])?.push(m[2]);
    } else order.push(p);
  }
  return order.map((p) => (p.startsWith('\0') ? `${p.slice(1)} (${(cols.get(p.slice(1)) ?? []).join(', ')})` : p)).join(', ');
}

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
  key: (p) => `mysql_replication:default${socketSuffix(p.socket)}`,
  script: (p) => {
    const client = mysqlClient(p.socket);
    return mysqlFactScript(
      p.socket,
      [
        `  __myq vars --skip-column-names ${sqlArg('SELECT @@gtid_slave_pos, @@read_only')}`,
        `  __myq status ${sqlArg('SHOW SLAVE STATUS')}`,
        // master.info line 6 is the replication password: print only a salted digest of it.
        `  __myd=$(${client} ${sqlArg('SELECT @@datadir')} </dev/null 2>/dev/null)`,
        '  __myf="${__myd%/}/master.info"',
        '  if [ -n "$__myd" ] && [ -r "$__myf" ] && command -v sha256sum >/dev/null 2>&1; then',
        `    printf '#mysql:pwdigest %s\\n' "$( { printf '%s' ${sq(p.salt)}; sed -n 6p "$__myf" | tr -d '\\n'; } | sha256sum | cut -d' ' -f1)"`,
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
