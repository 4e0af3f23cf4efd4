/** The CLI in-process: main(argv) with its messages captured (no child process per case). */
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export async function runMain(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const t0 = Date.now();
  const code = await main(['node', 'provision', ...args], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr, ms: Date.now() - t0 };
}
