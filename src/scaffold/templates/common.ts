// Pieces every generated project shares: package.json, README, .gitignore.

export interface TemplateContext {
  /** The plugin's name (also the npm package name and the build target). */
  readonly name: string;
  /** The plughost dependency range for package.json, e.g. "^0.1.0". */
  readonly plughostRange: string;
  /** Where binding.gyp includes plughost.gypi from, relative to the project. */
  readonly gypi: string;
}

/** File path (relative, POSIX) → contents. */
export type ProjectFiles = Record<string, string>;

export function packageJson(ctx: TemplateContext, fields: Record<string, unknown>): string {
  const { scripts, plugins, devDependencies, ...rest } = fields;
  const pkg = {
    name: ctx.name,
    version: '1.0.0',
    private: true,
    type: 'module',
    ...rest,
    scripts,
    dependencies: { plughost: ctx.plughostRange },
    ...(devDependencies === undefined ? {} : { devDependencies }),
    plughost: { plugins },
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

export function gitignore(extra: readonly string[] = []): string {
  return ['node_modules/', 'build/', 'dist/', 'manifest.json', ...extra].join('\n') + '\n';
}

export function readme(ctx: TemplateContext, what: string, steps: readonly string[], notes = ''): string {
  return `# ${ctx.name}

${what}

\`\`\`sh
${steps.join('\n')}
\`\`\`
${notes === '' ? '' : `\n${notes}\n`}
\`plughost build\` also writes \`manifest.json\` (every plugin with its pins) for
\`plughost bundle\` and \`createHost({ manifest })\`; see plughost's docs/deploying.md.
`;
}
