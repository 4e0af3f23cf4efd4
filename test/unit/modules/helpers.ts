/** Shared fixtures for the module plan tests (no SSH: args + facts in, changes out). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scope } from '../../../src/engine/expr.js';
import { Unknown, type Change, type Connection, type ExecOptions, type ExecResult, type FactRequest, type ModuleContext, type StateModule } from '../../../src/modules/contract.js';
import { HostPrediction } from '../../../src/engine/prediction.js';
import type { FileFact, IdentityFact } from '../../../src/modules/files/facts.js';

/** Who creates files in these fixtures: root through sudo, umask 0022. */
export const ROOT_WHO: IdentityFact = { user: 'root', group: 'root', umask: '0022' };

export const SECRET = 'hunter2-Sup3rS3cret';

export interface TestContext extends ModuleContext {
  notes: string[];
}

/** A ModuleContext like the engine's: render with a Scope over `vars`, mask SECRET, collect notes. */
export function makeCtx(over: Partial<ModuleContext> & { vars?: Record<string, unknown> } = {}): TestContext {
  const notes: string[] = [];
  const { vars = {}, ...rest } = over;
  return {
    host: 'h1',
    check: false,
    become: true,
    user: 'root',
    root: over.root ?? mkdtempSync(join(tmpdir(), 'provision-test-')),
    mask: (s) => s.replaceAll(SECRET, '********'),
    note: (s) => notes.push(s),
    render: (source, filename) => new Scope(vars).template(source, filename),
    ...rest,
    notes,
  };
}

/** Validate args like the engine does (defaults applied, transforms run). */
export function parse<A>(mod: { schema: { parse(v: unknown): A } }, args: unknown): A {
  return mod.schema.parse(args);
}

/**
 * The convergence property: planning again against the predicted facts (merged over the
 * gathered ones, as the engine's check-mode overlay does) yields no change except one-shots.
 */
export function replanAfterPredict<A, F, L>(mod: StateModule<A, F, L>, args: A, facts: F, ctx: ModuleContext, local?: L): Change[] {
  const changes = mod.plan(args, facts, ctx, local as L);
  assert.ok(mod.predict, `${mod.name} has no predict()`);
  return mod.plan(args, predictedFacts(mod, args, facts, ctx, changes, local), ctx, local as L).filter((c) => !c.oneShot);
}

/** The module's facts as check mode will read them after its changes: its effects folded over `facts`. */
export function predictedFacts<A, F, L>(mod: StateModule<A, F, L>, args: A, facts: F, ctx: ModuleContext = makeCtx(), changes?: Change[], local?: L): F {
  assert.ok(mod.predict, `${mod.name} has no predict()`);
  const host = new HostPrediction(ctx.host);
  host.record(mod.predict(args, facts, changes ?? mod.plan(args, facts, ctx, local as L), ctx, local as L));
  const requests = mod.facts(args, ctx) as Record<string, FactRequest>;
  const out: Record<string, unknown> = {};
  for (const [name, req] of Object.entries(requests)) {
    const live = (facts as Record<string, unknown>)[name];
    out[name] = host.foldAll([req.kind.key(req.params), ...(req.kind.aliases?.(req.params, live as never) ?? [])], live);
  }
  return out as F;
}

/**
 * Like predictedFacts, fact by fact: a fact an effect makes unknown is `{ $unknown: reason }`
 * instead of throwing (the fixtures name the facts check mode cannot know after the task).
 */
export function predictedFactsEach<A, F, L>(mod: StateModule<A, F, L>, args: A, facts: F, ctx: ModuleContext, changes: Change[], local?: L): Record<string, unknown> {
  assert.ok(mod.predict, `${mod.name} has no predict()`);
  const host = new HostPrediction(ctx.host);
  host.record(mod.predict(args, facts, changes, ctx, local as L));
  const requests = mod.facts(args, ctx) as Record<string, FactRequest>;
  const out: Record<string, unknown> = {};
  for (const [name, req] of Object.entries(requests)) {
    const live = (facts as Record<string, unknown>)[name];
    try {
      out[name] = host.foldAll([req.kind.key(req.params), ...(req.kind.aliases?.(req.params, live as never) ?? [])], live);
    } catch (e) {
      if (!(e instanceof Unknown)) throw e;
      out[name] = { $unknown: e.message };
    }
  }
  return out;
}

export function assertConverges<A, F, L>(mod: StateModule<A, F, L>, args: A, facts: F, ctx: ModuleContext = makeCtx(), local?: L): void {
  const first = mod.plan(args, facts, ctx, local as L);
  const again = replanAfterPredict(mod, args, facts, ctx, local);
  assert.deepEqual(
    again.map((c) => c.summary),
    [],
    `${mod.name} does not converge; first plan: ${JSON.stringify(first.map((c) => c.summary))}`,
  );
}

/** Just the shell command lines of a plan. */
export function cmds(changes: Change[]): string[] {
  return changes.flatMap((c) => c.commands.map((x) => x.cmd));
}

export const absentFile = (parentExists = true): FileFact => ({ type: 'absent', parentExists });

export function regularFile(over: Partial<FileFact> = {}): FileFact {
  return { type: 'file', parentExists: true, mode: '0644', owner: 'root', group: 'root', size: 0, ...over };
}

export function directory(over: Partial<FileFact> = {}): FileFact {
  return { type: 'directory', parentExists: true, mode: '0755', owner: 'root', group: 'root', size: 4096, ...over };
}

/** A Connection that answers from a script of results, recording every call. */
export class FakeConnection implements Connection {
  readonly host = 'h1';
  readonly calls: { cmd: string; opts?: ExecOptions }[] = [];
  constructor(private readonly answer: (cmd: string, call: number, opts?: ExecOptions) => ExecResult) {}

  static sequence(results: ExecResult[]): FakeConnection {
    return new FakeConnection((_cmd, i) => {
      assert.ok(i < results.length, `unexpected exec #${i + 1}`);
      return results[i];
    });
  }

  async exec(cmd: string, opts?: ExecOptions): Promise<ExecResult> {
    this.calls.push({ cmd, opts });
    return this.answer(cmd, this.calls.length - 1, opts);
  }

  async close(): Promise<void> {}
}

export const ok = (stdout = '', stderr = ''): ExecResult => ({ code: 0, stdout, stderr });
export const fail = (code: number, stderr = '', stdout = ''): ExecResult => ({ code, stdout, stderr });

/** Run a shell command locally (sh -c) with optional stdin. */
export function sh(cmd: string, stdin?: string | Buffer, cwd?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', cmd], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    p.on('error', reject);
    // a command that exits before reading its (empty) stdin: EPIPE is not its failure
    p.stdin.on('error', () => {});
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.end(stdin ?? '');
  });
}

/** A real local Connection (sh -c on this machine), for the few end-to-end checks. */
export const localConnection: Connection = {
  host: 'localhost',
  exec: (cmd, opts) => sh(cmd, opts?.stdin),
  close: async () => {},
};
