/**
 * Ansible connection variables -> provision's host settings. What provision cannot honour is an
 * error (passwords, non-SSH connections, become to another user) naming the host and the file:line
 * of the value; ssh options provision does not use and other ansible_* variables are warnings.
 */
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { InventoryHost } from '../inventory.js';
import { at, type VarEntry } from './model.js';
import { shlexSplit } from './pyliteral.js';

type Conn = Omit<InventoryHost, 'name' | 'groups' | 'vars'>;

/** Variables mapped (or checked) here; every other ansible_* variable is reported as unused. */
export const HANDLED = new Set([
  'ansible_host',
  'ansible_ssh_host',
  'ansible_port',
  'ansible_ssh_port',
  'ansible_user',
  'ansible_ssh_user',
  'ansible_ssh_private_key_file',
  'ansible_private_key_file',
  'ansible_become',
  'ansible_become_user',
  'ansible_become_method',
  'ansible_connection',
  'ansible_ssh_common_args',
  'ansible_ssh_extra_args',
  'ansible_ssh_args',
  'ansible_ssh_timeout',
  'ansible_group_priority',
]);

/** Refused: never silently ignored. */
export const REFUSED: Record<string, string> = {
  ansible_password: 'SSH passwords are not supported: provision authenticates with keys (ansible_ssh_private_key_file) or ssh-agent',
  ansible_ssh_pass: 'SSH passwords are not supported: provision authenticates with keys (ansible_ssh_private_key_file) or ssh-agent',
  ansible_ssh_password: 'SSH passwords are not supported: provision authenticates with keys (ansible_ssh_private_key_file) or ssh-agent',
  ansible_become_password: 'a become password in the inventory is not supported: give it with --ask-become-pass or PROVISION_BECOME_PASSWORD',
  ansible_become_pass: 'a become password in the inventory is not supported: give it with --ask-become-pass or PROVISION_BECOME_PASSWORD',
  ansible_sudo_pass: 'a become password in the inventory is not supported: give it with --ask-become-pass or PROVISION_BECOME_PASSWORD',
  ansible_sudo_password: 'a become password in the inventory is not supported: give it with --ask-become-pass or PROVISION_BECOME_PASSWORD',
  ansible_sudo: 'the old ansible_sudo is not supported: use ansible_become',
  ansible_sudo_user: 'the old ansible_sudo_user is not supported: provision becomes root only',
  ansible_ssh_private_key_passphrase: 'key passphrases are not supported: load the key into ssh-agent instead',
};

const JUMP = /^(?:([^@\s]+)@)?([^:@\s[\]]+)(?::(\d+))?$/;

export interface Problems {
  errors: string[];
  /** message -> hosts it applies to (reported once). */
  warnings: Map<string, string[]>;
}

function warn(p: Problems, msg: string, host: string): void {
  const list = p.warnings.get(msg) ?? [];
  if (!list.includes(host)) list.push(host);
  p.warnings.set(msg, list);
}

function truthy(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['y', 'yes', 'on', '1', 'true', 't'].includes(s)) return true;
    if (['n', 'no', 'off', '0', 'false', 'f'].includes(s)) return false;
  }
  return undefined;
}

function expandPath(p: string): string {
  if (p === '~' || p.startsWith('~/')) return join(homedir(), p.slice(1));
  return isAbsolute(p) ? p : resolve(p);
}

