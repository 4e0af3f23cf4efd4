/**
 * Module plan tests as data (as pyinfra does with its operation fixtures): every JSON file under
 * test/unit/modules/fixtures/<module>/ is one case of args + facts -> changes (with their exact
 * commands), or -> an error, and optionally -> the facts check mode predicts after the changes.
 * The format is described in fixtures/README.md.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinModules } from '../../../src/modules/all.js';
import { TaskError, Unknown, type AnyStateModule, type Change, type Command } from '../../../src/modules/contract.js';
import { makeCtx, parse, predictedFacts, predictedFactsEach, SECRET } from './helpers.js';

/** The fixtures in the source tree (this file runs from <out>/test/unit/modules/). */
const FIXTURES = resolve(fileURLToPath(import.meta.url), '../../../../../test/unit/modules/fixtures');

type Lines = string | string[];
type Bytes = string | string[] | { base64: string };

interface FixtureCommand {
  cmd: Lines;
  stdin?: Bytes;
  become?: boolean;
  display?: string;
}

interface FixtureChange {
  action: string;
  target: string;
  summary: string;
  oneShot?: boolean;
  uncertain?: string;
  /** a command: its line(s), or { cmd, stdin, become, display } */
  commands: (Lines | FixtureCommand)[];
  /** null: the change has no diff */
  diff?: Lines | null;
}

interface Fixture {
  description: string;
  args: unknown;
  local?: { utf8: string } | { base64: string };
  ctx?: { check?: boolean; become?: boolean; user?: string; vars?: Record<string, unknown> };
  facts: Record<string, unknown>;
  changes?: FixtureChange[];
  error?: string;
  errorType?: 'TaskError' | 'Unknown';
  notes?: string[];
  predicted?: Record<string, unknown>;
}

const KEYS = new Set(['description', 'args', 'local', 'ctx', 'facts', 'changes', 'error', 'errorType', 'notes', 'predicted']);
const CTX_KEYS = new Set(['check', 'become', 'user', 'vars']);
const CHANGE_KEYS = new Set(['action', 'target', 'summary', 'oneShot', 'uncertain', 'commands', 'diff']);
const COMMAND_KEYS = new Set(['cmd', 'stdin', 'become', 'display']);

const lines = (v: Lines): string => (Array.isArray(v) ? v.join('\n') : v);

/** Bytes as the fixtures write them: text (or lines of it), or base64 when binary (not UTF-8, or a NUL byte). */
function bytesOf(v: Buffer | string): string | { base64: string } {
  if (typeof v === 'string') return v;
  const text = v.toString('utf8');
  return Buffer.from(text, 'utf8').equals(v) && !v.includes(0) ? text : { base64: v.toString('base64') };
}

function fixtureCommand(c: Lines | FixtureCommand): Record<string, unknown> {
  if (typeof c === 'string' || Array.isArray(c)) return { cmd: lines(c) };
  for (const k of Object.keys(c)) assert.ok(COMMAND_KEYS.has(k), `unknown command key '${k}'`);
  const out: Record<string, unknown> = { cmd: lines(c.cmd) };
  if (c.stdin !== undefined) out.stdin = typeof c.stdin === 'string' || Array.isArray(c.stdin) ? lines(c.stdin) : c.stdin;
  if (c.become !== undefined) out.become = c.become;
  if (c.display !== undefined) out.display = c.display;
  return out;
}

function actualCommand(c: Command): Record<string, unknown> {
  const out: Record<string, unknown> = { cmd: c.cmd };
  if (c.stdin !== undefined) out.stdin = bytesOf(c.stdin);
  if (c.become !== undefined) out.become = c.become;
  if (c.display !== undefined) out.display = c.display;
  return out;
}

/** A change as the fixture states it; `diff` only when the fixture gives one. */
function fixtureChange(c: FixtureChange): Record<string, unknown> {
  for (const k of Object.keys(c)) assert.ok(CHANGE_KEYS.has(k), `unknown change key '${k}'`);
  const out: Record<string, unknown> = { action: c.action, target: c.target, summary: c.summary, commands: c.commands.map(fixtureCommand) };
  if (c.oneShot !== undefined) out.oneShot = c.oneShot;
  if (c.uncertain !== undefined) out.uncertain = c.uncertain;
  if (c.diff !== undefined && c.diff !== null) out.diff = lines(c.diff);
  return out;
}

function actualChange(c: Change, withDiff: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { action: c.action, target: c.target, summary: c.summary, commands: c.commands.map(actualCommand) };
  if (c.oneShot !== undefined) out.oneShot = c.oneShot;
  if (c.uncertain !== undefined) out.uncertain = c.uncertain;
  if (withDiff && c.diff !== undefined) out.diff = c.diff;
  return out;
}

/** JSON has no undefined: compare values as JSON holds them. */
const asJson = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

function localOf(f: Fixture): Buffer | undefined {
  if (f.local === undefined) return undefined;
  return 'utf8' in f.local ? Buffer.from(f.local.utf8, 'utf8') : Buffer.from(f.local.base64, 'base64');
}

const isUnknownMarker = (v: unknown): v is { $unknown: string } => typeof v === 'object' && v !== null && '$unknown' in v;

function context(f: Fixture) {
  for (const k of Object.keys(f.ctx ?? {})) assert.ok(CTX_KEYS.has(k), `unknown ctx key '${k}'`);
  // no project files: what prepare() would read from files/ or templates/ is given as `local`
  return makeCtx({ root: '/nonexistent/provision-fixtures', ...f.ctx });
}

