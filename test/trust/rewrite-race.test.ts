// A verified native plugin rewritten in place (same inode) while it loads:
// the pin must mean the bytes that run. A worker thread rewrites the file
// with other code under the same descriptor, as fast as it can, while the
// host verifies and loads it; every load that passes the pin must run the
// pinned code. Before loads used a private copy, dlopen of /proc/self/fd/N
// mapped the inode's live content: the evil code ran with the pin passing
// (about 1 try in 200 here), and the code changing under the running
// process crashed it (SIGBUS/SIGSEGV) within 1000 tries.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import { afterAll, beforeAll, expect, inject, it } from 'vitest';

import { createHost, type PlughostError } from '../../src/index.js';

const fx = inject('nativeFixtures');
const TRIES = 1000;
let tmp: string;
let worker: Worker;

// Rewrites the file named in each message in place (never a new inode) with
// the evil bytes and the good ones in turn, until the next message.
const REWRITER = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
let current = null;
parentPort.on('message', (m) => {
  if (current) fs.closeSync(current.fd);
  current = m.file ? { fd: fs.openSync(m.file, 'r+'), good: Buffer.from(m.good), evil: Buffer.from(m.evil) } : null;
  parentPort.postMessage('ready');
  if (current) setImmediate(spin);
});
function spin() {
  const c = current;
  if (c === null) return;
  for (let i = 0; i < 200 && c === current; i++) {
    for (const bytes of [c.evil, c.good]) {
      fs.writeSync(c.fd, bytes, 0, bytes.length, 0);
      fs.ftruncateSync(c.fd, bytes.length);
    }
  }
  if (c === current) setImmediate(spin);
}`;

const ask = (message: object): Promise<void> =>
  new Promise((resolve) => {
    worker.once('message', () => resolve());
    worker.postMessage(message);
  });

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-rewrite-'));
  worker = new Worker(REWRITER, { eval: true });
});

afterAll(async () => {
  await worker.terminate();
  fs.rmSync(tmp, { recursive: true, force: true });
});

it(`runs only the pinned code while the file is rewritten in place (${TRIES} tries)`, async () => {
  const good = fs.readFileSync(path.join(fx.built, 'good.node'));
  const evil = fs.readFileSync(path.join(fx.built, 'good_evil.node'));
  const pin = createHash('sha256').update(good).digest('hex');
  const host = createHost({ buildId: fx.buildId, manifest: false });
  expect(host.loadNative(path.join(fx.built, 'good_evil.node'), { buildId: fx.buildId }).methods.hello()).toBe('EVIL! from fixture-good');
  const outcomes = { pinnedCodeRan: 0, refused: 0, otherCodeRan: 0 };
  for (let i = 0; i < TRIES; i++) {
    // A new file (a new inode) each try: a process loads a file once.
    const file = path.join(tmp, `try-${i}.node`);
    fs.writeFileSync(file, good);
    await ask({ file, good, evil });
    try {
      const greeting = host.loadNative(file, { sha256: pin }).methods.hello();
      if (greeting === 'hello from fixture-good') outcomes.pinnedCodeRan++;
      else outcomes.otherCodeRan++;
    } catch (err) {
      expect((err as PlughostError).code, String(err)).toMatch(/^PLUGHOST_/);
      outcomes.refused++;
    }
    await ask({});
  }
  expect(outcomes.otherCodeRan).toBe(0);
  // The race really ran: loads both passed and were refused (torn or evil bytes hashed).
  expect(outcomes.pinnedCodeRan).toBeGreaterThan(0);
  expect(outcomes.refused).toBeGreaterThan(0);
}, 120_000);
