/**
 * mysql_replication: make this MariaDB server a GTID replica of a primary (default connection).
 *
 *   - mysql_replication: { primary_host: db1.internal, user: repl, password: '{{ vault.repl }}' }
 *
 * Plan:
 *  - not configured, or primary host/port/user/use_gtid/connect_retry/password differ:
 *      STOP SLAVE; CHANGE MASTER TO ...; then START SLAVE (state: running)
 *  - configured correctly but a replication thread is stopped: START SLAVE only
 *  - configured correctly and running (IO thread Yes or still Connecting): no change — a healthy
 *    replica is never stopped or reset.
 *
 * The password is sent on stdin only. SHOW SLAVE STATUS does not show it; the fact snippet reads
 * master.info (datadir/master.info, line 6) on the host and prints only sha256(salt + password)
 * with a random per-run salt, so a password rotation is detected. When master.info cannot be read
 * (non-default --master-info-file, no sha256sum), a password rotation alone is NOT detected:
 * change it together with another setting or run `STOP SLAVE; RESET SLAVE ALL` first.
 *
 * After START SLAVE the command waits up to 10 s for both threads to run; a replication error
 * (e.g. "Access denied for user 'repl'") is printed to stderr and fails the task.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { factEffects, unknownUnder } from '../../engine/prediction.js';
import type { Change, ModuleContext, StateModule } from '../contract.js';
import { fact } from '../contract.js';
import { effectiveFacts, mysqlReplicationFact, replicationPasswordDigest, type MysqlReplicationFact, type ReplicaStatus } from './facts.js';
import { mysqlClient, quoteString, sqlScript } from './sql.js';

export const mysqlReplicationSchema = z
  .object({
    primary_host: z.string().min(1).optional(),
    primary_port: z.coerce.number().int().min(1).max(65535).default(3306),
    /** Replication account on the primary (needs REPLICATION SLAVE). */
    user: z.string().min(1).optional(),
    password: z.string().optional(),
    use_gtid: z.enum(['slave_pos', 'current_pos']).default('slave_pos'),
    /** absent: this server is not a replica (a promoted former replica forgets its primary). */
    state: z.enum(['running', 'stopped', 'absent']).default('running'),
    /** MASTER_CONNECT_RETRY seconds; default: left as is (60 on a new replica). */
    connect_retry: z.coerce.number().int().min(1, 'seconds: 1 to 31536000').max(31536000, 'seconds: 1 to 31536000').optional(),
    login_unix_socket: z.string().min(1).optional(),
  })
  .strict()
  .refine((a) => a.state === 'absent' || (a.primary_host !== undefined && a.user !== undefined && a.password !== undefined), {
    message: "a replica needs 'primary_host', 'user' and 'password' (or state: absent)",
  })
  // checked above: with state running/stopped these are set; with absent they are unused
  .transform((a) => a as typeof a & { primary_host: string; user: string; password: string });

export type MysqlReplicationArgs = z.output<typeof mysqlReplicationSchema>;

export interface MysqlReplicationFacts {
  replica: MysqlReplicationFact;
}

/** Salt of the password digest: random per controller process, never a secret by itself. */
const SALT = randomBytes(12).toString('hex');

/** A thread counts as running when started, even while the IO thread is still connecting. */
export function threadRunning(state: string): boolean {
  return state === 'Yes' || state === 'Connecting' || state === 'Preparing';
}

function freshReplica(salt: string): MysqlReplicationFact {
  return { server: 'ok', replica: null, gtidSlavePos: '', readOnly: false, passwordDigest: '', salt };
}

