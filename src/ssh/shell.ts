/**
 * One long-lived `sh` per SSH channel that runs command after command, so that a command costs a
 * write and a read on an open channel instead of a channel, a login shell and a session on the
 * host (issue 21).
 *
 * Protocol (the loop below is fixed text: no script and no secret is ever on an argv):
 *  - the controller writes two lines, `TOKEN M` and the wrapped command line (wrap.ts; one line,
 *    no secret), then exactly M bytes: the wrapped command's stdin ([password line], script, the
 *    command's own stdin);
 *  - the loop reads both lines with the `read` builtin (which reads byte by byte from a pipe, so it
 *    never takes more than the two lines), copies exactly M bytes with dd into a pipe that is the
 *    command's stdin, and drains that pipe after the command so dd always reads all M bytes (a
 *    command that does not read its stdin cannot leave bytes behind to be taken for the next header);
 *  - the command's stdout and stderr go straight to the channel's two streams; after it the loop
 *    writes `TOKEN RC\n` on stdout and `TOKEN\n` on stderr. TOKEN is 128 random bits chosen per
 *    command and never visible to the command (an unexported variable of the loop), so its first
 *    occurrence in each stream ends the command's output: exact bytes, binary-safe, streamed.
 */
import { randomBytes } from 'node:crypto';
import { BoundedOutput } from './output.js';

/** The host side. `read` is a builtin; per command the loop starts dd (when there is stdin) and the command. */
export const SHELL_LOOP = [
  "printf 'provision-shell-ready\\n'",
  'while IFS=" " read -r __pv_t __pv_m && IFS= read -r __pv_c; do',
  '  if [ "$__pv_m" -gt 0 ] 2>/dev/null; then',
  '    { dd bs="$__pv_m" count=1 iflag=fullblock 2>/dev/null || dd bs=1 count="$__pv_m" 2>/dev/null; } |',
  // drain (builtin read, byte by byte): normally nothing is left, the bootstrap read the script
  '      { eval "$__pv_c"; __pv_r=$?; while IFS= read -r __pv_x || [ -n "$__pv_x" ]; do :; done; exit "$__pv_r"; }',
  '  else',
  '    eval "$__pv_c" </dev/null',
  '  fi',
  '  __pv_r=$?',
  '  printf \'%s %s\\n\' "$__pv_t" "$__pv_r"',
  '  printf \'%s\\n\' "$__pv_t" >&2',
  'done',
].join('\n');

const READY = Buffer.from('provision-shell-ready\n');

/**
 * Finds the end marker in one stream and passes everything before it to `out`, holding back only
 * as many bytes as the marker could still start in.
 */
export class MarkerScanner {
  private carry: Buffer = Buffer.alloc(0);
  private found = false;
  /** Bytes after the marker (the exit code line on stdout). */
  trailer: Buffer = Buffer.alloc(0);

  constructor(
    private readonly marker: Buffer,
    private readonly out: { push(b: Buffer): void },
  ) {}

  get done(): boolean {
    return this.found;
  }

  push(chunk: Buffer): void {
    if (this.found) {
      this.trailer = Buffer.concat([this.trailer, chunk]);
      return;
    }
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const at = buf.indexOf(this.marker);
    if (at >= 0) {
      if (at > 0) this.out.push(buf.subarray(0, at));
      this.found = true;
      this.trailer = Buffer.from(buf.subarray(at + this.marker.length));
      this.carry = Buffer.alloc(0);
      return;
    }
    const keep = Math.min(buf.length, this.marker.length - 1);
    if (buf.length > keep) this.out.push(buf.subarray(0, buf.length - keep));
    this.carry = Buffer.from(buf.subarray(buf.length - keep));
  }
}

export interface ShellOutcome {
  code: number;
  stdout: BoundedOutput;
  stderr: BoundedOutput;
}

interface Pending {
  out: MarkerScanner;
  err: MarkerScanner;
  stdout: BoundedOutput;
  stderr: BoundedOutput;
  resolve: (o: ShellOutcome) => void;
  reject: (e: Error) => void;
}

/** One persistent shell on one channel. Runs one command at a time. */
export class PersistentShell {
  busy = false;
  /** Gone for good (channel closed, killed after a timeout): the pool drops it. */
  dead = false;
  private pending: Pending | undefined;
  private deathReason = 'the persistent shell ended';

