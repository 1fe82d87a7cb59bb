/**
 * Task tokens of `.waitForTaskToken` states, as Step Functions hands them out and answers
 * SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat for them.
 */
import { randomUUID } from 'node:crypto';

/** Step Functions' answers to a task token nobody waits for. */
export class TaskTokenError extends Error {
  constructor(type: 'TaskTimedOut' | 'InvalidToken', message: string) {
    super(message);
    this.name = type;
  }
}

/** A Task state's failure with a chosen error name (SendTaskFailure, or the task's timeout). */
export class TaskFailure extends Error {
  constructor(error: string, cause: string) {
    super(cause);
    this.name = error;
  }
}

interface PendingToken {
  readonly execution: string;
  readonly resolve: (output: unknown) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Task tokens of `.waitForTaskToken` states: each is open from the moment its state hands it out
 * until SendTaskSuccess/SendTaskFailure answers it, the state times out, or its execution ends;
 * afterwards, as on AWS, answering it is refused with TaskTimedOut.
 */
export class TaskTokens {
  readonly #open = new Map<string, PendingToken>();
  readonly #closed = new Set<string>();

  mint(execution: string): string {
    return Buffer.from(`${execution}:${randomUUID()}`).toString('base64url');
  }

  expect(token: string, execution: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#open.set(token, { execution, resolve, reject });
    });
  }

  succeed(token: string, output: unknown): void {
    this.#take(token).resolve(output);
  }

  fail(token: string, error: string, cause: string): void {
    this.#take(token).reject(new TaskFailure(error, cause));
  }

  heartbeat(token: string): void {
    if (!this.#open.has(token)) this.#take(token);
  }

  close(token: string): void {
    if (this.#open.delete(token)) this.#closed.add(token);
  }

  /** Closes every token of an execution that ended. */
  closeExecution(execution: string): void {
    for (const [token, pending] of this.#open) {
      if (pending.execution === execution) this.close(token);
    }
  }

  #take(token: string): PendingToken {
    const pending = this.#open.get(token);
    if (pending) {
      this.close(token);
      return pending;
    }
    if (this.#closed.has(token)) {
      throw new TaskTokenError('TaskTimedOut', 'Task Timed Out: the task of this token has ended');
    }
    throw new TaskTokenError('InvalidToken', 'Invalid Token');
  }
}
