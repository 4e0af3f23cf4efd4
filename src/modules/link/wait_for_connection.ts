/**
 * wait_for_connection: retries the host's connection until a command runs there (Ansible's
 * wait_for_connection; it runs `true` where Ansible runs its ping module). Changes nothing.
 */
import { z } from 'zod';
import { int, MAX_WAIT_S, seconds } from '../bounds.js';
import type { HostLink, LinkModule, LinkResult, ModuleContext } from '../contract.js';
import { secs, tryExec, tryReconnect } from './attempt.js';

const waitSchema = z
  .object({
    timeout: int(1, MAX_WAIT_S, 'seconds').default(600),
    delay: int(0, MAX_WAIT_S, 'seconds').default(0),
    sleep: int(1, MAX_WAIT_S, 'seconds').default(1),
    connect_timeout: seconds(600).default(5),
  })
  .strict();

export type WaitForConnectionArgs = z.infer<typeof waitSchema>;

async function run(a: WaitForConnectionArgs, link: HostLink, ctx: ModuleContext): Promise<LinkResult> {
  const t0 = link.now();
  if (a.delay > 0) await link.sleep(a.delay * 1000);
  // the timeout counts from after the delay, as in Ansible
  const end = link.now() + a.timeout * 1000;
  const connectMs = a.connect_timeout * 1000;
  let why = '';
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) {
      const lost = await tryReconnect(link, Math.max(1000, Math.min(connectMs, end - link.now())));
      why = lost ?? '';
    }
    if (!why) {
      const r = await tryExec(link, 'true', { become: ctx.become, timeoutMs: connectMs });
      if (r.ok && r.r.code === 0) {
        const elapsed = Math.floor((link.now() - t0) / 1000);
        return { ok: true, changed: false, message: attempt === 0 ? 'the connection works' : `connected after ${secs(link.now() - t0)}`, data: { elapsed } };
      }
      why = r.ok ? `a command failed there (exit ${r.r.code})` : r.error;
    }
    const left = end - link.now();
    if (left <= 0) {
      return { ok: false, changed: false, message: `timed out waiting for a connection to ${link.host} after ${a.timeout}s (waited ${secs(link.now() - t0)}): ${why}`, data: { elapsed: Math.floor((link.now() - t0) / 1000) } };
    }
    await link.sleep(Math.min(a.sleep * 1000, left));
  }
}

export const waitForConnection: LinkModule<WaitForConnectionArgs> = {
  name: 'wait_for_connection',
  type: 'link',
  schema: waitSchema,
  inCheckMode: 'reads',
  run,
};