async function runFixture(mod: AnyStateModule, f: Fixture): Promise<void> {
  for (const k of Object.keys(f)) assert.ok(KEYS.has(k), `unknown fixture key '${k}'`);
  assert.equal(typeof f.description, 'string', 'a fixture needs a description');
  assert.ok((f.changes === undefined) !== (f.error === undefined), "a fixture gives exactly one of 'changes' or 'error'");
  assert.ok(f.errorType === undefined || f.error !== undefined, "'errorType' goes with 'error'");
  assert.ok(f.predicted === undefined || (f.changes?.length ?? 0) > 0, "'predicted' goes with changes (check mode predicts only what changes)");

  const args = parse(mod, f.args);
  const ctx = context(f);
  // the facts given are exactly the ones the module asks for
  assert.deepEqual(Object.keys(f.facts).sort(), Object.keys(mod.facts(args, ctx)).sort(), 'fixture facts vs the facts the module requests');

  let changes: Change[];
  let local: unknown;
  try {
    local = f.local !== undefined ? localOf(f) : mod.prepare ? await mod.prepare(args, ctx) : undefined;
    changes = mod.plan(args, structuredClone(f.facts), ctx, local);
  } catch (e) {
    if (f.error === undefined) throw e;
    const type = f.errorType ?? 'TaskError';
    assert.ok(type === 'Unknown' ? e instanceof Unknown : e instanceof TaskError, `expected a ${type}, got ${(e as Error).name}: ${(e as Error).message}`);
    assert.match((e as Error).message, new RegExp(f.error));
    assert.deepEqual(ctx.notes, f.notes ?? [], 'notes');
    return;
  }
  assert.equal(f.error, undefined, `expected an error matching /${f.error}/, got ${changes.length} change(s)`);
  const want = f.changes!;
  assert.deepEqual(
    changes.map((c, i) => actualChange(c, want[i]?.diff !== undefined)),
    want.map(fixtureChange),
  );
  assert.deepEqual(ctx.notes, f.notes ?? [], 'notes');
  // helpers.SECRET may be in what is written (stdin), never in what is shown, nor in a module's
  // own command lines (a command/shell task's script is the user's, secrets included)
  const userScript = String((f.args as { cmd?: unknown } | null)?.cmd ?? '').includes(SECRET);
  for (const c of changes) {
    const cmds = c.commands.flatMap((x) => [x.display ?? '', ...(userScript ? [] : [x.cmd])]);
    for (const shown of [c.target, c.summary, c.diff ?? '', c.uncertain ?? '', ...cmds]) {
      assert.ok(!shown.includes(SECRET), `the secret shows in ${JSON.stringify(shown)}`);
    }
  }

  if (f.predicted === undefined) return;
  const expected = f.predicted;
  for (const name of Object.keys(expected)) assert.ok(name in f.facts, `predicted '${name}' is not one of the facts`);
  const unknowns = Object.values(expected).some(isUnknownMarker);
  const predicted = unknowns
    ? predictedFactsEach(mod, args, structuredClone(f.facts), ctx, changes, local)
    : (predictedFacts(mod, args, structuredClone(f.facts), ctx, changes, local) as Record<string, unknown>);
  for (const [name, value] of Object.entries(expected)) {
    const got = predicted[name];
    if (isUnknownMarker(value)) {
      assert.ok(isUnknownMarker(got), `predicted ${name}: expected unknown /${value.$unknown}/, got ${JSON.stringify(got)}`);
      assert.match(got.$unknown, new RegExp(value.$unknown), `predicted ${name}`);
    } else {
      assert.deepEqual(asJson(got), value, `predicted ${name}`);
    }
  }
  if (unknowns) return;
  // convergence: planned again against the predicted facts, only one-shot changes remain
  const again = mod.plan(args, predicted, context(f), local).filter((c) => !c.oneShot);
  assert.deepEqual(
    again.map((c) => c.summary),
    [],
    'the plan against the predicted facts is not empty',
  );
}

function loadFixtures(dir: string): [string, Fixture][] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => {
      const text = readFileSync(join(dir, n), 'utf8');
      try {
        return [n, JSON.parse(text) as Fixture];
      } catch (e) {
        throw new Error(`${dir}/${n}: ${(e as Error).message}`, { cause: e });
      }
    });
}

const stateModules = [...builtinModules().values()].filter((m): m is AnyStateModule => m.type === 'state');
const MIN_FIXTURES = 3;

describe('module fixtures', () => {
  test('the fixtures directory is found, and every folder in it names a state module', () => {
    assert.ok(existsSync(FIXTURES), `no fixtures at ${FIXTURES}`);
    const names = new Set(stateModules.map((m) => m.name));
    for (const d of readdirSync(FIXTURES)) {
      if (statSync(join(FIXTURES, d)).isDirectory()) assert.ok(names.has(d), `fixtures/${d}: no state module of that name`);
    }
  });

  test(`every state module has at least ${MIN_FIXTURES} fixtures`, () => {
    const short = stateModules
      .map((m) => [m.name, existsSync(join(FIXTURES, m.name)) ? loadFixtures(join(FIXTURES, m.name)).length : 0] as const)
      .filter(([, n]) => n < MIN_FIXTURES);
    assert.deepEqual(short, []);
  });
});

for (const mod of stateModules) {
  const dir = join(FIXTURES, mod.name);
  if (!existsSync(dir)) continue;
  describe(`fixtures: ${mod.name}`, () => {
    for (const [file, f] of loadFixtures(dir)) {
      test(`${file}: ${f.description}`, () => runFixture(mod, f));
    }
  });
}
