/**
 * reboot: the host reboots and the run goes on when it is back (Ansible's reboot action).
 * Reads the boot id, issues the reboot, drops the connection, reconnects until the boot id has
 * changed, then until test_command succeeds, each within reboot_timeout (as Ansible does).
 */
import { z } from 'zod';
import { sq } from '../../engine/shell.js';
import { int, MAX_WAIT_S, seconds } from '../bounds.js';
import type { HostLink, LinkModule, LinkResult, ModuleContext } from '../contract.js';
import { secs, tail, tryExec, tryReconnect } from './attempt.js';

const command = () => z.string().trim().min(1, 'a command, not empty');

const rebootSchema = z
  .object({
    msg: z.string().default('Reboot initiated by provision'),
    pre_reboot_delay: int(0, MAX_WAIT_S, 'seconds').default(0),
    post_reboot_delay: int(0, MAX_WAIT_S, 'seconds').default(0),
    reboot_timeout: int(1, MAX_WAIT_S, 'seconds').default(600),
    connect_timeout: seconds(600).optional(),
    test_command: command().default('whoami'),
    boot_time_command: command().default('cat /proc/sys/kernel/random/boot_id'),
    reboot_command: command().optional(),
  })
  .strict();

export type RebootArgs = z.infer<typeof rebootSchema>;

/** Ansible's Linux command: `shutdown -r MINUTES "MSG"` (the delay in whole minutes, rounded down); reboot_command as given. */
export function rebootCommand(a: RebootArgs): string {
  return a.reboot_command ?? `shutdown -r ${Math.floor(a.pre_reboot_delay / 60)} ${sq(a.msg)}`;
}

/** Backoff between attempts: 1 s, then every 2 s (Ansible backs off up to 12 s; a test host is back in seconds). */
const backoff = (fails: number) => Math.min(2 ** fails, 2) * 1000;

/**
 * Retry `step` until it returns undefined, or the deadline: then the last reason it gave. Every
 * attempt after a failure reconnects first (the connection may be the one the host dropped),
 * and so does the first when `fresh`.
 */
export async function untilDone(link: HostLink, timeoutMs: number, connectMs: number | undefined, fresh: boolean, step: () => Promise<string | undefined>): Promise<string | undefined> {
  const end = link.now() + timeoutMs;
  let why: string | undefined;
  for (let fails = 0; ; fails++) {
    if (fails > 0) {
      const left = end - link.now();
      if (left <= 0) return why;
      await link.sleep(Math.min(backoff(fails - 1), left));
    }
    if (fails > 0 || fresh) {
      const lost = await tryReconnect(link, Math.max(1000, Math.min(connectMs ?? Infinity, end - link.now())));
      if (lost !== undefined) {
        why = lost;
        if (link.now() >= end) return why;
        continue;
      }
    }
    why = await step();
    if (why === undefined) return undefined;
    if (link.now() >= end) return why;
  }
}

async function run(a: RebootArgs, link: HostLink, ctx: ModuleContext): Promise<LinkResult> {
  // a host that goes away under a command must not hold the task for long
  const opts = { become: ctx.become, timeoutMs: (a.connect_timeout ?? 10) * 1000 };
  const bootId = async (): Promise<{ id?: string; why?: string }> => {
    const r = await tryExec(link, a.boot_time_command, opts);
    if (!r.ok) return { why: r.error };
    if (r.r.code !== 0) return { why: `boot_time_command failed (exit ${r.r.code}): ${tail(r.r.stderr || r.r.stdout)}` };
    return { id: r.r.stdout.trim() };
  };
  const before = await bootId();
  if (before.id === undefined) return { ok: false, changed: false, message: `could not read the boot id on ${link.host}: ${before.why}`, data: { rebooted: false, elapsed: 0 } };

  const t0 = link.now();
  const elapsed = () => Math.floor((link.now() - t0) / 1000);
  const issued = await tryExec(link, rebootCommand(a), { become: ctx.become, timeoutMs: 30_000 });
  // a connection that drops under the command is the reboot going on (as in Ansible)
  if (issued.ok && issued.r.code !== 0) {
    return { ok: false, changed: false, message: `the reboot command failed on ${link.host} (exit ${issued.r.code}): ${tail(issued.r.stderr || issued.r.stdout)}`, data: { rebooted: false, elapsed: elapsed() } };
  }
  // what was read there before may not hold after a boot (services, /run, /tmp)
  link.forgetFacts();
  if (a.post_reboot_delay > 0) await link.sleep(a.post_reboot_delay * 1000);

  const timeoutMs = a.reboot_timeout * 1000;
  const connectMs = a.connect_timeout !== undefined ? a.connect_timeout * 1000 : undefined;
  const failed = (what: string, why: string | undefined): LinkResult => ({
    ok: false,
    changed: true,
    message: `${link.host} did not ${what} within reboot_timeout ${a.reboot_timeout}s (waited ${secs(link.now() - t0)}): ${why ?? 'no answer'}`,
    data: { rebooted: true, elapsed: elapsed() },
  });
  // the first attempt reconnects too: the old connection goes down with the host
  const booted = await untilDone(link, timeoutMs, connectMs, true, async () => {
    const now = await bootId();
    if (now.id === undefined) return now.why;
    return now.id === '' || now.id === before.id ? 'the boot id has not changed yet' : undefined;
  });
  if (booted !== undefined) return failed('come back with a new boot id', booted);
  const tested = await untilDone(link, timeoutMs, connectMs, false, async () => {
    const r = await tryExec(link, a.test_command, { become: ctx.become, timeoutMs: 60_000 });
    if (!r.ok) return r.error;
    return r.r.code === 0 ? undefined : `test_command failed (exit ${r.r.code}): ${tail(r.r.stderr || r.r.stdout)}`;
  });
  if (tested !== undefined) return failed('pass test_command', tested);
  return { ok: true, changed: true, message: `rebooted in ${secs(link.now() - t0)}`, data: { rebooted: true, elapsed: elapsed() } };
}

export const reboot: LinkModule<RebootArgs> = {
  name: 'reboot',
  type: 'link',
  schema: rebootSchema,
  inCheckMode: 'changes',
  uncertain(a, ctx) {
    if (ctx.user !== 'root') return `it runs as ${ctx.user} without become: whether ${ctx.user} may reboot the host is known only when it runs`;
    const own = (['reboot_command', 'boot_time_command', 'test_command'] as const).filter((k) => a[k] !== rebootSchema.shape[k].parse(undefined));
    return own.length ? `whether ${own.join(', ')} succeed${own.length === 1 ? 's' : ''} is known only when it runs` : undefined;
  },
  run,
};
