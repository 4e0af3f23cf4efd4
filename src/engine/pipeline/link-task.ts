/**
 * Tasks of modules that act on the host's connection itself (reboot, wait_for_connection).
 *
 * Check mode: a reboot is not run; it is reported as a change, and nothing on the host is
 * predicted after it (a boot starts or stops services, empties /run and /tmp, resets live
 * kernel settings: none of that is modelled), so the host's later tasks are unknown rather
 * than possibly wrong. wait_for_connection is run as in a real run (it only connects and runs
 * `true`) while nothing is predicted to change, as the check modules are; otherwise it is unknown.
 */
import { unknownEverything } from '../prediction.js';
import type { HostLink, LinkModule, ModuleContext } from '../../modules/contract.js';
import type { Outcome, TaskEnv } from './task.js';

export async function runLink(env: TaskEnv, mod: LinkModule, args: unknown, link: HostLink, ctx: ModuleContext, dryOnly: boolean): Promise<Outcome> {
  const change = { action: mod.name, target: ctx.host, summary: `${mod.name} ${ctx.host}` };
  if (mod.inCheckMode === 'changes') {
    if (dryOnly) {
      ctx.note('not run: check_mode: true');
      return { status: 'changed', changes: [change], registerData: {}, ran: true, resultKnown: true };
    }
    if (env.prediction) {
      env.prediction.host(ctx.host).record([unknownEverything(`'${mod.name}' on ${ctx.host}: what a boot changes there (services, /run, /tmp, live kernel settings) is not predicted`)], { host: env.self, mayHaveStopped: env.prediction.mayHaveStopped(env.self) });
      ctx.note(`not run in check mode: the host's later tasks are unknown after it`);
      const uncertain = mod.uncertain?.(args, ctx);
      if (uncertain !== undefined) return { status: 'unknown', error: `would run, but ${uncertain}`, changes: [change], registerData: {}, ran: true, uncertainRun: true };
      return { status: 'changed', changes: [change], registerData: {}, ran: true };
    }
  } else if (env.prediction?.changed) {
    return { status: 'unknown', error: 'not run in check mode: earlier tasks are predicted to change the hosts', changes: [], registerData: {} };
  }
  const r = await mod.run(args, link, ctx);
  const changes = r.changed ? [change] : [];
  if (!r.ok) return { status: 'failed', error: r.message, changes, registerData: r.data ?? {}, ran: true };
  ctx.note(r.message);
  return { status: r.changed ? 'changed' : 'ok', changes, registerData: r.data ?? {}, ran: true };
}
