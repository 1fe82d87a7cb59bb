/**
 * How large a prompt file can be in the body of POST /batches, against `spark-t2i serve` over
 * real HTTP: the API has every media type binary, so the body reaches the function base64-encoded,
 * and the twin refuses (as Lambda does) a proxy event over 6,291,456 bytes; API Gateway answers
 * that 413 before the handler runs. Sent with `Content-Encoding: gzip`, a 5 MiB file fits.
 */
import { gzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { type ServedRuntime, serve, waitFor } from '../helpers/serve.ts';

const ALICE = 'sk_alice_0123456789abcdefghij';
/** A key of its own, so its list shows only what these tests created. */
const DAVE = 'sk_dave_0123456789abcdefghijk';
const MiB = 1024 * 1024;

let runtime: ServedRuntime;

const post = async (key: string, body: Buffer, headers: Record<string, string> = {}) => {
  const response = await fetch(`${runtime.endpoints.api}/batches`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain', ...headers },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** `bytes` of comment lines: the trigger reads the file and starts nothing. */
function comments(bytes: number): Buffer {
  const file = Buffer.alloc(bytes, '#');
  for (let at = 999; at < file.length; at += 1000) file[at] = 0x0a;
  return file;
}

beforeAll(async () => {
  runtime = await serve({ env: { SPARK_T2I_API_KEYS: `alice:${ALICE},dave:${DAVE}` } });
}, 90_000);
afterAll(() => runtime?.stop());

describe("POST /batches under Lambda's request limit", () => {
  it('takes a 4 MiB body as it is', async () => {
    const { status, body } = await post(ALICE, comments(4 * MiB));
    expect(status).toBe(201);
    expect(body.status).toBe('validating');
  });

  it('refuses a 5 MiB body at the gateway with 413, before the handler runs', async () => {
    const refused = await post(DAVE, comments(5 * MiB));
    expect(refused).toEqual({
      status: 413,
      body: { error: { code: ErrorCodes.API_BODY_TOO_LARGE, message: 'Request Too Long' } },
    });
    // The handler never ran: no batch was written.
    const list = await fetch(`${runtime.endpoints.api}/batches`, {
      headers: { authorization: `Bearer ${DAVE}` },
    });
    expect(((await list.json()) as { items: unknown[] }).items).toEqual([]);
  });
});

describe('POST /batches with Content-Encoding: gzip', () => {
  const gzip = { 'content-encoding': 'gzip' };

  it('takes a file just under 5 MiB, stores its exact bytes, and reads its lines', async () => {
    // Comment lines (skipped) pad it; the short prompts at its end are read only if all of it came.
    const tail = Buffer.from('a red kite\na blue boat\na green pear\n');
    const file = Buffer.concat([comments(5 * MiB - 64 - tail.length), Buffer.from('\n'), tail]);
    expect(file.length).toBeLessThan(5 * MiB);
    const { status, body } = await post(ALICE, gzipSync(file), gzip);
    expect(status).toBe(201);
    const source = body.source as { bucket: string; key: string };
    const stored = await runtime
      .s3()
      .send(new GetObjectCommand({ Bucket: source.bucket, Key: source.key }));
    expect(Buffer.from((await stored.Body?.transformToByteArray()) ?? []).equals(file)).toBe(true);
    const counts = await waitFor(
      `the lines of batch ${body.id}`,
      async () => {
        const read = await fetch(`${runtime.endpoints.api}/batches/${body.id}`, {
          headers: { authorization: `Bearer ${ALICE}` },
        });
        const batch = (await read.json()) as { counts: { lines: number; accepted: number } };
        return batch.counts.lines > 0 ? batch.counts : undefined;
      },
      30_000,
    );
    expect(counts).toMatchObject({ lines: 3, accepted: 3 });
  });

  it('refuses a file one byte over 5 MiB once decompressed with 413 090004005', async () => {
    const refused = await post(DAVE, gzipSync(comments(5 * MiB + 1)), gzip);
    expect(refused).toEqual({
      status: 413,
      body: { error: { code: ErrorCodes.API_BODY_TOO_LARGE, message: expect.any(String) } },
    });
  });

  it('refuses a body that is not gzip with 400 090004016', async () => {
    const refused = await post(DAVE, Buffer.from('a red kite\n'), gzip);
    expect(refused).toEqual({
      status: 400,
      body: { error: { code: ErrorCodes.API_BODY_NOT_GZIP, message: expect.any(String) } },
    });
  });
});
