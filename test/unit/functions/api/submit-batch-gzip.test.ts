/**
 * POST /batches with the file gzip-compressed (`Content-Encoding: gzip`): the decompressed file is
 * what is stored and what the 5 MiB limit applies to; a body that is not gzip is 400 090004016.
 */
import './env.ts';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { BatchGetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import 'aws-sdk-client-mock-vitest/extend';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { BATCH_BODY_MAX_BYTES } from '#shared/api/batch-schemas.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import {
  apiEvent,
  bodyOf,
  errorOf,
  fakeIdempotencyTable,
  lambdaContext,
  loadApiFunction,
  TABLES,
} from './support.ts';

const { handler, documents, s3, idempotencyDb } = await loadApiFunction('submit-batch');

/** POST /batches with this body, type and coding; the body goes base64, as API Gateway sends it. */
const postEvent = (body: Buffer, type: string, encoding: string | undefined) =>
  apiEvent({
    method: 'POST',
    path: '/batches',
    headers: {
      'Content-Type': type,
      ...(encoding !== undefined && { 'Content-Encoding': encoding }),
    },
    body: body.toString('base64'),
    isBase64Encoded: true,
  });

beforeEach(() => {
  const heads = new Map<string, Record<string, unknown>>();
  documents.on(PutCommand).callsFake((input: PutCommand['input']) => {
    const item = input.Item as Record<string, unknown>;
    if (heads.has(item.id as string)) {
      throw new ConditionalCheckFailedException({ message: 'exists', $metadata: {} });
    }
    heads.set(item.id as string, item);
    return {};
  });
  documents.on(BatchGetCommand).resolves({ Responses: { [TABLES.batches]: [] } });
  s3.on(PutObjectCommand).resolves({ ETag: '"abc"' });
  fakeIdempotencyTable(idempotencyDb);
});

/** A .txt file of `bytes` bytes: short prompts, one a line. */
function prompts(bytes: number): Buffer {
  const file = Buffer.alloc(bytes, 'a');
  for (let at = 31; at < bytes; at += 32) file[at] = 0x0a;
  return file;
}

describe('POST /batches with Content-Encoding: gzip', () => {
  it('stores the decompressed file of exactly 5 MiB, with its media type', async () => {
    const file = prompts(BATCH_BODY_MAX_BYTES);
    const result = await handler(postEvent(gzipSync(file), 'text/plain', 'gzip'), lambdaContext());
    expect(result.statusCode).toBe(201);
    expect(bodyOf(result)).toMatchObject({ status: 'validating', format: 'txt' });
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.ContentType).toBe('text/plain');
    expect(Buffer.compare(put?.Body as Buffer, file)).toBe(0);
  });

  it('refuses a file one byte over 5 MiB once decompressed with 413 090004005, storing nothing', async () => {
    const result = await handler(
      postEvent(gzipSync(prompts(BATCH_BODY_MAX_BYTES + 1)), 'text/plain', 'gzip'),
      lambdaContext(),
    );
    expect(result.statusCode).toBe(413);
    expect(errorOf(result).code).toBe(ErrorCodes.API_BODY_TOO_LARGE);
    expect(documents).not.toHaveReceivedCommand(PutCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it.each([
    ['a body that is not gzip', 'gzip', 400, ErrorCodes.API_BODY_NOT_GZIP],
    ['another coding', 'br', 415, ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE],
  ])(
    'refuses %s (Content-Encoding %s) with %i %s, storing nothing',
    async (_name, encoding, status, code) => {
      const result = await handler(
        postEvent(Buffer.from('a red kite\n'), 'text/plain', encoding),
        lambdaContext(),
      );
      expect(result.statusCode).toBe(status);
      expect(errorOf(result).code).toBe(code);
      expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    },
  );

  it('reads a gzip upload request as JSON, as it would the same request uncompressed', async () => {
    const request = Buffer.from(JSON.stringify({ upload: { format: 'jsonl', bytes: 10 } }));
    const result = await handler(
      postEvent(gzipSync(request), 'application/json', 'gzip'),
      lambdaContext(),
    );
    expect(result.statusCode).toBe(201);
    expect(bodyOf(result)).toMatchObject({ status: 'awaiting_upload', format: 'jsonl' });
  });
});
