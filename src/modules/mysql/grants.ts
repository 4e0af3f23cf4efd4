/** Parsing of SHOW CREATE USER / SHOW GRANTS output and of Ansible-style `priv` strings into normalised grants. */
import { TaskError } from '../contract.js';
import { quoteIdent } from './sql.js';

export interface AuthMethod {
  plugin: string;
  /** The USING string (the '*HASH' for mysql_native_password), '' when none. */
  authString: string;
}

/** Normalised grants: object (`*.*`, `` `db`.* ``, `` `db`.`tbl` ``, `` PROCEDURE `db`.`p` ``) -> sorted privileges. */
export type Grants = Record<string, string[]>;


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
  throw new TaskError(`unterminated identifier (a \` with no closing \`) in ${JSON.stringify(s)}`);
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
  throw new TaskError(`unterminated string (a ' with no closing ') in ${JSON.stringify(s)}`);
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

/** Every privilege word priv may name (MariaDB 10.11), after aliases. */
const KNOWN_PRIVS = new Set([...ALL_GLOBAL, 'ALL PRIVILEGES', 'USAGE', 'GRANT OPTION', 'PROXY']);
const COLUMN_PRIVS = new Set(['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']);

/** A privilege of a user-written priv: a known word, column lists only where MariaDB allows them. */
function checkPrivilege(raw: string, obj: string): void {
  const p = raw.trim().replace(/\s+/g, ' ');
  const m = /^([A-Za-z_ ]+?)\s*\((.*)\)$/s.exec(p);
  const base = canonicalPrivName(m ? m[1] : p);
  if (m) {
    if (!COLUMN_PRIVS.has(base)) throw new TaskError(`priv ${obj}: ${JSON.stringify(raw.trim())}: column lists are allowed only for ${[...COLUMN_PRIVS].join(', ')}`);
    if (splitTop(m[2], ',').some((c) => c.trim() === '')) throw new TaskError(`priv ${obj}: ${JSON.stringify(raw.trim())}: empty column name`);
    return;
  }
  if (!KNOWN_PRIVS.has(base)) {
    throw new TaskError(`priv ${obj}: unknown privilege ${JSON.stringify(raw.trim())} (e.g. SELECT, INSERT, UPDATE, DELETE, ALL, GRANT, REPLICATION SLAVE)`);
  }
}

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
    // an empty list would revoke everything on the object: say USAGE for "no privileges"
    if (privs.every((p) => p.trim() === '')) throw new TaskError(`priv ${obj.trim()}: empty privilege list (write USAGE for none)`);
    for (const p of privs) {
      if (p.trim() === '') throw new TaskError(`priv ${obj.trim()}: empty privilege in ${JSON.stringify(privs.join(','))} (a stray comma?)`);
      checkPrivilege(p, obj.trim());
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

