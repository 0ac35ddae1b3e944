// The layering of src/ (docs/architecture.md): each rule names a folder and
// what it must not import. Checked by test/house/architecture.test.ts.
const base = 'errors\\.ts|logger\\.ts|package-root\\.ts|util/';
const only = (name, from, allowed, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: `^src/(${from})` },
  to: { path: '^src/', pathNot: `^src/(${from}|${allowed})` },
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No file may import itself through others.', from: {}, to: { circular: true } },
    only('base', base, base, 'errors, logger, package-root and util are the floor: they import nothing else.'),
    only('protocol', 'protocol/', base, 'The wire: message shapes, the handshake, limits. Shared by the host and the SDK.'),
    only('platform', 'platform/', base, 'Facts about this machine; everything platform-specific lives here.'),
    only('sdk', 'sdk/', `${base}|protocol/`, 'plughost/sdk runs inside plugins: it must not pull in the host.'),
    only('native', 'native/', `${base}|platform/|protocol/`, 'Reading, verifying and loading plugin files.'),
    only('metrics', 'metrics/', `${base}|native/plugin\\.ts$`, 'Metrics observe: the dynamic path reports to their hooks; they know only the NativePlugin type.'),
    only('dynamic', 'dynamic/', `${base}|platform/|protocol/|metrics/(status|call-timer|plugin-observer)\\.ts$`, 'Supervised subprocess plugins over gRPC.'),
    only('remote', 'remote/', `${base}|protocol/|dynamic/|metrics/(status|call-timer|plugin-observer)\\.ts$`, 'Plugins whose servers run elsewhere: balanced, health-checked, over mutual TLS.'),
    only('prebuild', 'prebuild/', `${base}|platform/|native/`, 'Choosing the prebuild of a plugin package that fits this machine.'),
    only('manifest', 'manifest/', `${base}|platform/|native/|dynamic/|prebuild/`, 'The manifest: its schema, reading it, verifying its entries.'),
    only('release', 'release/', `${base}|platform/|native/|manifest/`, 'Which release (build ID) this app is.'),
    only('isolate', 'isolate/', `${base}|platform/|native/|dynamic/|sdk/`, 'A native plugin run in a subprocess over the dynamic protocol.'),
    only('registry', 'registry/', `${base}|platform/|native/|dynamic/|isolate/options\\.ts$|manifest/|prebuild/`, 'Plugins by name from a manifest.'),
    only('host', 'host\\.ts$', `${base}|platform/|native/|dynamic/|metrics/|manifest/|prebuild/|release/|registry/|remote/`, 'The host: the root of the runtime.'),
    {
      name: 'host-without-sdk',
      comment: 'Loading the host must not load the plugin SDK (its gRPC server); only the isolation runner serves.',
      severity: 'error',
      from: { path: '^src/(index|host)\\.ts$' },
      to: { path: '^src/sdk/', reachable: true },
    },
    {
      name: 'tooling-not-cli',
      comment: 'build, bundle and scaffold are functions users call; the CLI is above them, never below.',
      severity: 'error',
      from: { path: '^src/(build|bundle|scaffold)/' },
      to: { path: '^src/(cli/|index\\.ts|tools\\.ts|metrics/index\\.ts)' },
    },
    {
      name: 'cli-is-thin',
      comment: 'The CLI parses, calls the public API (plughost, plughost/tools) and prints.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(cli/|index\\.ts$|tools\\.ts$)' },
    },
    {
      name: 'entries-on-top',
      comment: 'The public entries re-export; nothing inside imports them (the CLI excepted).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli/|index\\.ts$|tools\\.ts$|metrics/index\\.ts$)' },
      to: { path: '^src/(index|tools)\\.ts$|^src/metrics/index\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
