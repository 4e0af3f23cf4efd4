/** Test doubles: a local "host" connection with fault injection, and a runner harness. */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addImplicitLocalhost, loadInventory } from '../../src/load/inventory.js';
import { loadPlaybook } from '../../src/load/playbook.js';
import { Runner } from '../../src/engine/scheduler.js';
import { Masker, SecretStore } from '../../src/engine/secrets.js';
import type { RunEvent } from '../../src/engine/events.js';
import type { RunReport } from '../../src/engine/report.js';
import { ConnectionError, type Connection, type ExecOptions, type ExecResult } from '../../src/modules/contract.js';
import { builtinModules } from '../../src/modules/all.js';

export function tmp(prefix = 'prov-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A host that answers late: each command that contains `match` takes `ms` longer. */
export interface Slow {
  match: string;
  ms: number;
}

/** Runs commands with the local sh (tests only touch their temp dirs); can fail on demand. */
export class FakeConnection implements Connection {
  execs: string[] = [];
  closed = false;
  constructor(
    public readonly host: string,
    private readonly faults: { dropAfter?: number; slow?: Slow[] } = {},
  ) {}

  exec(cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.execs.push(cmd);
    if (this.faults.dropAfter !== undefined && this.execs.length > this.faults.dropAfter) {
      return Promise.reject(new ConnectionError(this.host, `connection to ${this.host} lost: ECONNRESET`));
    }
    const delay = this.faults.slow?.find((x) => cmd.includes(x.match))?.ms ?? 0;
    return new Promise((resolve) => {
      // become_user: as that user (the tests run as root, which switches with runuser, as a root login does)
      const asUser = opts.become && opts.becomeUser !== undefined && opts.becomeUser !== 'root';
      const p = asUser ? spawn('runuser', ['-u', opts.becomeUser!, '--', 'sh', '-c', cmd], { env: { ...process.env, FAKE_HOST: this.host } }) : spawn('sh', ['-c', cmd], { env: { ...process.env, FAKE_HOST: this.host } });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (code) => setTimeout(() => resolve({ code: code ?? 1, stdout, stderr }), delay));
      p.stdin.on('error', () => undefined);
      p.stdin.end(opts.stdin ?? '');
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export interface Harness {
  report: RunReport;
  events: RunEvent[];
  conns: Map<string, FakeConnection>;
  /** how many connections each host got */
  connects: Map<string, number>;
  /** in order: `connect HOST` (each attempt, failed ones too) and `event TYPE` */
  log: string[];
}

export async function runPlaybook(opts: {
  inventory: string;
  playbook: string;
  dir: string;
  check?: boolean;
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  unreachable?: string[];
  dropAfter?: Record<string, number>;
  /** per host: commands that answer late (to order what hosts do at the same time) */
  slow?: Record<string, Slow[]>;
  extraVars?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** -v / -vv: emit command events */
  trace?: boolean;
  /** Interrupt the run (as Ctrl-C does) after this many task results. */
  interruptAfter?: number;
}): Promise<Harness> {
  const invFile = join(opts.dir, 'inventory.yml');
  const pbFile = join(opts.dir, 'playbook.yml');
  writeFileSync(invFile, opts.inventory);
  writeFileSync(pbFile, opts.playbook);
  const modules = builtinModules();
  const inventory = loadInventory(invFile, opts.dir);
  const playbook = loadPlaybook(pbFile, modules);
  // as the CLI does: plays on localhost target the controller when the inventory has no such host
  addImplicitLocalhost(inventory, playbook.plays, 'root');
  const events: RunEvent[] = [];
  const conns = new Map<string, FakeConnection>();
  const connects = new Map<string, number>();
  const log: string[] = [];
  const masker = new Masker();
  const runner = new Runner(inventory, {
    check: opts.check ?? false,
    limit: opts.limit,
    tags: opts.tags ?? [],
    skipTags: opts.skipTags ?? [],
    forks: 4,
    extraVars: opts.extraVars ?? {},
    root: opts.dir,
    modules,
    connect: async (h) => {
      log.push(`connect ${h.name}`);
      if (opts.unreachable?.includes(h.name)) throw new ConnectionError(h.name, `${h.name} (${h.address}:22): connection refused`);
      const c = new FakeConnection(h.name, { dropAfter: opts.dropAfter?.[h.name], slow: opts.slow?.[h.name] });
      conns.set(h.name, c);
      connects.set(h.name, (connects.get(h.name) ?? 0) + 1);
      return c;
    },
    local: () => {
      const c = new FakeConnection('localhost');
      conns.set('localhost', c);
      return c;
    },
    emit: (e) => {
      events.push(e);
      log.push(`event ${e.type}`);
      if (e.type === 'task-result' && opts.interruptAfter !== undefined && events.filter((x) => x.type === 'task-result').length === opts.interruptAfter) {
        runner.interrupt();
      }
    },
    masker,
    traceCommands: opts.trace ?? false,
    secrets: new SecretStore(join(opts.dir, 'secrets.json'), masker, opts.env ?? {}, { dryRun: opts.check ?? false }),
  });
  const report = await runner.run([playbook]);
  return { report, events, conns, connects, log };
}

export function statuses(report: RunReport): string[] {
  return report.tasks.map((t) => `${t.host}|${t.task}|${t.status}`);
}

export function changedSet(report: RunReport): string[] {
  return report.tasks
    .filter((t) => t.status === 'changed')
    .map((t) => `${t.host}|${t.task}`)
    .sort();
}
