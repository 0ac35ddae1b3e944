// The layering of the dynamic path, checked with dependency-cruiser on the
// sources: no import cycle among the files of src/dynamic, src/metrics,
// src/sdk and src/protocol; metrics never imports the dynamic path (the
// dynamic path reports to metrics, not the other way round); the SDK, shipped
// as `plughost/sdk` inside plugin processes, loads only itself, the protocol
// and small utilities.
import path from 'node:path';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');

const rules: IForbiddenRuleType[] = [
  { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  { name: 'metrics-not-to-dynamic', severity: 'error', from: { path: '^src/metrics/' }, to: { path: '^src/dynamic/' } },
  {
    name: 'sdk-stays-small',
    severity: 'error',
    from: { path: '^src/sdk/' },
    to: { path: '^src/', pathNot: '^src/(sdk|protocol|util)/' },
  },
  { name: 'protocol-is-a-leaf', severity: 'error', from: { path: '^src/protocol/' }, to: { path: '^src/(dynamic|metrics|sdk)/' } },
];

let result: ICruiseResult;

beforeAll(async () => {
  const previous = process.cwd();
  process.chdir(root);
  try {
    const output = await cruise(['src/dynamic', 'src/metrics', 'src/sdk', 'src/protocol'], {
      validate: true,
      ruleSet: { forbidden: rules },
      doNotFollow: { path: 'node_modules' },
      tsPreCompilationDeps: true,
    });
    result = output.output as ICruiseResult;
  } finally {
    process.chdir(previous);
  }
}, 60_000);

describe('layering of the dynamic path', () => {
  it('resolves the .js specifiers to the .ts sources (otherwise the rules below check nothing)', () => {
    const facade = result.modules.find((m) => m.source === 'src/dynamic/dynamic-plugin.ts');
    expect(facade?.dependencies.map((d) => d.resolved)).toEqual(expect.arrayContaining(['src/dynamic/pool.ts', 'src/metrics/call-timer.ts']));
    expect(result.modules.filter((m) => m.couldNotResolve && m.source.startsWith('src/'))).toEqual([]);
  });

  it('breaks none of the rules', () => {
    const violations = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (${v.cycle.map((c) => c.name).join(' → ')})` : ''}`);
    expect(violations).toEqual([]);
  });
});
