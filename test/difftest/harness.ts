/**
 * The differential tester's harness: its own testbed (state dir /var/lib/provision/difftest,
 * bridge provdt0, subnet 10.78.0.0/24, containers dt-h1-J / dt-h2-J: independent of the main
 * testbed; PROVISION_DIFFTEST_DIR/_SUBNET/_BRIDGE/_PREFIX/_WORK give another instance) with an
 * HTTP server on its bridge for get_url and git (fetch-fixtures.ts; {{ dt_http }} in a case,
 * $DT_HTTP in its setup), and, per case, on one group of containers: reset them to the base image, add the
 * `deploy` login user (passwordless sudo, the controller's key), run the case's setup, then
 * `provision --check --json` and the real run (`--json`) from that same state, and compare.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { runReport, type RunReport } from '../../src/engine/report.js';
import { testbedBridgeAddress, testbedDown, testbedExec, testbedResetHost, testbedStatus, testbedUp, type TestbedOptions } from '../../src/testbed/index.js';
import { serveStatic, type StaticServer } from '../support/static-server.js';
import { buildFetchTree } from './fetch-fixtures.js';
import { caseToYaml, changesHostsInCheck, HOST_NAMES, writeCaseFiles, type Case } from './case.js';
import { compareReports, formatMismatch, type Comparison } from './compare.js';
import { caseStructure } from './structure.js';

export const PROJECT_ROOT = path.resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = path.join(PROJECT_ROOT, 'bin', 'provision.js');

export const DIFFTEST_DIR = process.env.PROVISION_DIFFTEST_DIR || '/var/lib/provision/difftest';
const SUBNET = process.env.PROVISION_DIFFTEST_SUBNET || '10.78.0.0/24';
const BRIDGE = process.env.PROVISION_DIFFTEST_BRIDGE || 'provdt0';
/** Container names PREFIX-h1-J (so a second instance with its own dir/subnet/bridge/prefix can run at once). */
const PREFIX = process.env.PROVISION_DIFFTEST_PREFIX || 'dt';
/** Where the tester's testbed writes inventory/testbed.yml and .provision/testbed (keys, known_hosts). */
const BED_ROOT = `${DIFFTEST_DIR}-root`;
const WORK = process.env.PROVISION_DIFFTEST_WORK || `/tmp/provision-difftest${PREFIX === 'dt' ? '' : `-${PREFIX}`}`;
/** A provision run that does not exit within this is killed and the case is an error (read when a run starts). */
const runTimeoutMs = () => Number(process.env.PROVISION_DIFFTEST_RUN_TIMEOUT_S || 120) * 1000;

const DEPLOY_SETUP = `set -e
systemctl is-system-running --wait >/dev/null 2>&1 || true
id deploy >/dev/null 2>&1 || useradd -m -s /bin/bash deploy
install -d -m 700 -o deploy -g deploy /home/deploy/.ssh
install -m 600 -o deploy -g deploy /root/.ssh/authorized_keys /home/deploy/.ssh/authorized_keys
printf 'deploy ALL=(ALL) NOPASSWD:ALL\\n' > /etc/sudoers.d/deploy
chmod 440 /etc/sudoers.d/deploy
`;

/** The testbed itself failed (a host could not be reset or set up): the run stops. */
export class BedError extends Error {}

export interface CaseResult {
  name: string;
  /** No mismatch and no harness error. */
  ok: boolean;
  comparison?: Comparison;
  /** The harness could not run or read a run (not a mismatch of the engine, but a failure). */
  error?: string;
  checkExit?: number;
  realExit?: number;
  ms: { reset: number; check: number; real: number; total: number };
  /** Where the failing case was saved. */
  saved?: string;
}

interface Container {
  name: string;
  address: string;
}

/** One set of containers a case runs on: h1 and h2 mapped to containers. */
type Group = Record<string, Container>;

export class Bed {
  readonly groups: Group[] = [];
  private readonly children = new Set<ChildProcess>();
  private stopping = false;
  private readonly tb: TestbedOptions;
  /** get_url's and git's server (fetch-fixtures.ts), on the bridge: cases reach it as {{ dt_http }} and setups as $DT_HTTP. */
  private http?: StaticServer;
  private httpBase = '';

  constructor(
    readonly jobs: number,
    private readonly log: (line: string) => void = () => {},
  ) {
    process.env.PROVISION_TESTBED_DIR = DIFFTEST_DIR;
    const names: string[] = [];
    for (let j = 1; j <= jobs; j++) for (const h of HOST_NAMES) names.push(`${PREFIX}-${h}-${j}`);
    this.tb = { names, subnet: SUBNET, bridge: BRIDGE, root: BED_ROOT, log: (l) => this.log(`testbed: ${l}`) };
  }

