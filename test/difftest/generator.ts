/**
 * Seeded generator of random playbooks for the differential tester. The same seed always gives
 * the same case (mulberry32 PRNG, no other source of randomness).
 *
 * Every path lives under a few sandbox roots (/srv/dt, /opt/dt, /home/deploy/dt) with a small
 * vocabulary of names, so that tasks touch overlapping paths: parents, mkdir -p, removed
 * parents, links, files in missing directories: where predictions go wrong.
 *
 * The playbook language is generated too: blocks with rescue / always (nested, with block-level
 * when / become / vars / ignore_errors) around tasks that may fail, changed_when / failed_when /
 * until over registered results, set_fact (from known values and from results check mode does
 * not know), debug, fail, assert (that), meta: flush_handlers, handlers with listen, include_tasks with loops
 * and loop_control, import_tasks, roles (roles:, import_role, include_role, meta dependencies,
 * defaults, vars, handlers, templates and files), pre_tasks / post_tasks and yes/no booleans.
 *
 * Some cases fetch (get_url, git from the harness's HTTP server: fetch-fixtures.ts), with curl
 * and git installed by the setup (or not) and an earlier download or clone on the host; a few
 * reboot a host in the middle of a play.
 */
import { createHash } from 'node:crypto';
import type { Case, CaseHost, CaseRole } from './case.js';
import { FETCH_FILES, GIT_COMMITS } from './fetch-fixtures.js';

/** mulberry32: a tiny deterministic PRNG. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed ^ 0x9e3779b9) >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  weighted<T>(xs: ReadonlyArray<readonly [T, number]>): T {
    const total = xs.reduce((a, [, w]) => a + w, 0);
    let r = this.next() * total;
    for (const [x, w] of xs) {
      if ((r -= w) < 0) return x;
    }
    return xs[xs.length - 1][0];
  }
}

const ROOTS = ['/srv/dt', '/opt/dt', '/home/deploy/dt'] as const;
const SUBS = ['a', 'a/b', 'a/b/c', 'b', 'a/f.txt', 'a/b/g.txt', 'f.txt', 'l1', 'b/h.txt'] as const;
const LOOP_ITEMS = [['a', 'b'], ['f.txt', 'b/h.txt'], ['a/b', 'a/b/c']] as const;
const MODES = ['0644', '0600', '0755', '0700', '0640'] as const;
/** file's symbolic modes (X: directories and files with an execute bit), for recurse and alone. */
const SYMBOLIC_MODES = ['u=rwX,g=rX,o=', 'a+rX', 'go-rwx', 'u+x,o-r'] as const;
/** copy's directory src (files/tree next to the playbook): its contents ('tree/') or itself ('tree'). */
const TREE_FILES: Record<string, string> = { 'tree/top.txt': 'top\n', 'tree/sub/inner.txt': 'inner\n', 'tree/sub/deeper/leaf.txt': 'leaf\n' };
/** include_vars' file (files/dt-vars.yml), one value rendered from another and from the play's vars */
const VARS_FILES: Record<string, string> = { 'dt-vars.yml': 'iv_list: [a, b]\niv_base: "{{ greeting }}"\niv_ref: "{{ iv_base }}-{{ iv_list.length }}"\n' };
const OWNERS = ['root', 'deploy', 'dtuser', 'nobody'] as const;
const GROUPS = ['root', 'deploy', 'dtgrp', 'nogroup'] as const;
const USERS = ['dtuser', 'dtuser2'] as const;
const GROUP_NAMES = ['dtgrp', 'dtgrp2'] as const;
const PACKAGES = [['jq'], ['libjq1'], ['libonig5'], ['jq', 'tree'], ['tree'], ['cron'], ['at'], ['bc']] as const;
/** Public keys (the blobs need only be base64; no one logs in with them): a pair of one type, one of another. */
const SSH_KEYS = [
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDt1difftestkeyoneAAAAAAAAAAAAAAAAAAAAAAAA dt1@controller',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDt2difftestkeytwoAAAAAAAAAAAAAAAAAAAAAAAA',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDt1difftestkeyoneAAAAAAAAAAAAAAAAAAAAAAAA dt1@controller\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDt3difftest dt3',
] as const;
/** sha512-crypt hashes (openssl passwd -6) for user's `password`. */
const PASSWORD_HASHES = [
  '$6$dtsalt1$StLAtT8gD5K8V2iqBqxLM4rdSCRG12P2kXPeEE0PE37nt7t6RXR2Wzflfc997m768tYOox7p0urdzJMuSkDMa0',
  '$6$dtsalt2$b8pSu5beDr7x4ZsmN7cFq1gc5SwjjFBpWxKZTJOntgIkj/1tGnSgL/E4P3juJR8fW5ObkUQPD0canZnXckFyZ1',
] as const;
const SERVICES = ['cron', 'atd', 'dt-sleep', 'dt-missing'] as const;
/** apt sources that are written but never fetched (no update_cache): the URIs are never contacted. */
const DT_KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ0Ab1RYJKwYBBAHaRw8BAQdAdifftestkeynotusedbyaptAAAAAAAAAAAAAAA\n=dtdt\n-----END PGP PUBLIC KEY BLOCK-----\n';
const DT_SIGNERS = [DT_KEY, 'dtkey.asc', '/usr/share/keyrings/debian-archive-keyring.gpg'] as const;
const DT_REPO_LINES = ['deb http://127.0.0.1:9/dt stable main', 'deb [signed-by=/etc/apt/keyrings/dt-one.asc] http://127.0.0.1:9/dt next main contrib'] as const;
/** .deb files the setup builds on each host (dpkg-deb), for apt's `deb`. */
const DT_DEBS = ['/srv/dtdeb/dt-hello_1.0_all.deb', '/srv/dtdeb/dt-hello_2.0_all.deb', '/srv/dtdeb/missing.deb'] as const;
const DEB_SETUP = ['1.0', '2.0']
  .map((v) => `d=$(mktemp -d) && mkdir -p $d/DEBIAN /srv/dtdeb && printf 'Package: dt-hello\\nVersion: ${v}\\nArchitecture: all\\nMaintainer: dt <dt@provision.invalid>\\nDescription: difftest\\n' > $d/DEBIAN/control && dpkg-deb --root-owner-group --build $d /srv/dtdeb/dt-hello_${v}_all.deb >/dev/null && rm -rf $d`)
  .join('\n');
/** get_url's checksums of what the server serves, in Ansible's ALGORITHM:HEX form. */
const checksumOf = (file: string, algorithm: 'sha256' | 'md5' | 'sha1') => `${algorithm}:${createHash(algorithm).update(FETCH_FILES[file]).digest('hex')}`;
/** git's checkouts: two of their own, and a sandbox directory other tasks fill. */
const GIT_DESTS = ['/srv/dt/g1', '/opt/dt/g2', '/srv/dt/a'] as const;
const UNIT_FILE = '/etc/systemd/system/dt-sleep.service';
/** Existing system files the text editors change (harmless ones: nothing reads them during a case). */
const SYSTEM_TEXT_FILES = ['/etc/issue', '/etc/motd', '/etc/issue.net'] as const;
const TEXT_LINES = ['hello', 'world', 'key=1', 'key=2', '# dt', 'v={{ greeting }}'] as const;
const UNIT_BODIES = [
  '[Unit]\nDescription=difftest sleeper\n[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n',
  '[Unit]\nDescription=difftest sleeper (long)\n[Service]\nExecStart=/bin/sleep 100000\nExecReload=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
] as const;

/**
 * unarchive's archives (files/): plain tars of ASCII text, so a case's files stay text. Their
 * members overlap the sandbox vocabulary (a, a/b, a/f.txt, b/h.txt, l1), where other tasks write.
 */
