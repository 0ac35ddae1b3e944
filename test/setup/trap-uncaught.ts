// A trap for the dynamic fault tests (test/dynamic, test/trust): an
// `uncaughtException` or `unhandledRejection` while one of them runs would
// have crashed a real host, so it fails the test it happened in (or, after
// the last test, the file). Vitest's own handlers still report it too.
// Loaded for every file through vitest.config.ts `setupFiles`; other folders
// are not trapped. test/trust/host-survives.test.ts checks that it bites.
import { afterAll, afterEach, beforeAll } from 'vitest';

const trapped = /[\\/]test[\\/](dynamic|trust)[\\/][^\\/]+\.test\.ts$/;
const caught: Array<{ kind: string; error: unknown }> = [];
const onException = (error: unknown): void => void caught.push({ kind: 'uncaughtException', error });
const onRejection = (error: unknown): void => void caught.push({ kind: 'unhandledRejection', error });

function check(when: string): void {
  if (caught.length === 0) return;
  const found = caught.splice(0);
  const lines = found.map(({ kind, error }) => `${kind}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  throw new Error(`${found.length} error(s) escaped to the process ${when} (a host would have crashed):\n${lines.join('\n')}`);
}

beforeAll(({}, file) => {
  if (!trapped.test((file as { filepath?: string }).filepath ?? '')) return;
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
});

afterEach(() => check('during this test'));

afterAll(async () => {
  // An unhandled rejection is reported after the microtasks of its turn: give it that turn.
  await new Promise((resolve) => setImmediate(resolve));
  process.off('uncaughtException', onException);
  process.off('unhandledRejection', onRejection);
  check('after the last test of this file');
});
