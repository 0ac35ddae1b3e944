// The host environment a plugin sees (docs/dynamic-plugins.md, "Environment"):
// by default only what a runtime needs to start, so that the host's secrets
// (API tokens, cloud credentials) stay home; more only by name.

/**
 * Host variables every plugin gets unless `inheritEnv` is false: the search
 * path, the user's home and name, locale and time zone, the temp directory
 * (TMPDIR is then pointed at the plugin's private directory), and the few
 * names Windows runtimes cannot start without. A name ending in `*` is a prefix.
 */
export const BASE_ENV: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LANGUAGE',
  'LC_*',
  'TZ',
  'TMPDIR',
  'SYSTEMROOT',
  'WINDIR',
  'COMSPEC',
  'PATHEXT',
  'TEMP',
  'TMP',
  'USERPROFILE',
];

export interface EnvChoice {
  /** true: the host's whole environment; false: none of it; default: BASE_ENV plus envAllow. */
  readonly inheritEnv?: boolean | undefined;
  /** More host variables by name (a trailing `*` matches a prefix). */
  readonly envAllow?: readonly string[] | undefined;
}

const matches = (pattern: string, name: string): boolean =>
  pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;

/** The part of `hostEnv` a plugin may see. */
export function inheritedEnv(choice: EnvChoice, hostEnv: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (choice.inheritEnv === false) return {};
  const picked: Record<string, string> = {};
  const patterns = choice.inheritEnv === true ? ['*'] : [...BASE_ENV, ...(choice.envAllow ?? [])];
  for (const [name, value] of Object.entries(hostEnv)) {
    if (value !== undefined && patterns.some((p) => matches(p, name))) picked[name] = value;
  }
  return picked;
}