export function mapConnection(name: string, vars: Map<string, VarEntry>, acceptNew: boolean, p: Problems): Conn {
  const err = (k: string, msg: string) => p.errors.push(`${at(vars.get(k)!.origin)}: host '${name}': ${k}: ${msg}`);
  const str = (...keys: string[]): string | undefined => {
    for (const k of keys) {
      const e = vars.get(k);
      if (!e || e.value === null || e.value === undefined) continue;
      if (typeof e.value !== 'string' && typeof e.value !== 'number') {
        err(k, `expected a string, got ${JSON.stringify(e.value)}`);
        return undefined;
      }
      const s = String(e.value);
      if (s.includes('{{') || s.includes('{%')) {
        err(k, `Jinja templates in connection variables are not supported ('${s}'): give the value itself`);
        return undefined;
      }
      return s;
    }
    return undefined;
  };
  const keyOf = (...keys: string[]) => keys.find((k) => vars.has(k));

  for (const [k, msg] of Object.entries(REFUSED)) if (vars.has(k)) err(k, msg);
  for (const k of vars.keys()) {
    if (k.startsWith('ansible_') && !HANDLED.has(k) && !(k in REFUSED)) warn(p, `not used by provision (ignored): ${k}`, name);
  }

  const connection = str('ansible_connection');
  // local: the host's tasks run on the controller, as the controller's user (as Ansible's local connection)
  const local = connection === 'local' || connection === 'ansible.builtin.local';
  if (connection !== undefined && !local && !['ssh', 'smart', 'paramiko', 'paramiko_ssh', 'ansible.builtin.ssh', 'ansible.builtin.paramiko_ssh'].includes(connection)) {
    err('ansible_connection', `connection '${connection}' is not supported: provision connects over SSH (ssh, smart, paramiko) or runs the host's tasks on the controller (local)`);
  }

  const address = str('ansible_host', 'ansible_ssh_host') ?? name;
  let port = 22;
  const portKey = keyOf('ansible_port', 'ansible_ssh_port');
  if (portKey) {
    const raw = vars.get(portKey)!.value;
    const n = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) err(portKey, `expected a port number 1-65535, got ${JSON.stringify(raw)}`);
    else port = n;
  }
  const user = local ? userInfo().username : (str('ansible_user', 'ansible_ssh_user') ?? userInfo().username);
  const keyFile = str('ansible_ssh_private_key_file', 'ansible_private_key_file');
  const key = keyFile ? expandPath(keyFile) : undefined;

  let become = false;
  if (vars.has('ansible_become')) {
    const b = truthy(vars.get('ansible_become')!.value);
    if (b === undefined) err('ansible_become', `expected a boolean (true/false, yes/no), got ${JSON.stringify(vars.get('ansible_become')!.value)}`);
    else become = b;
  }
  const method = str('ansible_become_method');
  if (method !== undefined && method !== 'sudo' && method !== 'ansible.builtin.sudo') {
    err('ansible_become_method', `become method '${method}' is not supported: provision uses sudo`);
  }
  const becomeUser = str('ansible_become_user');
  if (becomeUser !== undefined && becomeUser !== 'root') {
    err('ansible_become_user', `becoming '${becomeUser}' is not supported: provision's become is sudo to root (use become on tasks as root, or connect as that user)`);
  }

  let connectTimeoutMs = 10_000;
  if (vars.has('ansible_ssh_timeout')) {
    const t = Number(vars.get('ansible_ssh_timeout')!.value);
    if (!(t > 0)) err('ansible_ssh_timeout', `expected a positive number of seconds, got ${JSON.stringify(vars.get('ansible_ssh_timeout')!.value)}`);
    else connectTimeoutMs = t * 1000;
  }

  let knownHosts = expandPath('~/.ssh/known_hosts');
  let hostKeyPolicy: Conn['hostKeyPolicy'] = 'strict';
  let jumpSpec: { spec: string; key: string } | undefined;
  for (const k of ['ansible_ssh_args', 'ansible_ssh_common_args', 'ansible_ssh_extra_args']) {
    const args = str(k);
    if (args === undefined) continue;
    const toks = shlexSplit(args);
    if (!Array.isArray(toks)) {
      err(k, `cannot parse '${args}': ${toks.error}`);
      continue;
    }
    const words = toks.map((t) => t.text);
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      let opt: string | undefined;
      if (w === '-o') opt = words[++i];
      else if (w.startsWith('-o')) opt = w.slice(2);
      else if (w === '-J' || (w.startsWith('-J') && w.length > 2)) {
        const v = w === '-J' ? words[++i] : w.slice(2);
        if (v === undefined) err(k, `-J without a host`);
        else jumpSpec = { spec: v, key: k };
        continue;
      } else {
        warn(p, `not used by provision (ignored): ${k} argument '${w}'`, name);
        continue;
      }
      if (opt === undefined) {
        err(k, `-o without an option`);
        continue;
      }
      const m = /^([A-Za-z]+)\s*(?:=|\s)\s*(.*)$/.exec(opt);
      if (!m) {
        err(k, `cannot parse ssh option '${opt}'`);
        continue;
      }
      const [, oname, oval] = m;
      switch (oname.toLowerCase()) {
        case 'proxyjump':
          if (oval.toLowerCase() !== 'none') jumpSpec = { spec: oval, key: k };
          break;
        case 'proxycommand': {
          const j = proxyCommandJump(oval);
          if (j.error) err(k, j.error);
          else if (j.jump) jumpSpec = { spec: j.jump, key: k };
          break;
        }
        case 'stricthostkeychecking': {
          const v = oval.toLowerCase();
          if (v === 'accept-new') hostKeyPolicy = 'accept-new';
          else if (truthy(v) === false) {
            hostKeyPolicy = 'accept-new';
            warn(p, `${k}: StrictHostKeyChecking=${oval} is treated as accept-new (unknown keys are remembered, changed keys refused)`, name);
          } else if (truthy(v) !== true && v !== 'ask') err(k, `unknown StrictHostKeyChecking value '${oval}'`);
          break;
        }
        case 'userknownhostsfile':
          if (oval === '/dev/null') warn(p, `${k}: UserKnownHostsFile=/dev/null is not honoured: host keys are checked against ~/.ssh/known_hosts`, name);
          else knownHosts = expandPath(oval.split(/\s+/)[0]);
          break;
        case 'connecttimeout':
          if (Number(oval) > 0) connectTimeoutMs = Number(oval) * 1000;
          else err(k, `ConnectTimeout: expected seconds, got '${oval}'`);
          break;
        default:
          warn(p, `not used by provision (ignored): ${k} option '${oname}'`, name);
      }
    }
  }
  let jump: Conn['jump'];
  if (jumpSpec) {
    const m = JUMP.exec(jumpSpec.spec);
    if (jumpSpec.spec.includes(',')) err(jumpSpec.key, `several jump hosts ('${jumpSpec.spec}') are not supported: provision takes one`);
    else if (!m) err(jumpSpec.key, `cannot read the jump host '${jumpSpec.spec}' (expected [user@]host[:port])`);
    else {
      jump = { user: m[1] ?? user, address: m[2], port: m[3] ? Number(m[3]) : 22 };
      if (key) jump.key = key;
    }
  }
  return {
    address,
    port,
    user,
    key,
    knownHosts,
    hostKeyPolicy: acceptNew ? 'accept-new' : hostKeyPolicy,
    become,
    ...(local ? { local: true } : {}),
    jump,
    connectTimeoutMs,
  };
}

