/** wait_for: a TCP port accepts connections, or a URL answers with a status. */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import type { CheckCommand, CheckModule } from '../contract.js';
import { httpStatus, int, MAX_WAIT_S, seconds } from '../bounds.js';

const waitSchema = z
  .object({
    port: int(1, 65535, 'a TCP port').optional(),
    host: z.string().default('127.0.0.1'),
    url: z.string().url().optional(),
    status: httpStatus().default(200),
    timeout: seconds(MAX_WAIT_S).default(30),
  })
  .strict()
  .refine((a) => (a.port === undefined) !== (a.url === undefined), { message: "give exactly one of 'port' or 'url'" });

type WaitArgs = z.infer<typeof waitSchema>;

/** The one command: it polls on the host until the deadline. */
function waitCommand(a: WaitArgs): CheckCommand {
  const probe = a.port
    ? `timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ ${sq(a.host)} ${a.port} 2>/dev/null`
    : `[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' ${sq(a.url!)})" = ${a.status} ]`;
  const cmd = `end=$(( $(date +%s) + ${Math.ceil(a.timeout)} )); while :; do if ${probe}; then exit 0; fi; [ $(date +%s) -ge $end ] && exit 1; sleep 0.5; done`;
  return { cmd, opts: { timeoutMs: (a.timeout + 10) * 1000 }, passRc: 0, decidedByRc: true, mayWait: true };
}

export const waitFor: CheckModule<WaitArgs> = {
  name: 'wait_for',
  type: 'check',
  schema: waitSchema,
  firstAttempt: (a) => [waitCommand(a)],
  async run(a, conn) {
    const what = a.port ? `${a.host}:${a.port}` : `${a.url} -> ${a.status}`;
    const { cmd, opts } = waitCommand(a);
    const r = await conn.exec(cmd, opts);
    return r.code === 0 ? { ok: true, message: `${what} is up` } : { ok: false, message: `timed out after ${a.timeout}s waiting for ${what}` };
  },
};

