/**
 * How long Lambda may go on trying one prompt file: the function's timeout, the age past which an
 * event it has not managed to process goes to the dead-letter queue, and from both, when a batch
 * whose reading stands still can no longer be read by anyone. SDK-free: the stack configures the
 * function from these, and the reconciler's sweep decides from them.
 */

/** The prompt-file function's timeout: one reading of a file, started lines drained. */
export const PROMPT_FILE_TIMEOUT_SECONDS = 15 * 60;

/**
 * Lambda's limit on the age of a prompt file's event: its retries, and its waits while the
 * function's reserved concurrency is taken by other files, end there (Lambda's default, set
 * explicitly so the sweep below can count on it).
 */
export const PROMPT_FILE_MAX_EVENT_AGE_SECONDS = 6 * 60 * 60;

/**
 * A batch whose file is not read to its end, and whose reading has not moved for this long, has
 * no reading left that could move it: the last attempt could start just before its event's age
 * ran out and run to the timeout. Its event is in the dead-letter queue.
 */
export const READING_ABANDONED_AFTER_SECONDS =
  PROMPT_FILE_MAX_EVENT_AGE_SECONDS + PROMPT_FILE_TIMEOUT_SECONDS;
