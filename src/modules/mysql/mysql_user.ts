/**
 * mysql_user: a MariaDB account, its password and (when `priv` is given) ALL of its grants.
 *
 *   - mysql_user: { name: app, host: '%', password: '{{ vault.app_db }}', priv: 'app.*:ALL/reports.*:SELECT' }
 *
 * The password is never shown nor sent in clear: the controller computes the
 * mysql_native_password hash ('*' + HEX(SHA1(SHA1(pw)))) and compares it with the stored one; the
 * account is created/altered with IDENTIFIED BY PASSWORD '*HASH' (on stdin). An account that also
 * authenticates via unix_socket (Debian's root) keeps unix_socket: `VIA mysql_native_password
 * USING '*HASH' OR unix_socket`.
 *
 * `priv` (Ansible format) is owned by the module: privileges not listed are revoked. Without
 * `priv` the grants are left alone. PROXY grants and role grants are never touched.
 */
import { z } from 'zod';
import { factEffects, unknownUnder } from '../../engine/prediction.js';
import type { Change, ModuleContext, StateModule } from '../contract.js';
import { fact } from '../contract.js';
import { effectiveFacts, mysqlUserFact, type MysqlUserFact } from './facts.js';
import { mysqlClient, mysqlNativePasswordHash, quoteAccount, quoteString, sqlScript } from './sql.js';
import { parseAnsiblePriv, renderPrivileges, type AuthMethod, type Grants } from './grants.js';

export const mysqlUserSchema = z
  .object({
    name: z.string().min(1).max(128),
    /** Host part of the account; MariaDB stores it lower-cased. */
    host: z
      .string()
      .min(1)
      .default('localhost')
      .transform((h) => h.toLowerCase()),
    /** Plain password (hashed on the controller); omit to leave the authentication alone. */
    password: z.string().optional(),
    /** `db.*:SELECT,INSERT/other.tbl:ALL` or { 'db.*': 'SELECT,INSERT' }; omit to leave grants alone. */
    priv: z
      .union([z.string(), z.record(z.string(), z.union([z.string(), z.array(z.string())]))])
      .superRefine((priv, ctx) => {
        // checked when loaded if literal; a computed value is checked again after rendering
        if (JSON.stringify(priv).includes('{{')) return;
        try {
          parseAnsiblePriv(priv);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
        }
      })
      .optional(),
    state: z.enum(['present', 'absent']).default('present'),
    login_unix_socket: z.string().min(1).optional(),
  })
  .strict();

export type MysqlUserArgs = z.infer<typeof mysqlUserSchema>;

export interface MysqlUserFacts {
  user: MysqlUserFact;
}

const NATIVE = 'mysql_native_password';

/** Accounts a fresh Debian MariaDB 10.11 install has (root and mysql via unix_socket). */
function freshUser(name: string, host: string): MysqlUserFact {
  if ((name === 'root' || name === 'mysql') && host === 'localhost') {
    return {
      server: 'ok',
      exists: true,
      auth: [{ plugin: NATIVE, authString: 'invalid' }, { plugin: 'unix_socket', authString: '' }],
      grants: { '*.*': ['ALL PRIVILEGES', 'GRANT OPTION'] },
      roles: [],
    };
  }
  return { server: 'ok', exists: false, auth: [], grants: {}, roles: [] };
}

/** The authentication chain the account must have, or undefined when the password is not managed. */
function desiredAuth(args: MysqlUserArgs, current: AuthMethod[]): AuthMethod[] | undefined {
  if (args.password === undefined) return undefined;
  const hash = mysqlNativePasswordHash(args.password);
  const keepSocket = current.some((a) => a.plugin === 'unix_socket');
  if (hash === '' && !keepSocket) return [];
  const chain: AuthMethod[] = [{ plugin: NATIVE, authString: hash }];
  if (keepSocket) chain.push({ plugin: 'unix_socket', authString: '' });
  return chain;
}

function sameAuth(a: AuthMethod[], b: AuthMethod[]): boolean {
  // a password-less account shows no IDENTIFIED clause, or mysql_native_password with ''
  const norm = (x: AuthMethod[]) => x.filter((m) => !(m.plugin === NATIVE && m.authString === '' && x.length === 1));
  const [na, nb] = [norm(a), norm(b)];
  return na.length === nb.length && na.every((m, i) => m.plugin === nb[i].plugin && m.authString === nb[i].authString);
}

function identifiedClause(chain: AuthMethod[]): string {
  if (chain.length === 0) return '';
  if (chain.length === 1 && chain[0].plugin === NATIVE) return ` IDENTIFIED BY PASSWORD ${quoteString(chain[0].authString)}`;
  return ' IDENTIFIED VIA ' + chain.map((m) => (m.authString ? `${m.plugin} USING ${quoteString(m.authString)}` : m.plugin)).join(' OR ');
}