/** The shell command that starts the replica and waits (10 s at most) for both threads to run. */
export function startAndWaitCommand(socket?: string): string {
  const client = mysqlClient(socket, { columnNames: true });
  return [
    '(',
    `__st() { ${client} --vertical -e 'SHOW SLAVE STATUS' </dev/null; }`,
    `__fld() { printf '%s\\n' "$1" | sed -n "s/^ *$2: //p" | head -n 1; }`,
    '__s=$(__st) || exit 1',
    '__before="$(__fld "$__s" Last_IO_Error)|$(__fld "$__s" Last_SQL_Error)"',
    `${mysqlClient(socket)} -e 'START SLAVE' </dev/null || exit 1`,
    '__i=0',
    'while :; do',
    '  sleep 0.5',
    '  __i=$((__i + 1))',
    '  __s=$(__st) || exit 1',
    '  __io=$(__fld "$__s" Slave_IO_Running); __sql=$(__fld "$__s" Slave_SQL_Running)',
    '  __ioe=$(__fld "$__s" Last_IO_Error); __sqle=$(__fld "$__s" Last_SQL_Error)',
    '  if [ "$__io" = Yes ] && [ "$__sql" = Yes ]; then exit 0; fi',
    // A stopped thread, a new error, or the same (old) error still there after 10 s: fail.
    '  if [ "$__io" = No ] || [ "$__sql" = No ] || { [ "$__ioe|$__sqle" != "|" ] && { [ "$__ioe|$__sqle" != "$__before" ] || [ $__i -ge 20 ]; }; }; then',
    '    echo "replication is not running (Slave_IO_Running: $__io, Slave_SQL_Running: $__sql)" >&2',
    '    if [ -n "$__ioe" ]; then echo "Last_IO_Error: $__ioe" >&2; fi',
    '    if [ -n "$__sqle" ]; then echo "Last_SQL_Error: $__sqle" >&2; fi',
    '    exit 1',
    '  fi',
    '  if [ $__i -ge 20 ]; then echo "warning: replica IO thread still $__io after 10 s" >&2; exit 0; fi',
    'done',
    ')',
  ].join('\n');
}

function changeMasterSql(args: MysqlReplicationArgs): string {
  const opts = [
    `MASTER_HOST=${quoteString(args.primary_host)}`,
    `MASTER_PORT=${args.primary_port}`,
    `MASTER_USER=${quoteString(args.user)}`,
    `MASTER_PASSWORD=${quoteString(args.password)}`,
    `MASTER_USE_GTID=${args.use_gtid}`,
  ];
  if (args.connect_retry !== undefined) opts.push(`MASTER_CONNECT_RETRY=${args.connect_retry}`);
  return `CHANGE MASTER TO ${opts.join(', ')}`;
}

/** What differs between the replica's configuration and the arguments (no secrets). */
function configDiffs(args: MysqlReplicationArgs, f: MysqlReplicationFact, r: ReplicaStatus): string[] {
  const d: string[] = [];
  if (r.masterHost !== args.primary_host) d.push(`primary_host ${r.masterHost} -> ${args.primary_host}`);
  if (r.masterPort !== args.primary_port) d.push(`primary_port ${r.masterPort} -> ${args.primary_port}`);
  if (r.masterUser !== args.user) d.push(`user ${r.masterUser} -> ${args.user}`);
  if (r.usingGtid !== args.use_gtid) d.push(`use_gtid ${r.usingGtid} -> ${args.use_gtid}`);
  if (args.connect_retry !== undefined && r.connectRetry !== args.connect_retry) d.push(`connect_retry ${r.connectRetry} -> ${args.connect_retry}`);
  if (f.passwordDigest && f.passwordDigest !== replicationPasswordDigest(f.salt, args.password)) d.push('password differs');
  return d;
}

function planReplication(args: MysqlReplicationArgs, f: MysqlReplicationFact, ctx: ModuleContext): Change[] {
  const client = mysqlClient(args.login_unix_socket);
  if (args.state === 'absent') {
    if (!f.replica) return [];
    const was = `${f.replica.masterHost}:${f.replica.masterPort}`;
    return [
      {
        action: 'remove',
        target: `replica of ${was}`,
        summary: `stop replicating from ${was} and forget it (RESET SLAVE ALL): this server is no replica any more`,
        commands: [{ cmd: client, stdin: sqlScript(['STOP SLAVE', 'RESET SLAVE ALL']) }],
      },
    ];
  }
  const target = `replica of ${args.primary_host}:${args.primary_port}`;
  const start = { cmd: startAndWaitCommand(args.login_unix_socket) };
  const r = f.replica;
  const diffs = r ? configDiffs(args, f, r) : [];
  if (!r || diffs.length) {
    const running = args.state === 'running';
    return [
      {
        action: r ? 'update' : 'create',
        target,
        summary: r
          ? `reconfigure replica: ${diffs.join(', ')}${running ? ', restart replication' : ''}`
          : `configure replica of ${args.user}@${args.primary_host}:${args.primary_port} (gtid ${args.use_gtid})${running ? ' and start it' : ''}`,
        commands: [{ cmd: client, stdin: sqlScript(['STOP SLAVE', changeMasterSql(args)]) }, ...(running ? [start] : [])],
      },
    ];
  }
  const io = threadRunning(r.ioRunning);
  const sql = threadRunning(r.sqlRunning);
  if (args.state === 'running') {
    if (io && sql) {
      if (r.ioRunning !== 'Yes') {
        ctx.note(`replica IO thread is ${r.ioRunning} (counted as running)${r.lastIoError ? `; Last_IO_Error: ${r.lastIoError}` : ''}`);
      }
      return [];
    }
    const why = [r.lastIoError && `Last_IO_Error: ${r.lastIoError}`, r.lastSqlError && `Last_SQL_Error: ${r.lastSqlError}`].filter(Boolean).join('; ');
    return [
      {
        action: 'start',
        target,
        summary: `start replication (Slave_IO_Running: ${r.ioRunning}, Slave_SQL_Running: ${r.sqlRunning}${why ? '; ' + why : ''})`,
        commands: [start],
      },
    ];
  }
  if (io || sql) {
    return [{ action: 'stop', target, summary: 'stop replication', commands: [{ cmd: client, stdin: sqlScript(['STOP SLAVE']) }] }];
  }
  return [];
}

