// Bundles: pack a deploy into one reproducible .tar.gz, and verify a deploy before it goes out.
export { BUNDLE_MTIME, packBundle } from './pack.js';
export type { PackOptions, PackResult, PackedGroup } from './pack.js';
export { verifyDeploy } from './verify.js';
export type { DeployVerification, VerifyDeployOptions } from './verify.js';
export { BUNDLE_UNSAFE, checkBundleEntries, extractBundle } from './extract.js';
export { isDeployLocation } from './verify.js';
export { readApp } from './app.js';
export type { AppPackage } from './app.js';
