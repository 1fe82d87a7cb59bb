/**
 * How large a prompt file can be in the body of POST /batches, against `spark-t2i serve` over
 * real HTTP: the API has every media type binary, so the body reaches the function base64-encoded,
 * and the twin refuses (as Lambda does) a proxy event over 6,291,456 bytes; API Gateway answers
 * that 413 before the handler runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { type ServedRuntime, serve } from '../helpers/serve.ts';

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
