import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertModule } from '../../../src/modules/checks/assert.js';
import { httpCheck } from '../../../src/modules/checks/http_check.js';
import { waitFor } from '../../../src/modules/checks/wait_for.js';
import { fail, FakeConnection, localConnection, makeCtx, ok, parse } from './helpers.js';

const CRLF = (lines: string[]) => lines.join('\r\n');
const response = (status: string, headers: Record<string, string>, body: string) =>
  CRLF([`HTTP/1.1 ${status}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', body]);

describe('assert', () => {
  test('passes on the first attempt', async () => {
    const conn = FakeConnection.sequence([ok('active\n')]);
    const r = await assertModule.run(parse(assertModule, { cmd: 'systemctl is-active nginx', expect_stdout: '^active$' }), conn, makeCtx());
    assert.equal(r.ok, true);
    assert.equal(r.message, 'assertion holds');
    assert.deepEqual(r.data, { rc: 0, stdout: 'active\n', stderr: '', attempts: 1 });
    assert.deepEqual(
      conn.calls.map((c) => c.cmd),
      ['systemctl is-active nginx'],
    );
  });

  test('retries: fails twice, then passes', async () => {
    const conn = FakeConnection.sequence([fail(3, 'inactive'), fail(3, 'activating'), ok('active\n')]);
    const r = await assertModule.run(parse(assertModule, { cmd: 'systemctl is-active app', retries: 3, delay: 0, msg: 'app is up' }), conn, makeCtx());
    assert.equal(r.ok, true);
    assert.equal(r.message, 'app is up');
    assert.equal(r.data!.attempts, 3);
    assert.equal(conn.calls.length, 3);
  });

  test('retries exhausted: the last failure, the attempts and the command', async () => {
    const conn = FakeConnection.sequence([fail(1, 'boom 1'), fail(1, 'a\nb\nc\nd\ne\nf\nboom 2')]);
    const r = await assertModule.run(parse(assertModule, { cmd: 'curl -sf localhost:8080/health', retries: 1, delay: 0 }), conn, makeCtx());
    assert.equal(r.ok, false);
    assert.equal(r.message, 'exit code 1, expected 0; stderr: c\nd\ne\nf\nboom 2 (after 2 attempts) — command: curl -sf localhost:8080/health');
    assert.equal(r.data!.attempts, 2);
  });

  test('expect_rc other than 0', async () => {
    const r = await assertModule.run(parse(assertModule, { cmd: 'grep -q secret /var/log/app.log', expect_rc: 1 }), FakeConnection.sequence([fail(1)]), makeCtx());
    assert.equal(r.ok, true);
    const s = await assertModule.run(parse(assertModule, { cmd: 'grep -q secret /var/log/app.log', expect_rc: 1 }), FakeConnection.sequence([ok()]), makeCtx());
    assert.equal(s.message, 'exit code 0, expected 1 — command: grep -q secret /var/log/app.log');
  });

  test('expect_stdout mismatch: message shows the pattern and the output', async () => {
    const conn = FakeConnection.sequence([ok('ii  nginx 1.22\n')]);
    const r = await assertModule.run(parse(assertModule, { cmd: 'nginx -v 2>&1', expect_stdout: 'nginx/1\\.24', msg: 'nginx version' }), conn, makeCtx());
    assert.equal(r.ok, false);
    assert.equal(r.message, 'nginx version: stdout does not match /nginx/1\\.24/: "ii  nginx 1.22" — command: nginx -v 2>&1');
  });

  test('expect_stdout is multi-line', async () => {
    const r = await assertModule.run(parse(assertModule, { cmd: 'ss -ltn', expect_stdout: '^LISTEN .*:443 ' }), FakeConnection.sequence([ok('State Recv-Q\nLISTEN 0 511 0.0.0.0:443 0.0.0.0:*\n')]), makeCtx());
    assert.equal(r.ok, true);
  });
});

describe('assert: writes', () => {
  test('writes: true declares a command that writes (a restore drill): check mode reports it unknown instead of running it', async () => {
    assert.equal(assertModule.writes!(parse(assertModule, { cmd: '/usr/local/sbin/foobar-backup-drill', writes: true })), true);
    assert.equal(assertModule.writes!(parse(assertModule, { cmd: 'true' })), false);
  });
});

describe('http_check: request and parsing', () => {
  test('builds the curl command line', async () => {
    const conn = FakeConnection.sequence([ok(response('200 OK', { 'Content-Type': 'text/plain' }, 'ok'))]);
    const a = parse(httpCheck, { url: 'https://app.example.com/health', resolve: '10.0.0.5', headers: { 'X-Token': 'a b' }, insecure: true, timeout: 3 });
    const r = await httpCheck.run(a, conn, makeCtx());
    assert.equal(r.ok, true);
    // headers travel in a curl config on stdin, never on the command line
    assert.equal(conn.calls[0].cmd, `curl -sS -i -X GET -m 3 -k --resolve app.example.com:443:10.0.0.5 -K - https://app.example.com/health`);
    assert.deepEqual(conn.calls[0].opts, { stdin: 'header = "X-Token: a b"\n', become: false, timeoutMs: 8000 });
  });

  test('parses status, lower-cased headers and body (CRLF)', async () => {
    const out = response('200 OK', { Server: 'nginx', 'X-Backend': 'app2', 'Content-Type': 'application/json' }, '{"status":"ok"}\r\n');
    const r = await httpCheck.run(parse(httpCheck, { url: 'http://lb/health', expect_body: '"status":"ok"', expect_header: { 'x-backend': '^app[0-9]$' } }), FakeConnection.sequence([ok(out)]), makeCtx());
    assert.equal(r.ok, true, r.message);
    assert.equal(r.message, 'GET http://lb/health: 1 × 200');
    assert.equal(r.data!.status, 200);
    assert.deepEqual(r.data!.headers, { server: 'nginx', 'x-backend': 'app2', 'content-type': 'application/json' });
    assert.equal(r.data!.body, '{"status":"ok"}\n');
  });

  test('skips interim 100 Continue responses; HTTP/2 status lines', async () => {
    const out = CRLF(['HTTP/1.1 100 Continue', '', 'HTTP/1.1 201 Created', 'Location: /items/7', '', 'created']);
    const r = await httpCheck.run(parse(httpCheck, { url: 'http://api/items', method: 'POST', body: '{"a":1}', expect_status: 201 }), FakeConnection.sequence([ok(out)]), makeCtx());
    assert.equal(r.ok, true, r.message);
    assert.equal(r.data!.status, 201);
    assert.deepEqual(r.data!.headers, { location: '/items/7' });
    assert.equal(r.data!.body, 'created');
    const h2 = await httpCheck.run(parse(httpCheck, { url: 'https://h2/' }), FakeConnection.sequence([ok('HTTP/2 200\r\nalt-svc: h3=":443"\r\n\r\nhi')]), makeCtx());
    assert.equal(h2.ok, true);
    assert.deepEqual(h2.data!.headers, { 'alt-svc': 'h3=":443"' });
  });

  test('status, body and header mismatches', async () => {
    const run = (args: unknown, out: string) => httpCheck.run(parse(httpCheck, args), FakeConnection.sequence([ok(out)]), makeCtx());
    const s = await run({ url: 'http://lb/' }, response('503 Service Unavailable', {}, 'down'));
    assert.equal(s.ok, false);
    assert.equal(s.message, 'GET http://lb/: request 1/1: status 503, expected 200');
    assert.equal(s.data!.status, 503);
    const b = await run({ url: 'http://lb/', expect_body: 'Welcome' }, response('200 OK', {}, 'It works'));
    assert.equal(b.message, 'GET http://lb/: request 1/1: body does not match /Welcome/: "It works"');
    const h = await run({ url: 'http://lb/', expect_header: { 'Strict-Transport-Security': 'max-age=\\d+' } }, response('200 OK', {}, ''));
    assert.equal(h.message, 'GET http://lb/: request 1/1: header Strict-Transport-Security: missing, expected /max-age=\\d+/');
    const w = await run({ url: 'http://lb/', expect_header: { 'Cache-Control': 'no-store' } }, response('200 OK', { 'cache-control': 'public' }, ''));
    assert.equal(w.message, 'GET http://lb/: request 1/1: header Cache-Control: "public", expected /no-store/');
  });

  test('curl failure is reported with its stderr', async () => {
    const conn = FakeConnection.sequence([fail(7, 'curl: (7) Failed to connect to 10.0.0.5 port 443 after 1 ms: Connection refused\n')]);
    const r = await httpCheck.run(parse(httpCheck, { url: 'https://app.example.com/', resolve: '10.0.0.5' }), conn, makeCtx());
    assert.equal(r.ok, false);
    assert.equal(
      r.message,
      'GET https://app.example.com/ via 10.0.0.5: curl GET https://app.example.com/ (resolved to 10.0.0.5) failed: curl: (7) Failed to connect to 10.0.0.5 port 443 after 1 ms: Connection refused',
    );
  });

  test('retries until the response matches', async () => {
    const conn = FakeConnection.sequence([ok(response('502 Bad Gateway', {}, '')), ok(response('200 OK', {}, 'ok'))]);
    const r = await httpCheck.run(parse(httpCheck, { url: 'http://lb/', retries: 2, delay: 0 }), conn, makeCtx());
    assert.equal(r.ok, true);
    assert.equal(conn.calls.length, 2);
  });
});

