// A plugin must not outlive its host (docs/protocol.md §5): leave when stdin
// reaches EOF (the host closed it or died) or when the host is no longer our
// parent.
import fs from 'node:fs';

import { processAlive as alive } from '../util/pid-dirs.js';

const PARENT_POLL_MS = 500;

function stdinIsPipe(): boolean {
  try {
    const stat = fs.fstatSync(0);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false; // no stdin at all
  }
}

/** Calls `onHostGone` (once) when the host is gone. Returns a function that stops watching. */
export function watchHost(parentPid: number | undefined, onHostGone: (why: string) => void): () => void {
  let done = false;
  const gone = (why: string): void => {
    if (done) return;
    done = true;
    stop();
    onHostGone(why);
  };

  // The host gives us a pipe; EOF on /dev/null or a file means nothing.
  const stdin = stdinIsPipe() ? process.stdin : undefined;
  const onEnd = (): void => gone('stdin reached EOF');
  stdin?.on('end', onEnd);
  stdin?.on('error', onEnd);
  stdin?.on('data', () => {}); // drained and discarded: the host writes nothing on it

  // Normally the host is our parent. If a wrapper (a shell, npx) sits between
  // them, watch that the wrapper stays our parent and the host stays alive.
  const initialParent = process.ppid;
  const timer =
    parentPid === undefined
      ? undefined
      : setInterval(() => {
          if (process.ppid !== initialParent) gone(`the parent process ${initialParent} is gone`);
          else if (initialParent !== parentPid && !alive(parentPid)) gone(`the host process ${parentPid} is gone`);
        }, PARENT_POLL_MS);
  timer?.unref();

  function stop(): void {
    if (timer !== undefined) clearInterval(timer);
    if (stdin === undefined) return;
    stdin.off('end', onEnd);
    stdin.off('error', onEnd);
    stdin.pause();
    (stdin as { unref?: () => void }).unref?.();
  }
  return () => {
    done = true;
    stop();
  };
}
