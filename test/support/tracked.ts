// What a test file starts — child processes, gRPC clients, temp dirs — all
// killed, closed and removed after each test (registered with afterEach).
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach } from 'vitest';

export function tracked<C extends ChildProcess>(prefix: string): { children: C[]; clients: Array<{ close(): void }>; tempDir: () => string } {
  const children: C[] = [];
  const clients: Array<{ close(): void }> = [];
  const dirs: string[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    fs.chmodSync(dir, 0o700);
    dirs.push(dir);
    return dir;
  };
  return { children, clients, tempDir };
}
