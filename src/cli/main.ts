/**
 * provision [PLAYBOOK...] --inventory NAME|PATH [--check] [--diff] ...
 * Exit codes: 0 success; 1 a host failed or was unreachable; 2 invalid usage, inventory or playbook.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { InventoryHost } from '../load/inventory.js';
import type { Playbook } from '../load/playbook.js';
import type { Module } from '../modules/contract.js';
import type { Project } from '../load/project.js';
// Everything else is imported when a command needs it (see bench/README.md, start-up):
// `--version` loads nothing, `--help` only commander, a run only the modules its playbooks use.

// The installed package: only its package.json is read from here. A run's files live in the
// user's project (load/project.ts), and nothing is ever written inside the package.
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Without -i and without provision.yml's inventory. */
const DEFAULT_INVENTORY = 'testbed';
const DEFAULT_FORKS = 10;

interface CliOptions {
  inventory?: string;
  check?: boolean;
  diff?: boolean;
  limit?: string;
  tags?: string;
  skipTags?: string;
  forks?: string;
  json?: boolean;
  verbose: number;
  extraVars: string[];
  acceptNewHostKeys?: boolean;
  askBecomePass?: boolean;
  syntaxCheck?: boolean;
  listHosts?: boolean;
  listTasks?: boolean;
  listTags?: boolean;
  startAtTask?: string;
  shard?: string;
}

