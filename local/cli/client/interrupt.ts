/**
 * Ctrl-C for long-running commands: the first SIGINT (or SIGTERM) aborts a signal that the
 * command's polling and requests listen to, so it can stop, close what it started and exit with
 * 128 + the signal number (130 for Ctrl-C). A second one while cleaning up exits at once.
 */

/** Thrown (as the abort reason) when the user interrupted the command. */
export class InterruptedError extends Error {
  readonly exitCode: number;

  constructor(signal: NodeJS.Signals) {
    super(`interrupted (${signal})`);
    this.name = 'InterruptedError';
    this.exitCode = signal === 'SIGTERM' ? 143 : 130;
  }
}

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Throws the {@link InterruptedError} if the user interrupted. */
  check(): void;
  /** Removes the handlers; the default Ctrl-C behaviour comes back. */
  dispose(): void;
}

export function trapInterrupt(): Interrupt {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write('\ninterrupted again: exiting now\n');
      process.exit(signal === 'SIGTERM' ? 143 : 130);
    }
    controller.abort(new InterruptedError(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    check() {
      if (controller.signal.aborted) throw controller.signal.reason;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The exit code for an error that came from an interrupt, or `undefined` for any other error. */
export function interruptExitCode(error: unknown, signal?: AbortSignal): number | undefined {
  if (error instanceof InterruptedError) return error.exitCode;
  if (signal?.aborted && signal.reason instanceof InterruptedError) return signal.reason.exitCode;
  return undefined;
}
