/**
 * Seeded generator of random playbooks for the differential tester. The same seed always gives
 * the same case (mulberry32 PRNG, no other source of randomness).
 *
 * Every path lives under a few sandbox roots (/srv/dt, /opt/dt, /home/deploy/dt) with a small
 * vocabulary of names, so that tasks touch overlapping paths: parents, mkdir -p, removed
 * parents, links, files in missing directories: where predictions go wrong.
 */
import type { Case, CaseHost } from './case.js';

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
const OWNERS = ['root', 'deploy', 'dtuser', 'nobody'] as const;
const GROUPS = ['root', 'deploy', 'dtgrp', 'nogroup'] as const;
const USERS = ['dtuser', 'dtuser2'] as const;
const GROUP_NAMES = ['dtgrp', 'dtgrp2'] as const;
const PACKAGES = [['jq'], ['libjq1'], ['libonig5'], ['jq', 'tree'], ['tree'], ['cron'], ['at'], ['bc']] as const;
const SERVICES = ['cron', 'atd', 'dt-sleep', 'dt-missing'] as const;
const UNIT_FILE = '/etc/systemd/system/dt-sleep.service';
const UNIT_BODIES = [
  '[Unit]\nDescription=difftest sleeper\n[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n',
  '[Unit]\nDescription=difftest sleeper (long)\n[Service]\nExecStart=/bin/sleep 100000\nExecReload=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
] as const;

interface Register {
  name: string;
  /** 'cmd': a command/shell task without loop (rc/stdout when it ran); 'loop': has results; 'state': other modules. */
  kind: 'cmd' | 'loop' | 'state';
}

type Task = Record<string, unknown>;

class PlaybookGen {
  private n = 0;
  private registers: Register[] = [];
  private templates: Record<string, string> = {};
  private handlers: Task[] = [];
  constructor(
    private readonly r: Rng,
    /** The host tasks of this play may be delegated to (undefined: none). */
    private readonly delegateTo: string | undefined,
  ) {}

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

  content(): string {
    const cmd = this.registers.filter((x) => x.kind === 'cmd');
    if (cmd.length && this.r.chance(0.25)) return `out={{ ${this.r.pick(cmd).name}.stdout }}\n`;
    if (this.registers.length && this.r.chance(0.15)) return `changed={{ ${this.r.pick(this.registers).name}.changed }}\n`;
    return this.r.pick(['hello\n', 'world\n', 'v={{ greeting }}\n', '']);
  }