  async up(): Promise<void> {
    mkdirSync(BED_ROOT, { recursive: true });
    const running = (await testbedStatus(this.tb)).filter((h) => h.running);
    if (running.length) {
      throw new BedError(
        `the differential tester's testbed (${DIFFTEST_DIR}) is in use: ${running.map((h) => h.name).join(', ')} running; another difftest run? ` +
          '(run a second instance with other PROVISION_DIFFTEST_DIR/_SUBNET/_BRIDGE/_PREFIX)',
      );
    }
    const hosts = await testbedUp(this.tb);
    const bridge = testbedBridgeAddress(SUBNET);
    this.http = await serveStatic(buildFetchTree(path.join(WORK, 'fetch')), bridge);
    this.httpBase = `http://${bridge}:${this.http.port}/dt`;
    const byName = new Map(hosts.map((h) => [h.name, h.address]));
    for (let j = 1; j <= this.jobs; j++) {
      const g: Group = {};
      for (const h of HOST_NAMES) g[h] = { name: `${PREFIX}-${h}-${j}`, address: byName.get(`${PREFIX}-${h}-${j}`)! };
      this.groups.push(g);
    }
  }

  /** Stop the provision runs in flight; cases in flight end with an error, later ones do not start. */
  interrupt(): void {
    this.stopping = true;
    for (const c of this.children) if (c.pid) killTree(c.pid);
  }

  async down(): Promise<void> {
    this.interrupt();
    this.http?.server.close();
    this.http?.server.closeAllConnections();
    await testbedDown(this.tb);
  }

  private async reset(g: Group, c: Case): Promise<void> {
    const used = HOST_NAMES.filter((h) => c.hosts[h]);
    try {
      await Promise.all(used.map((h) => testbedResetHost(g[h].name, this.tb)));
    } catch (e) {
      throw new BedError(`resetting the test hosts failed: ${(e as Error).message}`, { cause: e });
    }
    await Promise.all(
      used.map(async (h) => {
        const script = `export DT_HTTP=${this.httpBase}\n${DEPLOY_SETUP}` + (c.setup?.[h] ? `\n${c.setup[h]}\n` : '');
        const r = await testbedExec(g[h].name, ['bash', '-c', script], { timeoutMs: 10 * 60_000 }, this.tb);
        if (r.code !== 0) throw new Error(`setup of ${h} (${g[h].name}) failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-800)}`);
      }),
    );
  }

  private writeWorkdir(dir: string, g: Group, c: Case): { inventory: string; playbook: string } {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const stateDir = path.join(BED_ROOT, '.provision', 'testbed');
    const hosts: Record<string, unknown> = {};
    for (const [h, spec] of Object.entries(c.hosts)) {
      hosts[h] = { address: g[h].address, user: spec.user, ...(spec.become !== undefined ? { become: spec.become } : {}) };
    }
    const inventory = {
      vars: { dt_http: this.httpBase },
      defaults: { port: 22, key: path.join(stateDir, 'id_ed25519'), known_hosts: path.join(stateDir, 'known_hosts'), host_key_policy: 'strict', connect_timeout: 20 },
      hosts,
    };
    writeFileSync(path.join(dir, 'inventory.yml'), stringify(inventory));
    const playbook = writeCaseFiles(dir, c);
    writeFileSync(path.join(dir, 'case.yml'), caseToYaml(c));
    return { inventory: path.join(dir, 'inventory.yml'), playbook };
  }