describe('http_check: expect_header_values', () => {
  const backends = (names: string[]) => FakeConnection.sequence(names.map((n) => ok(response('200 OK', { 'X-Backend': n }, 'ok'))));

  test('all_of: every value seen across the requests', async () => {
    const conn = backends(['app1', 'app2', 'app1', 'app3']);
    const r = await httpCheck.run(parse(httpCheck, { url: 'http://lb/', requests: 4, expect_header_values: { header: 'X-Backend', all_of: ['app1', 'app2', 'app3'] } }), conn, makeCtx());
    assert.equal(r.ok, true, r.message);
    assert.equal(r.message, 'GET http://lb/: 4 × 200; X-Backend: app1, app2, app1, app3');
    assert.deepEqual(r.data!.seen, ['app1', 'app2', 'app1', 'app3']);
    assert.equal(conn.calls.length, 4);
  });

  test('all_of: a value never seen fails, listing what was seen', async () => {
    const r = await httpCheck.run(
      parse(httpCheck, { url: 'http://lb/', requests: 3, expect_header_values: { header: 'X-Backend', all_of: ['app1', 'app2'] } }),
      backends(['app1', 'app1', 'app1']),
      makeCtx(),
    );
    assert.equal(r.ok, false);
    assert.equal(r.message, 'GET http://lb/: X-Backend never was app2 in 3 requests (saw: app1, app1, app1)');
  });

  test('a response without the header counts as (none)', async () => {
    const conn = FakeConnection.sequence([ok(response('200 OK', {}, '')), ok(response('200 OK', { 'x-backend': 'b' }, ''))]);
    const r = await httpCheck.run(parse(httpCheck, { url: 'http://lb/', requests: 2, expect_header_values: { header: 'X-Backend', all_of: ['a', 'b'] } }), conn, makeCtx());
    assert.equal(r.message, 'GET http://lb/: X-Backend never was a in 2 requests (saw: (none), b)');
  });

  test('stops at the first bad response', async () => {
    const conn = FakeConnection.sequence([ok(response('200 OK', {}, '')), ok(response('500 Internal Server Error', {}, ''))]);
    const r = await httpCheck.run(parse(httpCheck, { url: 'http://lb/', requests: 5 }), conn, makeCtx());
    assert.equal(r.message, 'GET http://lb/: request 2/5: status 500, expected 200');
    assert.equal(conn.calls.length, 2);
  });
});

