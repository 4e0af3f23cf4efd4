/**
 * Stand-alone entry for the testbed commands (the main CLI registers the same commands):
 *   sudo node dist/src/testbed/main.js testbed up|down|status [--hosts N] [--subnet CIDR]
 */
import { Command } from 'commander';
import { registerTestbedCommand } from './index.js';

const program = new Command('provision').description('provision: local testbed commands');
registerTestbedCommand(program);
await program.parseAsync(process.argv);
