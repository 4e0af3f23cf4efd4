/**
 * A task's view of a connection: commands and their output are reported (-v / -vv), and
 * errors of a command that are not transport failures (timeouts, refused channels) become
 * task failures naming the command.
 */
import type { Emit } from './events.js';
import { traceCommand, traceOutput } from './display.js';
import { ConnectionError, TaskError, type Connection, type ExecOptions, type ExecResult } from '../modules/contract.js';

export function tracedConnection(
  conn: Connection,
  o: {
    host: string;
    task: string;
    emit: Emit;
    mask: (s: string) => string;
    trace?: boolean;
    redact?: (s: string) => string;
    /** called when a command that changes the host (phase 'apply') starts and again when it ends */
    onWrite?: () => void;
  },
): Connection {
  // what the task's display render says instead of its secret-bearing strings (display.ts)
  const redact = o.redact ?? ((s: string) => s);
  return {
    host: conn.host,
    close: () => conn.close(),
    exec: async (cmd: string, opts?: ExecOptions): Promise<ExecResult> => {
      if (o.trace) o.emit({ type: 'command', host: o.host, task: o.task, cmd: redact(traceCommand(cmd)), phase: opts?.phase ?? 'check' });
      let r: ExecResult;
      const writes = opts?.phase === 'apply' ? o.onWrite : undefined;
      writes?.();
      try {
        r = await conn.exec(cmd, opts);
      } catch (e) {
        if (e instanceof ConnectionError) throw e;
        const first = o.mask(redact(cmd)).split('\n')[0].slice(0, 160);
        throw new TaskError(`${conn.host}: ${e instanceof Error ? e.message : String(e)} (command: ${first})`);
      } finally {
        writes?.();
      }
      if (o.trace) {
        // file contents, checksums, password hashes, digests and salts are never printed
        o.emit({ type: 'command-output', host: o.host, task: o.task, code: r.code, stdout: redact(traceOutput(r.stdout)), stderr: redact(traceOutput(r.stderr)) });
      }
      return r;
    },
  };
}
