/**
 * Turning a POSIX sh command string into what is actually run on a host. Shared by the SSH and the
 * local connection.
 *
 * The script never appears on a command line: the remote login shell, sudo, `ps` and sudo's log
 * only ever see `sh -s` (a command without stdin of its own: sh reads the script from stdin, see
 * stdinScript) or a fixed bootstrap (`sh -c '…'` that reads a script of N bytes from its stdin and
 * evaluates it). The script is sent on stdin, followed by the command's own stdin bytes, which the
 * script then reads as its stdin (binary-safe: the bootstrap reads exactly N bytes).
 */
import { constants as osConstants } from 'node:os';

/** Single-quote a string for POSIX sh (always quotes; safe for any content). */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface WrapOptions {
  /** Escalate with sudo. Ignored when `isRoot`. */
  become: boolean;
  /** The login user is already root: never use sudo. */
  isRoot: boolean;
  /** sudo password: fed to `sudo -S` on stdin, never on argv. Without it, `sudo -n`. */
  becomePassword?: string;
  /** With become: the user to run as (`become_user`), root by default. Root itself switches with runuser. */
  becomeUser?: string;
  stdin?: string | Buffer;
  /**
   * Also enforce the timeout on the host: the command runs under `timeout -s KILL` (when the host
   * has it) inside the privilege boundary, so it dies with its whole process group even where the
   * client cannot signal it (OpenSSH refuses channel signals for root sessions, and a login user
   * cannot kill a sudo'd command).
   */
  timeoutMs?: number;
}

export interface Wrapped {
  /** The command line to hand to the remote login shell (or to `sh -c` locally): no script in it. */
  command: string;
  /** What to write to the channel's stdin (then EOF): [password line], script, command's stdin. */
  stdin: Buffer;
  /** True when the sudo path was taken. */
  sudo: boolean;
}

/**
 * The fixed bootstrap: read exactly `n` bytes (the script) from stdin, never more, so that nothing
 * of the command's own stdin is consumed (`dd bs=n count=1 iflag=fullblock` reads at most n bytes
 * and retries short pipe reads; without iflag support dd fails before reading and the fallback
 * reads one byte per read), then evaluate them. `$(…; echo .)` keeps the script's trailing newlines.
 */
export function bootstrap(n: number): string {
  if (!Number.isInteger(n) || n < 0) throw new Error(`bootstrap: invalid script length ${n}`);
  if (n === 0) return ':';
  // one read of exactly n bytes where dd knows iflag=fullblock (GNU, busybox); else byte by byte
  // (no subshell around the two dd: the command substitution is one already; a fork less per command)
  return `__pv_s=$(dd bs=${n} count=1 iflag=fullblock 2>/dev/null || dd bs=1 count=${n} 2>/dev/null; echo .) || exit 125; __pv_s=\${__pv_s%.}; eval "$__pv_s"`;
}

/**
 * A command without stdin of its own needs no bootstrap: `sh -s` reads the script from stdin
 * itself, as one `eval '…' </dev/null` line. sh parses that whole line before it runs any of it,
 * so nothing the script runs can read the script, and a cut-off script runs none of it (an
 * unterminated quote). Two processes fewer on the host per command than the bootstrap's `$(dd)`.
 */
export function stdinScript(cmd: string): Buffer {
  return Buffer.from(`eval ${shQuote(cmd)} </dev/null\n`, 'utf8');
}

/**
 * `sh -c '<cmd>'` (or `sh -s` for a script on stdin, when `cmd` is undefined), optionally guarded
 * by the host's `timeout` utility. `cmd` must hold no secret.
 */
export function shCommand(cmd: string | undefined, timeoutMs?: number): string {
  const sh = cmd === undefined ? 'sh -s' : `sh -c ${shQuote(cmd)}`;
  if (timeoutMs === undefined || !(timeoutMs > 0)) return sh;
  const secs = String(Math.ceil(timeoutMs / 100) / 10);
  const inner = cmd === undefined ? 'sh -s' : 'sh -c "$1"';
  const guard = `if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL ${secs} ${inner}; else exec ${inner}; fi`;
  return cmd === undefined ? `sh -c ${shQuote(guard)}` : `sh -c ${shQuote(guard)} sh ${shQuote(cmd)}`;
}

function toBuffer(s: string | Buffer | undefined): Buffer {
  if (s === undefined) return Buffer.alloc(0);
  return typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
}

