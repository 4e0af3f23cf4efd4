/** What reboot and wait_for_connection share: a command that may fail because the host is away. */
import type { ExecOptions, ExecResult, HostLink } from '../contract.js';

export type Attempt = { ok: true; r: ExecResult } | { ok: false; error: string };

/** Run `cmd` on the link's current connection; a dropped or timed-out connection is an error, not a throw. */
export async function tryExec(link: HostLink, cmd: string, opts: ExecOptions): Promise<Attempt> {
  try {
    return { ok: true, r: await link.conn().exec(cmd, opts) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** One reconnect attempt; the error message when it fails. */
export async function tryReconnect(link: HostLink, timeoutMs: number): Promise<string | undefined> {
  try {
    await link.reconnect(timeoutMs);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** The last lines of a command's output, for a message. */
export function tail(s: string, lines = 3): string {
  return s.trim().split('\n').slice(-lines).join(' / ');
}

export const secs = (ms: number) => `${Math.round(ms / 100) / 10}s`;
