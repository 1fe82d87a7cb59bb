/**
 * A prompt file as a batch, through the HTTP API only (no AWS credentials): sent gzip-compressed
 * as the body when it is small enough, else by an upload request and a PUT to the pre-signed URL;
 * then followed by its counts to its end, with a progress bar.
 */
import { gzipSync } from 'node:zlib';
import { SingleBar } from 'cli-progress';
import {
  BATCH_BODY_MAX_BYTES,
  bodyFitsLambdaEvent,
  UPLOAD_CONTENT_TYPES,
} from '#shared/api/batch-schemas.ts';
import type { PromptFileFormat } from '#shared/prompt-files/keys.ts';
import {
  type ApiClient,
  ApiError,
  type Batch,
  type Generation,
  isTerminalStatus,
  isTransient,
} from './api-client.ts';
import { formatElapsed } from './output.ts';
import { sleep } from './poll.ts';

const FOLLOW_INTERVAL_MS = 1000;
/** Failed reads in a row past which following gives up (the batch goes on). */
const MAX_FAILING_READS = 5;

/** How a file goes: gzip-compressed in the body of POST /batches, or by a pre-signed upload. */
export type BatchTransport =
  | { readonly kind: 'body'; readonly gzip: Buffer }
  | { readonly kind: 'upload'; readonly reason: 'over-body-limit' | 'event-too-large' };

/**
 * The body when the file is within the body limit (5 MiB, which the API applies to the file
 * decompressed) and its gzip, base64-encoded in Lambda's event with room for the rest of the
 * event, fits Lambda's 6 MB: else the upload. Deciding on the raw size alone sent files API
 * Gateway could take but Lambda could not (docs/decisions.md D34-P).
 */
export function batchTransport(body: Buffer): BatchTransport {
  if (body.byteLength > BATCH_BODY_MAX_BYTES) return { kind: 'upload', reason: 'over-body-limit' };
  const gzip = gzipSync(body);
  if (!bodyFitsLambdaEvent(gzip.byteLength)) return { kind: 'upload', reason: 'event-too-large' };
  return { kind: 'body', gzip };
}

/** Sends the file and answers its batch. */
export async function sendBatch(
  client: ApiClient,
  file: { readonly body: Buffer; readonly format: PromptFileFormat },
  signal: AbortSignal,
): Promise<Batch> {
  const contentType = UPLOAD_CONTENT_TYPES[file.format];
  const transport = batchTransport(file.body);
  if (transport.kind === 'body') {
    return client.submitBatchFile(transport.gzip, contentType, signal, 'gzip');
  }
  const batch = await client.requestBatchUpload(
    { format: file.format, bytes: file.body.byteLength },
    signal,
  );
  if (batch.upload === undefined) throw new Error(`batch ${batch.id} came without its upload URL`);
  const put = await fetch(batch.upload.url, {
    method: batch.upload.method,
    headers: batch.upload.headers,
    body: file.body,
    signal,
  });
  if (!put.ok) {
    const text = await put.text();
    throw new Error(
      `the upload of batch ${batch.id} was refused: HTTP ${put.status} ${/<Code>([^<]+)</.exec(text)?.[1] ?? ''}`.trimEnd(),
    );
  }
  return batch;
}

/**
 * Reads the batch about once a second until it ends (or `timeoutMs`, when not 0), the bar fed by
 * its counts: lines ended (completed, failed or cancelled) over lines accepted.
 */
export async function followBatch(
  client: ApiClient,
  id: string,
  options: { readonly timeoutMs: number; readonly signal: AbortSignal },
): Promise<Batch> {
  const tty = process.stderr.isTTY === true;
  const bar = new SingleBar({
    format:
      ' {bar} {value}/{total} done | completed {completed} failed {failed} running {running} queued {queued} | {elapsed} | ETA {remaining}',
    stream: process.stderr,
    hideCursor: tty,
    noTTYOutput: !tty,
    notTTYSchedule: 5000,
  });
  const started = Date.now();
  const progress = ({ counts }: Batch) => {
    const ended = counts.completed + counts.failed + counts.cancelled;
    const elapsed = Date.now() - started;
    const remaining =
      ended === 0 || ended >= counts.accepted
        ? '-'
        : formatElapsed((elapsed / ended) * (counts.accepted - ended));
    return { ended, payload: { ...counts, remaining, elapsed: formatElapsed(elapsed) } };
  };
  const show = (batch: Batch) => {
    const { ended, payload } = progress(batch);
    bar.setTotal(batch.counts.accepted);
    bar.update(ended, payload);
  };
  let batch = await client.getBatch(id, options.signal);
  const first = progress(batch);
  bar.start(batch.counts.accepted, first.ended, first.payload);
  let failing = 0;
  try {
    for (;;) {
      show(batch);
      if (isTerminalStatus(batch.status)) return batch;
      if (options.timeoutMs > 0 && Date.now() - started > options.timeoutMs) return batch;
      await sleep(FOLLOW_INTERVAL_MS, options.signal);
      try {
        batch = await client.getBatch(id, options.signal);
        failing = 0;
      } catch (error) {
        if (options.signal.aborted) throw options.signal.reason;
        if (!isTransient(error) || ++failing >= MAX_FAILING_READS) throw error;
      }
    }
  } finally {
    bar.stop();
  }
}

/** The batch's report, or undefined when it was not written (a batch cancelled before its file). */
export async function reportOf(client: ApiClient, id: string, signal: AbortSignal) {
  try {
    return await client.batchReport(id, signal);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
}

/** Every generation of the batch with this status, in line order. */
export async function generationsOf(
  client: ApiClient,
  id: string,
  status: 'failed' | 'cancelled',
  signal: AbortSignal,
): Promise<Generation[]> {
  const found: Generation[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.batchGenerations(
      id,
      { status, limit: 100, ...(cursor !== undefined && { cursor }) },
      signal,
    );
    found.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return found;
}
