#!/usr/bin/env node
// www.foobar.com application server.
//
// Deployed by provision (playbooks/web.yml) to /srv/foobar/app/server.js and run by
// systemd as foobar-app.service under the unprivileged user `foobar`.
//
// Dependencies: Debian's `nodejs` (v18 on bookworm) and Debian's `node-mysql` package
// only. Debian's node looks modules up in /usr/share/nodejs, where node-mysql lives,
// so `require('mysql')` needs no npm and no node_modules directory.
//
// Settings come from the environment (systemd EnvironmentFile /etc/foobar/app.env):
//   APP_HOST, APP_PORT          where to listen (127.0.0.1:3000: only Nginx talks to us)
//   SERVED_BY                   this web server's inventory name (web-01, ...)
//   APP_VERSION                 the release (app_version), reported by / and /health
//   SITE_DOMAIN                 www.foobar.com
//   DB_NAME, DB_USER, DB_PASSWORD
//   DB_WRITE_HOST, DB_WRITE_PORT  the PRIMARY: every write goes there
//   DB_READ_HOST, DB_READ_PORT    the LOCAL server (primary on web-01, replica on web-02)
//   DB_ROLE                     primary | replica (role of the local database server)
//
// Endpoints:
//   GET  /                      small HTML page "www.foobar.com served by <host>" (+ version)
//   GET  /health                200 {"status":"ok","db":"ok","role":..,"version":..} if SELECT 1 works on
//                               the local (read) database, else 503 (used by HAProxy)
//   POST /api/messages          text body or JSON {"body": "..."}: INSERT on the primary,
//                               201 {"id":..,"served_by":..}
//   GET  /api/messages?body=X   rows read from the LOCAL database, with "read_from"
//
// The database may be down or restarting at any time: every query has a timeout, failed
// connections are dropped from the pools and re-opened on the next request, and errors
// are answered with 503 instead of crashing the process.
'use strict';

const http = require('http');
const mysql = require('mysql');

function env(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback === undefined) {
      console.error(`foobar-app: missing required environment variable ${name}`);
      process.exit(78); // EX_CONFIG: systemd shows it; do not spin
    }
    return fallback;
  }
  return v;
}

const config = {
  listenHost: env('APP_HOST', '127.0.0.1'),
  listenPort: Number(env('APP_PORT', '3000')),
  servedBy: env('SERVED_BY', require('os').hostname()),
  version: env('APP_VERSION', 'unknown'),
  domain: env('SITE_DOMAIN', 'www.foobar.com'),
  role: env('DB_ROLE', 'primary'),
  db: {
    name: env('DB_NAME', 'foobar'),
    user: env('DB_USER', 'foobar'),
    password: env('DB_PASSWORD', ''),
    write: { host: env('DB_WRITE_HOST', '127.0.0.1'), port: Number(env('DB_WRITE_PORT', '3306')) },
    read: { host: env('DB_READ_HOST', '127.0.0.1'), port: Number(env('DB_READ_PORT', '3306')) },
  },
};

const QUERY_TIMEOUT_MS = 5000;
const HEALTH_TIMEOUT_MS = 2000;
const MAX_BODY_BYTES = 16 * 1024;
const MAX_MESSAGE_CHARS = 255;

function log(...args) {
  console.log(new Date().toISOString(), ...args);
}

// ---------------------------------------------------------------------------------------
// Database pools. node-mysql removes a pooled connection as soon as it sees a fatal error
// (server restart, network drop, wait_timeout), and opens a fresh one on the next query.

