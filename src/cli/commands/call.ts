import fs from 'node:fs';

import { createHost, createJsonLogger, PlughostUsageError, type Host } from '../../index.js';
import { formatMs, printJson, reportFailure } from '../output.js';

export interface CallCommandOptions {
  manifest?: string;
  data?: string;
  file?: string;
  hex?: boolean;
  json?: boolean;
  isolate?: boolean;
  timeout?: string;
}

function readPayload(opts: CallCommandOptions): Buffer {
  if (opts.file === undefined) return Buffer.from(opts.data ?? '');
  try {
    return fs.readFileSync(opts.file);
  } catch (err) {
    throw new PlughostUsageError('PLUGHOST_INVALID_ARGUMENT', `--file: cannot read the payload: ${(err as Error).message}`, { file: opts.file, cause: err });
  }
}

/** `plughost call NAME METHOD`: load one plugin from the manifest and call a portable method. */
export async function callCommand(name: string, method: string, opts: CallCommandOptions): Promise<void> {
  const started = performance.now();
  let host: Host | undefined;
  try {
    const payload = readPayload(opts);
    host = createHost({ manifest: opts.manifest ?? '.', logger: createJsonLogger('warn') });
    const plugin = await host.load(name, opts.isolate === undefined ? {} : { isolate: opts.isolate });
    const loaded = performance.now();
    const out = Buffer.from(await plugin.call(method, payload, opts.timeout === undefined ? {} : { timeoutMs: Number(opts.timeout) }));
    const called = performance.now();
    const output = opts.hex ? out.toString('hex') : out.toString('utf8');
    if (opts.json) {
      printJson({ ok: true, plugin: name, kind: plugin.kind, isolated: plugin.isolated, method, bytesIn: payload.length, bytesOut: out.length, output, loadMs: loaded - started, callMs: called - loaded });
    } else {
      process.stdout.write(output + '\n');
      process.stderr.write(
        `called ${name}.${method} (${plugin.kind}${plugin.isolated ? ', isolated' : ''}): ${payload.length} bytes in, ${out.length} out; ` +
          `load ${formatMs(loaded - started)}, call ${formatMs(called - loaded)}\n`,
      );
    }
  } catch (err) {
    reportFailure(err, opts.json === true, { plugin: name, method });
  } finally {
    await host?.close();
  }
}
