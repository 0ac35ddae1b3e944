// One place in a plugin's pool: the instance running there now, if any, and
// what the supervisor is doing about it. The pool reads slots; only the
// supervisor (and a reload, through it) changes them.
import { CrashWindow, type RestartPolicy } from './restart-policy.js';
import type { ExitStatus } from './process.js';

export type SlotState = 'starting' | 'ready' | 'restarting' | 'failed' | 'closed';

/** What the pool needs of an instance to choose one. */
export interface PoolMember {
  readonly alive: boolean;
  readonly inFlight: number;
}

/** What the supervisor needs of an instance to watch and replace it (PluginInstance is one). */
export interface SupervisedInstance extends PoolMember {
  readonly process: { stderrTail(): string[] };
  onExit(listener: (status: ExitStatus, expected: boolean) => void): void;
  shutdown(): Promise<void>;
}

export interface Slot<I> {
  instance: I | null;
  state: SlotState;
  readonly crashes: CrashWindow;
  failure: Error | undefined;
  /** Bumped whenever what the slot should run changes (restart, reload, close): a stale restart shuts its result down. */
  generation: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** The restart attempt under way, awaited by close(). */
  restarting: Promise<void> | undefined;
  /** Callers waiting for this slot to be ready (or to give up). */
  waiters: Array<{ resolve(): void }>;
}

export function newSlot<I>(policy: Required<RestartPolicy>): Slot<I> {
  return {
    instance: null,
    state: 'starting',
    crashes: new CrashWindow(policy),
    failure: undefined,
    generation: 0,
    restartTimer: undefined,
    restarting: undefined,
    waiters: [],
  };
}

/** Lets everyone waiting on the slot look again (it became ready, failed or closed). */
export function wake(slot: Slot<unknown>): void {
  for (const waiter of slot.waiters.splice(0)) waiter.resolve();
}