function plainTar(members: { name: string; mode: string; body?: string; link?: string }[]): string {
  const field = (h: Buffer, off: number, len: number, v: string) => h.write(v, off, len, 'latin1');
  const out: Buffer[] = [];
  for (const m of members) {
    const h = Buffer.alloc(512);
    const body = Buffer.from(m.body ?? '', 'latin1');
    field(h, 0, 100, m.name);
    field(h, 100, 8, `${m.mode.padStart(7, '0')}\0`);
    field(h, 108, 8, '0000000\0');
    field(h, 116, 8, '0000000\0');
    field(h, 124, 12, `${body.length.toString(8).padStart(11, '0')}\0`);
    field(h, 136, 12, '15100000000\0');
    field(h, 156, 1, m.link !== undefined ? '2' : m.name.endsWith('/') ? '5' : '0');
    if (m.link !== undefined) field(h, 157, 100, m.link);
    field(h, 257, 8, 'ustar\x0000');
    h.fill(' ', 148, 156);
    field(h, 148, 8, `${h.reduce((a, x) => a + x, 0).toString(8).padStart(6, '0')}\0 `);
    out.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  return Buffer.concat([...out, Buffer.alloc(1024)]).toString('latin1');
}
const ARCHIVES: Record<string, string> = {
  'dt-arch1.tar': plainTar([
    { name: 'a/', mode: '755' },
    { name: 'a/b/', mode: '755' },
    { name: 'a/f.txt', mode: '644', body: 'one\n' },
    { name: 'b/h.txt', mode: '600', body: 'h\n' },
    { name: 'l1', mode: '777', link: 'a/f.txt' },
  ]),
  'dt-arch2.tar': plainTar([
    { name: './a/', mode: '700' },
    { name: './a/f.txt', mode: '640', body: 'two\n' },
    { name: './a/b/g.txt', mode: '644', body: 'g\n' },
  ]),
};

/** cron, sysctl, systemd, timezone, hostname: on settings a test host can take (its own network namespace's sysctls, units the case writes). */
function systemTask(r: Rng): [string, Record<string, unknown>] {
  const k = r.weighted([['cron', 4], ['sysctl', 3], ['systemd', 3], ['timezone', 1], ['hostname', 1]] as const);
  switch (k) {
    case 'cron': {
      const a: Record<string, unknown> = { name: r.pick(['j1', 'j2']) };
      const userTab = r.chance(0.25);
      if (userTab) {
        if (r.chance(0.5)) a.user = r.pick(['root', 'dtuser']);
      } else {
        a.cron_file = r.pick(['dt-a', 'dt-b', '/etc/cron.d/dt-a']);
        if (r.chance(0.4)) a.user = r.pick(['root', 'dtuser']);
      }
      a.state = r.chance(0.75) ? 'present' : 'absent';
      if (r.chance(0.15)) {
        a.env = true;
        a.name = r.pick(['MAILTO', 'DT_VAR']);
        if (a.state === 'present') a.job = r.pick(['root', '""', 'x']);
        return ['cron', a];
      }
      if (a.state === 'present' || r.chance(0.3)) a.job = r.pick(['/bin/true', 'echo hi > /dev/null', '/usr/bin/test -d /srv/dt']);
      if (r.chance(0.3)) a.special_time = r.pick(['daily', 'reboot', 'hourly']);
      else {
        if (r.chance(0.6)) a.minute = r.pick(['0', '*/5', '15,45', 30]);
        if (r.chance(0.4)) a.hour = r.pick(['2', '1-5', '*']);
        if (r.chance(0.2)) a.weekday = r.pick(['1', 'mon', '0-6']);
      }
      if (r.chance(0.2)) a.disabled = r.chance(0.7);
      return ['cron', a];
    }
    case 'sysctl': {
      const name = r.weighted([['net.ipv4.ip_forward', 4], ['net.ipv4.ip_default_ttl', 3], ['net.ipv4.ip_local_port_range', 1], ['vm.swappiness', 0.5], ['net.dt.missing', 0.5]] as const);
      const a: Record<string, unknown> = { name, state: r.chance(0.8) ? 'present' : 'absent' };
      if (a.state === 'present' || r.chance(0.3)) {
        a.value =
          name === 'net.ipv4.ip_local_port_range' ? r.pick(['32768 60999', '20000 40000']) : name === 'net.ipv4.ip_default_ttl' ? r.pick([64, '100', 32]) : r.pick([1, 0, '1', true, 'no', 10]);
      }
      if (r.chance(0.35)) a.sysctl_file = r.pick(['/etc/sysctl.d/60-dt.conf', '/srv/dt/sysctl.conf']);
      if (r.chance(0.25)) a.reload = r.chance(0.4);
      if (r.chance(0.25)) a.sysctl_set = r.chance(0.7);
      return ['sysctl', a];
    }
    case 'systemd': {
      const a: Record<string, unknown> = { name: r.weighted([['dt-sleep', 5], ['dt-masked', 2], ['dt-missing', 1]] as const) };
      const m = r.chance(0.35) ? r.chance(0.5) : undefined;
      if (m !== undefined) a.masked = m;
      if (m !== true || r.chance(0.3)) {
        const st = r.weighted([['started', 3], ['stopped', 2], ['restarted', 1], ['none', 2]] as const);
        if (st !== 'none' && (m !== true || st === 'stopped')) a.state = st;
        if (m !== true && r.chance(0.4)) a.enabled = r.chance(0.6);
      }
      if (r.chance(0.3)) a.daemon_reload = true;
      if (a.state === undefined && a.enabled === undefined && a.masked === undefined && !a.daemon_reload) a.state = 'started';
      return [r.chance(0.2) ? 'systemd_service' : 'systemd', a];
    }
    case 'timezone':
      return ['timezone', { name: r.weighted([['Europe/Berlin', 3], ['UTC', 2], ['America/New_York', 2], ['Etc/UTC', 1], ['Nowhere/Zone', 0.5]] as const) }];
    case 'hostname': {
      const a: Record<string, unknown> = { name: r.pick(['dt-one', 'dt-two.example']) };
      if (r.chance(0.5)) a.use = r.pick(['debian', 'systemd']);
      return ['hostname', a];
    }
  }
}

/** A set_fact variable: what kind of value it holds (for the conditions that read it). */
interface Fact {
  name: string;
  kind: 'str' | 'list' | 'num' | 'bool';
}

/** What the plays of one case share: task files and roles, written next to the playbook. */
interface Shared {
  taskFiles: Record<string, Task[]>;
  roles: Record<string, CaseRole>;
  /** files/ next to the playbook (copy's directory src, unarchive's archives), when a task uses them */
  files?: Record<string, string>;
  /** The case has get_url and git tasks (its setup installs curl and git, mostly). */
  fetch?: boolean;
  /** A play of the case reboots its hosts once. */
  reboot?: boolean;
}

interface Register {
  name: string;
  /** 'cmd': a command/shell task without loop (rc/stdout when it ran); 'loop': has results; 'state': other modules. */
  kind: 'cmd' | 'loop' | 'state' | 'stat';
}

type Task = Record<string, unknown>;

class PlaybookGen {
  private n = 0;
  private registers: Register[] = [];
  private templates: Record<string, string> = {};
  private handlers: Task[] = [];
  private facts: Fact[] = [];
  private blocks = 0;
  private usedRoles = new Set<string>();
  constructor(
    private readonly r: Rng,
    /** The host tasks of this play may be delegated to (undefined: none). */
    private readonly delegateTo: string | undefined,
    /** The play's number: names of its templates and task files. */
    private readonly index = 1,
    private readonly shared: Shared = { taskFiles: {}, roles: {} },
  ) {}

  id(): string {
    return `t${String(++this.n).padStart(2, '0')}`;
  }

  path(): string {
    const root = this.r.pick(ROOTS);
    return this.r.chance(0.1) ? root : `${root}/${this.r.pick(SUBS)}`;
  }

  /** A path, sometimes written differently (trailing slash) for guards. */
  guardPath(): string {
    const p = this.path();
    return this.r.chance(0.15) ? `${p}/` : p;
  }

  attrs(t: Record<string, unknown>, p = 0.35): void {
    if (this.r.chance(p)) t.mode = this.r.pick(MODES);
    if (this.r.chance(p * 0.6)) t.owner = this.r.pick(OWNERS);
    if (this.r.chance(p * 0.5)) t.group = this.r.pick(GROUPS);
  }

  /** lineinfile / blockinfile / replace on a sandbox path (which earlier tasks write) or on a system file. */
  textEdit(): { module: string; args: Record<string, unknown> } {
    const path = this.r.chance(0.25) ? this.r.pick(SYSTEM_TEXT_FILES) : this.path();
    const module = this.r.weighted([['lineinfile', 5], ['blockinfile', 3], ['replace', 2]] as const);
    const args: Record<string, unknown> = { path };
    const maybe = (key: string, p: number, value: () => unknown) => {
      if (this.r.chance(p)) args[key] = value();
    };
    if (module === 'lineinfile') {
      if (this.r.chance(0.12)) {
        Object.assign(args, { regexp: '^(key)=(\\d)', line: '\\1=\\2\\2', backrefs: true });
      } else {
        args.line = this.r.pick(TEXT_LINES);
        if (this.r.chance(0.4)) args.regexp = this.r.pick(['^key=', '^hello', '^v=', 'o', '^$']);
        else maybe('search_string', 0.12, () => this.r.pick(['key', 'wor', 'dt']));
      }
      maybe('state', 0.2, () => 'absent');
      if (this.r.chance(0.3)) args[this.r.pick(['insertafter', 'insertbefore'])] = this.r.pick(['^hello', '^key', '^# dt', 'BOF', 'EOF', '^nothing']);
      if (args.insertbefore === 'EOF') delete args.insertbefore;
      maybe('firstmatch', 0.15, () => true);
      maybe('create', 0.4, () => true);
    } else if (module === 'blockinfile') {
      args.block = this.r.pick(['a=1\nb=2', 'hello', 'v={{ greeting }}\nkey=3', '']);
      maybe('marker', 0.2, () => '## {mark} dt');
      maybe('state', 0.2, () => 'absent');
      if (this.r.chance(0.25)) args[this.r.pick(['insertafter', 'insertbefore'])] = this.r.pick(['^hello', '^key', 'BOF', '^nothing']);
      if (args.insertafter === 'BOF') delete args.insertafter;
      maybe('create', 0.5, () => true);
    } else {
      const [regexp, replace] = this.r.pick([['hello', 'bye'], ['^key=(\\d)$', 'key=\\1\\1'], ['o+', '0'], ['world', '{{ greeting }}'], ['^\\n', '']] as const);
      Object.assign(args, { regexp, replace });
      maybe('after', 0.15, () => 'hello');
      maybe('before', 0.15, () => 'key');
    }
    maybe('backup', 0.1, () => true);
    maybe('validate', 0.1, () => this.r.pick(['grep -q . %s', 'test -s %s']));
    this.attrs(args, 0.2);
    return { module, args };
  }

  content(): string {
    const cmd = this.registers.filter((x) => x.kind === 'cmd');
    if (cmd.length && this.r.chance(0.25)) return `out={{ ${this.r.pick(cmd).name}.stdout }}\n`;
    if (this.registers.length && this.r.chance(0.15)) return `changed={{ ${this.r.pick(this.registers).name}.changed }}\n`;
    if (this.facts.length && this.r.chance(0.15)) return `fact={{ ${this.r.pick(this.facts).name} }}\n`;
    return this.r.pick(['hello\n', 'world\n', 'v={{ greeting }}\n', '']);
  }

  template(): string {
    const name = `p${this.index}-t${Object.keys(this.templates).length + 1}.ejs`;
    const lines = ['# difftest template', 'greeting=<%- greeting %>', 'host=<%- host.name %>'];
    const cmd = this.registers.filter((x) => x.kind === 'cmd');
    if (cmd.length && this.r.chance(0.5)) lines.push(`out=<%- ${this.r.pick(cmd).name}.stdout %>`);
    else if (this.registers.length && this.r.chance(0.4)) lines.push(`changed=<%- ${this.r.pick(this.registers).name}.changed %>`);
    this.templates[name] = lines.join('\n') + '\n';
    return name;
  }

  command(): { module: string; args: Record<string, unknown>; label: string } {
    const p = this.path();
    const shell = this.r.chance(0.4);
    const cmd = this.r.weighted<string>([
      [`mkdir -p ${p}`, 4],
      [`touch ${p}`, 3],
      [`rm -rf ${p}`, 3],
      [`test -f ${p}`, 2],
      [`test -d ${p}`, 2],
      [`cat ${p}`, 1],
      ['id -un', 1],
      [shell ? `echo generated > ${p}` : `ls ${p}`, 2],
      [shell ? `ls ${p} | wc -l` : 'true', 1],
      ['systemctl is-active cron', 1],
    ]);
    const args: Record<string, unknown> = { cmd };
    // a command's effects are what it declares (README, check mode): the ones that write declare
    // what they write; read-only ones mostly say so (writes: []), sometimes declare nothing
    if (/^(mkdir|touch|rm|echo)/.test(cmd)) args.writes = [p];
    else if (this.r.chance(0.7)) args.writes = [];
    const guard = this.r.weighted([['none', 4], ['creates', 2], ['removes', 2], ['unless', 2]] as const);
    if (guard === 'creates') args.creates = this.guardPath();
    if (guard === 'removes') args.removes = this.guardPath();
    if (guard === 'unless') args.unless = `test -${this.r.pick(['e', 'f', 'd'])} ${this.guardPath()}`;
    return { module: shell ? 'shell' : 'command', args, label: cmd.split(' ').slice(0, 2).join(' ') };
  }

  /** A run of read-only checks (engine/pipeline/checks-ahead.ts runs them in one round trip). */
  checks(): Task[] {
    return Array.from({ length: this.r.int(2, 3) }, () => {
      const id = this.id();
      const p = this.path();
      const cmd = this.r.weighted<string>([
        [`test -e ${p}`, 3],
        [`test -d ${p}`, 2],
        [`cat ${p}`, 2],
        [`ls ${p}`, 1],
        [`stat -c '%a %U' ${p}`, 2],
        ['id -un', 1],
      ]);
      const args: Record<string, unknown> = { cmd };
      if (this.r.chance(0.3)) args.expect_stdout = this.r.pick(['^generated', 'root', '^7', '.']);
      if (this.r.chance(0.15)) args.expect_rc = 1;
      if (this.r.chance(0.15)) Object.assign(args, { retries: 1, delay: 0 });
      const t: Task = { name: `${id} assert ${cmd.split(' ').slice(0, 2).join(' ')}`, assert: args };
      const when = this.when();
      if (when) t.when = when;
      if (this.r.chance(0.3)) {
        const reg = `r${id.slice(1)}`;
        t.register = reg;
        this.registers.push({ name: reg, kind: 'cmd' });
      }
      if (this.r.chance(0.7)) t.ignore_errors = true;
      return t;
    });
  }

  /** deb822_repository / apt_repository without an index update, apt with a .deb built on the host, autoremove, upgrade. */
  aptSource(): { module: string; args: Record<string, unknown> } {
    const k = this.r.weighted([['deb822', 4], ['line', 3], ['deb', 3], ['autoremove', 1], ['upgrade', 1]] as const);
    const state = this.r.chance(0.8) ? 'present' : 'absent';
    if (k === 'deb822') {
      const args: Record<string, unknown> = { name: this.r.pick(['dt-one', 'DT two']), state };
      if (state === 'present') {
        Object.assign(args, { uris: 'http://127.0.0.1:9/dt', suites: this.r.pick(['stable', ['stable', 'next']]), components: this.r.pick(['main', ['main', 'contrib']]) });
        if (this.r.chance(0.8)) args.signed_by = this.r.pick(DT_SIGNERS);
        if (this.r.chance(0.3)) args.enabled = this.r.chance(0.5);
        if (this.r.chance(0.2)) args.mode = this.r.pick(['0644', '0600']);
      }
      return { module: 'deb822_repository', args };
    }
    if (k === 'line') {
      const args: Record<string, unknown> = { repo: this.r.pick(DT_REPO_LINES), state, update_cache: false };
      if (this.r.chance(0.5)) args.filename = 'dt-line';
      return { module: 'apt_repository', args };
    }
    if (k === 'deb') return { module: 'apt', args: { deb: this.r.pick(DT_DEBS) } };
    // what the host has is the base image's, so mostly nothing to upgrade (apt-get -s says so either way)
    if (k === 'upgrade') return { module: 'apt', args: { upgrade: this.r.pick(['dist', 'safe', 'yes', 'full']) } };
    return { module: 'apt', args: this.r.chance(0.5) ? { autoremove: true } : { name: 'dt-hello', state: 'absent', autoremove: true } };
  }

  /** get_url and git against the harness's server ({{ dt_http }}); what is served: fetch-fixtures.ts. */
  fetch(): { module: string; args: Record<string, unknown> } {
    if (this.r.chance(0.6)) {
      const file = this.r.weighted([['one.txt', 4], ['two.txt', 3], ['missing.txt', 1]] as const);
      const args: Record<string, unknown> = { url: `{{ dt_http }}/${file}`, dest: this.r.chance(0.4) ? '/srv/dt/dl.txt' : this.r.chance(0.5) ? `${this.r.pick(ROOTS)}/dl.txt` : this.path() };
      if (this.r.chance(0.45)) args.checksum = checksumOf(this.r.pick(['one.txt', 'two.txt']), this.r.weighted([['sha256', 3], ['md5', 1], ['sha1', 1]] as const));
      if (this.r.chance(0.2)) args.force = true;
      if (this.r.chance(0.1)) args.headers = { 'X-Dt': 'difftest' };
      if (this.r.chance(0.1)) args.timeout = 5;
      this.attrs(args, 0.25);
      return { module: 'get_url', args };
    }
    const args: Record<string, unknown> = { repo: `{{ dt_http }}/${this.r.chance(0.92) ? 'app' : 'none'}.git`, dest: this.r.pick(GIT_DESTS) };
    args.version = this.r.weighted([
      ['main', 3],
      ['v1.0', 2],
      ['next', 2],
      ['HEAD', 1],
      [GIT_COMMITS.c1, 1],
      [GIT_COMMITS.c3.slice(0, 10), 1],
      ['nosuch', 0.5],
    ] as const);
    if (this.r.chance(0.2)) args.force = true;
    if (this.r.chance(0.15)) args.depth = 1;
    if (this.r.chance(0.1)) args.update = false;
    return { module: 'git', args };
  }

  when(): string | undefined {
    if (!this.r.chance(0.3)) return undefined;
    if (this.facts.length && this.r.chance(0.2)) {
      const f = this.r.pick(this.facts);
      if (f.kind === 'str') return this.r.pick([`${f.name} == 'v1'`, `${f.name} != 'v1'`]);
      if (f.kind === 'list') return `${f.name}.length > 1`;
      if (f.kind === 'num') return this.r.pick([`${f.name} == 0`, `${f.name} != 0`]);
      return this.r.pick([f.name, `!${f.name}`]);
    }
    if (this.registers.length === 0 || this.r.chance(0.15)) return this.r.pick(["host.name === 'h1'", "host.name !== 'h1'", 'run.check || true']);
    const reg = this.r.pick(this.registers);
    const opts = [`${reg.name}.changed`, `!${reg.name}.changed`, `${reg.name}.failed`, `!${reg.name}.failed`, `${reg.name}.skipped`, `${reg.name}.status === 'ok'`];
    if (reg.kind === 'cmd') opts.push(`${reg.name}.rc === 0`, `${reg.name}.rc !== 0`, `${reg.name}.stdout.includes('a')`, `${reg.name}.stdout === ''`);
    if (reg.kind === 'loop') opts.push(`${reg.name}.results.length > 1`);
    if (reg.kind === 'stat') opts.push(`${reg.name}.stat.exists`, `${reg.name}.stat.isdir`, `${reg.name}.stat.mode === '0644'`, `${reg.name}.stat.pw_name === 'root'`);
    return this.r.pick(opts);
  }

  task(): Task {
    const id = this.id();
    const kind = this.r.weighted([
      ['file', 25],
      ['copy', 11],
      ['template', 5],
      ['command', 20],
      ['user', 6],
      ['group', 5],
      ['service', 8],
      ['unit', 3],
      ['apt', 8],
      ['text', 9],
      ['stat', 6],
      ['authorized_key', 4],
      ['system', 6],
      ['unarchive', 4],
      ['apt_source', 4],
      ['fetch', this.shared.fetch ? 14 : 0],
    ] as const);
    const t: Task = {};
    let label = '';
    let loop: readonly string[] | undefined;
    let registerKind: Register['kind'] = 'state';
    const loopPath = (): string => {
      loop = this.r.pick(LOOP_ITEMS);
      return `${this.r.pick(ROOTS)}/{{ item }}`;
    };
    switch (kind) {
      case 'file': {
        const state = this.r.weighted([['directory', 5], ['touch', 3], ['absent', 3], ['file', 2], ['link', 2], ['hard', 2]] as const);
        const p = this.r.chance(0.12) && state !== 'link' && state !== 'hard' ? loopPath() : this.path();
        const args: Record<string, unknown> = { path: p, state };
        if (state === 'link') args.src = this.r.chance(0.8) ? this.path() : '/etc/hostname';
        if (state === 'hard') args.src = this.r.chance(0.85) ? this.path() : '/etc/hostname';
        if (state !== 'absent') this.attrs(args, state === 'link' ? 0.15 : 0.4);
        if (state === 'link') delete args.mode;
        if ((state === 'directory' || state === 'touch' || state === 'file') && args.mode && this.r.chance(0.3)) args.mode = this.r.pick(SYMBOLIC_MODES);
        // recurse: on a tree earlier tasks make (check mode: unknown) or on one the host has (exact)
        if (state === 'directory' && this.r.chance(0.4)) {
          if (this.r.chance(0.3)) args.path = '/etc/skel';
          args.recurse = true;
          if (this.r.chance(0.5)) args.follow = false;
          if (!args.mode && !args.owner && !args.group) args.mode = this.r.pick([...SYMBOLIC_MODES, ...MODES]);
        }
        t.file = args;
        label = `file ${state} ${String(args.path)}`;
        break;
      }
      case 'copy': {
        const dest = this.path();
        const args: Record<string, unknown> = { dest, content: this.content() };
        this.attrs(args, 0.3);
        if (this.r.chance(0.25)) {
          // a directory from the controller: dest is the directory it lands in
          delete args.content;
          args.src = this.r.pick(['tree/', 'tree']);
          if (this.r.chance(0.4)) args.directory_mode = this.r.pick(['0750', '0700', '0755']);
          this.shared.files = { ...this.shared.files, ...TREE_FILES };
        }
        t.copy = args;
        label = `copy ${dest}`;
        break;
      }
      case 'template': {
        const dest = this.path();
        const args: Record<string, unknown> = { src: this.template(), dest };
        this.attrs(args, 0.25);
        t.template = args;
        label = `template ${dest}`;
        break;
      }
      case 'command': {
        const c = this.command();
        if (this.r.chance(0.1)) {
          // it declares what it writes, as every generated command (the path is rendered per item)
          const p = loopPath();
          c.args.cmd = `touch ${p}`;
          c.args.writes = [p];
          c.label = 'touch loop';
        }
        t[c.module] = c.args;
        label = `${c.module} ${c.label}`;
        registerKind = 'cmd';
        break;
      }
      case 'user': {
        const name = this.r.pick(USERS);
        const state = this.r.chance(0.8) ? 'present' : 'absent';
        const args: Record<string, unknown> = { name, state };
        if (state === 'present') {
          if (this.r.chance(0.3)) args.home = this.r.pick([`/home/${name}`, `/srv/dt/${name}`, `/opt/dt/a/${name}`]);
          if (this.r.chance(0.5)) args.create_home = this.r.chance(0.7);
          if (this.r.chance(0.2)) args.groups = [this.r.pick(GROUP_NAMES)];
          if (this.r.chance(0.2)) args.shell = '/bin/bash';
          if (args.groups && this.r.chance(0.5)) args.append = true;
          if (this.r.chance(0.3)) args.password = this.r.pick(PASSWORD_HASHES);
          if (args.password && this.r.chance(0.3)) args.update_password = 'on_create';
        } else if (this.r.chance(0.5)) {
          args.remove = true;
        }
        t.user = args;
        label = `user ${name} ${state}`;
        break;
      }
      case 'group': {
        const name = this.r.pick(GROUP_NAMES);
        const state = this.r.chance(0.8) ? 'present' : 'absent';
        t.group = { name, state, ...(this.r.chance(0.2) ? { system: true } : {}) };
        label = `group ${name} ${state}`;
        break;
      }
      case 'service': {
        const name = this.r.pick(SERVICES);
        const args: Record<string, unknown> = { name };
        const state = this.r.weighted([['started', 4], ['stopped', 2], ['restarted', 2], ['reloaded', 1], ['none', 1]] as const);
        if (state !== 'none') args.state = state;
        if (state === 'none' || this.r.chance(0.3)) args.enabled = this.r.chance(0.6);
        t.service = args;
        label = `service ${name} ${state}`;
        break;
      }
      case 'unit': {
        t.copy = { dest: UNIT_FILE, content: this.r.pick(UNIT_BODIES) };
        label = 'copy unit dt-sleep';
        break;
      }
      case 'apt': {
        const name = [...this.r.pick(PACKAGES)];
        const state = this.r.weighted([['present', 6], ['latest', 1.5], ['absent', 2.5]] as const);
        const args: Record<string, unknown> = { name: name.length === 1 ? name[0] : name, state };
        if (this.r.chance(0.15)) {
          args.update_cache = true;
          if (this.r.chance(0.5)) args.cache_valid_time = this.r.pick([0, 3600]);
        }
        if (state === 'present' && this.r.chance(0.2)) args.start_services = true;
        t.apt = args;
        // Ansible's generic name for it (apt on Debian): name and state only
        if (Object.keys(args).length === 2 && this.r.chance(0.25)) {
          t.package = args;
          delete t.apt;
        }
        label = `apt ${state} ${name.join(',')}`;
        break;
      }
      case 'apt_source': {
        const { module, args } = this.aptSource();
        t[module] = args;
        label = `${module} ${String(args.name ?? args.deb ?? args.repo ?? (args.upgrade ? `upgrade ${String(args.upgrade)}` : 'autoremove'))}`;
        break;
      }
      case 'text': {
        const { module, args } = this.textEdit();
        t[module] = args;
        label = `${module} ${String(args.path)}`;
        break;
      }
      case 'unarchive': {
        this.shared.files = { ...this.shared.files, ...ARCHIVES };
        const src = this.r.pick(Object.keys(ARCHIVES));
        const remote = `${ROOTS[0]}/${src}`;
        if (this.r.chance(0.2)) {
          // the archive on the host, for a later remote_src
          t.copy = { src, dest: remote };
          label = `copy archive ${remote}`;
          break;
        }
        const dest = this.r.chance(0.7) ? this.r.pick(ROOTS) : `${this.r.pick(ROOTS)}/${this.r.pick(['a', 'b', 'a/b'])}`;
        const args: Record<string, unknown> = this.r.chance(0.2) ? { src: remote, dest, remote_src: true } : { src, dest };
        if (this.r.chance(0.2)) args.creates = this.path();
        if (this.r.chance(0.2)) args.extra_opts = ['--strip-components=1'];
        if (this.r.chance(0.1)) args.list_files = true;
        this.attrs(args, 0.2);
        t.unarchive = args;
        label = `unarchive ${src} ${dest}`;
        break;
      }
      case 'stat': {
        const p = this.path();
        const args: Record<string, unknown> = { path: p };
        if (this.r.chance(0.25)) args.follow = true;
        if (this.r.chance(0.2)) args.get_checksum = false;
        else if (this.r.chance(0.3)) args.checksum_algorithm = this.r.pick(['sha256', 'md5', 'sha512']);
        t.stat = args;
        label = `stat ${p}`;
        registerKind = 'stat';
        break;
      }
      case 'authorized_key': {
        // never the login user's own file (deploy, root): an exclusive key there would lock the run out
        const user = this.r.pick([...USERS, 'deploy']);
        const args: Record<string, unknown> = { user, key: this.r.pick(SSH_KEYS) };
        if (user === 'deploy' || this.r.chance(0.3)) args.path = `${this.r.pick(ROOTS)}/${this.r.pick(['a', 'b', 'a/b'])}/keys`;
        if (this.r.chance(0.25)) args.state = 'absent';
        if (this.r.chance(0.2)) args.exclusive = true;
        if (this.r.chance(0.2)) args.key_options = this.r.pick(['no-pty', 'from="10.0.0.1",no-agent-forwarding']);
        if (this.r.chance(0.15)) args.comment = 'dt comment';
        if (this.r.chance(0.2)) args.manage_dir = false;
        t.authorized_key = args;
        label = `authorized_key ${user} ${String(args.state ?? 'present')}`;
        break;
      }
      case 'fetch': {
        const { module, args } = this.fetch();
        t[module] = args;
        label = `${module} ${String(args.url ?? args.version)} ${String(args.dest)}`;
        break;
      }
      case 'system': {
        const [module, args] = systemTask(this.r);
        t[module] = args;
        label = `${module} ${String(args.name)}`;
        break;
      }
    }
    const named: Task = { name: `${id} ${label}`, ...t };
    if (loop) {
      named.loop = [...loop];
      // loop_control: another name for the item, a label, an index
      if (this.r.chance(0.25)) {
        const lc: Record<string, unknown> = { label: this.r.pick(['L {{ item }}', '{{ item }}']) };
        if (this.r.chance(0.4)) {
          const body = JSON.stringify(t).replaceAll('{{ item }}', '{{ it }}');
          Object.assign(named, JSON.parse(body) as Task);
          lc.loop_var = 'it';
          lc.label = String(lc.label).replace('item', 'it');
        }
        if (this.r.chance(0.3)) lc.index_var = 'idx';
        named.loop_control = lc;
      }
    }
    const when = this.when();
    if (when) named.when = when;
    if (this.r.chance(0.35)) {
      const reg = `r${id.slice(1)}`;
      named.register = reg;
      this.registers.push({ name: reg, kind: loop ? 'loop' : registerKind });
    }
    // Failures are legitimate outcomes, but a failed host stops: most failures are ignored, so
    // that a case goes on long enough for tasks to interact.
    if (this.r.chance(kind === 'command' || kind === 'service' ? 0.6 : 0.4)) named.ignore_errors = true;
    if (this.r.chance(0.12)) named.become = this.r.chance(0.5);
    // check_mode: true: it says what it would change in both runs, and changes nothing
    if (this.r.chance(0.06)) named.check_mode = true;
    // check_mode: false: it runs for real in the dry run too (the harness then resets the hosts
    // before the real run, which must start from the same state)
    else if (this.r.chance(0.05)) named.check_mode = false;
    // any_errors_fatal: a failure stops every host (the play's hosts then run in step)
    if (this.r.chance(0.04)) named.any_errors_fatal = true;
    // Only from a play on one host: within a play, hosts run their tasks independently, so a task
    // delegated to a host of the same play races with that host's own tasks (the real outcome is
    // not deterministic). The other host is a host of the run (another play targets it).
    if (this.delegateTo && this.r.chance(0.15) && (kind === 'file' || kind === 'copy' || kind === 'command')) {
      named.delegate_to = this.delegateTo;
    }
    if (this.r.chance(0.15)) named.notify = this.notifyTarget();
    return named;
  }

  /** A reboot in the middle of the play (the boot keeps /srv, /opt and /home, not /run or a started service), and maybe a wait. */
  reboot(): Task[] {
    const t: Task = { name: `${this.id()} reboot`, reboot: { reboot_timeout: 120, connect_timeout: 5 } };
    const when = this.when();
    if (when) t.when = when;
    if (this.r.chance(0.3)) t.ignore_errors = true;
    const wait: Task[] = this.r.chance(0.5) ? [{ name: `${this.id()} wait_for_connection`, wait_for_connection: { timeout: 60 } }] : [];
    return [t, ...wait];
  }

  /** A handler to notify: its name, or a topic it listens to. */
  notifyTarget(): string {
    if (this.handlers.length === 0 || this.r.chance(0.3)) this.addHandler();
    const h = this.r.pick(this.handlers);
    return h.listen && this.r.chance(0.7) ? String(h.listen) : String(h.name);
  }

  addHandler(): void {
    const id = `H${this.handlers.length + 1}`;
    const h = this.r.weighted<Task>([
      [{ name: `${id} touch marker`, file: { path: `${this.r.pick(ROOTS)}/handled`, state: 'touch' } }, 3],
      [{ name: `${id} restart cron`, service: { name: 'cron', state: 'restarted' } }, 1],
      [{ name: `${id} restart dt-sleep`, service: { name: 'dt-sleep', state: 'restarted' } }, 1],
      [((p: string) => ({ name: `${id} command`, command: { cmd: `mkdir -p ${p}`, writes: [p] } }))(this.path()), 2],
    ]);
    if (this.r.chance(0.3)) h.listen = `topic ${id}`;
    this.handlers.push(h);
  }

  /**
   * One entry of a task list: a task, a run of checks, or the language around tasks: a block,
   * an action or a result-controlled command, an include or a role, a handler flush.
   */
  entry(depth = 0): Task[] {
    const k = this.r.weighted([
      ['task', 60],
      ['checks', 10],
      ['block', depth < 2 ? 10 : 0],
      ['lang', 12],
      ['include', depth < 2 ? 6 : 0],
      ['flush', 2],
    ] as const);
    if (k === 'task') return [this.task()];
    if (k === 'checks') return this.checks();
    if (k === 'block') return [this.block(depth)];
    if (k === 'include') return [this.include(depth)];
    if (k === 'flush') return [{ name: `${this.id()} flush handlers`, meta: 'flush_handlers' }];
    return [this.lang()];
  }

  /** A task that may fail (inside blocks): `false`, a test of a generated path, `fail:`. */
  mayFail(): Task {
    const id = this.id();
    const k = this.r.weighted([['false', 2], ['test', 4], ['fail', 3], ['assert', 1]] as const);
    let t: Task;
    if (k === 'false') t = { name: `${id} command false`, command: { cmd: 'false', writes: [] } };
    else if (k === 'test') {
      const p = this.path();
      t = { name: `${id} command test -e ${p}`, command: { cmd: `test -e ${p}`, writes: [] } };
    } else if (k === 'assert') {
      const p = this.path();
      t = { name: `${id} assert test -d`, assert: { cmd: `test -d ${p}` } };
    } else {
      t = { name: `${id} fail`, fail: { msg: 'failing on purpose' } };
      const when = this.when() ?? (this.r.chance(0.6) ? this.r.pick(["host.name === 'h1'", "host.name !== 'h1'"]) : undefined);
      if (when) t.when = when;
    }
    if (this.r.chance(0.3)) {
      t.register = `r${id.slice(1)}`;
      this.registers.push({ name: String(t.register), kind: k === 'fail' ? 'state' : 'cmd' });
    }
    if (this.r.chance(0.12)) t.ignore_errors = true;
    return t;
  }

  /** block / rescue / always, sometimes nested, with block-level when, become, vars, ignore_errors. */
  block(depth: number): Task {
    const bid = `b${++this.blocks}`;
    const b: Task = { name: `${bid} block` };
    const body: Task[] = [];
    if (this.r.chance(0.35)) {
      b.vars = { [`${bid}_v`]: this.r.pick(['x', 'y']) };
      const dest = this.path();
      body.push({ name: `${this.id()} copy block var ${dest}`, copy: { dest, content: `v={{ ${bid}_v }}\n` }, ...(this.r.chance(0.5) ? { ignore_errors: true } : {}) });
    }
    // mostly with a rescue: a failure in a block without one stops the host (and the case)
    const form = this.r.weighted([['rescue', 4], ['always', 1], ['both', 4], ['none', 0.5]] as const);
    const rescued = form === 'rescue' || form === 'both';
    const count = this.r.int(1, 3);
    for (let i = 0; i < count; i++) {
      if (!this.r.chance(0.4)) body.push(...this.entry(depth + 1));
      else {
        const t = this.mayFail();
        if (!rescued && this.r.chance(0.6)) t.ignore_errors = true;
        body.push(t);
      }
    }
    if (this.r.chance(0.5)) body.push(this.task());
    b.block = body;
    const section = (n: number) => Array.from({ length: n }, () => (this.r.chance(0.12) ? this.mayFail() : this.r.chance(0.2) ? this.lang() : this.task()));
    if (rescued) {
      const rescue = section(this.r.int(1, 2));
      // what failed is visible in the rescue (ansible_failed_task)
      if (this.r.chance(0.2)) rescue.push({ name: `${this.id()} debug failed task`, debug: { msg: 'rescued {{ ansible_failed_task.name }}' } });
      b.rescue = rescue;
    }
    if (form === 'always' || form === 'both') b.always = section(this.r.int(1, 2));
    const when = this.when();
    if (when) b.when = when;
    if (this.r.chance(0.15)) b.become = this.r.chance(0.6);
    if (this.r.chance(0.15)) b.ignore_errors = true;
    return b;
  }

  /** An action, or a task with result control (changed_when, failed_when, until). */
  lang(): Task {
    const k = this.r.weighted([
      ['set_fact', 4],
      ['debug', 2],
      ['fail', 1],
      ['assert_that', 2],
      ['include_vars', 1],
      ['pause', 1],
      ['controlled', 5],
      ['controlled-module', 2],
      ['until', 3],
    ] as const);
    const id = this.id();
    const reg = `r${id.slice(1)}`;
    switch (k) {
      case 'set_fact': {
        const name = `f${this.facts.length + 1}`;
        const cmd = this.registers.filter((x) => x.kind === 'cmd');
        const how = this.r.weighted([['str', 3], ['list', 2], ['num', cmd.length ? 2 : 0], ['bool', this.registers.length ? 2 : 0]] as const);
        const value =
          how === 'str' ? this.r.pick(['v1', 'v2'])
          : how === 'list' ? [...this.r.pick(LOOP_ITEMS)]
          : how === 'num' ? `{{ ${this.r.pick(cmd).name}.rc }}`
          : `{{ ${this.r.pick(this.registers).name}.changed }}`;
        this.facts.push({ name, kind: how });
        return { name: `${id} set_fact ${name}`, set_fact: { [name]: value } };
      }
      case 'debug': {
        const t: Task = { name: `${id} debug` };
        if (this.facts.length && this.r.chance(0.5)) t.debug = { var: this.r.pick(this.facts).name };
        else if (this.registers.length && this.r.chance(0.4)) t.debug = { var: `${this.r.pick(this.registers).name}.changed` };
        else t.debug = { msg: 'greeting is {{ greeting }}' };
        const when = this.when();
        if (when) t.when = when;
        return t;
      }
      case 'fail': {
        const t: Task = { name: `${id} fail`, fail: { msg: 'failing on purpose' }, ignore_errors: true };
        const when = this.when();
        if (when) t.when = when;
        return t;
      }
      case 'include_vars': {
        // a vars file next to the playbook (files/), its values referring to each other
        this.shared.files = { ...this.shared.files, ...VARS_FILES };
        const t: Task = { name: `${id} include_vars`, include_vars: this.r.chance(0.5) ? 'files/dt-vars.yml' : { file: 'files/dt-vars.yml' } };
        const when = this.when();
        if (when) t.when = when;
        // later tasks read them (where it may not have run, check mode must say unknown)
        if (!this.facts.some((f) => f.name === 'iv_list')) this.facts.push({ name: 'iv_list', kind: 'list' }, { name: 'iv_ref', kind: 'str' });
        return t;
      }
      case 'pause':
        return { name: `${id} pause`, pause: { seconds: this.r.int(0, 1) } };
      case 'assert_that': {
        // Ansible's assert: conditions on the controller over facts, results and vars
        const conds: string[] = [];
        for (let n = this.r.int(1, 2); n > 0; n--) {
          const f = this.facts.length && this.r.chance(0.4) ? this.r.pick(this.facts) : undefined;
          if (f) conds.push(f.kind === 'num' ? `${f.name} >= 0` : f.kind === 'bool' ? `${f.name} || true` : `${f.name}.length > 1`);
          else if (this.registers.length && this.r.chance(0.6)) conds.push(this.r.pick([`${this.r.pick(this.registers).name}.changed`, `!${this.r.pick(this.registers).name}.failed`]));
          else conds.push(this.r.pick(["greeting == 'hello'", "greeting != 'hello'"]));
        }
        const a: Record<string, unknown> = { that: conds.length === 1 && this.r.chance(0.3) ? conds[0] : conds };
        if (this.r.chance(0.4)) a.fail_msg = 'assertion failed on {{ host.name }}';
        if (this.r.chance(0.2)) a.success_msg = 'fine';
        const t: Task = { name: `${id} assert that`, assert: a };
        if (this.r.chance(0.6)) t.ignore_errors = true;
        const when = this.when();
        if (when) t.when = when;
        return t;
      }
      case 'controlled': {
        const c = this.command();
        const t: Task = { name: `${id} ${c.module} ${c.label} controlled`, [c.module]: c.args, register: reg };
        const both = this.r.chance(0.35);
        if (both || this.r.chance(0.5)) {
          t.changed_when = this.r.pick<string | boolean>([false, true, `${reg}.rc != 0`, `${reg}.rc == 0`, `${reg}.stdout.includes('a')`, `${reg}.stdout != ''`]);
        }
        if (both || t.changed_when === undefined) {
          t.failed_when = this.r.pick<string | boolean>([false, `${reg}.rc > 1`, `${reg}.rc != 0`, `${reg}.stdout.includes('x')`, `${reg}.rc == 0 && ${reg}.stdout == ''`]);
        }
        if (this.r.chance(0.6)) t.ignore_errors = true;
        this.registers.push({ name: reg, kind: 'cmd' });
        return t;
      }
      case 'controlled-module': {
        const t = this.task();
        const r = typeof t.register === 'string' ? t.register : reg;
        if (t.register === undefined) {
          t.register = r;
          this.registers.push({ name: r, kind: t.loop ? 'loop' : 'state' });
        }
        if (this.r.chance(0.6)) t.changed_when = this.r.pick<string | boolean>([false, true, `${r}.changed`, `!${r}.changed`]);
        else t.failed_when = this.r.pick<string | boolean>([false, `${r}.changed`]);
        return t;
      }
      case 'until': {
        const p = this.path();
        const k2 = this.r.weighted([['counter', 2], ['test', 2], ['ls', 1]] as const);
        let t: Task;
        if (k2 === 'counter') {
          t = {
            name: `${id} shell count until 2`,
            shell: { cmd: `n=$(cat ${p} 2>/dev/null || echo 0); echo $((n+1)) > ${p}; echo $((n+1))`, writes: [p] },
            until: `${reg}.stdout.trim() == '2'`,
          };
        } else if (k2 === 'test') {
          t = { name: `${id} command test until`, command: { cmd: `test -e ${p}`, writes: [] }, until: `${reg}.rc == 0` };
        } else {
          t = { name: `${id} shell ls until`, shell: { cmd: `ls ${p} | wc -l`, writes: [] }, until: `${reg}.stdout.trim() != '0'` };
        }
        Object.assign(t, { register: reg, retries: this.r.int(1, 2), delay: 0 });
        if (this.r.chance(0.85)) t.ignore_errors = true;
        this.registers.push({ name: reg, kind: 'cmd' });
        return t;
      }
    }
  }

  /** include_tasks (with a loop and loop_control, or not), import_tasks, include_role, import_role. */
  include(depth: number): Task {
    const roles = Object.keys(this.shared.roles).filter((n) => !this.usedRoles.has(n));
    const k = this.r.weighted([['loop', 4], ['include', 2], ['import', 3], ['include_role', roles.length ? 2 : 0], ['import_role', roles.length ? 2 : 0]] as const);
    const id = this.id();
    if (k === 'include_role' || k === 'import_role') {
      const role = this.r.pick(roles);
      this.usedRoles.add(role);
      const t: Task = { name: `${id} ${k} ${role}`, [k]: { name: role } };
      if (k === 'include_role') {
        const when = this.when();
        if (when) t.when = when;
      }
      return t;
    }
    const file = `p${this.index}-inc${Object.keys(this.shared.taskFiles).length + 1}.yml`;
    this.shared.taskFiles[file] = []; // reserved: an include inside it names the next file
    if (k !== 'loop') {
      const tasks: Task[] = [];
      const count = this.r.int(1, 3);
      for (let i = 0; i < count; i++) tasks.push(...(this.r.chance(0.2) && depth < 1 ? [this.block(depth + 1)] : this.entry(depth + 1)));
      this.shared.taskFiles[file] = tasks;
      if (k === 'import') return { name: `${id} import_tasks`, import_tasks: file };
      const t: Task = { name: `${id} include_tasks ${file}`, include_tasks: file };
      const when = this.when();
      if (when) t.when = when;
      return t;
    }
    // a loop: the file's tasks read the loop variable (and the index)
    const loopVar = this.r.chance(0.5) ? 'd' : 'item';
    const indexVar = this.r.chance(0.5) ? 'i' : undefined;
    const root = this.r.pick(ROOTS);
    const v = `{{ ${loopVar} }}`;
    const iid = `${id}i`;
    const choices: Array<readonly [() => Task, number]> = [
      [() => ({ name: `${iid}1 file directory ${root}/${v}`, file: { path: `${root}/${v}`, state: 'directory' } }), 3],
      [() => ({ name: `${iid}2 copy into ${root}/${v}`, copy: { dest: `${root}/${v}/inc.txt`, content: indexVar ? `i={{ ${indexVar} }}\n` : 'x\n' } }), 2],
      [() => ({ name: `${iid}3 command touch ${root}/${v}`, command: { cmd: `touch ${root}/${v}`, writes: [`${root}/${v}`] } }), 2],
      [() => ({ name: `${iid}4 file absent ${root}/${v}`, file: { path: `${root}/${v}`, state: 'absent' } }), 1],
      [() => ({ name: `${iid}5 debug`, debug: { msg: `${v}${indexVar ? ` {{ ${indexVar} }}` : ''}` } }), 1],
    ];
    const tasks: Task[] = [];
    const seen = new Set<string>();
    for (let i = this.r.int(1, 3); i > 0; i--) {
      const t = this.r.weighted(choices)();
      if (seen.has(String(t.name))) continue;
      seen.add(String(t.name));
      if (this.r.chance(0.5)) t.ignore_errors = true;
      if (this.r.chance(0.15)) t.notify = this.notifyTarget();
      tasks.push(t);
    }
    this.shared.taskFiles[file] = tasks;
    const t: Task = { name: `${id} include_tasks ${file} loop`, include_tasks: file };
    const lists = this.facts.filter((f) => f.kind === 'list');
    const cmd = this.registers.filter((x) => x.kind === 'cmd');
    const from = this.r.weighted([['literal', 5], ['fact', lists.length ? 2 : 0], ['register', this.registers.length ? 1 : 0], ['cmd', cmd.length ? 1 : 0]] as const);
    if (from === 'literal') t.loop = [...this.r.pick(LOOP_ITEMS)];
    else if (from === 'fact') t.loop = `{{ ${this.r.pick(lists).name} }}`;
    // a loop known only after the real run: check mode says the include is unknown
    else if (from === 'register') t.loop = `{{ ${this.r.pick(this.registers).name}.changed ? ['a'] : ['b', 'a/b'] }}`;
    else t.loop = `{{ ${this.r.pick(cmd).name}.rc == 0 ? ['f.txt'] : ['b'] }}`;
    const lc: Record<string, unknown> = {};
    if (loopVar !== 'item') lc.loop_var = loopVar;
    if (indexVar) lc.index_var = indexVar;
    if (this.r.chance(0.3)) lc.label = `${v}`;
    if (Object.keys(lc).length) t.loop_control = lc;
    const when = this.when();
    if (when) t.when = when;
    return t;
  }

  play(index: number, hosts: string, login: Record<string, CaseHost>): { play: Record<string, unknown>; templates: Record<string, string> } {
    const tasks: Task[] = [];
    // Often start by making a sandbox root exist, so later tasks have something to work on.
    if (this.r.chance(0.75)) {
      tasks.push({ name: `${this.id()} file directory root`, file: { path: this.r.pick(ROOTS), state: 'directory' } });
    }
    const count = this.r.int(4, 11);
    for (let i = 0; i < count; i++) tasks.push(...this.entry());
    if (this.shared.reboot && index === 1) tasks.splice(this.r.int(1, tasks.length), 0, ...this.reboot());
    const play: Record<string, unknown> = { name: `p${index}`, hosts, vars: { greeting: this.r.pick(['hi', 'hello']) } };
    if (Object.values(login).some((h) => h.user !== 'root') || this.r.chance(0.3)) play.become = this.r.chance(0.7);
    if (this.r.chance(0.1)) play.any_errors_fatal = true;
    // the play's task keywords, inherited by all its tasks and handlers as from a block
    if (this.r.chance(0.06)) play.ignore_errors = true;
    if (this.r.chance(0.04)) play.no_log = true;
    if (this.r.chance(0.04)) play.check_mode = this.r.chance(0.5);
    if (this.r.chance(0.04)) play.throttle = 1;
    // roles: run before the tasks (the case's roles, at most once each per play)
    const free = Object.keys(this.shared.roles).filter((n) => !this.usedRoles.has(n));
    if (free.length && this.r.chance(0.5)) {
      const role = this.r.pick(free);
      this.usedRoles.add(role);
      play.roles = [this.r.chance(0.3) ? { role, [`${role}_msg`]: 'from-params' } : role];
    }
    // pre_tasks and post_tasks (handlers are flushed between them and the tasks)
    if (tasks.length > 3 && this.r.chance(0.12)) {
      play.pre_tasks = tasks.splice(0, 1);
      if (this.r.chance(0.6)) play.post_tasks = tasks.splice(tasks.length - 1, 1);
    }
    play.tasks = tasks;
    if (this.handlers.length) play.handlers = this.handlers;
    return { play, templates: this.templates };
  }
}

/** 0-2 roles for a case, with defaults, vars, handlers (listen), templates, files, a block and a dependency. */
function makeRoles(r: Rng): Record<string, CaseRole> {
  const roles: Record<string, CaseRole> = {};
  const count = r.chance(0.3) ? r.int(1, 2) : 0;
  for (let k = 1; k <= count; k++) {
    const name = `rl${k}`;
    const root = r.pick(ROOTS);
    const dir = `{{ ${name}_dir }}`;
    const tasks: Task[] = [
      { name: 'q1 dir', file: { path: dir, state: 'directory' } },
      { name: 'q2 msg', copy: { dest: `${dir}/msg.txt`, content: `{{ ${name}_msg }}\n` }, notify: `${name} changed` },
    ];
    if (r.chance(0.5)) tasks.push({ name: 'q3 template', template: { src: `${name}.ejs`, dest: `${dir}/t.txt` } });
    if (r.chance(0.5)) tasks.push({ name: 'q4 static file', copy: { src: `${name}.txt`, dest: `${dir}/static.txt`, mode: r.pick(MODES) } });
    if (r.chance(0.4)) tasks.push({ name: 'q5 command', command: { cmd: `touch ${dir}/touched`, creates: `${dir}/touched`, writes: [`${dir}/touched`] } });
    if (r.chance(0.5)) {
      tasks.push({
        name: 'q6 block',
        block: [{ name: 'q6 test flag', command: { cmd: `test -e ${dir}/flag`, writes: [] } }],
        rescue: [{ name: 'q7 make flag', copy: { dest: `${dir}/flag`, content: 'rescued\n' } }],
        ...(r.chance(0.5) ? { always: [{ name: 'q8 always', file: { path: `${dir}/always`, state: 'touch' } }] } : {}),
      });
    }
    const role: CaseRole = {
      defaults: { [`${name}_dir`]: `${root}/${r.pick(['a', 'b', 'a/b'])}`, [`${name}_msg`]: 'from-defaults' },
      tasks,
      handlers: [{ name: `${name} handler`, listen: `${name} changed`, file: { path: `${root}/handled-${name}`, state: 'touch' } }],
      templates: { [`${name}.ejs`]: `role=<%- ${name}_msg %>\nhost=<%- host.name %>\n` },
      files: { [`${name}.txt`]: `static file of ${name}\n` },
    };
    if (r.chance(0.5)) role.vars = { [`${name}_msg`]: 'from-vars' };
    if (k === 2 && r.chance(0.6)) role.meta = { dependencies: ['rl1'] };
    roles[name] = role;
  }
  return roles;
}

/**
 * A fetching case's setup on one host: curl and git installed (mostly), /srv/dt, and what an
 * earlier run left: a download at /srv/dt/dl.txt, a checkout at /srv/dt/g1 (at a tag or a branch, maybe with
 * a local change). $DT_HTTP is the server (the harness exports it).
 */
function fetchSetup(r: Rng, host: string): string[] {
  if (!r.chance(0.9)) return [`# ${host}: curl and git are not installed`];
  const lines = ['apt-get install -y -q --no-install-recommends curl git >/dev/null', 'mkdir -p /srv/dt'];
  // one of the served files, or other content (one line each)
  const body = r.pick([FETCH_FILES['one.txt'], FETCH_FILES['two.txt'], 'old\n']).trim();
  if (r.chance(0.4)) lines.push(`printf '%s\\n' '${body}' > /srv/dt/dl.txt`);
  if (r.chance(0.4)) {
    lines.push(`git clone -q "$DT_HTTP/app.git" /srv/dt/g1 && git -C /srv/dt/g1 -c advice.detachedHead=false checkout -q ${r.pick(['v1.0', 'next', 'main'])}`);
    if (r.chance(0.3)) lines.push('echo local >> /srv/dt/g1/VERSION');
  }
  return lines;
}

/** Keys whose boolean values Ansible users often write as yes / no (the loader reads both). */
const YES_NO_KEYS = new Set(['ignore_errors', 'become', 'create_home', 'enabled', 'system', 'update_cache', 'start_services']);

/** Write some booleans as yes / no, everywhere in `v`. */
function yesNo(r: Rng, v: unknown): void {
  if (Array.isArray(v)) v.forEach((x) => yesNo(r, x));
  else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const [k, x] of Object.entries(o)) {
      if (YES_NO_KEYS.has(k) && typeof x === 'boolean' && r.chance(0.15)) o[k] = x ? 'yes' : 'no';
      else yesNo(r, x);
    }
  }
}

