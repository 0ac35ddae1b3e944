#!/usr/bin/env node
// Prints the build ID that plugins and the host are stamped with.
// One implementation, used by plughost.gypi (<!(node ...)), plughost.cmake and
// the TypeScript build (src/release/build-id.ts) so they can never disagree.
//
// The release is the project's (the app, or a plugin package built on its
// own), never plughost's: the project is the nearest package.json above the
// working directory that is not inside node_modules.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

// Printable, shell- and C-string-safe, fits the 64-byte descriptor field.
const BUILD_ID_PATTERN = /^[A-Za-z0-9._+-]{1,63}$/;

/** The project a path belongs to: the nearest package.json above it, outside node_modules; null if none. */
function findProjectRoot(start = process.cwd()) {
  const parts = path.resolve(start).split(path.sep);
  // A build run from inside an installed package (node-gyp expanding
  // plughost.gypi) belongs to the project that installed it.
  const inModules = parts.indexOf('node_modules');
  let dir = inModules === -1 ? path.resolve(start) : parts.slice(0, inModules).join(path.sep) || path.sep;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

function gitCommit(root) {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: root, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8',
    }).trim();
  } catch {
    return null; // not a git checkout (an unpacked tarball, a deploy) or no commit yet
  }
}

/** `<version>+g<commit>` in a git checkout, else `<version>+local`; `0.0.0+local` without a project. */
function defaultBuildId(root) {
  if (root === null) return '0.0.0+local';
  let version = '0.0.0';
  try {
    const v = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
    if (typeof v === 'string' && v !== '') version = v.replace(/[^A-Za-z0-9._-]/g, '-');
  } catch {
    // An unreadable package.json still has a project; keep the placeholder version.
  }
  const commit = gitCommit(root);
  return `${version}+${commit === null || commit === '' ? 'local' : `g${commit}`}`.slice(0, 63);
}

/** PLUGHOST_BUILD_ID if set, else the project's default; validated. */
function resolveBuildId(env = process.env, root = findProjectRoot()) {
  const id = env.PLUGHOST_BUILD_ID || defaultBuildId(root);
  if (!BUILD_ID_PATTERN.test(id)) {
    throw new Error(`invalid build ID ${JSON.stringify(id)}: use 1-63 characters from [A-Za-z0-9._+-]`);
  }
  return id;
}

module.exports = { resolveBuildId, defaultBuildId, findProjectRoot, BUILD_ID_PATTERN };

if (require.main === module) {
  try {
    process.stdout.write(resolveBuildId());
  } catch (err) {
    process.stderr.write(`plughost: ${err.message}\n`);
    process.exit(1);
  }
}