  template(): string {
    const name = `t${Object.keys(this.templates).length + 1}.ejs`;
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
      const id = `t${String(++this.n).padStart(2, '0')}`;
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

  when(): string | undefined {
    if (!this.r.chance(0.3)) return undefined;
    if (this.registers.length === 0 || this.r.chance(0.15)) return this.r.pick(["host.name === 'h1'", "host.name !== 'h1'", 'run.check || true']);
    const reg = this.r.pick(this.registers);
    const opts = [`${reg.name}.changed`, `!${reg.name}.changed`, `${reg.name}.failed`, `!${reg.name}.failed`, `${reg.name}.skipped`, `${reg.name}.status === 'ok'`];
    if (reg.kind === 'cmd') opts.push(`${reg.name}.rc === 0`, `${reg.name}.rc !== 0`, `${reg.name}.stdout.includes('a')`, `${reg.name}.stdout === ''`);
    if (reg.kind === 'loop') opts.push(`${reg.name}.results.length > 1`);
    return this.r.pick(opts);
  }

  task(): Task {
    const id = `t${String(++this.n).padStart(2, '0')}`;
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
        const state = this.r.weighted([['directory', 5], ['touch', 3], ['absent', 3], ['file', 2], ['link', 2]] as const);
        const p = this.r.chance(0.12) && state !== 'link' ? loopPath() : this.path();
        const args: Record<string, unknown> = { path: p, state };
        if (state === 'link') args.src = this.r.chance(0.8) ? this.path() : '/etc/hostname';
        if (state !== 'absent') this.attrs(args, state === 'link' ? 0.15 : 0.4);
        if (state === 'link') delete args.mode;
        t.file = args;
        label = `file ${state} ${p}`;
        break;
      }
      case 'copy': {
        const dest = this.path();
        const args: Record<string, unknown> = { dest, content: this.content() };
        this.attrs(args, 0.3);
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
          c.args.cmd = `touch ${loopPath()}`;
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
        const state = this.r.chance(0.75) ? 'present' : 'absent';
        const args: Record<string, unknown> = { name: name.length === 1 ? name[0] : name, state };
        if (this.r.chance(0.15)) {
          args.update_cache = true;
          if (this.r.chance(0.5)) args.cache_valid_time = this.r.pick([0, 3600]);
        }
        if (state === 'present' && this.r.chance(0.2)) args.start_services = true;
        t.apt = args;
        label = `apt ${state} ${name.join(',')}`;
        break;
      }
    }
    const named: Task = { name: `${id} ${label}`, ...t };
    if (loop) named.loop = [...loop];
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
    // Only from a play on one host: within a play, hosts run their tasks independently, so a task
    // delegated to a host of the same play races with that host's own tasks (the real outcome is
    // not deterministic). The other host is a host of the run (another play targets it).
    if (this.delegateTo && this.r.chance(0.15) && (kind === 'file' || kind === 'copy' || kind === 'command')) {
      named.delegate_to = this.delegateTo;
    }
    if (this.r.chance(0.15)) {
      if (this.handlers.length === 0 || this.r.chance(0.3)) this.addHandler();
      named.notify = this.r.pick(this.handlers).name;
    }
    return named;
  }

  addHandler(): void {
    const id = `H${this.handlers.length + 1}`;
    const h = this.r.weighted<Task>([
      [{ name: `${id} touch marker`, file: { path: `${this.r.pick(ROOTS)}/handled`, state: 'touch' } }, 3],
      [{ name: `${id} restart cron`, service: { name: 'cron', state: 'restarted' } }, 1],
      [{ name: `${id} restart dt-sleep`, service: { name: 'dt-sleep', state: 'restarted' } }, 1],
      [((p: string) => ({ name: `${id} command`, command: { cmd: `mkdir -p ${p}`, writes: [p] } }))(this.path()), 2],
    ]);
    this.handlers.push(h);
  }

  play(index: number, hosts: string, login: Record<string, CaseHost>): { play: Record<string, unknown>; templates: Record<string, string> } {
    const tasks: Task[] = [];
    // Often start by making a sandbox root exist, so later tasks have something to work on.
    if (this.r.chance(0.75)) {
      tasks.push({ name: `t${String(++this.n).padStart(2, '0')} file directory root`, file: { path: this.r.pick(ROOTS), state: 'directory' } });
    }
    const count = this.r.int(4, 11);
    for (let i = 0; i < count; i++) tasks.push(...(this.r.chance(0.15) ? this.checks() : [this.task()]));
    const play: Record<string, unknown> = { name: `p${index}`, hosts, vars: { greeting: this.r.pick(['hi', 'hello']) } };
    if (Object.values(login).some((h) => h.user !== 'root') || this.r.chance(0.3)) play.become = this.r.chance(0.7);
    play.tasks = tasks;
    if (this.handlers.length) play.handlers = this.handlers;
    return { play, templates: this.templates };
  }
}

/** The random case for `seed`: 1-3 plays over h1 and h2. */
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
  for (let i = 1; i <= plays; i++) {
    const target = targets[i - 1];
    const other = target === 'h1' ? 'h2' : target === 'h2' ? 'h1' : undefined;
    const gen = new PlaybookGen(r, other && inRun(other) ? other : undefined);
    const out = gen.play(i, target, hosts);
    // Template names are per play; keep them distinct across plays.
    const renamed: Record<string, string> = {};
    for (const [k, v] of Object.entries(out.templates)) renamed[`p${i}-${k}`] = v;
    for (const t of (out.play.tasks as Task[]) ?? []) {
      const tpl = t.template as { src?: string } | undefined;
      if (tpl?.src) tpl.src = `p${i}-${tpl.src}`;
    }
    templates = { ...templates, ...renamed };
    playbook.push(out.play);
  }
  return { name: `seed ${seed}`, hosts, templates, playbook };
}
