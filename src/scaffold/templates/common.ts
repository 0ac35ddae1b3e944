// Pieces every generated project shares: package.json, README, .gitignore.

export interface TemplateContext {
  /** The plugin's name (also the npm package name and the build target). */
  readonly name: string;
  /** The plughost dependency for package.json: "^0.1.0", or "file:../plughost-0.1.0.tgz". */
  readonly plughostRange: string;
  /** Where that dependency comes from, in words, for the README. */
  readonly plughostSource: string;
  /** Version ranges of the build tools a project needs (node-gyp, cmake-js), as plughost's peer dependencies have them. */
  readonly toolRanges: Readonly<Record<string, string>>;
  /** Where binding.gyp includes plughost.gypi from, relative to the project. */
  readonly gypi: string;
}

/** File path (relative, POSIX) → contents. */
export type ProjectFiles = Record<string, string>;

export function packageJson(ctx: TemplateContext, fields: Record<string, unknown>): string {
  const { scripts, plugins, devDependencies, files, ...rest } = fields;
  const pkg = {
    name: ctx.name,
    version: '1.0.0',
    private: true,
    type: 'module',
    ...rest,
    // What npm would publish, and what a bundle ships of this project inside an app.
    files,
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
plughost comes from ${ctx.plughostSource} (\`"plughost": "${ctx.plughostRange}"\` in
package.json); change it there to use another.

\`plughost build\` also writes \`manifest.json\` (every plugin with its pins) for
\`plughost bundle\` and \`createHost()\`. To ship this plugin with an app, list
the project in the app's package.json: \`"plughost": { "plugins": [{ "project": "${ctx.name}" }] }\`;
\`plughost build\` in the app then builds it with the app's build ID (see
plughost's docs/getting-started.md and docs/deploying.md).
`;
}
