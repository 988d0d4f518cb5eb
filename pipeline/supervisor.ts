/**
 * The command line runs a compression in a child process and supervises it, so SIGINT/SIGTERM stop the run
 * within a second in any phase: a phase busy in synchronous work (a large wasm kernel, a solver, module loading)
 * cannot run a signal handler, but it can be killed.
 *
 * The child reports what it is doing (its progress lines) and every temporary it creates or puts aside
 * (pending-cleanup.ts). On a signal the supervisor asks the child to stop (it cleans up and exits at once when its
 * event loop is free), kills it after STOP_GRACE_MS if not, undoes whatever the child left registered, and says
 * where the run stopped.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCleanupActions, type CleanupAction, type CleanupMessage } from './io/pending-cleanup.ts';

/** Set in the child's environment: it runs the compression itself and reports to its parent. */
export const CHILD_ENV = 'SLIMNET_SUPERVISED_CHILD';
/** How long a child gets to stop on its own before it is killed. */
export const STOP_GRACE_MS = 400;

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
const BIN = fileURLToPath(new URL('../bin/slimnet.js', import.meta.url));

export interface ProgressMessage {
  slimnetProgress: string;
}

export function isSupervisedChild(): boolean {
  return process.env[CHILD_ENV] === '1' && typeof process.send === 'function';
}

/** In the child: forwards a progress line to the supervisor (it names the phase an interrupt stopped). */
export function reportProgress(message: string): void {
  if (!isSupervisedChild() || !process.connected) return;
  try {
    process.send!({ slimnetProgress: message } satisfies ProgressMessage);
  } catch {
    // The supervisor is gone; nothing to tell.
  }
}

/**
 * In the child: a signal (from the terminal's process group or forwarded by the supervisor) exits at once; the
 * exit hook of pending-cleanup.ts removes temporaries. A lost supervisor stops the run too. Returns the function
 * to call when the run is over: it closes the channel to the supervisor, which would otherwise keep the child alive.
 */
export function installChildSignalHandlers(): () => void {
  for (const [signal, code] of Object.entries(SIGNAL_EXIT)) process.on(signal, () => process.exit(code));
  const lostSupervisor = () => process.exit(SIGNAL_EXIT.SIGTERM!);
  process.on('disconnect', lostSupervisor);
  return () => {
    process.off('disconnect', lostSupervisor);
    if (process.connected) process.disconnect();
  };
}

/** Node flags worth passing on (memory limits and the like), without the TypeScript loader tsx adds. */
function childExecArgv(): string[] {
  return process.execArgv.filter((a) => !/tsx|loader|--import|--require|preflight/.test(a));
}

/** Runs `argv` (a compress command line) in a supervised child; resolves with the exit code to use. */
export function superviseCompress(argv: string[], write: (text: string) => void): Promise<number> {
  const started = performance.now();
  const child: ChildProcess = fork(BIN, argv, {
    env: { ...process.env, [CHILD_ENV]: '1' },
    execArgv: childExecArgv(),
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, CleanupAction>();
  let phase = 'starting';
  let interrupt: { signal: string; at: number } | undefined;
  let killTimer: NodeJS.Timeout | undefined;

  child.on('message', (m: Partial<CleanupMessage & ProgressMessage>) => {
    if (m.slimnetProgress !== undefined) phase = m.slimnetProgress;
    const c = m.slimnetCleanup;
    if (c?.op === 'add') pending.set(c.id, c.action);
    else if (c?.op === 'done') pending.delete(c.id);
  });

  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupt) {
      child.kill('SIGKILL'); // a second interrupt: stop now
      return;
    }
    interrupt = { signal, at: performance.now() };
    // The terminal signals the whole process group; a `kill <pid>` reaches only this process: pass it on.
    child.kill(signal);
    killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  };
  const signals = Object.keys(SIGNAL_EXIT) as NodeJS.Signals[];
  for (const s of signals) process.on(s, onSignal);

  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(killTimer);
      for (const s of signals) process.off(s, onSignal);
      // Whatever the child could not undo itself (it was killed, or died).
      runCleanupActions([...pending.values()]);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (interrupt) {
        const stopMs = Math.round(performance.now() - interrupt.at);
        write(`slimnet: interrupted (${interrupt.signal}) ${seconds} s into the run, during "${phase}"; stopped in ${stopMs} ms. ` +
          'Nothing was written to the output folder and no partial files were left\n');
        resolve(SIGNAL_EXIT[interrupt.signal] ?? 130);
      } else if (signal) {
        write(`slimnet: internal error: the run was killed by ${signal} during "${phase}"${signal === 'SIGKILL' ? ' (out of memory?)' : ''}; ` +
          'the output folder is as it was\n');
        resolve(3);
      } else {
        resolve(code ?? 3);
      }
    });
  });
}
