import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseServerFact, serverFact } from '../../../src/modules/haproxy/facts.js';
import { haproxyBackendServer as mod } from '../../../src/modules/haproxy/haproxy_backend_server.js';
import { makeCtx, parse } from './helpers.js';

// Real answers of HAProxy 2.6 (Debian bookworm) to `show servers state foobar_web` and
// `show stat foobar_web 4 -1`, as the fact script prefixes them.
const HEADER =
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port';
const CSV_HEADER =
  '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code';
const csvRow = (srv: string, scur: number, status: string, check: string) =>
  `foobar_web,${srv},0,0,${scur},1,,5,0,0,,0,,0,0,0,0,${status},1,1,0,0,0,10,0,,1,3,1,,5,,2,0,,1,${check},200`;
function output(o: { op1: number; adm1: number; scur1: number; status1: string; check1: string }): string {
  return [
    'state 1',
    `state ${HEADER}`,
    `state 3 foobar_web 1 web-01 10.77.0.11 ${o.op1} ${o.adm1} 1 1 12 15 3 3 6 0 0 0 - 80 - 0 0 - - 0`,
    'state 3 foobar_web 2 web-02 10.77.0.12 2 0 1 1 12 15 3 3 6 0 0 0 - 80 - 0 0 - - 0',
    'state ',
    `stat ${CSV_HEADER}`,
    `stat ${csvRow('web-01', o.scur1, o.status1, o.check1)}`,
    `stat ${csvRow('web-02', 0, 'UP', 'L7OK')}`,
    'stat ',
  ].join('\n');
}
const params = { socket: '/run/haproxy/admin.sock', backend: 'foobar_web', server: 'web-01' };
const read = (o: Parameters<typeof output>[0]) => parseServerFact(output(o), params);
const up = read({ op1: 2, adm1: 0, scur1: 0, status1: 'UP', check1: 'L7OK' });
const drainingBusy = read({ op1: 2, adm1: 8, scur1: 3, status1: 'DRAIN', check1: 'L7OK' });
const drained = read({ op1: 2, adm1: 8, scur1: 0, status1: 'DRAIN', check1: '* L7OK' });
const maint = read({ op1: 0, adm1: 1, scur1: 0, status1: 'MAINT', check1: '' });
const readyDown = read({ op1: 0, adm1: 0, scur1: 0, status1: 'DOWN', check1: 'L7STS' });

describe('haproxy_backend_server: facts', () => {
  test('reads the admin state (forced bits), the health (op state) and the sessions', () => {
    assert.deepEqual(
      [up, drainingBusy, drained, maint, readyDown].map((f) => [f.found, f.admin, f.up, f.sessions, f.status, f.check]),
      [
        [true, 'ready', true, 0, 'UP', 'L7OK'],
        [true, 'drain', true, 3, 'DRAIN', 'L7OK'],
        [true, 'drain', true, 0, 'DRAIN', 'L7OK'],
        [true, 'maint', false, 0, 'MAINT', ''],
        [true, 'ready', false, 0, 'DOWN', 'L7STS'],
      ],
    );
    assert.deepEqual(up.servers, ['web-01', 'web-02']);
    const other = parseServerFact(output({ op1: 2, adm1: 0, scur1: 0, status1: 'UP', check1: 'L7OK' }), { ...params, server: 'web-09' });
    assert.equal(other.found, false);
  });

  test('socat missing, no socket, an unknown backend: an error naming the cause', () => {
    assert.equal(parseServerFact('error=no-socat\n', params).error?.kind, 'no-socat');
    assert.match(parseServerFact('error=no-socket\n', params).error!.message, /no HAProxy admin socket at \/run\/haproxy\/admin.sock/);
    const unknown = parseServerFact("state Can't find backend.\nstate \nstat \n", params);
    assert.match(unknown.error!.message, /did not list backend foobar_web: Can't find backend\./);
  });

  test('the fact script reports a missing socket without failing', () => {
    const r = spawnSync('sh', ['-c', serverFact.script({ ...params, socket: '/nonexistent/admin.sock' })], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^error=no-(socat|socket)$/m);
    assert.equal(serverFact.key(params), 'haproxy_server:/run/haproxy/admin.sock:foobar_web/web-01');
  });
});

describe('haproxy_backend_server: args', () => {
  test('names are checked (they go into runtime API commands); waits go with their states', () => {
    assert.throws(() => parse(mod, { backend: 'foobar_web; shutdown', server: 'web-01', state: 'drain' }), /HAProxy name/);
    assert.throws(() => parse(mod, { backend: 'b', server: 's', state: 'ready', wait_drained: true }), /wait_drained goes with state drain or maint/);
    assert.throws(() => parse(mod, { backend: 'b', server: 's', state: 'drain', wait_up: true }), /wait_up goes with state ready/);
    assert.throws(() => parse(mod, { backend: 'b', server: 's', state: 'disabled' }));
    const a = parse(mod, { backend: 'b', server: 's', state: 'drain' });
    assert.equal(a.socket, '/run/haproxy/admin.sock');
    assert.equal(a.timeout, 60);
  });
});

describe('haproxy_backend_server: check mode (what the fixtures cannot show)', () => {
  test('no change, no effect; an unknown outcome makes this server unknown, nothing else', () => {
    const ctx = makeCtx({ check: true });
    const args = parse(mod, { backend: 'foobar_web', server: 'web-01', state: 'drain' });
    assert.deepEqual(mod.predict!(args, { server: drained }, [], ctx), [], 'no change, no effect');
    const [fp] = mod.footprint!(args, ctx);
    assert.equal(fp.touches('haproxy_server:/run/haproxy/admin.sock:foobar_web/web-01'), true);
    assert.equal(fp.touches('haproxy_server:/run/haproxy/admin.sock:foobar_web/web-02'), false);
  });
});
