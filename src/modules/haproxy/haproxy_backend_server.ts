/**
 * haproxy_backend_server: a server of an HAProxy backend set to ready, drain or maint through
 * the runtime API (admin socket), as `set server BACKEND/SERVER state ...` does:
 *   - ready: takes traffic (when its health check is UP),
 *   - drain: takes no new sessions, finishes the current ones; health checks go on,
 *   - maint: out of the pool, health checks stop.
 * wait_drained: after drain/maint, wait until the server has no current sessions.
 * wait_up: after ready, wait until HAProxy's health check sees the server UP.
 * Both waits fail the task after `timeout` seconds, naming what HAProxy reports.
 *
 * The runtime state is not written to haproxy.cfg: a reload/restart of HAProxy puts every
 * server back to ready (unless a server-state-file is configured).
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { factEffects, unknownUnder } from '../../engine/prediction.js';
import { fact, TaskError, Unknown, type Change, type StateModule } from '../contract.js';
import { ADMIN_SOCKET, apiCommand, serverFact, type ServerFact } from './facts.js';

const name = z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'a HAProxy name: letters, digits, _ . : -');

const schema = z
  .object({
    backend: name,
    server: name,
    state: z.enum(['ready', 'drain', 'maint']),
    socket: z.string().regex(/^\/\S+$/, 'an absolute path').default(ADMIN_SOCKET),
    wait_drained: z.boolean().default(false),
    wait_up: z.boolean().default(false),
    /** Seconds for either wait. */
    timeout: z.number().int().min(1).max(3600).default(60),
  })
  .strict()
  .refine((a) => !a.wait_drained || a.state !== 'ready', { message: 'wait_drained goes with state drain or maint', path: ['wait_drained'] })
  .refine((a) => !a.wait_up || a.state === 'ready', { message: 'wait_up goes with state ready', path: ['wait_up'] });

type Args = z.infer<typeof schema>;
type Facts = { server: ServerFact };

/** Fails (exit 1) unless HAProxy's answer to `set server` is empty (its way of saying done). */
function setState(a: Args): string {
  return `out=$(${apiCommand(a.socket, `set server ${a.backend}/${a.server} state ${a.state}`)}) || exit 1; ` + `if [ -n "$(printf '%s' "$out" | tr -d '[:space:]')" ]; then printf '%s\\n' "$out" >&2; exit 1; fi`;
}

/** A bounded poll loop on the runtime API: every 0.5 s, `timeout` s in all (plus the queries' time). */
function waitLoop(a: Args, test: string, what: string): string {
  const stat = `${apiCommand(a.socket, `show stat ${a.backend} 4 -1`)} | awk -F, -v s=${sq(a.server)} '$2 == s'`;
  return [
    `n=0`,
    `while :; do`,
    `  row=$(${stat})`,
    `  state=$(${apiCommand(a.socket, `show servers state ${a.backend}`)} | awk -v s=${sq(a.server)} '$4 == s { print $6, $7 }')`,
    `  op=\${state%% *}; adm=\${state##* }`,
    `  scur=$(printf '%s' "$row" | cut -d, -f5)`,
    `  if ${test}; then exit 0; fi`,
    `  if [ "$n" -ge ${a.timeout * 2} ]; then`,
    `    echo "${a.backend}/${a.server}: ${what} after ${a.timeout} s: status $(printf '%s' "$row" | cut -d, -f18), check $(printf '%s' "$row" | cut -d, -f37), $scur current session(s)" >&2`,
    `    exit 1`,
    `  fi`,
    `  n=$((n + 1)); sleep 0.5`,
    `done`,
  ].join('\n');
}

// op state 1-3 = UP; admin bits 0x27 = some maintenance
const UP_TEST = `[ -n "$op" ] && [ "$op" -ge 1 ] && [ $(( adm & 39 )) -eq 0 ]`;
const DRAINED_TEST = `[ "$scur" = 0 ]`;

export const haproxyBackendServer: StateModule<Args, Facts> = {
  name: 'haproxy_backend_server',
  type: 'state',
  exactEffects: true,
  schema,
  facts: (a) => ({ server: fact(serverFact, { socket: a.socket, backend: a.backend, server: a.server }) }),
  plan(a, { server: f }, ctx) {
    const target = `${a.backend}/${a.server}`;
    if (f.error) {
      // check mode: HAProxy or socat may be installed by an earlier task of this run
      if (ctx.check && f.error.kind !== 'api') throw new Unknown(`${target}: ${f.error.message} (yet: an earlier task may install it)`);
      throw new TaskError(`${target}: ${f.error.message}`);
    }
    if (!f.found) throw new TaskError(`backend ${a.backend} has no server ${a.server} (servers: ${f.servers.join(', ') || 'none'})`);
    const changes: Change[] = [];
    const waitDrained = a.wait_drained ? waitLoop(a, DRAINED_TEST, 'sessions still open') : undefined;
    const waitUp = a.wait_up ? waitLoop(a, UP_TEST, 'not UP') : undefined;
    if (f.admin !== a.state) {
      const wait = waitDrained ?? waitUp;
      const then = waitDrained ? `, then wait until it has no session (now ${f.sessions})` : waitUp ? ', then wait until its health check is UP' : '';
      changes.push({
        action: a.state,
        target,
        summary: `${target}: ${f.admin} -> ${a.state}${then ? `${then} (${a.timeout} s at most)` : ''}`,
        commands: [{ cmd: setState(a), display: `set server ${target} state ${a.state}` }, ...(wait ? [{ cmd: wait, display: `wait for ${target}` }] : [])],
      });
    } else if (waitDrained && f.sessions > 0) {
      changes.push({ action: 'wait', target, summary: `${target}: wait for ${f.sessions} current session(s) to end (${a.timeout} s at most)`, oneShot: true, commands: [{ cmd: waitDrained, display: `wait for ${target} to drain` }] });
    } else if (waitUp && !f.up) {
      const why = [f.status, f.check].filter(Boolean).join(', ');
      changes.push({ action: 'wait', target, summary: `${target}: wait until its health check is UP (now ${why || 'DOWN'}; ${a.timeout} s at most)`, oneShot: true, commands: [{ cmd: waitUp, display: `wait for ${target} to be UP` }] });
    }
    return changes;
  },
  // Check mode, outcome unknown: this server's runtime state becomes unknown for later tasks.
  footprint(a) {
    return [unknownUnder(serverFact.key({ socket: a.socket, backend: a.backend, server: a.server }), `${a.backend}/${a.server} is managed by a task whose outcome is unknown in check mode`)];
  },
  // Check mode: the state is set exactly; the waits are assumed to succeed (they fail the task otherwise).
  predict(a, { server: f }, changes, ctx) {
    if (f.error || !f.found || changes.length === 0) return [];
    const after: ServerFact = { ...f, admin: a.state, up: a.wait_up ? true : a.state === 'maint' ? false : f.up, sessions: a.wait_drained ? 0 : f.sessions };
    return factEffects(haproxyBackendServer.facts(a, ctx), { server: after });
  },
};
