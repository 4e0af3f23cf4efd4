/** SQL quoting, the mysql client command line, and password hashing (no I/O). */
import { createHash } from 'node:crypto';
import { sq } from '../../engine/shell.js';
import { TaskError } from '../contract.js';

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

