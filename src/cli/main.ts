#!/usr/bin/env node
// plughost's command line: thin wrappers over the library functions users call.
import { Command, CommanderError } from 'commander';

import { buildCommand } from './commands/build.js';
import { inspectCommand } from './commands/inspect.js';
import { verifyCommand } from './commands/verify.js';

const program = new Command('plughost')
  .description('Build, inspect and verify plughost plugins')
  .exitOverride()
  .showHelpAfterError();

program
  .command('build')
  .description('build every native plugin listed in package.json "plughost.plugins" with one build ID')
  .option('--build-id <id>', 'build ID to stamp (default: $PLUGHOST_BUILD_ID or <version>+g<commit>)')
  .option('--dir <dir>', 'project directory', '.')
  .action(buildCommand);

program
  .command('inspect')
  .description('print a native plugin\'s descriptor, GNU build-id, arch, Node-API version and SHA-256 without loading it')
  .argument('<file>', 'plugin file (.node)')
  .option('--json', 'print JSON')
  .action(inspectCommand);

program
  .command('verify')
  .description('run every pre-load check on a native plugin; exit 1 with the error code on refusal')
  .argument('<file>', 'plugin file (.node)')
  .option('--build-id <id>', 'expected build ID (default: the one this plughost was built with)')
  .option('--sha256 <hex>', 'expected SHA-256 of the file')
  .option('--json', 'print JSON')
  .action(verifyCommand);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Usage errors exit 2, so scripts can tell them from a refused plugin (1).
  if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 2;
  else throw err;
}
