/**
 * SSH connections (ssh2): one connection per host, reused for every exec.
 *
 * Traps handled here (see the notes on each):
 *  - ssh2 accepts ANY host key unless its `hostVerifier` is passed: we always pass one backed by
 *    known_hosts.
 *  - connectClient removes its 'error' listener once connected: without ours (LinkState), a later
 *    socket error (peer reset, keepalive timeout) is an unhandled 'error' event that crashes the
 *    process.
 *  - Commands run on the raw ssh2 Client (node-ssh's execCommand, used before, decoded each chunk
 *    separately, trimmed the output, took no Buffer stdin and gave `code: null` on a drop).
 */
import { appendFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import { ConnectionError, type Connection, type ExecOptions, type ExecResult } from '../modules/contract.js';
import {
  fingerprint,
  hostKeyAlgorithmsFor,
  keyTypeOfBlob,
  knownHostsName,
  lookup,
  verifyHostKey,
  type RunOnlyHostKeys,
  type HostKeyPolicy,
  type VerifyResult,
} from './knownhosts.js';
import { exitCode, sudoHint, withHint, wrapCommand } from './wrap.js';
import { BoundedOutput } from './output.js';
import { PersistentShell } from './shell.js';
import { connectClient } from './client.js';

export interface SshJump {
  address: string;
  port: number;
  user: string;
  /** Private key for the jump host; defaults to the target's key, then ssh-agent. */
  key?: string;
}

export interface SshTarget {
  /** Inventory host name (for messages). */
  name: string;
  address: string;
  port: number;
  user: string;
  /** Absolute private key path; if absent, use ssh-agent via SSH_AUTH_SOCK. */
  key?: string;
  passphrase?: string;
  /** Absolute path of the known_hosts file. */
  knownHosts: string;
  hostKeyPolicy: HostKeyPolicy;
  /** Default for exec(): run commands via sudo when user != root. */
  become: boolean;
  /** If set, `sudo -S` with the password (never logged, never in argv), else `sudo -n`. */
  becomePassword?: string;
  jump?: SshJump;
  /** Default 10000. */
  connectTimeoutMs?: number;
  /** Default 5000 (keepaliveCountMax 3). */
  keepaliveIntervalMs?: number;
  /** Default 8: OpenSSH MaxSessions is 10 per connection. */
  maxChannels?: number;
  /**
   * Run commands on persistent shells (shell.ts) instead of a channel each. Default: off, unless
   * the environment sets PROVISION_SSH_SHELL=1 (it is not yet measured faster, nor proven on the
   * site end to end: bench/README.md, issue 21).
   */
  persistentShell?: boolean;
  /**
   * Told when accept-new recorded an unknown host key (host, key type, SHA256 fingerprint), in
   * OpenSSH's words. Default: printed on stderr (never on stdout, which may carry the JSON report).
   */
  onHostKeyAdded?: (message: string) => void;
  /**
   * A dry run's host keys: accept-new accepts a new key for this run's connections only and
   * records nothing (known_hosts is left as it is); shared by all connections of one run.
   */
  runOnlyHostKeys?: RunOnlyHostKeys;
}

/** A host key refusal (unknown / changed / revoked). */
export class HostKeyError extends ConnectionError {
  constructor(
    host: string,
    message: string,
    public readonly reason: 'unknown' | 'changed' | 'revoked',
  ) {
    super(host, message);
  }
}

const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** Retries of a channel open that sshd refused (see openExec): 20, 40, 80, 160 ms. */
const OPEN_RETRIES = 4;
/** Grace period for a timed-out channel to close before its concurrency slot is released anyway. */
const CHANNEL_CLOSE_GRACE_MS = 5000;
/** After a timeout, how long the host-side `timeout` guard gets before the client kills the session. */
const KILL_GRACE_MS = 2000;

interface Endpoint {
  /** Label for messages, e.g. `web1` or `web1 (jump host)`. */
  name: string;
  address: string;
  port: number;
  user: string;
  key?: string;
  passphrase?: string;
  knownHosts: string;
  policy: HostKeyPolicy;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  sock?: any;
  onHostKeyAdded?: (message: string) => void;
  runOnlyHostKeys?: RunOnlyHostKeys;
}

interface Opened {
  client: any;
  state: LinkState;
}

/** Transport state of one ssh2 client, fed by listeners attached as soon as the client exists. */
class LinkState {
  lastError: Error | undefined;
  down = false;
  private listeners = new Set<() => void>();

  attach(client: any): void {
    client.on('error', (err: Error) => {
      // Never let an ssh2 'error' go unhandled: it would crash the process.
      this.lastError = err;
    });
    client.on('end', () => this.markDown());
    client.on('close', () => this.markDown());
  }

  onDown(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private markDown(): void {
    if (this.down) return;
    this.down = true;
    for (const fn of [...this.listeners]) fn();
    this.listeners.clear();
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

function authDesc(e: Endpoint): string {
  return e.key ? `key ${e.key}` : `ssh-agent ${process.env.SSH_AUTH_SOCK ?? '(SSH_AUTH_SOCK not set)'}`;
}

/** Map a connect failure to a clear ConnectionError. */
function connectError(host: string, e: Endpoint, err: any, refusal: VerifyResult | undefined): ConnectionError {
  if (refusal && !refusal.ok) return new HostKeyError(host, `${e.name}: ${refusal.message}`, refusal.reason);
  const msg: string = err?.message ?? String(err);
  const code: string | undefined = err?.code;
  const where = `${e.name} (${e.address}:${e.port})`;
  const who = `${e.name} (${e.user}@${e.address}:${e.port})`;
  if (err?.level === 'client-authentication' || /authentication methods failed/i.test(msg)) {
    return new ConnectionError(host, `${who}: authentication failed (${authDesc(e)})`);
  }
  if (/Cannot parse privateKey|private key|passphrase/i.test(msg)) {
    return new ConnectionError(host, `${who}: cannot use private key ${e.key ?? ''}: ${msg}`);
  }
  if (code === 'ECONNREFUSED' || /connection refused/i.test(msg)) {
    return new ConnectionError(host, `${where}: connection refused`);
  }
  if (
    err?.level === 'client-timeout' ||
    code === 'ETIMEDOUT' ||
    /timed out|No response from server/i.test(msg)
  ) {
    return new ConnectionError(host, `${where}: timed out after ${seconds(e.connectTimeoutMs)}`);
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new ConnectionError(host, `${where}: no route to host`);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new ConnectionError(host, `${where}: cannot resolve address ${e.address}`);
  }
  if (code === 'ECONNRESET' || /Connection lost before handshake/i.test(msg)) {
    return new ConnectionError(host, `${where}: connection closed by the remote end during the handshake`);
  }
  return new ConnectionError(host, `${where}: ${msg}`);
}

/**
 * accept-new recorded a key: say so as OpenSSH does, with the fingerprint, so that a first
 * connection to the wrong machine can still be noticed.
 */
function announceAddedKey(e: Endpoint, blob: Buffer, recorded: boolean): void {
  let type = '?';
  try {
    type = keyTypeOfBlob(blob);
  } catch {
    // verifyHostKey already accepted the blob
  }
  const label = KEY_LABELS[type] ?? type.toUpperCase();
  const msg = recorded
    ? `Warning: Permanently added '${knownHostsName(e.address, e.port)}' (${label}) to the list of known hosts ` +
      `(${e.knownHosts}): ${e.name}, ${type} key ${fingerprint(blob)}`
    : `Warning: accepted the new host key of '${knownHostsName(e.address, e.port)}' (${label}) for this run only, ` +
      `not recorded in ${e.knownHosts} (a dry run writes nothing): ${e.name}, ${type} key ${fingerprint(blob)}`;
  if (e.onHostKeyAdded) e.onHostKeyAdded(msg);
  else process.stderr.write(`${msg}\n`);
}

const KEY_LABELS: Record<string, string> = {
  'ssh-ed25519': 'ED25519',
  'ssh-rsa': 'RSA',
  'ecdsa-sha2-nistp256': 'ECDSA',
  'ecdsa-sha2-nistp384': 'ECDSA',
  'ecdsa-sha2-nistp521': 'ECDSA',
  'ssh-dss': 'DSA',
};

/** Open one verified, authenticated ssh2 connection. Always rejects with ConnectionError. */
async function open(host: string, e: Endpoint): Promise<Opened> {
  const cfg: Record<string, any> = {
    username: e.user,
    readyTimeout: e.connectTimeoutMs,
    keepaliveInterval: e.keepaliveIntervalMs,
    keepaliveCountMax: 3,
    tryKeyboard: false,
  };
  if (e.sock) cfg.sock = e.sock;
  else {
    cfg.host = e.address;
    cfg.port = e.port;
  }
  if (e.key) {
    try {
      // Read the key ourselves: a clear error naming the file
      cfg.privateKey = await readFile(e.key, 'utf8');
    } catch (err: any) {
      throw new ConnectionError(host, `${e.name}: cannot read private key ${e.key}: ${err.message}`);
    }
    if (e.passphrase !== undefined) cfg.passphrase = e.passphrase;
  } else if (process.env.SSH_AUTH_SOCK) {
    cfg.agent = process.env.SSH_AUTH_SOCK;
  } else {
    throw new ConnectionError(
      host,
      `${e.name} (${e.user}@${e.address}:${e.port}): no private key configured and SSH_AUTH_SOCK is not set (no ssh-agent)`,
    );
  }

  // Prefer the host key types already recorded for this host (like OpenSSH), so a server that has
  // several host keys presents the one we know instead of a "new" one.
  let known: string[] = [];
  try {
    known = [...lookup(e.knownHosts, e.address, e.port), ...(e.runOnlyHostKeys?.entries(e.knownHosts, e.address, e.port) ?? [])]
      .filter((k) => k.marker === undefined)
      .map((k) => k.keyType);
  } catch {
    // unreadable file: verifyHostKey reports it
  }
  const preferred = hostKeyAlgorithmsFor(known);
  if (preferred.length > 0) {
    cfg.algorithms = {
      serverHostKey: [...preferred, ...DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a))],
    };
  }

  // ssh2 calls hostVerifier(key, verify) with the raw wire-format key blob (a Buffer; it would be a
  // hex digest only if `hostHash` were set). A boolean return is used synchronously. Beware: any
  // non-undefined, non-false return is taken as "accept" -- returning a Promise accepts every key.
  let refusal: VerifyResult | undefined;
  cfg.hostVerifier = (key: Buffer): boolean => {
    const blob = Buffer.from(key);
    const res = verifyHostKey(e.knownHosts, e.address, e.port, blob, e.policy, e.runOnlyHostKeys);
    if (!res.ok) refusal = res;
    else if (res.added) announceAddedKey(e, blob, res.recorded !== false);
    return res.ok;
  };

  const state = new LinkState();
  const { client, ready } = connectClient(cfg);
  state.attach(client);
  // ssh2 leaves Nagle's algorithm on: a command's stdin (the script, wrap.ts) then waits for the
  // host's delayed ACK of the exec request, ~40 ms per command. Measured on a test host: a
  // command's round trip 65 ms with Nagle, 25 ms without.
  client.setNoDelay(true);
  try {
    await ready;
  } catch (err: any) {
    try {
      client.end();
    } catch {
      // ignore
    }
    throw connectError(host, e, state.lastError ?? err, refusal);
  }
  if (state.down) {
    throw connectError(host, e, state.lastError ?? new Error('connection closed right after login'), refusal);
  }
  return { client, state };
}

/**
 * Send SIGKILL to a session's command. OpenSSH (>= 7.9) delivers it to the session's process
 * group (killpg), so pipelines and `sh -c` children die too.
 * Trap: ssh2's `channel.signal()` silently does nothing once our side has sent EOF (i.e. after
 * stdin was ended, which is always the case here) because it checks `channel.writable`; so the
 * request is sent through the protocol object directly while the channel is open.
 */
function killChannel(ch: any): void {
  try {
    const state = ch?.outgoing?.state;
    if (state === 'open' || state === 'eof') ch._client._protocol.signal(ch.outgoing.id, 'KILL');
  } catch {
    // best effort
  }
}

/** Stdin beyond this goes on its own channel: the shell's dd would hold it in one buffer. */
const SHELL_MAX_STDIN = 8 * 1024 * 1024;

class SshConnection implements Connection {
  readonly host: string;
  private readonly limit: ReturnType<typeof pLimit>;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Persistent shells (each holds a channel for good); at most shellMax, the rest of maxChannels is for per-command channels. */
  private shells: PersistentShell[] = [];
  private startingShells = 0;
  private readonly shellMax: number;
  /** Set when a shell could not start (no dd, odd login shell...): per-command channels from then on. */
  private shellUnusable = false;
  /** Round trips of this connection, for bench/ (PROVISION_SSH_STATS=FILE appends them at close). */
  private stats = { onShell: 0, onChannel: 0, shellsStarted: 0 };

  constructor(
    private readonly t: SshTarget,
    private readonly main: Opened,
    private readonly jump?: Opened,
  ) {
    this.host = t.name;
    const channels = Math.max(1, t.maxChannels ?? 8);
    const enabled = t.persistentShell ?? process.env.PROVISION_SSH_SHELL === '1';
    this.shellMax = enabled ? Math.min(4, Math.floor(channels / 2)) : 0;
    this.limit = pLimit(Math.max(1, channels - this.shellMax));
  }

  /**
   * An idle persistent shell, marked busy, or a new one while fewer than shellMax exist; undefined
   * when all are busy or shells cannot be used (the caller then opens a channel for the command).
   */
  private async takeShell(): Promise<PersistentShell | undefined> {
    this.shells = this.shells.filter((s) => !s.dead);
    const idle = this.shells.find((s) => !s.busy);
    if (idle) {
      idle.busy = true;
      return idle;
    }
    if (this.shellUnusable || this.shells.length + this.startingShells >= this.shellMax) return undefined;
    this.startingShells++;
    try {
      const sh = await PersistentShell.start(this.main.client, this.t.connectTimeoutMs ?? 10000);
      this.stats.shellsStarted++;
      sh.busy = true;
      if (this.closed) sh.kill('connection closed');
      else this.shells.push(sh);
      return sh;
    } catch (err) {
      // e.g. a forced command or a login shell that is not POSIX; a drop is reported by the
      // fallback, and a refused channel (MaxSessions, a moment after another closed) may pass
      if (!this.main.state.down && !/Channel open failure/.test((err as Error)?.message ?? '')) this.shellUnusable = true;
      return undefined;
    } finally {
      this.startingShells--;
    }
  }

  /** One command on a persistent shell; same results and errors as run() on a channel. */
  private runOnShell(sh: PersistentShell, command: string, stdin: Buffer, timeoutMs: number | undefined, sudo: boolean): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const offDown = this.main.state.onDown(() => settle(() => reject(this.lostError())));
      const finish = () => {
        offDown();
        clearTimeout(timer);
        clearTimeout(graceTimer);
        if (!sh.dead) sh.busy = false;
      };
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => {
          settle(() => reject(new Error(`command timed out after ${seconds(timeoutMs)} on ${this.t.name}`)));
          // The host-side `timeout` guard (wrap.ts) normally ends the command now and the shell
          // goes on; if it has not after a grace period, kill the shell (a new one starts later).
          graceTimer = setTimeout(() => sh.kill(`command timed out after ${seconds(timeoutMs)} on ${this.t.name}`), KILL_GRACE_MS);
        }, timeoutMs);
      }
      this.stats.onShell++;
      sh.run(command, stdin).then(
        (o) => {
          finish();
          let stderr = o.stderr.toString();
          if (sudo && o.code !== 0) stderr = withHint(stderr, sudoHint(stderr, this.t.name, this.t.becomePassword !== undefined));
          const result: ExecResult = { code: o.code, stdout: o.stdout.toString(), stderr };
          settle(() => resolve(result));
        },
        (e: Error) => {
          // close() ended the shell: the connection's end settles it (onDown), as for a channel
          if (this.closed && !this.main.state.down) {
            clearTimeout(timer);
            clearTimeout(graceTimer);
            return;
          }
          finish();
          // a dropped connection closes the shell's channel too: say it was the connection
          setImmediate(() =>
            settle(() =>
              reject(
                this.main.state.down || this.closed
                  ? this.lostError()
                  : new Error(`${this.t.name}: the command's shell ended before the command did (${e.message})`),
              ),
            ),
          );
        },
      );
    });
  }

  private lostError(): ConnectionError {
    if (this.closed) return new ConnectionError(this.t.name, `connection to ${this.t.name} was closed`);
    const why =
      this.main.state.lastError?.message ??
      (this.jump?.state.lastError ? `jump host: ${this.jump.state.lastError.message}` : undefined) ??
      'connection closed by the remote end';
    return new ConnectionError(this.t.name, `connection to ${this.t.name} lost: ${why}`);
  }

  private unusable(): ConnectionError | undefined {
    if (this.closed) return new ConnectionError(this.t.name, `connection to ${this.t.name} is closed`);
    if (this.main.state.down) return this.lostError();
    return undefined;
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const early = this.unusable();
    if (early) return Promise.reject(early);
    const become = opts.become ?? this.t.become;
    let wrapped;
    try {
      wrapped = wrapCommand(command, {
        become,
        isRoot: this.t.user === 'root',
        becomePassword: this.t.becomePassword,
        ...(opts.becomeUser !== undefined ? { becomeUser: opts.becomeUser } : {}),
        stdin: opts.stdin,
        timeoutMs: opts.timeoutMs,
      });
    } catch (err) {
      return Promise.reject(err);
    }
    const w = wrapped;
    // The persistent shell takes one-line command lines (all of wrap.ts's) and stdin up to
    // SHELL_MAX_STDIN; a command also gets its own channel (run() below) when every shell is busy,
    // when shells are disabled (the default: without PROVISION_SSH_SHELL=1; maxChannels < 2) or could not start here.
    if (this.shellMax > 0 && !/[\r\n]/.test(w.command) && w.stdin.length <= SHELL_MAX_STDIN) {
      return this.takeShell().then((sh) =>
        sh ? this.runOnShell(sh, w.command, w.stdin, opts.timeoutMs, w.sudo) : this.runOnChannel(w, opts.timeoutMs),
      );
    }
    return this.runOnChannel(w, opts.timeoutMs);
  }

  private runOnChannel(w: { command: string; stdin: Buffer; sudo: boolean }, timeoutMs: number | undefined): Promise<ExecResult> {
    const early = this.unusable();
    if (early) return Promise.reject(early);
    this.stats.onChannel++;
    return new Promise<ExecResult>((resolve, reject) => {
      this.limit(() => this.run(w.command, w.stdin, timeoutMs, w.sudo, resolve, reject)).catch(reject);
    });
  }

  /**
   * Run one command on its own channel. Settles the caller's promise as soon as the outcome is
   * known; the returned promise (which holds the concurrency slot) resolves once the channel is
   * really closed, so a timed-out channel still counts against MaxSessions until it is gone.
   */
  private run(
    command: string,
    stdin: Buffer | undefined,
    timeoutMs: number | undefined,
    sudo: boolean,
    resolve: (r: ExecResult) => void,
    reject: (e: Error) => void,
  ): Promise<void> {
    return new Promise<void>((release) => {
      const early = this.unusable();
      if (early) {
        reject(early);
        release();
        return;
      }
      let settled = false;
      let channel: any;
      let timer: NodeJS.Timeout | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      let released = false;
      const done = () => {
        if (released) return;
        released = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        offDown();
        release();
      };
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const offDown = this.main.state.onDown(() => {
        settle(() => reject(this.lostError()));
        done();
      });
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => {
          settle(() =>
            reject(new Error(`command timed out after ${seconds(timeoutMs)} on ${this.t.name}`)),
          );
          if (channel) {
            // The host-side `timeout` guard (wrap.ts) normally kills the command now and the
            // channel closes by itself, letting the wrapper scripts clean up (sudo temp file).
            // If it is still open after a grace period, kill the session and close the channel.
            graceTimer = setTimeout(() => {
              killChannel(channel);
              try {
                channel.close();
              } catch {
                // ignore
              }
              graceTimer = setTimeout(done, CHANNEL_CLOSE_GRACE_MS);
            }, KILL_GRACE_MS);
          }
          // If the channel is not open yet, the exec callback closes it when it arrives.
        }, timeoutMs);
      }
      try {
      // sshd frees a session slot a moment after the channel closes (it also waits for the
      // command's exit status), so a channel opened right after another closed can be refused
      // ("no more sessions") although the cap holds: retry such a refusal briefly (0.3 s in
      // all). A connection really over its MaxSessions still fails.
      const openExec = (attempt: number) =>
        this.main.client.exec(command, (err: Error | undefined, ch: any) => {
          if (err && /Channel open failure/.test(err.message) && attempt < OPEN_RETRIES && !settled && !this.main.state.down) {
            setTimeout(() => {
              try {
                openExec(attempt + 1);
              } catch (e) {
                settle(() => reject(e as Error));
                done();
              }
            }, 20 * 2 ** attempt);
            return;
          }
          if (err) {
            settle(() =>
              reject(
                this.main.state.down
                  ? this.lostError()
                  : new Error(`${this.t.name}: cannot start a command (SSH channel): ${err.message}`),
              ),
            );
            done();
            return;
          }
          channel = ch;
          const out = new BoundedOutput();
          const errOut = new BoundedOutput();
          let code: number | null = null;
          let signal: string | null = null;
          ch.on('error', () => {
            // e.g. writing stdin to a command that already exited; the exit status tells the story
          });
          ch.stderr.on('error', () => {});
          ch.on('data', (d: Buffer) => out.push(d));
          ch.stderr.on('data', (d: Buffer) => errOut.push(d));
          ch.on('exit', (c: number | null, s?: string | null) => {
            code = c ?? null;
            signal = s ?? null;
          });
          ch.on('close', () => {
            if (!settled) {
              if (this.main.state.down) {
                settle(() => reject(this.lostError()));
              } else {
                const stdout = out.toString();
                let stderr = errOut.toString();
                let rc = exitCode(code, signal);
                if (rc === undefined) {
                  rc = 255;
                  stderr = withHint(stderr, `provision: ${this.t.name}: the command ended without an exit status`);
                }
                if (sudo && rc !== 0) {
                  stderr = withHint(stderr, sudoHint(stderr, this.t.name, this.t.becomePassword !== undefined));
                }
                const result: ExecResult = { code: rc, stdout, stderr };
                settle(() => resolve(result));
              }
            }
            done();
          });
          if (settled) {
            // timed out (or lost) before the channel opened
            try {
              ch.close();
            } catch {
              // ignore
            }
            graceTimer = setTimeout(done, CHANNEL_CLOSE_GRACE_MS);
            return;
          }
          if (stdin && stdin.length > 0) ch.end(stdin);
          else ch.end();
        });
        openExec(0);
      } catch (err: any) {
        // ssh2 throws synchronously ("Not connected") when the socket is already gone
        settle(() =>
          reject(
            this.main.state.down || /not connected/i.test(err?.message ?? '')
              ? this.lostError()
              : err,
          ),
        );
        done();
      }
    });
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    const statsFile = process.env.PROVISION_SSH_STATS;
    if (statsFile) {
      const { onShell, onChannel, shellsStarted } = this.stats;
      try {
        appendFileSync(
          statsFile,
          `${process.pid} ${this.t.name} commands=${onShell + onChannel} on_shell=${onShell} on_channel=${onChannel} shells=${shellsStarted} args=${process.argv.slice(2).join(' ')}\n`,
        );
      } catch {
        // a benchmark aid only
      }
    }
    for (const sh of this.shells) sh.close();
    const waitClosed = (o: Opened | undefined): Promise<void> => {
      if (!o || o.state.down) return Promise.resolve();
      return new Promise<void>((res) => {
        const t = setTimeout(() => {
          try {
            o.client.destroy();
          } catch {
            // ignore
          }
          res();
        }, 2000);
        o.state.onDown(() => {
          clearTimeout(t);
          res();
        });
        try {
          o.client.end(); // polite SSH disconnect
        } catch {
          clearTimeout(t);
          res();
        }
      });
    };
    this.closing = (async () => {
      await waitClosed(this.main);
      await waitClosed(this.jump);
    })();
    return this.closing;
  }
}

