/**
 * A task's view of a connection: commands and their output are reported (-v / -vv), and
 * errors of a command that are not transport failures (timeouts, refused channels) become
 * task failures naming the command.
 */
import type { Emit } from './events.js';
import { ConnectionError, TaskError, type Connection, type ExecOptions, type ExecResult } from '../modules/contract.js';

export function tracedConnection(conn: Connection, o: { host: string; task: string; emit: Emit; mask: (s: string) => string; trace?: boolean }): Connection {
  return {
    host: conn.host,
    close: () => conn.close(),
    exec: async (cmd: string, opts?: ExecOptions): Promise<ExecResult> => {
      if (o.trace) o.emit({ type: 'command', host: o.host, task: o.task, cmd, phase: opts?.phase ?? 'check' });
      let r: ExecResult;
      try {
        r = await conn.exec(cmd, opts);
      } catch (e) {
        if (e instanceof ConnectionError) throw e;
        const first = o.mask(cmd).split('\n')[0].slice(0, 160);
        throw new TaskError(`${conn.host}: ${e instanceof Error ? e.message : String(e)} (command: ${first})`);
      }
      if (o.trace) {
        // file contents read as facts are never printed (they may hold secrets in any encoding)
        const stdout = r.stdout.replace(/^content=.*$/gm, 'content=<not shown>');
        o.emit({ type: 'command-output', host: o.host, task: o.task, code: r.code, stdout, stderr: r.stderr });
      }
      return r;
    },
  };
}
