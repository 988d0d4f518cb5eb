/**
 * What must be undone if the process ends before a write finishes: scratch folders to remove, a folder renamed
 * aside to put back. Every writer registers its temporaries here while they exist, so an interrupt (or any exit)
 * leaves no partial files and never loses the previous artifacts.
 *
 * Undone synchronously on process exit; when the run is a supervised child (pipeline/supervisor.ts), each change is
 * also sent to the supervisor, which undoes what is left after it has killed a child that did not stop in time.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';

export type CleanupAction =
  /** Remove a temporary file or folder. */
  | { kind: 'remove'; path: string }
  /** Put `from` (the previous artifacts, renamed aside) back at `to` unless `to` exists again. */
  | { kind: 'restore'; from: string; to: string };

export interface CleanupMessage {
  slimnetCleanup: { op: 'add'; id: number; action: CleanupAction } | { op: 'done'; id: number };
}

const pending = new Map<number, CleanupAction>();
let nextId = 1;
let exitHookInstalled = false;

/** Registers `action` until the returned function is called (when the temporary is gone or committed). */
export function registerCleanup(action: CleanupAction): () => void {
  if (!exitHookInstalled) {
    process.on('exit', runPendingCleanup);
    exitHookInstalled = true;
  }
  const id = nextId++;
  pending.set(id, action);
  notifySupervisor({ slimnetCleanup: { op: 'add', id, action } });
  return () => {
    if (pending.delete(id)) notifySupervisor({ slimnetCleanup: { op: 'done', id } });
  };
}

/** Undoes every pending action, restores first (so the previous artifacts come back before scratch goes). */
export function runPendingCleanup(): void {
  const actions = [...pending.values()];
  pending.clear();
  runCleanupActions(actions);
}

export function runCleanupActions(actions: CleanupAction[]): void {
  const ordered = [...actions.filter((a) => a.kind === 'restore'), ...actions.filter((a) => a.kind === 'remove')];
  for (const action of ordered) {
    try {
      if (action.kind === 'remove') rmSync(action.path, { recursive: true, force: true });
      else if (!existsSync(action.to) && existsSync(action.from)) renameSync(action.from, action.to);
    } catch {
      // Best effort at exit: the next run sweeps what is left (see output-folder.ts).
    }
  }
}

function notifySupervisor(message: CleanupMessage): void {
  if (typeof process.send !== 'function' || !process.connected) return;
  try {
    process.send(message);
  } catch {
    // The supervisor is gone; the exit hook still cleans up.
  }
}
