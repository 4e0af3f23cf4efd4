/**
 * mysql_db: a MariaDB database, its default character set and collation, and an optional
 * one-time import of a .sql file right after the database is created.
 *
 *   - mysql_db: { name: app, encoding: utf8mb4, import: app/schema.sql }
 *
 * Talks to the server as root over the unix socket (`login_unix_socket` to override).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Change, ModuleContext, StateModule } from '../contract.js';
import { TaskError, Unknown, fact } from '../contract.js';
import { sq } from '../../engine/shell.js';
import { factEffects, unknownUnder } from '../../engine/prediction.js';
import { effectiveFacts, mysqlDatabaseFact, type MysqlDbFact } from './facts.js';
import { mysqlClient, quoteIdent, sqlScript } from './sql.js';

export const mysqlDbSchema = z
  .object({
    /** Database name. */
    name: z.string().min(1).max(64),
    state: z.enum(['present', 'absent']).default('present'),
    /** Default character set. */
    encoding: z.string().regex(/^[A-Za-z0-9_]+$/, 'a character set name').default('utf8mb4'),
    /** Default collation; default: the encoding's default (utf8mb4_general_ci for utf8mb4 on MariaDB 10.11). */
    collation: z.string().regex(/^[A-Za-z0-9_]+$/, 'a collation name').optional(),
    /** .sql file under the project's files/ directory, imported once right after the database is created. */
    import: z.string().min(1).optional(),
    /** Unix socket of the server (mysql --socket=). */
    login_unix_socket: z.string().min(1).optional(),
  })
  .strict();

export type MysqlDbArgs = z.infer<typeof mysqlDbSchema>;

/** What prepare() reads on the controller: the import file's bytes, if the task imports one. */
export type MysqlDbLocal = Buffer | void;

export interface MysqlDbFacts {
  db: MysqlDbFact;
}

/** Default collation of each character set in MariaDB 10.11 (SHOW CHARACTER SET). */
export const DEFAULT_COLLATIONS: Record<string, string> = {
  big5: 'big5_chinese_ci', dec8: 'dec8_swedish_ci', cp850: 'cp850_general_ci', hp8: 'hp8_english_ci',
  koi8r: 'koi8r_general_ci', latin1: 'latin1_swedish_ci', latin2: 'latin2_general_ci', swe7: 'swe7_swedish_ci',
  ascii: 'ascii_general_ci', ujis: 'ujis_japanese_ci', sjis: 'sjis_japanese_ci', hebrew: 'hebrew_general_ci',
  tis620: 'tis620_thai_ci', euckr: 'euckr_korean_ci', koi8u: 'koi8u_general_ci', gb2312: 'gb2312_chinese_ci',
  greek: 'greek_general_ci', cp1250: 'cp1250_general_ci', gbk: 'gbk_chinese_ci', latin5: 'latin5_turkish_ci',
  armscii8: 'armscii8_general_ci', utf8mb3: 'utf8mb3_general_ci', ucs2: 'ucs2_general_ci', cp866: 'cp866_general_ci',
  keybcs2: 'keybcs2_general_ci', macce: 'macce_general_ci', macroman: 'macroman_general_ci', cp852: 'cp852_general_ci',
  latin7: 'latin7_general_ci', utf8mb4: 'utf8mb4_general_ci', cp1251: 'cp1251_general_ci', utf16: 'utf16_general_ci',
  utf16le: 'utf16le_general_ci', cp1256: 'cp1256_general_ci', cp1257: 'cp1257_general_ci', utf32: 'utf32_general_ci',
  binary: 'binary', geostd8: 'geostd8_general_ci', cp932: 'cp932_japanese_ci', eucjpms: 'eucjpms_japanese_ci',
};

/** System schemas of a fresh server. */
const SYSTEM_SCHEMAS = new Set(['information_schema', 'mysql', 'performance_schema', 'sys']);

/** The character set and collation the database must have (names as information_schema prints them). */
export function desiredCharset(args: Pick<MysqlDbArgs, 'encoding' | 'collation'>): { charset: string; collation: string } {
  let charset = args.encoding.toLowerCase();
  if (charset === 'utf8') charset = 'utf8mb3'; // MariaDB's alias (old_mode without UTF8_IS_UTF8MB3 aside)
  let collation = args.collation?.toLowerCase();
  if (collation?.startsWith('utf8_')) collation = 'utf8mb3_' + collation.slice(5);
  if (collation === undefined) {
    collation = DEFAULT_COLLATIONS[charset];
    if (!collation) throw new TaskError(`mysql_db: unknown encoding ${args.encoding}; set collation explicitly`);
  } else if (charset !== 'binary' && !collation.startsWith(charset + '_')) {
    throw new TaskError(`mysql_db: collation ${collation} does not belong to encoding ${charset}`);
  }
  return { charset, collation };
}