describe('http_check: methods that write', () => {
  test('writes() is true for POST/PUT/DELETE only', () => {
    assert.equal(httpCheck.writes!(parse(httpCheck, { url: 'http://x/', method: 'POST' })), true);
    assert.equal(httpCheck.writes!(parse(httpCheck, { url: 'http://x/', method: 'PUT' })), true);
    assert.equal(httpCheck.writes!(parse(httpCheck, { url: 'http://x/', method: 'DELETE' })), true);
    assert.equal(httpCheck.writes!(parse(httpCheck, { url: 'http://x/' })), false);
    assert.equal(httpCheck.writes!(parse(httpCheck, { url: 'http://x/', method: 'HEAD' })), false);
  });

  test('POST sends headers and body in a curl config on stdin (quoted), not in argv', async () => {
    const conn = FakeConnection.sequence([ok(response('200 OK', {}, ''))]);
    await httpCheck.run(parse(httpCheck, { url: 'http://api/login', method: 'POST', body: '{"user":"a\\b"}\nline2', headers: { 'Content-Type': 'application/json' } }), conn, makeCtx());
    assert.equal(conn.calls[0].cmd, `curl -sS -i -X POST -m 10 -K - http://api/login`);
    assert.equal(conn.calls[0].opts!.stdin, 'header = "Content-Type: application/json"\ndata-raw = "{\\"user\\":\\"a\\\\b\\"}\\nline2"\n');
  });

  test('HEAD uses curl -I (not -X HEAD, which waits for a body)', async () => {
    const conn = FakeConnection.sequence([ok(response('200 OK', { 'Content-Length': '5' }, ''))]);
    const r = await httpCheck.run(parse(httpCheck, { url: 'http://lb/', method: 'HEAD' }), conn, makeCtx());
    assert.equal(r.ok, true);
    assert.equal(conn.calls[0].cmd, 'curl -sS -i -I -m 10 http://lb/');
  });
});