  private constructor(private readonly ch: any) {
    ch.on('error', () => {});
    ch.stderr.on('error', () => {});
    // output outside a command (a daemon that kept the channel open) is dropped
    ch.on('data', (d: Buffer) => {
      this.pending?.out.push(d);
      this.check();
    });
    ch.stderr.on('data', (d: Buffer) => {
      this.pending?.err.push(d);
      this.check();
    });
    ch.on('close', () => this.die(this.deathReason));
  }

  /** Open a channel running the loop and wait for its ready line. Rejects if the host cannot run it. */
  static start(client: any, timeoutMs: number): Promise<PersistentShell> {
    return new Promise((resolve, reject) => {
      let got = Buffer.alloc(0);
      let timer: NodeJS.Timeout | undefined;
      try {
        client.exec(`sh -c '${SHELL_LOOP.replace(/'/g, `'\\''`)}'`, (err: Error | undefined, ch: any) => {
          if (err) {
            reject(err);
            return;
          }
          timer = setTimeout(() => {
            try {
              ch.close();
            } catch {
              // ignore
            }
            reject(new Error('the persistent shell did not start in time'));
          }, timeoutMs);
          const onData = (d: Buffer) => {
            got = Buffer.concat([got, d]);
            if (got.length < READY.length) return;
            ch.removeListener('data', onData);
            ch.removeListener('close', onClose);
            clearTimeout(timer);
            if (!got.subarray(0, READY.length).equals(READY)) {
              try {
                ch.close();
              } catch {
                // ignore
              }
              reject(new Error('the persistent shell printed something else than its ready line'));
              return;
            }
            resolve(new PersistentShell(ch));
          };
          const onClose = () => {
            clearTimeout(timer);
            reject(new Error('the persistent shell ended at start'));
          };
          ch.on('data', onData);
          ch.on('close', onClose);
        });
      } catch (e) {
        reject(e as Error);
      }
    });
  }

  /** Run one wrapped command (wrap.ts) with its stdin bytes. The caller marks the shell busy. */
  run(command: string, stdin: Buffer): Promise<ShellOutcome> {
    if (this.dead) return Promise.reject(new Error(this.deathReason));
    if (/[\r\n]/.test(command)) return Promise.reject(new Error('persistent shell: the command line must be one line'));
    const token = `pv${randomBytes(16).toString('hex')}`;
    return new Promise<ShellOutcome>((resolve, reject) => {
      const stdout = new BoundedOutput();
      const stderr = new BoundedOutput();
      this.pending = {
        out: new MarkerScanner(Buffer.from(token), stdout),
        err: new MarkerScanner(Buffer.from(`${token}\n`), stderr),
        stdout,
        stderr,
        resolve,
        reject,
      };
      try {
        this.ch.write(Buffer.concat([Buffer.from(`${token} ${stdin.length}\n${command}\n`), stdin]));
      } catch (e) {
        this.pending = undefined;
        reject(e as Error);
      }
    });
  }

  private check(): void {
    const p = this.pending;
    if (!p || !p.out.done || !p.err.done) return;
    const nl = p.out.trailer.indexOf(0x0a);
    if (nl < 0) return;
    const code = Number(p.out.trailer.subarray(0, nl).toString('latin1').trim());
    this.pending = undefined;
    p.resolve({ code: Number.isInteger(code) ? code : 255, stdout: p.stdout, stderr: p.stderr });
  }

  /** Kill the shell and its command (after a timeout the command did not end by itself). */
  kill(reason: string): void {
    this.deathReason = reason;
    try {
      const state = this.ch?.outgoing?.state;
      if (state === 'open' || state === 'eof') this.ch._client._protocol.signal(this.ch.outgoing.id, 'KILL');
    } catch {
      // best effort
    }
    try {
      this.ch.close();
    } catch {
      // ignore
    }
    this.die(reason);
  }

  /** End an idle shell politely: EOF on its stdin ends the loop. */
  close(): void {
    try {
      this.ch.end();
    } catch {
      // ignore
    }
    this.die('connection closed');
  }

  private die(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(new Error(reason));
  }
}