/**
 * The jump host of `ProxyCommand=ssh -W %h:%p [-q] [-p PORT] [-l USER] [user@]bastion`, the usual
 * Ansible bastion idiom; another ProxyCommand is an error message; `none` is undefined.
 */
function proxyCommandJump(cmd: string): { jump?: string; error?: string } {
  if (cmd.trim().toLowerCase() === 'none') return {};
  const toks = shlexSplit(cmd);
  const bad = { error: `ProxyCommand '${cmd}' is not supported: only 'ssh -W %h:%p [user@]bastion' (or use -o ProxyJump=user@bastion)` };
  if (!Array.isArray(toks) || toks.length === 0 || !/(^|\/)ssh$/.test(toks[0].text)) return bad;
  const w = toks.map((t) => t.text);
  let target: string | undefined;
  let port: string | undefined;
  let user: string | undefined;
  let forward = false;
  for (let i = 1; i < w.length; i++) {
    const t = w[i];
    if (t === '-W') forward = ['%h:%p', '[%h]:%p'].includes(w[++i] ?? '');
    else if (t === '-p') port = w[++i];
    else if (t === '-l') user = w[++i];
    else if (['-i', '-o', '-F'].includes(t)) i++;
    else if (/^-[qACTNx46v]+$/.test(t)) continue;
    else if (t.startsWith('-') || target !== undefined) return bad;
    else target = t;
  }
  if (!forward || !target) return bad;
  const m = /^(?:([^@]+)@)?(.+)$/.exec(target)!;
  const u = m[1] ?? user;
  return { jump: `${u ? `${u}@` : ''}${m[2]}${port ? `:${port}` : ''}` };
}