/** Connect to a host over SSH (optionally through a jump host). Rejects with ConnectionError. */
export async function connectSsh(t: SshTarget): Promise<Connection> {
  const connectTimeoutMs = t.connectTimeoutMs ?? 10000;
  const keepaliveIntervalMs = t.keepaliveIntervalMs ?? 5000;
  let jump: Opened | undefined;
  let sock: any;
  if (t.jump) {
    const j = t.jump;
    jump = await open(t.name, {
      name: `${t.name} (jump host ${j.user}@${j.address}:${j.port})`,
      address: j.address,
      port: j.port,
      user: j.user,
      key: j.key ?? t.key,
      passphrase: j.key === undefined || j.key === t.key ? t.passphrase : undefined,
      knownHosts: t.knownHosts,
      policy: t.hostKeyPolicy,
      connectTimeoutMs,
      keepaliveIntervalMs,
      onHostKeyAdded: t.onHostKeyAdded,
      runOnlyHostKeys: t.runOnlyHostKeys,
    });
    try {
      sock = await new Promise<any>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out after ${seconds(connectTimeoutMs)}`)),
          connectTimeoutMs,
        );
        jump!.client.forwardOut('127.0.0.1', 0, t.address, t.port, (err: Error | undefined, stream: any) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(stream);
        });
      });
      sock.on('error', () => {
        // surfaced through the target connection's close
      });
    } catch (err: any) {
      jump.client.end();
      const msg = /refused/i.test(err?.message ?? '')
        ? 'connection refused'
        : err?.message ?? String(err);
      throw new ConnectionError(
        t.name,
        `${t.name} (${t.address}:${t.port} via jump host ${j.address}:${j.port}): ${msg}`,
      );
    }
  }
  let main: Opened;
  try {
    main = await open(t.name, {
      name: t.name,
      address: t.address,
      port: t.port,
      user: t.user,
      key: t.key,
      passphrase: t.passphrase,
      knownHosts: t.knownHosts,
      policy: t.hostKeyPolicy,
      connectTimeoutMs,
      keepaliveIntervalMs,
      sock,
      onHostKeyAdded: t.onHostKeyAdded,
      runOnlyHostKeys: t.runOnlyHostKeys,
    });
  } catch (err) {
    jump?.client.end();
    throw err;
  }
  if (jump) {
    // If the jump connection goes, the tunnel goes: make sure the target is marked down too.
    const j = jump;
    j.state.onDown(() => {
      try {
        main.client.destroy();
      } catch {
        // ignore
      }
    });
  }
  return new SshConnection(t, main, jump);
}
