#!/usr/bin/env node
// Prints the build ID that plugins and the host are stamped with.
// One implementation, used by binding.gyp (<!(node ...)), plughost.cmake and
// the TypeScript build (src/build/build-id.ts) so they can never disagree.
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');

// Printable, shell- and C-string-safe, fits the 64-byte descriptor field.
const BUILD_ID_PATTERN = /^[A-Za-z0-9._+-]{1,63}$/;

function defaultBuildId(root) {
  const version = require(path.join(root, 'package.json')).version;
  let commit = 'local';
  try {
    commit = 'g' + execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: root, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8',
    }).trim();
  } catch {
    // Not a git checkout (e.g. an unpacked npm tarball): the version alone.
  }
  return `${version}+${commit}`;
}

function resolveBuildId(env = process.env, root = path.resolve(__dirname, '..')) {
  const id = env.PLUGHOST_BUILD_ID || defaultBuildId(root);
  if (!BUILD_ID_PATTERN.test(id)) {
    throw new Error(`invalid build ID ${JSON.stringify(id)}: use 1-63 characters from [A-Za-z0-9._+-]`);
  }
  return id;
}

module.exports = { resolveBuildId, BUILD_ID_PATTERN };

if (require.main === module) {
  try {
    process.stdout.write(resolveBuildId());
  } catch (err) {
    process.stderr.write(`plughost: ${err.message}\n`);
    process.exit(1);
  }
}
