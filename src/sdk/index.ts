// plughost/sdk: write a dynamic plughost plugin in TypeScript.
//
//   import { serve, PluginError } from 'plughost/sdk';
//   await serve({ name: 'hello', version: '1.0.0', methods: { echo: (p) => p } });
//
// The same program serves remote hosts when run with PLUGHOST_LISTEN=host:port
// (docs/protocol.md, "Server mode").
export { serve } from './serve.js';
export { PluginError } from './plugin-error.js';
export type {
  BatchHandler,
  CallContext,
  HostCallOptions,
  HostServices,
  MethodHandler,
  PluginDefinition,
  RunningPlugin,
  StreamHandler,
} from './types.js';
export { LISTENING_PREFIX, PLUGHOST_COOKIE, SERVER_ENV } from '../protocol/handshake.js';
