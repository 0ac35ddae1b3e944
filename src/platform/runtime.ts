// The runtime facts a prebuild's tags may name (node-gyp-build's vocabulary):
// besides the platform tuple, the Node-API ceiling, the ABI, libuv, ARM version.
import { currentLibc, type Libc } from './target.js';

/** The machine a prebuild must fit: the tuple, and the runtime facts tags may also name. */
export interface RuntimeFacts {
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  readonly libc: Libc;
  /** The highest Node-API version this Node supports. */
  readonly napi: number;
  readonly runtime: string;
  /** process.versions.modules: what an `abi<N>` tag must equal (a non-Node-API build). */
  readonly abi: string;
  /** Major libuv version: what a `uv<N>` tag must equal. */
  readonly uv: string;
  /** ARM version ('8' on arm64): what an `armv<N>` tag must equal; '' elsewhere. */
  readonly armv: string;
}

export function currentFacts(): RuntimeFacts {
  const variables = (process.config?.variables ?? {}) as { arm_version?: string };
  return {
    platform: process.platform,
    arch: process.arch,
    libc: currentLibc(),
    napi: Number(process.versions.napi ?? 0),
    runtime: process.versions.electron ? 'electron' : process.versions.nw ? 'node-webkit' : 'node',
    abi: process.versions.modules,
    uv: (process.versions.uv ?? '').split('.')[0] ?? '',
    armv: process.arch === 'arm64' ? '8' : process.arch === 'arm' ? String(variables.arm_version ?? '') : '',
  };
}
