/**
 * http_check: HTTP requests (with curl on the target, usually the controller via
 * delegate_to: localhost) must answer as expected; can require that a header takes
 * every one of a set of values across the requests (round-robin over back ends).
 */
import { z } from 'zod';
import { shellJoin } from '../../engine/shell.js';
import type { CheckCommand, CheckModule, CheckResult, Connection } from '../contract.js';
import { httpStatus, int, MAX_RETRIES, MAX_WAIT_S, seconds } from '../bounds.js';
import { regex, sleep, tail } from './common.js';

const httpSchema = z
  .object({
    url: z.string().url(),
    resolve: z.string().min(1).optional(),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']).default('GET'),
    body: z.string().optional(),
    headers: z.record(z.string(), z.string()).default({}),
    requests: int(1, 1000, 'requests').default(1),
    expect_status: httpStatus().default(200),
    expect_body: regex.optional(),
    expect_header: z.record(z.string(), regex).default({}),
    expect_header_values: z.object({ header: z.string(), all_of: z.array(z.string()).min(1) }).strict().optional(),
    insecure: z.boolean().default(false),
    timeout: seconds(MAX_WAIT_S).default(10),
    retries: int(0, MAX_RETRIES, 'retries').default(0),
    delay: seconds(MAX_WAIT_S, { zero: true }).default(1),
  })
  .strict();
type HttpArgs = z.infer<typeof httpSchema>;

interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request's curl command: headers and body only on its stdin (they may carry secrets). */
function requestCommand(a: HttpArgs): CheckCommand {
  const u = new URL(a.url);
  // HEAD must be -I: with -X HEAD curl waits for the body that Content-Length announces (until -m).
  const argv = ['curl', '-sS', '-i', ...(a.method === 'HEAD' ? ['-I'] : ['-X', a.method]), '-m', String(a.timeout)];
  if (a.insecure) argv.push('-k');
  if (a.resolve) argv.push('--resolve', `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}:${a.resolve}`);
  // Headers and body go through a curl config read from stdin, never on the command line
  // (they may carry secrets: tokens, passwords).
  const quote = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
  const config: string[] = [];
  for (const [k, v] of Object.entries(a.headers)) config.push(`header = ${quote(`${k}: ${v}`)}`);
  if (a.body !== undefined) config.push(`data-raw = ${quote(a.body)}`);
  if (config.length) argv.push('-K', '-');
  argv.push(a.url);
  return { cmd: shellJoin(argv), opts: { stdin: config.length ? config.join('\n') + '\n' : undefined, become: false, timeoutMs: (a.timeout + 5) * 1000 }, passRc: 0 };
}

async function request(a: HttpArgs, conn: Connection): Promise<HttpResponse> {
  const { cmd, opts } = requestCommand(a);
  const r = await conn.exec(cmd, opts);
  if (r.code !== 0) throw new Error(`curl ${a.method} ${a.url}${a.resolve ? ` (resolved to ${a.resolve})` : ''} failed: ${tail(r.stderr, 2) || `exit ${r.code}`}`);
  const text = r.stdout.replace(/\r\n/g, '\n');
  // skip interim 1xx responses
  let rest = text;
  let head: string;
  for (;;) {
    const i = rest.indexOf('\n\n');
    head = i >= 0 ? rest.slice(0, i) : rest;
    rest = i >= 0 ? rest.slice(i + 2) : '';
    if (!/^HTTP\/\S+ 1\d\d/.test(head)) break;
  }
  const lines = head.split('\n');
  const status = Number(/^HTTP\/\S+ (\d+)/.exec(lines[0])?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers, body: rest };
}

function checkResponse(a: HttpArgs, r: HttpResponse): string | undefined {
  if (r.status !== a.expect_status) return `status ${r.status}, expected ${a.expect_status}`;
  if (a.expect_body !== undefined && !new RegExp(a.expect_body, 'm').test(r.body)) return `body does not match /${a.expect_body}/: ${JSON.stringify(r.body.slice(0, 200))}`;
  for (const [h, re] of Object.entries(a.expect_header)) {
    const v = r.headers[h.toLowerCase()];
    if (v === undefined || !new RegExp(re).test(v)) return `header ${h}: ${v === undefined ? 'missing' : JSON.stringify(v)}, expected /${re}/`;
  }
  return undefined;
}

export const httpCheck: CheckModule<HttpArgs> = {
  name: 'http_check',
  type: 'check',
  schema: httpSchema,
  writes: (a) => a.method !== 'GET' && a.method !== 'HEAD',
  // each request of the first attempt (what only reads; a request with a body or headers has stdin)
  firstAttempt: (a) => {
    const c = requestCommand(a);
    return (a.method === 'GET' || a.method === 'HEAD') && c.opts?.stdin === undefined ? Array.from({ length: a.requests }, () => c) : [];
  },
  async run(a, conn): Promise<CheckResult> {
    let lastError = '';
    for (let attempt = 0; attempt <= a.retries; attempt++) {
      if (attempt > 0) await sleep(a.delay * 1000);
      const seen: string[] = [];
      let last: HttpResponse | undefined;
      let failed: string | undefined;
      for (let i = 0; i < a.requests && !failed; i++) {
        try {
          last = await request(a, conn);
        } catch (e) {
          failed = (e as Error).message;
          break;
        }
        const problem = checkResponse(a, last);
        if (problem) failed = `request ${i + 1}/${a.requests}: ${problem}`;
        if (a.expect_header_values) seen.push(last.headers[a.expect_header_values.header.toLowerCase()] ?? '(none)');
      }
      if (!failed && a.expect_header_values) {
        const missing = a.expect_header_values.all_of.filter((v) => !seen.includes(v));
        if (missing.length) failed = `${a.expect_header_values.header} never was ${missing.join(', ')} in ${a.requests} requests (saw: ${seen.join(', ')})`;
      }
      const data = { status: last?.status, headers: last?.headers, body: last?.body, seen };
      if (!failed) {
        const dist = a.expect_header_values ? `; ${a.expect_header_values.header}: ${seen.join(', ')}` : '';
        return { ok: true, message: `${a.method} ${a.url}: ${a.requests} × ${last?.status}${dist}`, data };
      }
      lastError = failed;
      if (attempt === a.retries) return { ok: false, message: `${a.method} ${a.url}${a.resolve ? ` via ${a.resolve}` : ''}: ${lastError}`, data };
    }
    return { ok: false, message: lastError };
  },
};

