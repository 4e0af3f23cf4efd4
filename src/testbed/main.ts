/**
 * The testbed tool's own entry (bin/provision-testbed.js, and `provision testbed …`, which
 * loads this module only for that subcommand, so ordinary runs never load the testbed):
 *   sudo provision-testbed up|down|status [--hosts N] [--subnet CIDR] [--lb-pair]
 */
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerTestbedCommand } from './index.js';

/** argv as process.argv; `testbed` may be given or not (`provision testbed up` and `provision-testbed up`). */
export async function testbedMain(argv: string[]): Promise<number> {
  const args = argv.slice(2);
  if (args[0] === 'testbed') args.shift();
  const program = new Command('provision').description('provision: local test hosts').exitOverride();
  registerTestbedCommand(program);
  try {
    await program.parseAsync(['node', 'provision', 'testbed', ...args]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 2;
    throw e;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await testbedMain(process.argv);
}
