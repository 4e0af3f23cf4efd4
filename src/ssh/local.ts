/**
 * Running commands on the controller itself (`delegate_to: localhost`).
 */
import { spawn } from 'node:child_process';
import { ConnectionError, type Connection, type ExecOptions, type ExecResult } from '../modules/contract.js';
import { exitCode, sudoHint, withHint, wrapCommand } from './wrap.js';
import { BoundedOutput } from './output.js';

export interface LocalConnectionOptions {
  /** Name used in messages and as `host` (default `localhost`). */
  name?: string;
  /** Default for exec(): escalate with sudo (ignored when already root). */
  become?: boolean;
  /** sudo password (`sudo -S`); without it `sudo -n`. */
  becomePassword?: string;
}

export class LocalConnection implements Connection {
  readonly host: string;
  private closed = false;
  private readonly become: boolean;
  private readonly becomePassword?: string;

  constructor(opts: LocalConnectionOptions = {}) {
    this.host = opts.name ?? 'localhost';
    this.become = opts.become ?? false;
    this.becomePassword = opts.becomePassword;
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) return Promise.reject(new ConnectionError(this.host, `connection to ${this.host} is closed`));
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const wantBecome = opts.become ?? this.become;
    const becomeUser = wantBecome && opts.becomeUser !== undefined && opts.becomeUser !== 'root' ? opts.becomeUser : undefined;
    // root switches to another user with runuser; anyone else escalates with sudo
    const become = wantBecome && (!isRoot || becomeUser !== undefined);
    // the script goes on stdin behind a fixed bootstrap, never on an argv (see wrap.ts)
    let w;
    try {
      w = wrapCommand(command, { become, isRoot, becomePassword: this.becomePassword, stdin: opts.stdin, ...(becomeUser !== undefined ? { becomeUser } : {}) });
    } catch (err) {
      return Promise.reject(err);
    }
    const argv = ['-c', w.command];
    const stdin = w.stdin;
    const sudo = w.sudo;
    const timeoutMs = opts.timeoutMs;
    return new Promise<ExecResult>((resolve, reject) => {
      let child;
      try {
        // detached: own process group, so a timeout kills the whole pipeline
        child = spawn('sh', argv, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      } catch (err: any) {
        reject(new Error(`${this.host}: cannot run sh: ${err.message}`));
        return;
      }
      const out = new BoundedOutput();
      const errOut = new BoundedOutput();
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => errOut.push(d));
      child.stdin.on('error', () => {
        // EPIPE: the command did not read its stdin
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${this.host}: cannot run sh: ${err.message}`));
      });
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
          reject(new Error(`command timed out after ${Math.round(timeoutMs / 100) / 10}s on ${this.host}`));
        }, timeoutMs);
      }
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (timedOut) return;
        const rc = exitCode(code, signal) ?? 255;
        const stdout = out.toString();
        let stderr = errOut.toString();
        if (sudo && rc !== 0) stderr = withHint(stderr, sudoHint(stderr, this.host, this.becomePassword !== undefined));
        resolve({ code: rc, stdout, stderr });
      });
      if (stdin && stdin.length > 0) child.stdin.end(stdin);
      else child.stdin.end();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
