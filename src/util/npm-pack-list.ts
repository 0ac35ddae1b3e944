// The files `npm pack` would publish from a package directory: npm's own
// rules ("files", .npmignore, .gitignore, what is always in or out), asked
// of npm itself rather than re-implemented.
import { execFile } from 'node:child_process';
import path from 'node:path';

import { BuildError } from '../errors.js';

/**
 * Relative POSIX paths, sorted. Anything under a node_modules directory is
 * left out (npm packs a nested project's node_modules; a deploy installs
 * dependencies from the lockfile instead). Scripts are not run.
 */
export async function npmPackList(dir: string): Promise<string[]> {
  const npmCli = process.env.npm_execpath;
  // Under `npm run`/`npx`, npm_execpath is npm's own CLI: run it with this Node.
  const [program, args] =
    npmCli !== undefined && /npm-cli\.js$|npx-cli\.js$/.test(npmCli)
      ? [process.execPath, [npmCli.replace(/npx-cli\.js$/, 'npm-cli.js')]]
      : ['npm', []];
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      program,
      [...args, 'pack', '--dry-run', '--json', '--ignore-scripts', '--loglevel', 'error'],
      { cwd: dir, maxBuffer: 256 * 1024 * 1024, timeout: 120_000, env: { ...process.env, npm_config_workspaces: 'false' } },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            new BuildError('PLUGHOST_BUILD_FAILED', `npm could not list the files of the package in ${dir}: ${firstLine(stderr) || err.message}`, {
              file: path.join(dir, 'package.json'),
              hint: `Run npm pack --dry-run in ${dir} to see why`,
              cause: err,
            }),
          );
          return;
        }
        resolve(stdout);
      },
    );
  });
  let files: Array<{ path: string }>;
  try {
    files = (JSON.parse(output) as Array<{ files: Array<{ path: string }> }>)[0]!.files;
  } catch (err) {
    throw new BuildError('PLUGHOST_BUILD_FAILED', `npm pack --dry-run --json printed something unexpected in ${dir}`, { cause: err });
  }
  return files
    .map((f) => f.path.split(path.sep).join('/'))
    .filter((p) => !p.split('/').includes('node_modules'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function firstLine(text: string): string {
  return text.trim().split('\n').find((l) => l.trim() !== '')?.replace(/^npm error /, '') ?? '';
}
