/**
 * HAProxy runtime API facts, read over the admin socket (`stats socket ... level admin`) with
 * socat: `show servers state <backend>` (the administrative and operational state) and
 * `show stat <backend> 4 -1` (the server's current sessions, status and last check).
 *
 * show servers state (format 1) columns: be_id be_name srv_id srv_name srv_addr srv_op_state
 * srv_admin_state ... srv_op_state: 0 stopped (DOWN), 1 starting (UP, slow start), 2 running
 * (UP), 3 stopping (UP, going down). srv_admin_state is a bit field: 0x01 forced maintenance
 * (`set server ... state maint`), 0x02 inherited maint, 0x04 maint from the configuration,
 * 0x08 forced drain (`state drain`), 0x10 inherited drain, 0x20 maint after a DNS failure.
 */
import { sq } from '../../engine/shell.js';
import type { FactKind } from '../contract.js';

export const ADMIN_SOCKET = '/run/haproxy/admin.sock';

export type AdminState = 'ready' | 'drain' | 'maint';

export interface ServerFact {
  /** Why the runtime API could not be read: socat missing, no socket, or HAProxy's answer. */
  error?: { kind: 'no-socat' | 'no-socket' | 'api'; message: string };
  found: boolean;
  /** The names of the backend's servers (for messages when `found` is false). */
  servers: string[];
  /** The state `set server ... state` controls: forced maint, forced drain, or neither. */
  admin: AdminState;
  /** The raw srv_admin_state bits (inherited or configured states included). */
  adminBits: number;
  /** srv_op_state: 0 DOWN, 1 starting, 2 UP, 3 stopping. */
  opState: number;
  /** Health check sees it UP (op state 1, 2 or 3) and it is not in maintenance. */
  up: boolean;
  /** Current sessions (show stat scur). */
  sessions: number;
  /** show stat status ("UP", "DRAIN", "MAINT", "DOWN 1/2", ...) and last check ("L7OK", "L7STS", ...). */
  status: string;
  check: string;
}

export interface ServerParams {
  socket: string;
  backend: string;
  server: string;
}

/** socat one command to the admin socket; -t: wait that long for the answer after EOF. */
export function apiCommand(socket: string, command: string): string {
  return `printf '%s\\n' ${sq(command)} | socat -t 5 stdio ${sq(`unix-connect:${socket}`)}`;
}

const MAINT_BITS = 0x01 | 0x02 | 0x04 | 0x20;

export const serverFact: FactKind<ServerParams, ServerFact> = {
  kind: 'haproxy_server',
  // a server's health follows its backend host's state
  volatile: true,
  key: (p) => `haproxy_server:${p.socket}:${p.backend}/${p.server}`,
  script: (p) =>
    [
      `if ! command -v socat >/dev/null 2>&1; then echo 'error=no-socat'; exit 0; fi`,
      `if [ ! -S ${sq(p.socket)} ]; then echo 'error=no-socket'; exit 0; fi`,
      `${apiCommand(p.socket, `show servers state ${p.backend}`)} 2>&1 | sed 's/^/state /'`,
      `${apiCommand(p.socket, `show stat ${p.backend} 4 -1`)} 2>&1 | sed 's/^/stat /'`,
    ].join('\n'),
  parse: (out, p) => parseServerFact(out, p),
};

const empty = (): ServerFact => ({ found: false, servers: [], admin: 'ready', adminBits: 0, opState: 0, up: false, sessions: 0, status: '', check: '' });

export function parseServerFact(out: string, p: ServerParams): ServerFact {
  const f = empty();
  const lines = out.split('\n');
  if (lines.includes('error=no-socat')) return { ...f, error: { kind: 'no-socat', message: 'socat is not installed on this host (Debian package socat)' } };
  if (lines.includes('error=no-socket')) return { ...f, error: { kind: 'no-socket', message: `no HAProxy admin socket at ${p.socket} (is HAProxy running, with 'stats socket ${p.socket} level admin'?)` } };
  const state = lines.filter((l) => l.startsWith('state ')).map((l) => l.slice(6));
  const stat = lines.filter((l) => l.startsWith('stat ')).map((l) => l.slice(5));
  const header = state.find((l) => l.startsWith('# be_id'));
  if (!header) {
    const said = [...state, ...stat].map((l) => l.trim()).filter((l) => l && !/^\d+$/.test(l));
    return { ...f, error: { kind: 'api', message: `HAProxy's runtime API did not list backend ${p.backend}: ${said.slice(0, 3).join(' | ') || 'no answer'}` } };
  }
  const cols = header.slice(2).trim().split(/\s+/);
  const col = (row: string[], name: string) => row[cols.indexOf(name)];
  for (const line of state) {
    if (!line.trim() || line.startsWith('#') || /^\d+$/.test(line.trim())) continue;
    const row = line.trim().split(/\s+/);
    if (col(row, 'be_name') !== p.backend) continue;
    const name = col(row, 'srv_name');
    f.servers.push(name);
    if (name !== p.server) continue;
    f.found = true;
    f.opState = Number(col(row, 'srv_op_state'));
    f.adminBits = Number(col(row, 'srv_admin_state'));
  }
  if (!f.found) return f;
  f.admin = f.adminBits & 0x01 ? 'maint' : f.adminBits & 0x08 ? 'drain' : 'ready';
  f.up = f.opState > 0 && (f.adminBits & MAINT_BITS) === 0;
  const csvHeader = stat.find((l) => l.startsWith('# pxname'));
  if (csvHeader) {
    const names = csvHeader.slice(2).split(',');
    for (const line of stat) {
      const row = line.split(',');
      if (row[0] !== p.backend || row[1] !== p.server) continue;
      f.sessions = Number(row[names.indexOf('scur')]) || 0;
      f.status = row[names.indexOf('status')] ?? '';
      f.check = (row[names.indexOf('check_status')] ?? '').replace(/^\* /, ''); // '* ': a check in progress
    }
  }
  return f;
}
