/**
 * Throwaway OpenSSH servers for integration tests: each instance has its own host key, client
 * key, config, pid file and a free port on 127.0.0.1. Never touches the system sshd.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';

export interface SshdOptions {
  /** Host key types to generate (default ['ed25519']). */
  hostKeyTypes?: Array<'ed25519' | 'ecdsa' | 'rsa'>;
  /** Extra public key lines for authorized_keys (e.g. another harness's client key). */
  extraAuthorizedKeys?: string[];
  /** Extra sshd_config lines. */
  extraConfig?: string[];
}

export interface SshdHarness {
  dir: string;
  port: number;
  /** Private key path (ed25519, no passphrase) authorized for every user (root, test users). */
  clientKey: string;
  /** The client public key line. */
  clientPublicKey: string;
  /** `[127.0.0.1]:PORT type base64` for the (first) host key. */
  knownHostsLine: string;
  /** All known_hosts lines (one per host key type). */
  knownHostsLines: string[];
  /** Host public key line (`type base64 comment`) of the first host key. */
  hostPublicKey: string;
  /** Pid of the listening sshd. */
  pid: number;
  /** sshd's stderr log so far. */
  log(): string;
  /** Simulate a crash: SIGKILL sshd and every process under it (sshd processes first). */
  crash(): void;
  /** Simulate a silent peer: SIGSTOP sshd and every process under it (stop() cleans up). */
  freeze(): void;
  /** Stop sshd (and its sessions) and remove the temp dir. */
  stop(): Promise<void>;
}

/** Whether integration tests can run here (root, OpenSSH server and ssh-keygen present). */
export function sshdAvailable(): boolean {
  return (
    typeof process.getuid === 'function' &&
    process.getuid() === 0 &&
    existsSync(SSHD) &&
    commandExists('ssh-keygen')
  );
}

export function commandExists(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function keygen(type: string, file: string, comment: string): void {
  const args = ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', comment, '-f', file];
  execFileSync('ssh-keygen', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Map pid -> children pids, from /proc. */
function childrenMap(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid ...; comm may contain spaces/parens: split after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    const list = map.get(ppid) ?? [];
    list.push(Number(name));
    map.set(ppid, list);
  }
  return map;
}

/** `root` and all its descendants, parents before children (BFS). */
export function processTree(root: number): number[] {
  const map = childrenMap();
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(map.get(p) ?? []));
  }
  return out;
}

