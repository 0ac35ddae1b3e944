// How a dynamic manifest entry is started: its argv and environment. One
// place, so `plughost build` describes a plugin exactly as the host runs it.
import { resolveProgram, type Launch } from '../dynamic/program.js';

export type { Launch } from '../dynamic/program.js';

/** "{path}" becomes the entry file and "{dir}" the manifest's directory; the program as by resolveProgram(). */
export function launchCommand(
  command: readonly string[],
  file: string,
  dir: string,
  env: Readonly<Record<string, string>> | undefined,
): Launch {
  const argv = command.map((arg) => arg.replaceAll('{path}', file).replaceAll('{dir}', dir));
  return resolveProgram(argv, env);
}
