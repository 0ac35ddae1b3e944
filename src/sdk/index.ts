// plughost/sdk: write a dynamic plughost plugin in TypeScript.
//
//   import { serve, PluginError } from 'plughost/sdk';
//   await serve({ name: 'hello', version: '1.0.0', methods: { echo: (p) => p } });
export { serve } from './serve.js';
export { PluginError } from './plugin-error.js';
export type { BatchHandler, CallContext, MethodHandler, PluginDefinition, RunningPlugin, StreamHandler } from './types.js';
export { PLUGHOST_COOKIE } from '../protocol/handshake.js';