describe('wait_for', () => {
  test('args: exactly one of port or url', () => {
    assert.throws(() => parse(waitFor, {}), /exactly one of 'port' or 'url'/);
    assert.throws(() => parse(waitFor, { port: 80, url: 'http://x/' }), /exactly one of 'port' or 'url'/);
    assert.throws(() => parse(waitFor, { port: 70000 }));
  });

  test('port: one polling script, with a transport timeout beyond the deadline', async () => {
    const conn = FakeConnection.sequence([ok()]);
    const r = await waitFor.run(parse(waitFor, { port: 5432, timeout: 20 }), conn, makeCtx());
    assert.deepEqual(r, { ok: true, message: '127.0.0.1:5432 is up' });
    assert.match(conn.calls[0].cmd, /^end=\$\(\( \$\(date \+%s\) \+ 20 \)\); while :; do if timeout 2 bash -c 'exec 3<>"\/dev\/tcp\/\$1\/\$2"' _ 127\.0\.0\.1 5432 2>\/dev\/null; then exit 0; fi;/);
    assert.equal(conn.calls[0].opts!.timeoutMs, 30_000);
  });

  test('url: polls the status code; a timeout fails', async () => {
    const conn = FakeConnection.sequence([fail(1)]);
    const r = await waitFor.run(parse(waitFor, { url: 'http://127.0.0.1:8080/health', status: 204, timeout: 5 }), conn, makeCtx());
    assert.deepEqual(r, { ok: false, message: 'timed out after 5s waiting for http://127.0.0.1:8080/health -> 204' });
    assert.match(conn.calls[0].cmd, /\[ "\$\(curl -s -o \/dev\/null -m 2 -w '%\{http_code\}' http:\/\/127\.0\.0\.1:8080\/health\)" = 204 \]/);
  });
});

describe('checks against a real local HTTP server (curl and bash on this machine)', () => {
  let server: Server;
  let port = 0;
  const seen: { method: string; body: string }[] = [];

  before(async () => {
    let n = 0;
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, body });
        res.setHeader('X-Backend', `app${(n++ % 2) + 1}`);
        res.setHeader('Content-Length', '3');
        res.end(req.method === 'HEAD' ? undefined : 'ok\n');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('GET round robin over two back ends', async () => {
    const r = await httpCheck.run(
      parse(httpCheck, { url: `http://127.0.0.1:${port}/`, requests: 4, expect_body: '^ok$', expect_header_values: { header: 'X-Backend', all_of: ['app1', 'app2'] } }),
      localConnection,
      makeCtx(),
    );
    assert.equal(r.ok, true, r.message);
    assert.deepEqual(r.data!.seen, ['app1', 'app2', 'app1', 'app2']);
  });

  test('POST body arrives; HEAD returns promptly', async () => {
    seen.length = 0;
    const p = await httpCheck.run(parse(httpCheck, { url: `http://127.0.0.1:${port}/x`, method: 'POST', body: 'a=1&b=2' }), localConnection, makeCtx());
    assert.equal(p.ok, true, p.message);
    const t0 = Date.now();
    const h = await httpCheck.run(parse(httpCheck, { url: `http://127.0.0.1:${port}/x`, method: 'HEAD', timeout: 5 }), localConnection, makeCtx());
    assert.equal(h.ok, true, h.message);
    assert.equal(h.data!.status, 200);
    assert.ok(Date.now() - t0 < 4000);
    assert.deepEqual(seen, [
      { method: 'POST', body: 'a=1&b=2' },
      { method: 'HEAD', body: '' },
    ]);
  });

  test('wait_for a listening port and URL', async () => {
    const up = await waitFor.run(parse(waitFor, { port, timeout: 2 }), localConnection, makeCtx());
    assert.deepEqual(up, { ok: true, message: `127.0.0.1:${port} is up` });
    const url = await waitFor.run(parse(waitFor, { url: `http://127.0.0.1:${port}/`, timeout: 2 }), localConnection, makeCtx());
    assert.deepEqual(url, { ok: true, message: `http://127.0.0.1:${port}/ -> 200 is up` });
  });

  test('wait_for a closed port times out', async () => {
    const tmp = createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    const closed = (tmp.address() as AddressInfo).port;
    await new Promise<void>((r) => tmp.close(() => r()));
    const down = await waitFor.run(parse(waitFor, { port: closed, timeout: 1 }), localConnection, makeCtx());
    assert.deepEqual(down, { ok: false, message: `timed out after 1s waiting for 127.0.0.1:${closed}` });
  });
});
