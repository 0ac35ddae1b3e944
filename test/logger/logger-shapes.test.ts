// Loggers as the ecosystem has them: pino (fields, message), console and
// winston-style (message, fields), plughost's own log(level, ...). A plugin's
// stderr reaches each of them; a wrong shape is refused when the host is made
// (and is a type error: test/logger/logger-shapes.types.ts); a logger that
// throws never takes the host down.
import { spawnSync } from 'node:child_process';
import { Console } from 'node:console';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { createHost, type Host, type LoggerLike } from '../../src/index.js';
import { bytes, fixturePlugin, root, text, waitFor } from '../dynamic/support.js';

const hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

/** Everything written to a stream, as text. */
function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (c: Buffer) => (out += c.toString()));
  return { stream, text: () => out };
}

/** Starts the fixture plugin under a host with `logger` and has it write one hclog line and one plain line to stderr. */
async function logThroughPlugin(logger: LoggerLike): Promise<void> {
  const host = createHost({ buildId: 'logger-test', manifest: false, logger });
  hosts.push(host);
  const plugin = await host.loadDynamic(fixturePlugin());
  await plugin.call('log', bytes(JSON.stringify({ '@level': 'warn', '@message': 'disk low', free: 3 })));
  expect(text(await plugin.call('echo', bytes('still serving')))).toBe('still serving');
}

describe('createHost({ logger })', () => {
  it('takes a real pino logger: fields first, the level kept', async () => {
    const out = sink();
    await logThroughPlugin(pino({ level: 'debug' }, out.stream));
    await waitFor(() => out.text().includes('disk low'), 5000, 'the plugin line in pino');
    const line = out.text().split('\n').find((l) => l.includes('disk low'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 40, msg: 'disk low', free: 3, plugin: 'fixture', stream: 'stderr' });
  });

  it('takes a console: message first, then the fields', async () => {
    const stdout = sink();
    const stderr = sink();
    await logThroughPlugin(new Console({ stdout: stdout.stream, stderr: stderr.stream }));
    await waitFor(() => stderr.text().includes('disk low'), 5000, 'the plugin line on the console');
    expect(stderr.text()).toMatch(/^disk low \{.*plugin: 'fixture'/m);
  });

  it('takes plughost\'s own shape', async () => {
    const entries: unknown[][] = [];
    await logThroughPlugin({ log: (...args: unknown[]) => void entries.push(args) });
    await waitFor(() => entries.some((e) => e[1] === 'disk low'), 5000, 'the plugin line');
    expect(entries.find((e) => e[1] === 'disk low')).toEqual(['warn', 'disk low', expect.objectContaining({ free: 3, plugin: 'fixture' })]);
  });

  it('survives a logger that throws, and says so once', async () => {
    let calls = 0;
    const throwing = {
      debug: () => {
        calls++;
        throw new Error('logger down');
      },
      info: () => {
        calls++;
        throw new Error('logger down');
      },
      warn: () => {
        calls++;
        throw new Error('logger down');
      },
      error: () => {
        calls++;
        throw new Error('logger down');
      },
    };
    const said: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      said.push(String(chunk));
      return true;
    });
    try {
      const host = createHost({ buildId: 'logger-test', manifest: false, logger: throwing });
      hosts.push(host);
      const plugin = await host.loadDynamic(fixturePlugin());
      for (const line of ['first', 'second']) {
        await plugin.call('log', bytes(line));
        await waitFor(() => calls >= (line === 'first' ? 1 : 2), 5000, `the ${line} line reaching the logger`);
      }
      expect(text(await plugin.call('echo', bytes('still serving')))).toBe('still serving');
    } finally {
      write.mockRestore();
    }
    expect(said.filter((l) => l.includes('the logger threw'))).toEqual(['plughost: the logger threw (further failures are not reported): logger down\n']);
  });

  it('refuses another shape with a typed error, before anything runs', () => {
    for (const bad of [{ info() {} }, { write() {} }, 42, 'info']) {
      expect(() => createHost({ buildId: 'logger-test', manifest: false, logger: bad as never }), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'PLUGHOST_INVALID_ARGUMENT', message: expect.stringContaining('logger has neither log(level, message, fields) nor debug/info/warn/error') }),
      );
    }
  });

  it('types: pino, console and plughost shapes compile; other shapes do not', () => {
    // Each wrong shape carries @ts-expect-error: if it compiled, tsc would fail on the unused directive.
    const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'test/logger/tsconfig.types.json')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
  }, 120_000);
});
