// Finding Node's C headers locally, so a build never tries to download them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface NodeHeaders {
  /** A directory to pass as node-gyp's --nodedir, or null when node-gyp's own cache has the headers. */
  readonly nodedir: string | null;
  readonly source: string;
}

function hasHeaders(dir: string): boolean {
  return (
    fs.existsSync(path.join(dir, 'include', 'node', 'common.gypi')) &&
    fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h'))
  );
}

/** Where node-gyp can find headers for the running Node without a download; null if nowhere. */
export function findNodeHeaders(env: NodeJS.ProcessEnv = process.env): NodeHeaders | null {
  const configured = env.npm_config_nodedir;
  if (configured && hasHeaders(configured)) return { nodedir: configured, source: 'npm_config_nodedir' };
  // Distribution packages and official tarballs install headers beside the binary.
  const beside = path.resolve(path.dirname(process.execPath), '..');
  if (hasHeaders(beside)) return { nodedir: beside, source: `headers beside ${process.execPath}` };
  const cacheRoot = env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  const cached = path.join(cacheRoot, 'node-gyp', process.versions.node);
  if (hasHeaders(cached)) return { nodedir: null, source: `node-gyp cache ${cached}` };
  return null;
}
