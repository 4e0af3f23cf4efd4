/**
 * Benchmarks (not tests): engine overhead, and the real site on the local test hosts.
 *   node dist/bench/run.js            (make bench)
 * Targets are printed next to each measurement; the exit code is 0 either way.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFactScript, parseFactOutput } from '../src/engine/pipeline/facts.js';
import { fact, type ModuleContext } from '../src/modules/contract.js';
import { packageFact } from '../src/modules/packages/facts.js';
import { fileFact } from '../src/modules/files/facts.js';
import { copy } from '../src/modules/files/copy.js';
import { apt } from '../src/modules/packages/apt.js';
import { LocalConnection } from '../src/ssh/local.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const rows: { what: string; value: string; target: string; ok: boolean }[] = [];
const record = (what: string, value: number, unit: string, target: number) =>
  rows.push({ what, value: `${value.toFixed(value < 10 ? 3 : 1)} ${unit}`, target: `< ${target} ${unit}`, ok: value < target });

function ctx(): ModuleContext {
  return { host: 'bench', check: false, become: true, user: 'root', root: ROOT, mask: (s) => s, note: () => undefined, render: (s) => s };
}

// 1. plan throughput: a 64 KiB file whose content differs (diff included)
{
  const content = 'x'.repeat(64 * 1024);
  const args = copy.schema.parse({ dest: '/etc/bench.conf', content, mode: '0644' });
  const bytes = copy.prepare!(args, ctx()) as Buffer;
  const old = Buffer.from('y'.repeat(64 * 1024)).toString('base64');
  const facts = { who: { user: 'root', group: 'root', umask: '0022' }, file: { type: 'file' as const, parentExists: true, mode: '0644', owner: 'root', group: 'root', sha256: 'z', content: old } };
  const n = 300;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) copy.plan(args, facts, ctx(), bytes);
  record('copy plan with a 64 KiB diff', (performance.now() - t0) / n, 'ms', 20);
  const a = apt.schema.parse({ name: Array.from({ length: 50 }, (_, i) => `pkg${i}`) });
  const pf = Object.fromEntries(a.name!.map((p) => [p, { installed: true, version: '1' }]));
  const t1 = performance.now();
  for (let i = 0; i < 2000; i++) apt.plan(a, pf, ctx());
  record('apt plan, 50 packages, converged', (performance.now() - t1) / 2000, 'ms', 1);
}

// 2. facts: one round trip for 50 facts, run locally
{
  const dir = mkdtempSync(join(tmpdir(), 'prov-bench-'));
  const reqs = [
    ...Array.from({ length: 40 }, (_, i) => fact(fileFact, { path: join(dir, `f${i}`) })),
    ...['coreutils', 'bash', 'dpkg', 'tar', 'gzip', 'sed', 'grep', 'findutils', 'debianutils', 'base-files'].map((name) => fact(packageFact, { name })),
  ];
  const conn = new LocalConnection();
  const t0 = performance.now();
  const rounds = 10;
  for (let i = 0; i < rounds; i++) {
    const script = buildFactScript(reqs, 'B');
    const r = await conn.exec(script);
    parseFactOutput(reqs, r.stdout, 'B');
  }
  record('50 facts gathered in one local round trip', (performance.now() - t0) / rounds, 'ms', 250);
}

// 3. start-up: `provision --version` and `--help` (medians of 15 runs, wall), next to `node -e 0`
{
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const time = (args: string[]) => {
    const ms: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
      ms.push(performance.now() - t0);
    }
    return median(ms);
  };
  const floor = time(['-e', '0']);
  record(`provision --version (node -e 0: ${floor.toFixed(0)} ms)`, time([join(ROOT, 'bin', 'provision.js'), '--version']), 'ms', 80);
  record('provision --help', time([join(ROOT, 'bin', 'provision.js'), '--help']), 'ms', 150);
}

const report0 = (m: { recap: Record<string, unknown> }) => m.recap;

// 4. the site on the test hosts (if they are up): a no-op run and a no-op --check
if (existsSync(join(ROOT, 'inventory', 'testbed.yml'))) {
  const measure = (args: string[]) => {
    const code = `import('${join(ROOT, 'dist/src/cli/main.js')}').then(async (m) => { const c = await m.main(['node', 'provision', ...${JSON.stringify(args)}]); process.stderr.write('\\nMAXRSS ' + process.resourceUsage().maxRSS + '\\n'); process.exitCode = c; })`;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: '1' }, maxBuffer: 64 << 20 });
    const ms = Date.now() - t0;
    const rss = Number(/MAXRSS (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024;
    const report = r.stdout.trim().startsWith('{') ? JSON.parse(r.stdout) : undefined;
    const changed = report ? report.tasks.filter((t: { status: string }) => t.status === 'changed').length : -1;
    return { ms, rss, code: r.status, changed, recap: (report?.recap ?? {}) as Record<string, unknown> };
  };
  const noop = measure(['--inventory', 'testbed', '--json']);
  if (noop.code === 0 && noop.changed === 0) {
    const n = Object.keys(report0(noop)).length;
    record(`site.yml no-op run on ${n} test hosts (wall)`, noop.ms / 1000, 's', 1.5);
    record('site.yml no-op run, peak RSS', noop.rss, 'MiB', 200);
    const chk = measure(['--inventory', 'testbed', '--check', '--json']);
    record('site.yml --check on converged hosts (wall)', chk.ms / 1000, 's', 1.5);
  } else {
    rows.push({ what: 'site.yml no-op run', value: `not converged (exit ${noop.code}, ${noop.changed} changed): run make demo first`, target: '-', ok: false });
  }
} else {
  rows.push({ what: 'site.yml on the test hosts', value: 'skipped: no inventory/testbed.yml (make demo first)', target: '-', ok: true });
}

for (const r of rows) console.log(`${r.ok ? 'ok  ' : 'SLOW'}  ${r.what.padEnd(48)} ${r.value.padStart(14)}   target ${r.target}`);