/** The random case for `seed`: 1-3 plays over h1 and h2, their task files and roles. */
export function generate(seed: number): Case {
  const r = new Rng(seed);
  const hosts: Record<string, CaseHost> = {
    h1: { user: r.chance(0.7) ? 'root' : 'deploy' },
    h2: { user: r.chance(0.6) ? 'root' : 'deploy' },
  };
  const playbook: unknown[] = [];
  let templates: Record<string, string> = {};
  const plays = r.int(1, 3);
  const targets = Array.from({ length: plays }, () => r.weighted([['all', 6], ['h1', 2], ['h2', 1]] as const));
  const inRun = (h: string) => targets.some((t) => t === 'all' || t === h);
  const shared: Shared = { taskFiles: {}, roles: makeRoles(r), fetch: r.chance(0.15), reboot: r.chance(0.04) };
  for (let i = 1; i <= plays; i++) {
    const target = targets[i - 1];
    const other = target === 'h1' ? 'h2' : target === 'h2' ? 'h1' : undefined;
    const gen = new PlaybookGen(r, other && inRun(other) ? other : undefined, i, shared);
    const out = gen.play(i, target, hosts);
    templates = { ...templates, ...out.templates };
    playbook.push(out.play);
  }
  yesNo(r, playbook);
  yesNo(r, shared.taskFiles);
  const setup = (h: string) => [DEB_SETUP, ...(shared.fetch ? fetchSetup(r, h) : [])].join('\n');
  const c: Case = { name: `seed ${seed}`, hosts, templates, playbook, files: { 'dtkey.asc': DT_KEY }, setup: { h1: setup('h1'), h2: setup('h2') } };
  if (Object.keys(shared.taskFiles).length) c.taskFiles = shared.taskFiles;
  if (Object.keys(shared.roles).length) c.roles = shared.roles;
  if (shared.files) c.files = shared.files;
  return c;
}
