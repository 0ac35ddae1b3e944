// SHA-256 as the lowercase hex every pin in plughost uses.
import { createHash } from 'node:crypto';
import fs from 'node:fs';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function sha256File(file: string): string {
  return sha256Hex(fs.readFileSync(file));
}