function makePool(label, target) {
  const pool = mysql.createPool({
    host: target.host,
    port: target.port,
    user: config.db.user,
    password: config.db.password,
    database: config.db.name,
    connectionLimit: 5,
    waitForConnections: true,
    queueLimit: 100,
    connectTimeout: 5000,
    acquireTimeout: 5000,
    charset: 'UTF8MB4_UNICODE_CI',
    timezone: 'Z',
    dateStrings: true,
    supportBigNumbers: true,
  });
  pool.label = `${label} ${target.host}:${target.port}`;
  // Errors of idle pooled connections are emitted on the connection, which the pool
  // already handles; this listener only makes sure nothing can become an uncaught 'error'.
  pool.on('error', (err) => log(`db pool ${pool.label}: ${err.code || err.message}`));
  pool.on('connection', (conn) => {
    conn.on('error', (err) => log(`db connection ${pool.label}: ${err.code || err.message}`));
  });
  return pool;
}

const writePool = makePool('primary', config.db.write);
const readPool = makePool(config.role, config.db.read);

/** Run one query; reads (retry=true) are retried once on a fatal (connection) error. */
function query(pool, sql, values, { timeout = QUERY_TIMEOUT_MS, retry = false } = {}) {
  return new Promise((resolve, reject) => {
    pool.query({ sql, values, timeout }, (err, rows) => {
      if (!err) return resolve(rows);
      if (retry && err.fatal) {
        log(`db ${pool.label}: ${err.code || err.message}; retrying once on a new connection`);
        return pool.query({ sql, values, timeout }, (err2, rows2) => (err2 ? reject(err2) : resolve(rows2)));
      }
      return reject(err);
    });
  });
}

function dbError(err) {
  return err && (err.code || err.message) ? String(err.code || err.message) : 'unknown error';
}

// ---------------------------------------------------------------------------------------
// HTTP helpers

