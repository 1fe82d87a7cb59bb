/**
 * The reading of a prompt file's lines, once the file is known to be its owner's batch: each valid
 * line's record and count first, then its execution, at a steady pace of starts (faster only when
 * the rest of the file would not otherwise start before the invocation ends), telling the batch
 * how far the file has been read and stopping when the batch is cancelled.
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import { PromptFileReadError } from './errors.ts';
import { type FileIdentity, promptLineId } from './ids.ts';
import type { PromptFileFormat } from './keys.ts';
import { countingBytes } from './object-body.ts';
import { DEFAULT_MAX_LINE_BYTES, parsePromptFile } from './parser.ts';
import type { PromptFileDeps } from './processor.ts';
import type { ReportBuilder } from './report.ts';
import { StartPacer, startGeneration, TaskPool } from './starter.ts';

/** `StartExecution` calls in flight per file. */
export const DEFAULT_START_CONCURRENCY = 10;

/**
 * Starts a second per file. Five files at once (the function's reserved concurrency) stay within
 * 125 a second, under Step Functions' smallest StartExecution refill (150 a second), and so leave
 * room for the API and the schedules; it is faster than slots free up under any sensible cap
 * (100 slots of 4-second generations take 25 a second).
 */
export const DEFAULT_STARTS_PER_SECOND = 25;

/**
 * Time kept back at the end of the invocation for the starts in flight and the report. Past the
 * point where the rest of a file could not start at the usual pace in the time left before it,
 * the pace rises to what it takes.
 */
export const START_TIME_RESERVE_MS = 60_000;

/**
 * How often the batch is told how far its file has been read (and asked whether it was
 * cancelled): a cancel stops the starts within this time.
 */
export const BATCH_PROGRESS_INTERVAL_MS = 500;

/** The file being read, as the processor found it. */
export interface FileToRead {
  /** The object's body, a stream of byte chunks. */
  readonly body: AsyncIterable<Uint8Array | string>;
  /** Its size as HeadObject gave it, when it did. */
  readonly size: number | undefined;
  readonly file: FileIdentity;
  readonly owner: string;
  readonly batchId: string;
  readonly format: PromptFileFormat;
  /** The file's report, which each line is added to. */
  readonly report: ReportBuilder;
}

/**
 * Starts the file's valid lines and adds every line to the report. Throws `PromptFileReadError`
 * when the reading itself fails (the event is retried); a start that failed beyond its retries
 * ends the reading, with the starts in flight drained.
 */
export async function startFileLines(reading: FileToRead, deps: PromptFileDeps): Promise<void> {
  const { body, size, file, owner, batchId, format, report } = reading;
  const read = countingBytes(body);

  const pool = new TaskPool(deps.concurrency ?? DEFAULT_START_CONCURRENCY);
  const pacer = new StartPacer({
    perSecond: deps.startsPerSecond ?? DEFAULT_STARTS_PER_SECOND,
    ...(deps.clock && { now: deps.clock }),
    ...(deps.sleep && { sleep: deps.sleep }),
  });
  /** The pace at which the lines after `line` must start to be done in the time left. */
  const neededPerSecond = (line: number): number => {
    if (deps.remainingMs === undefined) return 0;
    const leftMs = deps.remainingMs() - START_TIME_RESERVE_MS;
    if (leftMs <= 0) return Number.POSITIVE_INFINITY;
    if (size === undefined || read.bytes === 0) return 0;
    const linesLeft = (Math.max(0, size - read.bytes) * line) / read.bytes;
    return linesLeft / (leftMs / 1000);
  };
  const starter = {
    sfn: deps.sfn,
    stateMachineArn: deps.stateMachineArn,
    ...(deps.retry && { retry: deps.retry }),
    ...(deps.sleep && { sleep: deps.sleep }),
    ...(deps.random && { random: deps.random }),
  };
  // Tells the batch how far the file has been read, at most every BATCH_PROGRESS_INTERVAL_MS.
  const clock = deps.clock ?? (() => performance.now());
  let reportedAt = clock();
  const progress = {
    async due(): Promise<string | undefined> {
      if (clock() - reportedAt < BATCH_PROGRESS_INTERVAL_MS) return undefined;
      reportedAt = clock();
      const { summary } = report;
      return deps.ledger.progress(batchId, {
        lines: summary.accepted + summary.rejected,
        rejected: summary.rejected,
        read: false,
      });
    },
  };
  const limits = {
    maxBytes: deps.maxBytes,
    maxLines: deps.maxLines,
    maxLineBytes: deps.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
  };
  try {
    for await (const item of parsePromptFile(read.chunks, format, limits)) {
      switch (item.kind) {
        case 'skipped':
          report.skipped(item.line);
          break;
        case 'invalid':
          report.rejected(item.line, item.error);
          break;
        case 'file-error':
          report.fail(item.error);
          break;
        case 'request': {
          const id = promptLineId(file, item.line);
          report.accepted(item.line, id, item.warnings);
          const input = {
            id,
            request: item.request,
            source: 's3' as const,
            sourceRef: `s3://${file.bucket}/${file.key}#${item.line}`,
            owner,
          };
          const line = { ...input, batchId, line: item.line };
          await pacer.turn(neededPerSecond(item.line));
          // The record (and the line's count) first, then the execution: a retried reading finds
          // the record and starts the execution if it was not (StartExecution is idempotent).
          await pool.add(async () => {
            await deps.ledger.lineAccepted(line);
            return startGeneration(input, starter);
          });
          break;
        }
      }
      // A start that failed beyond its retries ends the file here; the event is retried.
      if (pool.failed) break;
      if ((await progress.due()) === 'cancelled') {
        report.fail({
          code: ErrorCodes.BATCH_CANCELLED,
          message: `Batch ${batchId} was cancelled: no line after the ${report.summary.lines} read by then was started`,
        });
        break;
      }
    }
  } catch (error) {
    await pool.settle();
    throw new PromptFileReadError(`Reading s3://${file.bucket}/${file.key} failed`, {
      cause: error,
    });
  }
  await pool.drain();
}
