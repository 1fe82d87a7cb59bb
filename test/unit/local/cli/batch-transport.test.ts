/**
 * How the CLI sends a prompt file: gzip-compressed in the body of POST /batches when the file is
 * within 5 MiB and its compressed body, base64 in Lambda's event, fits Lambda's 6 MB; otherwise
 * by the pre-signed upload.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '#local/cli/client/api-client.ts';
import { batchTransport, sendBatch } from '#local/cli/client/batches.ts';
import {
  BATCH_BODY_FITS_BYTES,
  BATCH_BODY_MAX_BYTES,
  bodyFitsLambdaEvent,
  EVENT_ENVELOPE_ALLOWANCE_BYTES,
  LAMBDA_EVENT_MAX_BYTES,
} from '#shared/api/batch-schemas.ts';
import { API_KEY, type FakeApi, startFakeApi } from './fake-api.ts';

/** A .txt file of `bytes` bytes of short prompts. */
function prompts(bytes: number): Buffer {
  const line = Buffer.from('a red kite over a grey sea at dawn\n');
  const file = Buffer.alloc(bytes);
  for (let at = 0; at < bytes; at += line.length) line.copy(file, at);
  return file;
}

describe('the body limit as Lambda sees it', () => {
  it('fits a body whose base64, with the envelope allowance, is within 6,291,456 bytes', () => {
    const base64 = (bytes: number) => Math.ceil(bytes / 3) * 4;
    expect(base64(BATCH_BODY_FITS_BYTES) + EVENT_ENVELOPE_ALLOWANCE_BYTES).toBeLessThanOrEqual(
      LAMBDA_EVENT_MAX_BYTES,
    );
    expect(BATCH_BODY_FITS_BYTES).toBe(4_521_984);
    expect(bodyFitsLambdaEvent(BATCH_BODY_FITS_BYTES)).toBe(true);
    expect(bodyFitsLambdaEvent(BATCH_BODY_FITS_BYTES + 1)).toBe(false);
    // The figure the docs give: 4 MiB as it is always fits; 5 MiB as it is never does.
    expect(bodyFitsLambdaEvent(4 * 1024 * 1024)).toBe(true);
    expect(bodyFitsLambdaEvent(BATCH_BODY_MAX_BYTES)).toBe(false);
  });
});

describe('batchTransport', () => {
  it('sends a file of exactly 5 MiB of prompts gzip-compressed in the body', () => {
    const file = prompts(BATCH_BODY_MAX_BYTES);
    const chosen = batchTransport(file);
    expect(chosen.kind).toBe('body');
    if (chosen.kind !== 'body') return;
    expect(chosen.gzip.length).toBeLessThan(file.length / 10);
    expect(gunzipSync(chosen.gzip).equals(file)).toBe(true);
  });

  it('sends a file one byte over 5 MiB by the upload, however well it compresses', () => {
    expect(batchTransport(prompts(BATCH_BODY_MAX_BYTES + 1))).toEqual({
      kind: 'upload',
      reason: 'over-body-limit',
    });
  });

  it('sends a file under 5 MiB by the upload when even compressed its event would not fit', () => {
    // Incompressible: its gzip is a little larger than the file, past the 4,521,984 that fit.
    const file = randomBytes(BATCH_BODY_FITS_BYTES);
    expect(batchTransport(file)).toEqual({ kind: 'upload', reason: 'event-too-large' });
    // One that compresses a little goes in the body.
    const half = Buffer.concat([randomBytes(2 * 1024 * 1024), prompts(3 * 1024 * 1024)]);
    expect(batchTransport(half).kind).toBe('body');
  });
});

describe('sendBatch', () => {
  let api: FakeApi;
  beforeAll(async () => {
    api = await startFakeApi();
  });
  afterAll(() => api.close());

  it('posts the file with Content-Encoding: gzip, and the API reads the file', async () => {
    const file = prompts(1024 * 1024);
    const batch = await sendBatch(
      new ApiClient(api.url, API_KEY),
      { body: file, format: 'txt' },
      new AbortController().signal,
    );
    const post = api.requests.find((request) => request.method === 'POST');
    expect(post?.contentEncoding).toBe('gzip');
    expect(post?.sentBytes).toBeLessThan(file.length / 10);
    expect(api.batches.get(batch.id)?.file?.equals(file)).toBe(true);
    expect(api.batches.get(batch.id)?.contentType).toBe('text/plain');
  });
});
