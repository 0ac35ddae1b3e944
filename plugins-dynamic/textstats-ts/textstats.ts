// textstats as a dynamic plugin on the TypeScript SDK: the same statsBytes
// as the native plugin (plugins-native/textstats), plus `echo` (benchmarks)
// and the STREAM method `upper`.
//
// Configuration (optional, JSON): {"topK": 0..10000} sets how many words
// statsBytes lists (default 10, the native statsBytes).
import { PluginError, serve } from '../../src/sdk/index.js';
import { DEFAULT_TOP_K, MAX_TOP_K, statsBytes } from './stats.js';

let topK = DEFAULT_TOP_K;

function upperAscii(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length);
  for (let i = 0; i < message.length; i++) {
    const c = message[i]!;
    out[i] = c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
  }
  return out;
}

function parseConfig(config: Uint8Array): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(config.buffer, config.byteOffset, config.byteLength).toString('utf8'));
  } catch (err) {
    throw new PluginError('PLUGHOST_INVALID_ARGUMENT', `config is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PluginError('PLUGHOST_INVALID_ARGUMENT', 'config must be a JSON object');
  }
  const k = (parsed as { topK?: unknown }).topK ?? DEFAULT_TOP_K;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > MAX_TOP_K) {
    throw new PluginError('PLUGHOST_INVALID_ARGUMENT', `config.topK must be an integer from 0 to ${MAX_TOP_K}`);
  }
  return k;
}

await serve({
  name: 'textstats',
  version: '1.0.0',
  methods: {
    statsBytes: (text) => statsBytes(text, topK),
    echo: (payload) => payload,
  },
  streams: {
    upper: async function* (input) {
      for await (const message of input) yield upperAscii(message);
    },
  },
  configure: (config) => {
    topK = parseConfig(config);
  },
});