/** Statements turning `current` grants of one object into `desired`. */
export function grantStatements(object: string, account: string, current: string[], desired: string[]): { grant: string[]; revoke: string[]; sql: string[] } {
  const GO = 'GRANT OPTION';
  const curP = current.filter((p) => p !== GO);
  const desP = desired.filter((p) => p !== GO);
  const curG = current.includes(GO);
  const desG = desired.includes(GO);
  const revoke = curP.filter((p) => !desP.includes(p));
  // REVOKE ALL PRIVILEGES also drops column privileges: grant everything wanted again after it.
  const revokingAll = revoke.includes('ALL PRIVILEGES');
  const grant = revokingAll ? desP : desP.filter((p) => !curP.includes(p));
  const sql: string[] = [];
  if (revoke.length) sql.push(`REVOKE ${renderPrivileges(revoke)} ON ${object} FROM ${account}`);
  if (curG && !desG) sql.push(`REVOKE GRANT OPTION ON ${object} FROM ${account}`);
  const withGrant = desG && (!curG || revokingAll) ? ' WITH GRANT OPTION' : '';
  if (grant.length) sql.push(`GRANT ${renderPrivileges(grant)} ON ${object} TO ${account}${withGrant}`);
  else if (desG && !curG) sql.push(`GRANT USAGE ON ${object} TO ${account} WITH GRANT OPTION`);
  const shown = (ps: string[], g: boolean) => (g ? [...ps, GO] : ps);
  return { grant: shown(desP.filter((p) => !curP.includes(p)), desG && !curG), revoke: shown(revoke, curG && !desG), sql };
}

function grantKeys(a: Grants, b: Grants): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  // global privileges first, then by name
  return keys.sort((x, y) => (x === '*.*' ? -1 : y === '*.*' ? 1 : x < y ? -1 : x > y ? 1 : 0));
}

function planUser(args: MysqlUserArgs, f: MysqlUserFact): Change[] {
  const client = mysqlClient(args.login_unix_socket);
  const account = quoteAccount(args.name, args.host);
  const target = `${args.name}@${args.host}`;
  if (args.state === 'absent') {
    if (!f.exists) return [];
    return [{ action: 'remove', target, summary: `drop user ${target}`, commands: [{ cmd: client, stdin: sqlScript([`DROP USER ${account}`]) }] }];
  }
  const desiredGrants = args.priv === undefined ? undefined : parseAnsiblePriv(args.priv);
  if (!f.exists) {
    const auth = desiredAuth(args, []) ?? [];
    const stmts = [`CREATE USER ${account}${identifiedClause(auth)}`];
    const parts: string[] = [];
    for (const obj of grantKeys({}, desiredGrants ?? {})) {
      const g = grantStatements(obj, account, [], desiredGrants?.[obj] ?? []);
      stmts.push(...g.sql);
      parts.push(`${renderPrivileges(g.grant)} ON ${obj}`);
    }
    const summary = `create user ${target}${auth.length ? ' with password' : ''}${parts.map((p) => '; grant ' + p).join('')}`;
    return [{ action: 'create', target, summary, commands: [{ cmd: client, stdin: sqlScript(stmts) }] }];
  }
  const changes: Change[] = [];
  const auth = desiredAuth(args, f.auth);
  if (auth && !sameAuth(auth, f.auth)) {
    const hadNative = f.auth.some((a) => a.plugin === NATIVE);
    const others = f.auth.filter((a) => a.plugin !== NATIVE && a.plugin !== 'unix_socket').map((a) => a.plugin);
    changes.push({
      action: 'update',
      target,
      summary: hadNative && others.length === 0 ? 'password differs' : `password differs (authentication: ${f.auth.map((a) => a.plugin).join(' OR ') || 'none'})`,
      commands: [{ cmd: client, stdin: sqlScript([`ALTER USER ${account}${identifiedClause(auth) || ' IDENTIFIED BY PASSWORD \'\''}`]) }],
    });
  }
  if (desiredGrants) {
    for (const obj of grantKeys(f.grants, desiredGrants)) {
      const cur = f.grants[obj] ?? [];
      const des = desiredGrants[obj] ?? [];
      if (cur.length === des.length && cur.every((p) => des.includes(p))) continue;
      const g = grantStatements(obj, account, cur, des);
      const words: string[] = [];
      if (g.grant.length) words.push(`grant ${renderPrivileges(g.grant)}`);
      if (g.revoke.length) words.push(`revoke ${renderPrivileges(g.revoke)}`);
      changes.push({
        action: g.revoke.length === 0 ? 'grant' : g.grant.length === 0 ? 'revoke' : 'update',
        target,
        summary: `${words.join(', ')} ON ${obj}`,
        commands: [{ cmd: client, stdin: sqlScript(g.sql) }],
      });
    }
  }
  return changes;
}

export const mysqlUser: StateModule<MysqlUserArgs, MysqlUserFacts> = {
  name: 'mysql_user',
  type: 'state',
  exactEffects: true,
  schema: mysqlUserSchema,

  facts(args) {
    return { user: fact(mysqlUserFact, { name: args.name, host: args.host, socket: args.login_unix_socket }) };
  },

  plan(args, facts, ctx: ModuleContext) {
    return planUser(args, effectiveFacts(facts.user, ctx, () => freshUser(args.name, args.host)));
  },

  footprint: () => [unknownUnder('mysql_', 'the database server, after a MySQL task whose outcome is unknown in check mode')],
  predict(args, facts, _changes, ctx) {
    const f = effectiveFacts(facts.user, ctx, () => freshUser(args.name, args.host), false);
    if (args.state === 'absent') return factEffects(mysqlUser.facts(args, ctx), { user: { server: 'ok', exists: false, auth: [], grants: {}, roles: [] } });
    const auth = desiredAuth(args, f.exists ? f.auth : []) ?? (f.exists ? f.auth : []);
    const grants = args.priv === undefined ? (f.exists ? f.grants : {}) : parseAnsiblePriv(args.priv);
    return factEffects(mysqlUser.facts(args, ctx), { user: { server: 'ok', exists: true, auth, grants, roles: f.exists ? f.roles : [] } });
  },
};
