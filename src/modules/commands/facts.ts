/** The exit code of a read-only command (for `unless:`). */
import { sq } from '../../engine/shell.js';
import type { FactKind } from '../contract.js';

export interface ExitFact {
  rc: number;
}

export const exitFact: FactKind<{ cmd: string; chdir?: string }, ExitFact> = {
  kind: 'exit',
  // a guard command may read anything on the host: after any predicted change it cannot be known
  readsAnything: true,
  key: (p) => `exit:${p.chdir ?? ''}:${p.cmd}`,
  script: (p) => `(\n${p.chdir ? `cd ${sq(p.chdir)} || exit 1\n` : ''}${p.cmd}\n) </dev/null >/dev/null 2>&1; echo rc=$?`,
  parse: (out) => ({ rc: Number(/rc=(\d+)/.exec(out)?.[1] ?? 255) }),
};
