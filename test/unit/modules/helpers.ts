/** Shared fixtures for the module plan tests (no SSH: args + facts in, changes out). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Change, Connection, ExecOptions, ExecResult, ModuleContext, StateModule } from '../../../src/modules/contract.js';
import type { FileFact, IdentityFact } from '../../../src/modules/files/facts.js';

/** Who creates files in these fixtures: root through sudo, umask 0022. */
export const ROOT_WHO: IdentityFact = { user: 'root', group: 'root', umask: '0022' };

export { makeCtx, parse, predictedFacts, predictedFactsEach, SECRET, type TestContext } from '../../../src/modules/fixtures/ctx.js';
import { makeCtx, predictedFacts } from '../../../src/modules/fixtures/ctx.js';

/**
 * The convergence property: planning again against the predicted facts (merged over the
 * gathered ones, as the engine's check-mode overlay does) yields no change except one-shots.
 */
export function replanAfterPredict<A, F, L>(mod: StateModule<A, F, L>, args: A, facts: F, ctx: ModuleContext, local?: L): Change[] {
  const changes = mod.plan(args, facts, ctx, local as L);
  assert.ok(mod.predict, `${mod.name} has no predict()`);
  return mod.plan(args, predictedFacts(mod, args, facts, ctx, changes, local), ctx, local as L).filter((c) => !c.oneShot);
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