function freshDb(name: string): MysqlDbFact {
  if (SYSTEM_SCHEMAS.has(name.toLowerCase())) throw new Unknown(`${name} is a system schema of the MariaDB server that is not installed yet`);
  return { server: 'ok', exists: false };
}

export const mysqlDb: StateModule<MysqlDbArgs, MysqlDbFacts, MysqlDbLocal> = {
  name: 'mysql_db',
  type: 'state',
  exactEffects: true,
  schema: mysqlDbSchema,

  async prepare(args, ctx) {
    desiredCharset(args); // validate early
    if (args.import === undefined) return undefined;
    // the role's files/ first, as copy and template look, then the project's
    const dirs = [...(ctx.roleDir ? [path.resolve(ctx.roleDir, 'files')] : []), path.resolve(ctx.root, 'files')];
    const inside = (dir: string, f: string) => f !== dir && f.startsWith(dir + path.sep);
    const candidates = dirs.map((d) => path.resolve(d, args.import!));
    if (candidates.some((f, i) => !inside(dirs[i], f))) {
      throw new TaskError(`mysql_db: import must be a path inside files/: ${args.import}`);
    }
    const file = candidates.find((f) => existsSync(f)) ?? candidates[candidates.length - 1];
    try {
      return await readFile(file);
    } catch (e) {
      throw new TaskError(`mysql_db: cannot read import file files/${args.import}: ${(e as Error).message}`);
    }
  },

  facts(args) {
    return { db: fact(mysqlDatabaseFact, { name: args.name, socket: args.login_unix_socket }) };
  },

  plan(args, facts, ctx, importContent) {
    return planDb(args, effectiveFacts(facts.db, ctx, () => freshDb(args.name)), ctx, importContent);
  },

  footprint: () => [unknownUnder('mysql_', 'the database server, after a MySQL task whose outcome is unknown in check mode')],
  predict(args, facts, _changes, ctx) {
    effectiveFacts(facts.db, ctx, () => freshDb(args.name), false);
    if (args.state === 'absent') return factEffects(mysqlDb.facts(args, ctx), { db: { server: 'ok', exists: false } });
    return factEffects(mysqlDb.facts(args, ctx), { db: { server: 'ok', exists: true, ...desiredCharset(args) } });
  },
};

function planDb(args: MysqlDbArgs, f: MysqlDbFact, ctx: ModuleContext, importContent: MysqlDbLocal): Change[] {
  const client = mysqlClient(args.login_unix_socket);
  const db = quoteIdent(args.name);
  if (args.state === 'absent') {
    if (!f.exists) return [];
    return [{ action: 'remove', target: args.name, summary: `drop database ${args.name}`, commands: [{ cmd: client, stdin: sqlScript([`DROP DATABASE ${db}`]) }] }];
  }
  const want = desiredCharset(args);
  if (!f.exists) {
    const change: Change = {
      action: 'create',
      target: args.name,
      summary: `create database ${args.name} (${want.charset}, ${want.collation})`,
      commands: [{ cmd: client, stdin: sqlScript([`CREATE DATABASE ${db} CHARACTER SET ${want.charset} COLLATE ${want.collation}`]) }],
    };
    if (args.import !== undefined) {
      if (importContent === undefined) throw new TaskError('mysql_db: import file not loaded (prepare() was not run)');
      change.summary += ` and import files/${args.import}`;
      // One shot: only here, right after the creation. If the import fails the fresh database is
      // dropped again, so the next run creates and imports it again instead of skipping the import.
      const drop = sq(sqlScript([`DROP DATABASE ${db}`]).replace(/\n/g, ' '));
      change.commands.push({
        cmd:
          `( ${mysqlClient(args.login_unix_socket, { database: args.name })} || ` +
          `{ __rc=$?; ${client} -e ${drop} </dev/null; echo ${sq(`mysql_db: import of files/${args.import} failed; database ${args.name} dropped again`)} >&2; exit $__rc; } )`,
        stdin: importContent,
      });
    }
    return [change];
  }
  if (f.charset !== want.charset || f.collation !== want.collation) {
    ctx.note(`ALTER DATABASE changes the defaults for new tables only; existing tables of ${args.name} keep their character set`);
    return [
      {
        action: 'update',
        target: args.name,
        summary: `database ${args.name}: ${f.charset}/${f.collation} -> ${want.charset}/${want.collation}`,
        commands: [{ cmd: client, stdin: sqlScript([`ALTER DATABASE ${db} CHARACTER SET ${want.charset} COLLATE ${want.collation}`]) }],
      },
    ];
  }
  return [];
}