function send(res, status, body, headers = {}) {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(String(body), 'utf8');
  res.writeHead(status, {
    'Content-Length': buf.length,
    'X-Served-By': config.servedBy,
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : buf);
}

function sendJson(res, status, obj, headers = {}) {
  send(res, status, JSON.stringify(obj) + '\n', { 'Content-Type': 'application/json; charset=utf-8', ...headers });
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------
// Handlers

function home(req, res) {
  const host = escapeHtml(config.servedBy);
  const domain = escapeHtml(config.domain);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${domain}</title>
<link rel="stylesheet" href="/static/foobar.css">
</head>
<body>
<h1>${domain} served by ${host}</h1>
<p>Load balanced by HAProxy, static files by Nginx, this page by Node.js on ${host}
(local database: ${escapeHtml(config.role)}).</p>
<p>Version ${escapeHtml(config.version)}</p>
</body>
</html>
`;
  send(res, 200, html, { 'Content-Type': 'text/html; charset=utf-8' });
}

async function health(req, res) {
  const base = { role: config.role, served_by: config.servedBy, version: config.version };
  try {
    await query(readPool, 'SELECT 1 AS ok', [], { timeout: HEALTH_TIMEOUT_MS, retry: true });
    sendJson(res, 200, { status: 'ok', db: 'ok', ...base });
  } catch (err) {
    log(`health: database ${readPool.label} unavailable: ${dbError(err)}`);
    sendJson(res, 503, { status: 'error', db: 'down', ...base, error: dbError(err) });
  }
}

async function postMessage(req, res) {
  let raw;
  try {
    raw = await readBody(req);
  } catch (err) {
    return sendJson(res, err.status || 400, { error: err.message });
  }
  let body = raw;
  const ctype = String(req.headers['content-type'] || '');
  if (/\bjson\b/i.test(ctype) || /^\s*\{/.test(raw)) {
    try {
      const parsed = JSON.parse(raw);
      if (!parsed || typeof parsed.body !== 'string') {
        return sendJson(res, 400, { error: 'JSON body must be an object with a string "body"' });
      }
      body = parsed.body;
    } catch {
      if (/\bjson\b/i.test(ctype)) return sendJson(res, 400, { error: 'invalid JSON' });
      // not JSON after all: keep the raw text
    }
  }
  body = body.trim();
  if (body.length === 0) return sendJson(res, 400, { error: 'empty message body' });
  if ([...body].length > MAX_MESSAGE_CHARS) {
    return sendJson(res, 400, { error: `message body longer than ${MAX_MESSAGE_CHARS} characters` });
  }
  try {
    const result = await query(writePool, 'INSERT INTO messages (body, served_by) VALUES (?, ?)', [
      body,
      config.servedBy,
    ]);
    sendJson(
      res,
      201,
      { id: result.insertId, served_by: config.servedBy, written_to: writePool.label },
      { Location: `/api/messages?id=${result.insertId}` },
    );
  } catch (err) {
    log(`POST /api/messages: primary ${writePool.label} failed: ${dbError(err)}`);
    sendJson(res, 503, { error: 'primary database unavailable', detail: dbError(err), served_by: config.servedBy });
  }
}

async function getMessages(req, res, url) {
  const body = url.searchParams.get('body');
  const id = url.searchParams.get('id');
  let sql = 'SELECT id, body, served_by, created_at FROM messages';
  const values = [];
  if (body !== null) {
    sql += ' WHERE body = ?';
    values.push(body);
  } else if (id !== null) {
    if (!/^\d+$/.test(id)) return sendJson(res, 400, { error: 'id must be a number' });
    sql += ' WHERE id = ?';
    values.push(id);
  }
  sql += ' ORDER BY id DESC LIMIT 100';
  try {
    const rows = await query(readPool, sql, values, { retry: true });
    sendJson(res, 200, {
      read_from: readPool.label,
      served_by: config.servedBy,
      count: rows.length,
      messages: rows,
    });
  } catch (err) {
    log(`GET /api/messages: ${readPool.label} failed: ${dbError(err)}`);
    sendJson(res, 503, { error: 'database unavailable', detail: dbError(err), read_from: readPool.label });
  }
}

const routes = {
  '/': { GET: home, HEAD: home },
  '/health': { GET: health, HEAD: health },
  '/api/messages': { GET: getMessages, HEAD: getMessages, POST: postMessage },
};

async function handle(req, res) {
  const started = Date.now();
  res.on('finish', () => log(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`));
  let url;
  try {
    url = new URL(req.url, 'http://localhost');
  } catch {
    return sendJson(res, 400, { error: 'bad request target' });
  }
  const route = routes[url.pathname];
  if (!route) return sendJson(res, 404, { error: 'not found', path: url.pathname });
  const handler = route[req.method];
  if (!handler) return sendJson(res, 405, { error: 'method not allowed' }, { Allow: Object.keys(route).join(', ') });
  return handler(req, res, url);
}

// ---------------------------------------------------------------------------------------
// Server

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    log(`internal error on ${req.method} ${req.url}: ${err && err.stack ? err.stack : err}`);
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    else res.destroy();
  });
});
// Nginx keeps upstream connections alive (keepalive_timeout 30s there): stay open longer
// than that so Nginx never reuses a connection we are closing (would be a 502).
server.keepAliveTimeout = 65 * 1000;
server.headersTimeout = 70 * 1000;
server.requestTimeout = 30 * 1000;

server.on('error', (err) => {
  console.error(`foobar-app: cannot listen on ${config.listenHost}:${config.listenPort}: ${err.message}`);
  process.exit(1); // systemd restarts us (Restart=always)
});

server.listen(config.listenPort, config.listenHost, () => {
  log(
    `foobar-app listening on ${config.listenHost}:${config.listenPort} as ${config.servedBy}; ` +
      `writes -> ${writePool.label}, reads -> ${readPool.label}`,
  );
});

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal} received, shutting down`);
  const force = setTimeout(() => process.exit(0), 5000);
  force.unref();
  server.close(() => {
    let pending = 2;
    const done = () => {
      if (--pending === 0) process.exit(0);
    };
    writePool.end(done);
    readPool.end(done);
  });
  if (typeof server.closeIdleConnections === 'function') server.closeIdleConnections();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('unhandledRejection', (err) => log(`unhandled rejection: ${err && err.stack ? err.stack : err}`));