function killTree(root: number, signal: NodeJS.Signals): void {
  for (const pid of processTree(root)) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

async function waitForListening(child: ChildProcess, port: number, getLog: () => string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}):\n${getLog()}`);
    }
    if (/Server listening on 127\.0\.0\.1 port/.test(getLog())) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  // last resort: probe the port
  const ok = await new Promise<boolean>((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
  if (!ok) throw new Error(`sshd did not start listening on 127.0.0.1:${port}:\n${getLog()}`);
}

export async function startSshd(opts: SshdOptions = {}): Promise<SshdHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'provision-sshd-'));
  try {
    return await startIn(dir, opts);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startIn(dir: string, opts: SshdOptions): Promise<SshdHarness> {
  // Test users (non-root) must be able to read authorized_keys (sshd reads it as the user).
  chmodSync(dir, 0o755);
  // Privilege separation directory required by sshd.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const types = opts.hostKeyTypes ?? ['ed25519'];
  const hostKeys: string[] = [];
  for (const t of types) {
    const f = join(dir, `ssh_host_${t}_key`);
    keygen(t, f, `provision-test-host-${t}`);
    hostKeys.push(f);
  }
  const clientKey = join(dir, 'client_ed25519');
  keygen('ed25519', clientKey, 'provision-test-client');
  const clientPublicKey = readFileSync(`${clientKey}.pub`, 'utf8').trim();
  const authorizedKeys = join(dir, 'authorized_keys');
  // SHLVL=1 makes the users' login bash skip ~/.bashrc, which bash otherwise reads for every
  // SSH command: a machine's rc file (e.g. a pyenv rehash racing across 30 parallel sessions)
  // must not write onto the stderr the tests assert on.
  const keyLine = (k: string) => `environment="SHLVL=1" ${k}`;
  writeFileSync(authorizedKeys, [clientPublicKey, ...(opts.extraAuthorizedKeys ?? [])].map(keyLine).join('\n') + '\n', {
    mode: 0o644,
  });

  const port = await freePort();
  const config = join(dir, 'sshd_config');
  const pidFile = join(dir, 'sshd.pid');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      ...hostKeys.map((k) => `HostKey ${k}`),
      `AuthorizedKeysFile ${authorizedKeys}`,
      `PidFile ${pidFile}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin yes',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'MaxSessions 10',
      'PermitUserEnvironment SHLVL',
      'MaxStartups 100:30:200',
      'AllowTcpForwarding yes',
      'UseDNS no',
      'PrintMotd no',
      'PrintLastLog no',
      'Subsystem sftp internal-sftp',
      'LogLevel INFO',
      ...(opts.extraConfig ?? []),
      '',
    ].join('\n'),
  );

  let log = '';
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  child.on('error', (err) => (log += `spawn error: ${err.message}\n`));
  const getLog = () => log;

  try {
    await waitForListening(child, port, getLog);
  } catch (err) {
    if (child.pid) killTree(child.pid, 'SIGKILL');
    throw err;
  }

  const knownHostsLines = hostKeys.map((k) => {
    const [type, b64] = readFileSync(`${k}.pub`, 'utf8').trim().split(/\s+/);
    return `[127.0.0.1]:${port} ${type} ${b64}`;
  });
  const hostPublicKey = readFileSync(`${hostKeys[0]}.pub`, 'utf8').trim();
  let stopped = false;

  return {
    dir,
    port,
    clientKey,
    clientPublicKey,
    knownHostsLine: knownHostsLines[0],
    knownHostsLines,
    hostPublicKey,
    pid: child.pid!,
    log: getLog,
    crash() {
      if (child.pid) killTree(child.pid, 'SIGKILL');
    },
    freeze() {
      if (child.pid) killTree(child.pid, 'SIGSTOP');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.pid && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        killTree(child.pid, 'SIGKILL');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestUser {
  name: string;
  /** Remove the user, its home and its sudoers file. */
  remove(): void;
}

/** Whether non-root test users can be created (root, useradd, sudo). */
export function testUsersAvailable(): boolean {
  return (
    typeof process.getuid === 'function' &&
    process.getuid() === 0 &&
    commandExists('useradd') &&
    commandExists('userdel') &&
    commandExists('sudo') &&
    existsSync('/etc/sudoers.d')
  );
}

/**
 * Create a throwaway local user for become tests.
 *  - sudo 'nopasswd': `NAME ALL=(ALL) NOPASSWD: ALL`
 *  - sudo 'password': `NAME ALL=(ALL) ALL` and the given password set for the account
 * Login is by public key only (authorized_keys is the harness's shared file).
 */
export function createTestUser(name: string, sudo: 'nopasswd' | 'password', password?: string): TestUser {
  if (!/^[a-z][a-z0-9_-]{0,30}$/.test(name)) throw new Error(`bad test user name ${name}`);
  const sudoers = `/etc/sudoers.d/${name}`;
  const remove = () => {
    try {
      rmSync(sudoers, { force: true });
    } catch {
      // ignore
    }
    try {
      execFileSync('pkill', ['-KILL', '-u', name], { stdio: 'ignore' });
    } catch {
      // no processes
    }
    try {
      // userdel -r does not clean /tmp; a reused uid would inherit the files
      execFileSync('find', ['/tmp', '-maxdepth', '1', '-user', name, '-delete'], { stdio: 'ignore' });
    } catch {
      // no such user yet
    }
    try {
      execFileSync('userdel', ['-r', '-f', name], { stdio: 'ignore' });
    } catch {
      // not there
    }
  };
  remove(); // leftovers from an interrupted run
  execFileSync('useradd', ['-m', '-s', '/bin/sh', name], { stdio: 'ignore' });
  // useradd leaves the password as "!" (locked): with UsePAM no, sshd refuses locked accounts even
  // for public key logins. "*" = no password, not locked.
  if (sudo === 'password') {
    if (!password) throw new Error('password required');
    execFileSync('chpasswd', [], { input: `${name}:${password}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
  } else {
    execFileSync('usermod', ['-p', '*', name], { stdio: 'ignore' });
  }
  const rule = sudo === 'nopasswd' ? `${name} ALL=(ALL) NOPASSWD: ALL\n` : `${name} ALL=(ALL) ALL\n`;
  writeFileSync(sudoers, rule, { mode: 0o440 });
  try {
    execFileSync('visudo', ['-c', '-f', sudoers], { stdio: 'ignore' });
  } catch {
    remove();
    throw new Error(`invalid sudoers rule for ${name}`);
  }
  return { name, remove };
}
