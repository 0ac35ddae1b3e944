#!/usr/bin/env node
// plughost's command line: thin wrappers over the library functions users call.
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';

import { benchAvailable, benchCommand } from './commands/bench.js';
import { buildCommand } from './commands/build.js';
import { bundleCommand } from './commands/bundle.js';
import { callCommand } from './commands/call.js';
import { inspectCommand } from './commands/inspect.js';
import { lsCommand } from './commands/ls.js';
import { newCommand } from './commands/new.js';
import { prebuildCommand } from './commands/prebuild.js';
import { verifyCommand } from './commands/verify.js';
import { reportUnexpected, versionLine } from './output.js';

const positiveInteger = (value: string): string => {
  if (!/^[1-9]\d{0,9}$/.test(value)) throw new InvalidArgumentError('expected a positive whole number of milliseconds');
  return value;
};
const hex64 = (value: string): string => {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new InvalidArgumentError('expected a SHA-256 as 64 hex digits');
  return value;
};

const program = new Command('plughost')
  .description('Build, prebuild, inspect, verify, bundle, call, benchmark and scaffold plughost plugins')
  .version(versionLine(), '-V, --version', 'print the plughost version, and this Node and machine')
  .exitOverride()
  // A usage error is one line with a code, like every other failure; --help has the rest.
  .configureOutput({
    outputError: (text, write) =>
      write(`plughost: PLUGHOST_INVALID_ARGUMENT: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, '; ')} (see --help)\n`),
  });

program
  .command('build')
  .description('build every plugin listed in package.json "plughost.plugins" with the app\'s build ID; write manifest.json')
  .option('--build-id <id>', 'build ID to stamp (default: $PLUGHOST_BUILD_ID or <app version>+g<commit>)')
  .option('--dir <dir>', 'the app (or plugin project)', '.')
  .action(buildCommand);

program
  .command('prebuild')
  .description(
    "build a plugin package's native plugin for this machine and write it into the package as " +
      'prebuilds/<platform>-<arch>/<name>.napi.<libc>.node (prebuildify layout, node-gyp-build tags)',
  )
  .option('--dir <dir>', 'the plugin package', '.')
  .option('--build-id <id>', "build ID to stamp (default: $PLUGHOST_BUILD_ID or the package's <version>+g<commit>)")
  .option('--json', 'print JSON')
  .action(prebuildCommand);

program
  .command('inspect')
  .description('print a native plugin\'s descriptor, GNU build-id, arch, Node-API version and SHA-256 without loading it')
  .argument('<file>', 'plugin file (.node)')
  .option('--json', 'print JSON')
  .action(inspectCommand);

program
  .command('verify')
  .description(
    'run every pre-load check without loading anything, on a native plugin file or on a whole deploy ' +
      '(a directory with manifest.json, or a .tar.gz bundle); exit 1 on any refusal',
  )
  .argument('<target>', 'a plugin file (.node), a deploy directory, a manifest.json, or a bundle (.tar.gz)')
  .option('--build-id <id>', "expected build ID (file: default the app's, as createHost() has it; deploy: checked against the manifest)")
  .option('--any-build', 'file: an independently published plugin package (check everything but the build ID)')
  .addOption(new Option('--sha256 <hex>', 'expected SHA-256 of the plugin file or of the bundle').argParser(hex64))
  .option('--json', 'print JSON')
  .action(verifyCommand);

program
  .command('bundle')
  .description("pack manifest.json, every plugin file it pins and the app (package.json, lockfile, its files) into one reproducible .tar.gz")
  .requiredOption('--out <file>', 'the bundle to write (.tar.gz)')
  .option('--dir <dir>', 'directory holding manifest.json (the app)', '.')
  .option('--no-host', 'manifest and plugins only: leave the app (package.json, lockfile, its files) out')
  .option('--json', 'print JSON')
  .action(bundleCommand);

program
  .command('ls')
  .description("list the manifest's plugins: name, kind, version, path, isolation and methods")
  .option('--dir <dir>', 'directory holding manifest.json (or the manifest file)', '.')
  .option('--json', 'print JSON')
  .action(lsCommand);

program
  .command('new')
  .description('create a plugin project that installs, builds and passes its own test out of the box')
  .addArgument(new Argument('<kind>', 'native (in-process) or dynamic (subprocess)').choices(['native', 'dynamic']))
  .argument('<name>', 'plugin name: [a-z][a-z0-9_-]*')
  .addOption(new Option('--lang <lang>', 'language (native: c, cpp; dynamic: ts, python); default c or ts').choices(['c', 'cpp', 'ts', 'python']))
  .option('--dir <dir>', 'project directory (default: ./<name>)')
  .option('--plughost <spec>', "the project's plughost dependency: a version range, or a local plughost tarball (.tgz) or directory (default: your app's, else ^<this version>)")
  .action(newCommand);

program
  .command('call')
  .description('load a plugin from the manifest (verified) and call one of its portable methods')
  .argument('<name>', 'plugin name in the manifest')
  .argument('<method>', 'a bytes-in, bytes-out method')
  .option('--manifest <path>', 'manifest.json or its directory', '.')
  .option('--data <text>', 'payload as UTF-8 text')
  .option('--file <file>', 'payload from a file')
  .option('--hex', 'print the result as hex')
  .option('--isolate', 'run a native plugin in a subprocess for this call')
  .addOption(new Option('--timeout <ms>', 'call deadline in milliseconds').argParser(positiveInteger))
  .option('--json', 'print JSON')
  .action(callCommand);

// The benchmarks measure plughost's own example plugins: they run from a checkout, not from an installed package.
program
  .command('bench', { hidden: !benchAvailable() })
  .description('measure both paths on this machine and print the trade-off table (JSON in bench/results/); in a plughost checkout')
  .argument('[names...]', 'native, dynamic (default: both)')
  .option('--json', 'print JSON')
  .option('--quick', 'fewer rounds')
  .action(benchCommand);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Usage errors exit 2, so scripts can tell them from a refused plugin (1).
  if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 2;
  else reportUnexpected(err);
}