export const mysqlReplication: StateModule<MysqlReplicationArgs, MysqlReplicationFacts> = {
  name: 'mysql_replication',
  type: 'state',
  schema: mysqlReplicationSchema,

  facts(args) {
    return { replica: fact(mysqlReplicationFact, { socket: args.login_unix_socket, salt: SALT }) };
  },

  plan(args, facts, ctx) {
    return planReplication(args, effectiveFacts(facts.replica, ctx, () => freshReplica(facts.replica.salt)), ctx);
  },

  footprint: () => [unknownUnder('mysql_', 'the database server, after a MySQL task whose outcome is unknown in check mode')],
  predict(args, facts, changes, ctx) {
    const f = effectiveFacts(facts.replica, ctx, () => freshReplica(facts.replica.salt), false);
    if (changes.length === 0) return factEffects(mysqlReplication.facts(args, ctx), { replica: f });
    if (args.state === 'absent') return factEffects(mysqlReplication.facts(args, ctx), { replica: { ...f, replica: null } });
    const running = args.state === 'running' ? 'Yes' : 'No';
    const prev = f.replica;
    const replica: ReplicaStatus = {
      masterHost: args.primary_host,
      masterPort: args.primary_port,
      masterUser: args.user,
      connectRetry: args.connect_retry ?? prev?.connectRetry ?? 60,
      usingGtid: args.use_gtid,
      ioRunning: running,
      sqlRunning: running,
      ioState: args.state === 'running' ? 'Waiting for master to send event' : '',
      secondsBehindMaster: args.state === 'running' ? '0' : 'NULL',
      gtidIoPos: prev?.gtidIoPos ?? '',
      // MariaDB keeps the last errors across STOP/START SLAVE and CHANGE MASTER
      lastIoErrno: prev?.lastIoErrno ?? 0,
      lastIoError: prev?.lastIoError ?? '',
      lastSqlErrno: prev?.lastSqlErrno ?? 0,
      lastSqlError: prev?.lastSqlError ?? '',
    };
    const { error: _error, ...rest } = f;
    return factEffects(mysqlReplication.facts(args, ctx), { replica: { ...rest, server: 'ok', replica, passwordDigest: replicationPasswordDigest(f.salt, args.password) } });
  },
};

/** Multi-line replica status for -v output (no secrets in SHOW SLAVE STATUS). */
export function renderReplicaStatus(f: MysqlReplicationFact): string {
  if (f.server !== 'ok') return `MariaDB ${f.server}: ${f.error ?? ''}`;
  const r = f.replica;
  if (!r) return `not a replica (read_only: ${f.readOnly ? 'ON' : 'OFF'}, gtid_slave_pos: ${f.gtidSlavePos || '-'})`;
  const lines = [
    `primary: ${r.masterUser}@${r.masterHost}:${r.masterPort} (Using_Gtid: ${r.usingGtid})`,
    `Slave_IO_Running: ${r.ioRunning}${r.ioState ? ` (${r.ioState})` : ''}`,
    `Slave_SQL_Running: ${r.sqlRunning}`,
    `Seconds_Behind_Master: ${r.secondsBehindMaster}`,
    `Gtid_IO_Pos: ${r.gtidIoPos || '-'}`,
    `gtid_slave_pos: ${f.gtidSlavePos || '-'}, read_only: ${f.readOnly ? 'ON' : 'OFF'}`,
  ];
  if (r.lastIoError) lines.push(`Last_IO_Error (${r.lastIoErrno}): ${r.lastIoError}`);
  if (r.lastSqlError) lines.push(`Last_SQL_Error (${r.lastSqlErrno}): ${r.lastSqlError}`);
  return lines.join('\n');
}