function parseExtraVars(list: string[], ConfigError: new (message: string) => Error): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of list) {
    const trimmed = item.trim();
    if (trimmed.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(trimmed);
      } catch {
        throw new ConfigError(`--extra-vars: invalid JSON: ${item}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`--extra-vars: expected a JSON object, got ${item}`);
      if (Object.hasOwn(parsed, '__proto__')) throw new ConfigError(`--extra-vars: '__proto__' cannot be used as a variable name`);
      Object.assign(out, parsed);
      continue;
    }
    const i = item.indexOf('=');
    if (i <= 0) throw new ConfigError(`--extra-vars: expected key=value or JSON, got '${item}'`);
    const key = item.slice(0, i);
    const raw = item.slice(i + 1);
    let value: unknown = raw;
    if (/^(true|false|null|-?\d+(\.\d+)?)$/.test(raw)) value = JSON.parse(raw);
    out[key] = value;
  }
  return out;
}

/** Where main() writes its own messages (errors, --syntax-check); tests pass buffers. */
export interface CliIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

const processIO: CliIO = { stdout: process.stdout, stderr: process.stderr };

/**
 * The names of the modules that playbook files (and the files they import) may use: every
 * `word:` key that is a module name. A textual over-approximation, never trusted alone: if it
 * misses a module, loadPlaybook fails with the partial set and we load again with every
 * module (see loadPlaybooks), so results and messages are the same as with all modules.
 */
export function scanModuleNames(files: string[], isModuleName: (n: string) => boolean): Set<string> {
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file) || seen.size > 1000) return;
    seen.add(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return; // loadPlaybook reports it
    }
    for (const m of text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)["']?\s*:/g)) if (isModuleName(m[1])) names.add(m[1]);
    for (const m of text.matchAll(/import_playbook["']?\s*:\s*["']?([^"'\s#]+)/g)) visit(resolve(dirname(file), m[1]));
  };
  files.forEach(visit);
  return names;
}

/**
 * Load the playbooks with only the modules they use (see scanModuleNames): the built-in ones and
 * the project's own (modules/ and library/ beside each playbook, then provision.yml's module_paths).
 */
async function loadPlaybooks(files: string[], project: Project): Promise<{ playbooks: Playbook[]; modules: Map<string, Module> }> {
  const [{ loadPlaybook }, { moduleRegistry }] = await Promise.all([import('../load/playbook.js'), import('../modules/own.js')]);
  const beside = files.flatMap((f) => [join(dirname(f), 'modules'), join(dirname(f), 'library')]);
  const registry = moduleRegistry([...new Set(beside), ...project.modulePaths]);
  const opts = { root: project.root, rolesPath: project.rolesPath };
  let modules = await registry.load(scanModuleNames(files, registry.isModuleName));
  try {
    return { playbooks: files.map((f) => loadPlaybook(f, modules, opts)), modules };
  } catch (e) {
    if (modules.size === registry.names.length) throw e;
    try {
      modules = await registry.load();
    } catch {
      throw e; // an own module the playbook does not use cannot load: the playbook's own error counts
    }
    return { playbooks: files.map((f) => loadPlaybook(f, modules, opts)), modules };
  }
}

export async function runCommand(playbookArgs: string[], o: CliOptions, io: CliIO = processIO): Promise<number> {
  const [{ ConfigError }, { addImplicitLocalhost, loadInventory, patternError, selectHosts, unknownPatternParts }, { hasTemplate }, { loadProject, MAX_FORKS }] = await Promise.all([
    import('../load/yaml.js'),
    import('../load/inventory.js'),
    import('../engine/expr.js'),
    import('../load/project.js'),
  ]);
  const project = loadProject();
  const root = project.root;
  const files = (playbookArgs.length ? playbookArgs : [project.playbook ?? join(root, 'playbooks', 'site.yml')]).map((p) => {
    const candidates = [resolve(p), join(root, p), join(root, 'playbooks', p), join(root, 'playbooks', `${p}.yml`)];
    const found = candidates.find((c) => existsSync(c));
    if (!found) throw new ConfigError(`playbook '${p}' not found${playbookArgs.length ? '' : ` (project ${root}: give a playbook, or set playbook: in provision.yml)`}`);
    return found;
  });
  const forksArg = o.forks ?? String(project.forks ?? DEFAULT_FORKS);
  const forks = Number(forksArg);
  if (!/^\s*\d+\s*$/.test(forksArg) || !Number.isInteger(forks) || forks < 1 || forks > MAX_FORKS) {
    throw new ConfigError(`--forks: expected a whole number from 1 to ${MAX_FORKS}, got '${forksArg}'`);
  }
  const { parseExpressionTimeout, setExpressionTimeoutMs } = await import('../engine/expr-budget.js');
  const exprTimeout = parseExpressionTimeout(process.env.PROVISION_EXPRESSION_TIMEOUT_MS);
  if (typeof exprTimeout === 'string') throw new ConfigError(exprTimeout);
  setExpressionTimeoutMs(exprTimeout);
  const inventory = loadInventory(o.inventory ?? project.inventory ?? DEFAULT_INVENTORY, root, o.acceptNewHostKeys);
  const { playbooks, modules } = await loadPlaybooks(files, project);
  // as Ansible: an inventory without hosts leaves the implicit localhost; other plays match nothing
  const noHosts = inventory.hosts.size === 0 ? ` (it has no hosts: only the implicit localhost, which 'all' does not include)` : '';
  if (noHosts) io.stderr.write(`warning: inventory ${inventory.file} has no hosts: only the implicit localhost is available; plays for other hosts match none and are skipped\n`);
  addImplicitLocalhost(inventory, playbooks.flatMap((pb) => pb.plays), userInfo().username);
  const extraVars = parseExtraVars(o.extraVars, ConfigError);
  for (const [flag, v] of [['--tags', o.tags], ['--skip-tags', o.skipTags]] as const) {
    // '--tags ,' would otherwise mean no tag filter at all: every task
    if (v !== undefined && v.split(',').some((t) => t.trim() === '')) throw new ConfigError(`${flag}: ${JSON.stringify(v)} has an empty tag (a stray comma?)`);
  }
  if (o.limit !== undefined) {
    const bad = patternError(o.limit);
    if (bad) throw new ConfigError(`--limit: ${bad}`);
    const unknown = unknownPatternParts(inventory, o.limit);
    if (unknown.length) throw new ConfigError(`--limit: no host or group named ${unknown.map((u) => `'${u}'`).join(', ')} in ${inventory.file}`);
    if (selectHosts(inventory, o.limit).length === 0) throw new ConfigError(`--limit '${o.limit}' matches no host`);
  }
  for (const pb of playbooks)
    for (const play of pb.plays) {
      const unknown = unknownPatternParts(inventory, play.hosts);
      if (unknown.length) throw new ConfigError(`${play.where}: hosts: no host or group named ${unknown.map((u) => `'${u}'`).join(', ')} in inventory ${inventory.file}${noHosts}`);
      const bad: string[] = [];
      for (const t of [...play.tasks, ...play.handlers]) {
        const d = t.delegateTo;
        if (d === undefined || d === 'localhost' || d === '127.0.0.1' || hasTemplate(d) || inventory.hosts.has(d)) continue;
        bad.push(`${t.delegateWhere ?? t.where}: delegate_to: '${d}' is not a host of inventory ${inventory.file} (use localhost, or one of: ${[...inventory.hosts.keys()].join(', ')})`);
      }
      if (bad.length) throw new ConfigError(bad.join('\n'));
    }

  if (o.startAtTask !== undefined) {
    const bad = (await import('../engine/start-at.js')).startAtError(playbooks.flatMap((pb) => pb.plays), o.startAtTask);
    if (bad) throw new ConfigError(bad);
  }
  const tagList = (v: string | undefined) => (v ? v.split(',').map((t) => t.trim()).filter(Boolean) : []);
  const limited = o.limit !== undefined ? new Set(selectHosts(inventory, o.limit)) : undefined;
  const shard = o.shard !== undefined ? await sliceRun(o.shard, playbooks, limited, inventory, selectHosts, ConfigError) : undefined;
  const inRun = shard ? shard.hosts : limited;

  if (o.syntaxCheck) {
    const plays = playbooks.flatMap((pb) => pb.plays);
    const tasks = plays.reduce((n, p) => n + p.tasks.length + p.handlers.length, 0);
    io.stdout.write(`syntax ok: inventory ${inventory.name} (${inventory.hosts.size} hosts), ${plays.length} plays, ${tasks} tasks; no host contacted\n`);
    return 0;
  }

  if (o.listHosts || o.listTasks || o.listTags) {
    const { listPlaybooks } = await import('./listing.js');
    const shown = playbookArgs.length ? playbookArgs : [relative(process.cwd(), files[0]) || files[0]];
    io.stdout.write(
      listPlaybooks(
        playbooks.map((pb, i) => ({ shown: shown[i], plays: pb.plays })),
        inventory,
        { hosts: Boolean(o.listHosts), tasks: Boolean(o.listTasks), tags: Boolean(o.listTags), limited: inRun, onlyTags: tagList(o.tags), skipTags: tagList(o.skipTags), selectHosts },
      ),
    );
    return 0;
  }

  const [{ Runner }, { Masker, SecretStore }, { createReporter }, { LocalConnection }] = await Promise.all([
    import('../engine/scheduler.js'),
    import('../engine/secrets.js'),
    import('./output.js'),
    import('../ssh/local.js'),
  ]);
  let becomePassword = process.env.PROVISION_BECOME_PASSWORD || undefined;
  if (o.askBecomePass) becomePassword = await (await import('./prompt.js')).promptHidden('BECOME password: ');
  const masker = new Masker();
  if (becomePassword) masker.add(becomePassword);
  // --check writes nothing on the controller: no secret is generated or recorded by a dry run
  const secrets = new SecretStore(join(root, '.provision', 'secrets', `${inventory.name}.json`), masker, process.env, { dryRun: Boolean(o.check) });
  const stream = o.json ? process.stderr : process.stdout;
  const emit = await createReporter({ json: Boolean(o.json), diff: Boolean(o.diff), verbosity: o.verbose, stream, tty: Boolean(stream.isTTY) && !process.env.CI });
  // --check records no host key either: a new key is accepted for this run's connections only
  const runOnlyHostKeys = o.check ? new (await import('../ssh/knownhosts.js')).RunOnlyHostKeys() : undefined;
  // ssh2 (the connection chunk) is loaded with the first connection
  const connect = async (h: InventoryHost, over: { connectTimeoutMs?: number } = {}) =>
    (await import('../ssh/connection.js')).connectSsh({
      runOnlyHostKeys,
      name: h.name,
      address: h.address,
      port: h.port,
      user: h.user,
      key: h.key,
      knownHosts: h.knownHosts,
      hostKeyPolicy: h.hostKeyPolicy,
      become: h.become,
      becomePassword,
      jump: h.jump,
      connectTimeoutMs: over.connectTimeoutMs ?? h.connectTimeoutMs,
    });
  if (shard && shard.hosts.size === 0) process.stderr.write(`--shard ${shard.index}/${shard.count}: this slice has no host (the run targets ${shard.of.size}); its report is empty\n`);
  const identity = {
    // as given on the command line: the same for every slice, wherever each controller checked the project out
    playbooks: files.map((f, i) => ({ file: playbookArgs[i] ?? relative(root, f), sha256: createHash('sha256').update(readFileSync(f)).digest('hex') })),
    inventory: o.inventory ?? project.inventory ?? DEFAULT_INVENTORY,
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    ...(o.tags !== undefined ? { tags: tagList(o.tags) } : {}),
    ...(o.skipTags !== undefined ? { skipTags: tagList(o.skipTags) } : {}),
    ...(shard ? { shard: { index: shard.index, count: shard.count, hosts: [...shard.hosts], total: shard.of.size } } : {}),
  };
  const runner = new Runner(inventory, {
    identity,
    ...(shard ? { shard } : {}),
    check: Boolean(o.check),
    limit: o.limit,
    tags: tagList(o.tags),
    skipTags: tagList(o.skipTags),
    forks,
    extraVars,
    root,
    rolesPath: project.rolesPath,
    modules,
    connect,
    local: () => new LocalConnection({ becomePassword }),
    emit,
    masker,
    secrets,
    traceCommands: o.verbose > 0,
    ...(o.startAtTask !== undefined ? { startAtTask: o.startAtTask } : {}),
  });
  let sigints = 0;
  const onSigint = () => {
    sigints++;
    if (sigints === 1) {
      process.stderr.write('\ninterrupted: finishing the tasks in flight, then stopping (Ctrl-C again to abort at once)\n');
      runner.interrupt();
    } else {
      process.stderr.write('\naborted: tasks in flight may be half-applied; run again (or with --check) to see the state\n');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  try {
    const report = await runner.run(playbooks);
    return (await import('../engine/report.js')).reportExitCode(report);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/**
 * --shard K/N: this controller's slice of the hosts the run targets (after --limit), and the
 * slice of every one of them; what a sliced run cannot keep is refused (engine/shard.ts).
 */
async function sliceRun(
  spec: string,
  playbooks: Playbook[],
  limited: Set<string> | undefined,
  inventory: import('../load/inventory.js').Inventory,
  selectHosts: (inv: import('../load/inventory.js').Inventory, pattern: string) => string[],
  ConfigError: new (message: string) => Error,
): Promise<{ index: number; count: number; hosts: Set<string>; of: Map<string, number> }> {
  const { parseShard, shardRefusals, sliceOf } = await import('../engine/shard.js');
  const s = parseShard(spec);
  if (typeof s === 'string') throw new ConfigError(s);
  const plays = playbooks.flatMap((pb) => pb.plays);
  const refused = shardRefusals(plays);
  if (refused.length) throw new ConfigError(refused.join('\n'));
  const targets = plays.flatMap((p) => selectHosts(inventory, p.hosts)).filter((h) => !limited || limited.has(h));
  const of = sliceOf(targets, s.count);
  return { ...s, hosts: new Set([...of].filter(([, k]) => k === s.index).map(([h]) => h)), of };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export async function buildProgram(io: CliIO = processIO, result: { code: number } = { code: 0 }): Promise<Command> {
  const { Command, Option } = await import('commander');
  const program = new Command();
  program
    .name('provision')
    .description('Agentless, idempotent provisioning over SSH: facts, plan, apply, verify.')
    .version(VERSION, '--version')
    .argument('[playbooks...]', "playbook files (default: provision.yml's playbook, else playbooks/site.yml)")
    .option('-i, --inventory <name|path>', `inventory name (inventory/NAME.yml) or path (default: provision.yml's inventory, else ${DEFAULT_INVENTORY})`)
    .option('-C, --check', 'dry run: show what would change, change nothing')
    .option('--syntax-check', 'check the inventory and playbooks (everything exit code 2 is about), contact no host')
    .option('--list-hosts', 'print the hosts each play targets (after --limit), contact no host')
    .option('--list-tasks', 'print the tasks each play runs, with their tags (after --tags/--skip-tags), contact no host')
    .option('--list-tags', 'print the tags of the tasks each play runs, contact no host')
    .option('--start-at-task <name>', "start the run at the first task with this name (or glob; 'role : name' or name), skipping everything before it")
    .option('-D, --diff', 'show unified diffs of file changes')
    .option('-l, --limit <pattern>', 'only these hosts: names, groups, globs; comma-separated; !x excludes')
    .option('-t, --tags <tags>', 'only tasks with these tags (comma-separated)')
    .option('--skip-tags <tags>', 'skip tasks with these tags (comma-separated)')
    .option('-f, --forks <n>', `hosts in parallel (default: provision.yml's forks, else ${DEFAULT_FORKS})`)
    .option('-e, --extra-vars <key=value|json>', 'extra variables (highest precedence); repeatable', collect, [])
    .option('--json', 'print one JSON report on stdout (human output goes to stderr)')
    .option('-v, --verbose', '-v: show commands; -vv: and their output', (_v: string, prev: number) => prev + 1, 0)
    .option('--shard <K/N>', "run only slice K of N of the run's hosts (after --limit; sorted names dealt round-robin); join the slices' --json reports with `provision report merge`")
    .option('--accept-new-host-keys', 'accept and remember unknown host keys (like OpenSSH accept-new; with --check: for that run only, nothing recorded); changed keys are always refused')
    .addOption(new Option('-K, --ask-become-pass', 'prompt for the sudo password (or set PROVISION_BECOME_PASSWORD)'))
    .showHelpAfterError()
    .action(async (playbooks: string[], opts: CliOptions) => {
      result.code = await runCommand(playbooks, opts, io);
    });
  program
    .command('verify')
    .description('run the verification playbook (playbooks/verify.yml) alone; takes the same options (-i, --json, -v, --limit, ...)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { findProjectRoot } = await import('../load/project.js');
      result.code = await runCommand([join(findProjectRoot(), 'playbooks', 'verify.yml')], cmd.optsWithGlobals() as CliOptions, io);
    });
  program
    .command('inventory')
    .description('inspect an inventory (provision or Ansible format): inventory list -i PATH [--vars HOST] [--json]')
    .exitOverride()
    .command('list')
    .description("print the resolved hosts, groups and, with --vars HOST, that host's variables and where each came from")
    .option('--vars <host>', "also print this host's merged variables and their origins")
    .exitOverride()
    .action(async (_opts: unknown, cmd: Command) => {
      const [{ inventoryList }, { loadProject }] = await Promise.all([import('./inventory-list.js'), import('../load/project.js')]);
      const project = loadProject();
      const o = cmd.optsWithGlobals<{ inventory?: string }>();
      process.exitCode = inventoryList({ ...o, inventory: o.inventory ?? project.inventory ?? DEFAULT_INVENTORY }, project.root);
    });
  program
    .command('report')
    .description('work with --json reports: report merge FILE... joins the reports of the slices of a --shard run')
    .exitOverride()
    .command('merge')
    .description("join the --json reports of a sharded run's slices into one report and recap; exit code: the run's (the worst of the slices)")
    .argument('<files...>', 'the --json reports of every slice (K/N for each K)')
    .option('--json', 'print the merged JSON report on stdout (the recap goes to stderr)')
    .exitOverride()
    .action(async (reportFiles: string[], _opts: unknown, cmd: Command) => {
      const { mergeReportFiles } = await import('./report-merge.js');
      result.code = mergeReportFiles(reportFiles, Boolean(cmd.optsWithGlobals().json), io);
      });
    program
    .command('test-modules [dir]')
    .description("run the JSON fixtures of the project's own modules (fixtures/NAME/*.json in DIR's modules/ or library/; default: the project root and module_paths)")
    .action(async (dir: string | undefined) => {
      const { testModules } = await import('./test-modules.js');
      result.code = await testModules(dir, io);
    });
  // Listed for --help; `main` hands `testbed …` to the testbed tool before parsing.
  program.command('testbed').description('local test hosts (needs root): testbed up|down|status; see provision testbed --help');
  program.exitOverride();
  program.configureOutput({ writeOut: (t) => io.stdout.write(t), writeErr: (t) => io.stderr.write(t) });
  for (const c of program.commands) c.configureOutput({ writeOut: (t) => io.stdout.write(t), writeErr: (t) => io.stderr.write(t) });
  return program;
}

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  // The testbed is a tool of its own, loaded only when asked for.
  if (argv[2] === 'testbed') return (await import('../testbed/main.js')).testbedMain(argv);
  // The common `provision --version` without commander (what commander would print).
  if (argv.length === 3 && argv[2] === '--version') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const result = { code: 0 };
  const program = await buildProgram(io, result);
  try {
    await program.parseAsync(argv);
    return result.code;
  } catch (e) {
    const { CommanderError } = await import('commander');
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    const [{ ConfigError }, { default: pc }] = await Promise.all([import('../load/yaml.js'), import('picocolors')]);
    if (e instanceof ConfigError) {
      io.stderr.write(`${pc.red('error:')} ${e.message}\n`);
      return 2;
    }
    io.stderr.write(`${pc.red('internal error:')} ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 70;
  }
}