/**
 * Wrap a command. In every case the script travels on stdin, read by `sh -s` when there is no data
 * (the command's own stdin) and behind a fixed bootstrap when there is (see above); `sh -…` below
 * is either.
 *
 *  - no become (or already root): `sh -…`; stdin: script + data.
 *  - become, no password: `sudo -n -- sh -…`; stdin: script + data.
 *  - become with password: one channel whose stdin is `password\n` + script + data. A login-user
 *    shell reads the password line with the `read` builtin, stores the rest in a private mktemp
 *    file, pipes the password to `sudo -S` with the `printf` builtin (never on an argv), and the
 *    sudo'd shell redirects its stdin from the temp file and removes it at once (the login shell's
 *    EXIT trap removes it when sudo fails). So when sudo does not ask for the password (NOPASSWD,
 *    cached credentials), the password can never reach the command.
 *
 * With `timeoutMs`, the bootstrap is guarded by the host's `timeout -s KILL` (see shCommand).
 */
export function wrapCommand(cmd: string, o: WrapOptions): Wrapped {
  const data = toBuffer(o.stdin);
  const script = Buffer.from(cmd, 'utf8');
  // without stdin of its own, sh reads the script itself (stdinScript); else the bootstrap does
  const payload = data.length === 0 ? stdinScript(cmd) : Buffer.concat([script, data]);
  const boot = data.length === 0 ? undefined : bootstrap(script.length);
  const other = o.become && o.becomeUser !== undefined && o.becomeUser !== 'root' ? o.becomeUser : undefined;
  if (other !== undefined && !/^[a-z_][a-z0-9_.-]*\$?$/i.test(other)) throw new Error(`become_user: '${other}' is not a user name`);
  if (other !== undefined && o.isRoot) {
    return { command: `runuser -u ${shQuote(other)} -- ${shCommand(boot, o.timeoutMs)}`, stdin: payload, sudo: false };
  }
  if (!o.become || o.isRoot) {
    return { command: shCommand(boot, o.timeoutMs), stdin: payload, sudo: false };
  }
  const as = other !== undefined ? `-u ${shQuote(other)} ` : '';
  if (o.becomePassword === undefined) {
    return { command: `sudo -n ${as}-- ${shCommand(boot, o.timeoutMs)}`, stdin: payload, sudo: true };
  }
  if (/[\r\n]/.test(o.becomePassword)) {
    throw new Error('the become password must not contain a newline');
  }
  const pwLine = Buffer.from(`${o.becomePassword}\n`, 'utf8');
  // as another user (become_user): root reads the login user's private temp file, then switches
  const run = other !== undefined ? `exec runuser -u ${shQuote(other)} -- ${shCommand(boot, o.timeoutMs)}` : shCommand(boot, o.timeoutMs);
  // one line (the persistent shell, shell.ts, reads the command line with `read`)
  const inner = `exec <"$1" || exit 125; rm -f "$1"; ${run}`;
  const outer = [
    'umask 077',
    't=$(mktemp) || exit 125',
    `trap 'rm -f "$t"' EXIT`,
    'IFS= read -r p || exit 125',
    'cat >"$t" || exit 125',
    `printf '%s\\n' "$p" | sudo -S -p '' -- sh -c ${shQuote(inner)} sh "$t"`,
  ].join('; ');
  return { command: `sh -c ${shQuote(outer)}`, stdin: Buffer.concat([pwLine, payload]), sudo: true };
}

/**
 * Recognise sudo failures in stderr and return a hint line to append (or undefined).
 */
/** A command's exit status: its code, or 128 + the number of the signal that killed it (like a shell). */
export function exitCode(code: number | null | undefined, signal: string | null | undefined): number | undefined {
  if (typeof code === 'number') return code;
  if (signal) {
    // ssh2 reports exit-signal names with a SIG prefix ("SIGKILL")
    const name = signal.startsWith('SIG') ? signal : `SIG${signal}`;
    const n = (osConstants.signals as Record<string, number>)[name];
    return 128 + (n ?? 127);
  }
  return undefined;
}

export function sudoHint(stderr: string, host: string, hadPassword: boolean): string | undefined {
  if (/sudo: (a password is required|a terminal is required)/.test(stderr)) {
    return (
      `provision: sudo on ${host} requires a password: set PROVISION_BECOME_PASSWORD or use ` +
      `--ask-become-pass (or allow NOPASSWD for this user)`
    );
  }
  if (hadPassword && /(incorrect password attempt|Sorry, try again|no password was provided)/.test(stderr)) {
    return `provision: sudo on ${host} rejected the become password`;
  }
  if (/is not in the sudoers file|is not allowed to execute/.test(stderr)) {
    return `provision: the login user on ${host} may not use sudo (become); fix sudoers or connect as root`;
  }
  if (/sudo: (command )?not found/.test(stderr)) {
    return `provision: sudo is not installed on ${host}; install it or connect as root`;
  }
  return undefined;
}

/** Append a hint line to stderr (keeping it newline-terminated). */
export function withHint(stderr: string, hint: string | undefined): string {
  if (!hint) return stderr;
  return `${stderr}${stderr === '' || stderr.endsWith('\n') ? '' : '\n'}${hint}\n`;
}
