/** assert: a read-only command's exit code / output must match. */
import { z } from 'zod';
import type { CheckModule } from '../contract.js';
import { regex, sleep, tail } from './common.js';
import { int, MAX_RETRIES, MAX_WAIT_S, seconds } from '../bounds.js';

const assertSchema = z
  .object({
    cmd: z.string().min(1),
    expect_rc: int(0, 255, 'an exit code').default(0),
    expect_stdout: regex.optional(),
    retries: int(0, MAX_RETRIES, 'retries').default(0),
    delay: seconds(MAX_WAIT_S, { zero: true }).default(1),
    msg: z.string().optional(),
    /** The command writes (e.g. a restore drill): check mode reports unknown instead of running it. */
    writes: z.boolean().default(false),
  })
  .strict();

export const assertModule: CheckModule<z.infer<typeof assertSchema>> = {
  name: 'assert',
  type: 'check',
  schema: assertSchema,
  writes: (a) => a.writes,
  firstAttempt: (a) => [{ cmd: a.cmd, passRc: a.expect_rc, decidedByRc: a.expect_stdout === undefined }],
  async run(a, conn) {
    const re = a.expect_stdout !== undefined ? new RegExp(a.expect_stdout, 'm') : undefined;
    let last = '';
    let data: Record<string, unknown> = {};
    for (let attempt = 0; attempt <= a.retries; attempt++) {
      if (attempt > 0) await sleep(a.delay * 1000);
      const r = await conn.exec(a.cmd);
      data = { rc: r.code, stdout: r.stdout, stderr: r.stderr, attempts: attempt + 1 };
      const rcOk = r.code === a.expect_rc;
      const outOk = !re || re.test(r.stdout);
      if (rcOk && outOk) return { ok: true, message: a.msg ?? 'assertion holds', data };
      last = !rcOk
        ? `exit code ${r.code}, expected ${a.expect_rc}${r.stderr.trim() ? `; stderr: ${tail(r.stderr)}` : ''}`
        : `stdout does not match /${a.expect_stdout}/: ${JSON.stringify(tail(r.stdout, 8))}`;
    }
    const tries = a.retries > 0 ? ` (after ${a.retries + 1} attempts)` : '';
    return { ok: false, message: `${a.msg ? `${a.msg}: ` : ''}${last}${tries} — command: ${a.cmd}`, data };
  },
};