  private provision(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
    return new Promise((resolve) => {
      // audit: every fact served from the read-ahead is read live too and must be equal (fact-cache.ts)
      const env: NodeJS.ProcessEnv = { PROVISION_FACT_CACHE: 'audit', ...process.env, CI: '1' };
      for (const k of Object.keys(env)) if (k.startsWith('PROVISION_SECRET_') || k === 'PROVISION_BECOME_PASSWORD') delete env[k];
      const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      this.children.add(child);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let errLen = 0;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid) killTree(child.pid);
      }, runTimeoutMs());
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => {
        if (errLen < 1 << 20) err.push(d);
        errLen += d.length;
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.children.delete(child);
        resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
      });
    });
  }

  /**
   * Runs one case on group `gi` and compares; saves the case with its mismatches under `outDir`
   * when it fails, and every case with its two reports under `keepDir` (for reading afterwards).
   */
  async runCase(c: Case, gi: number, outDir?: string, keepDir?: string): Promise<CaseResult> {
    const g = this.groups[gi];
    const t0 = Date.now();
    const ms = { reset: 0, check: 0, real: 0, total: 0 };
    const result: CaseResult = { name: c.name, ok: false, ms };
    const dir = path.join(WORK, `job-${gi + 1}`);
    try {
      if (this.stopping) throw new Error('interrupted');
      await this.reset(g, c);
      ms.reset = Date.now() - t0;
      if (this.stopping) throw new Error('interrupted');
      const { inventory, playbook } = this.writeWorkdir(dir, g, c);
      const base = ['-i', inventory, playbook, '--json', '--forks', '4'];
      let t = Date.now();
      const check = await this.provision([...base, '--check'], dir);
      ms.check = Date.now() - t;
      if (this.stopping) throw new Error('interrupted');
      if (changesHostsInCheck(c)) await this.reset(g, c);
      t = Date.now();
      const real = await this.provision(base, dir);
      ms.real = Date.now() - t;
      result.checkExit = check.code;
      result.realExit = real.code;
      const cr = parseReport('--check', check);
      const rr = parseReport('real run', real);
      writeFileSync(path.join(dir, 'check.json'), JSON.stringify(cr, null, 2));
      writeFileSync(path.join(dir, 'real.json'), JSON.stringify(rr, null, 2));
      if (keepDir) {
        mkdirSync(keepDir, { recursive: true });
        const base = path.join(keepDir, slug(c.name));
        writeFileSync(`${base}.yml`, caseToYaml(c));
        for (const f of ['check.json', 'real.json']) copyFileSync(path.join(dir, f), `${base}.${f}`);
      }
      // An unreachable host is the harness's problem (or the testbed's), never a pass.
      for (const [what, rep] of [['--check', cr], ['real run', rr]] as const) {
        const down = Object.entries(rep.recap).filter(([, h]) => h.unreachable);
        if (down.length) throw new Error(`${what}: unreachable: ${down.map(([h, x]) => `${h} (${x.error ?? '?'})`).join('; ')}`);
      }
      result.comparison = compareReports(cr, rr, caseStructure(c));
      result.ok = result.comparison.mismatches.length === 0;
      // A run that had to be killed is a failure even when its report was complete.
      const hung = [['--check', check], ['real run', real]].filter(([, x]) => (x as { timedOut: boolean }).timedOut).map(([w]) => w);
      if (hung.length) {
        result.ok = false;
        result.error = `${hung.join(' and ')} did not exit within ${runTimeoutMs() / 1000} s (killed)`;
      }
    } catch (e) {
      if (e instanceof BedError) throw e;
      result.error = (e as Error).message;
    }
    ms.total = Date.now() - t0;
    if (!result.ok && outDir && !this.stopping) {
      result.saved = saveFailure(c, result, outDir);
      // The two reports next to it, for reading the engine's notes and errors.
      for (const f of ['check.json', 'real.json']) {
        if (existsSync(path.join(dir, f))) copyFileSync(path.join(dir, f), result.saved.replace(/\.yml$/, `.${f}`));
      }
    }
    return result;
  }
}

function parseReport(what: string, r: { code: number; stdout: string; stderr: string }): RunReport {
  const text = r.stdout.trim();
  if (!text.startsWith('{')) {
    throw new Error(`${what}: no JSON report (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-8).join('\n')}`);
  }
  try {
    return runReport.parse(JSON.parse(text));
  } catch (e) {
    throw new Error(`${what}: the JSON report does not parse (exit ${r.code}): ${(e as Error).message.slice(0, 500)}`, { cause: e });
  }
}

function killTree(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL'); // the child is a process group leader (detached)
  } catch {
    // already gone
  }
}

export function slug(name: string): string {
  return name.replace(/\.ya?ml$/, '').replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/** The mismatch lines of a result, for printing. */
export function describeFailure(r: CaseResult): string[] {
  return [...(r.error ? [`error: ${r.error}`] : []), ...(r.comparison?.mismatches ?? []).map(formatMismatch)];
}

function saveFailure(c: Case, r: CaseResult, outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${slug(c.name)}.yml`);
  const lines = [`difftest ${r.error ? 'error' : 'MISMATCH'}: ${c.name}`, ...describeFailure(r).map((l) => `  ${l}`)];
  writeFileSync(file, caseToYaml(c, lines.flatMap((l) => l.split('\n'))));
  return file;
}
