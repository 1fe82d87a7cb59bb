/** A gzip request body decoded under a bound: the file, a 413 past the limit, a 400 for bad gzip. */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeBody } from '#shared/api/content-encoding.ts';
import { HttpError } from '#shared/api/errors.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

const LIMIT = 64 * 1024;

function refusal(run: () => unknown): { status: number; code: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    const { status, code } = error as HttpError & { status: number };
    return { status, code };
  }
  throw new Error('expected a refusal');
}

describe('decodeBody', () => {
  it('answers the body as it is without a coding, or with identity', () => {
    const raw = Buffer.from('a red kite\n');
    expect(decodeBody(raw, undefined, LIMIT)).toBe(raw);
    expect(decodeBody(raw, 'identity', LIMIT)).toBe(raw);
  });

  it('decompresses gzip (and x-gzip, in any case) up to exactly the limit', () => {
    const file = Buffer.alloc(LIMIT, 'a');
    expect(decodeBody(gzipSync(file), 'gzip', LIMIT)).toEqual(file);
    expect(decodeBody(gzipSync(file), ' X-GZIP ', LIMIT)).toEqual(file);
  });

  it('refuses a body one byte over the limit once decompressed with 413 090004005', () => {
    const over = gzipSync(Buffer.alloc(LIMIT + 1, 'a'));
    expect(refusal(() => decodeBody(over, 'gzip', LIMIT))).toEqual({
      status: 413,
      code: ErrorCodes.API_BODY_TOO_LARGE,
    });
  });

  it('stops a zip bomb at the limit: 64 MiB of zeros in 64 KiB of gzip costs milliseconds', () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(70 * 1024);
    const started = performance.now();
    expect(refusal(() => decodeBody(bomb, 'gzip', 5 * 1024 * 1024)).status).toBe(413);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it.each([
    ['not gzip at all', Buffer.from('a red kite\n')],
    ['truncated', gzipSync(Buffer.alloc(10_000, 'a')).subarray(0, 20)],
    ['followed by other bytes', Buffer.concat([gzipSync('a'), Buffer.from('zz')])],
  ])('refuses a body that is %s with 400 090004016', (_, body) => {
    expect(refusal(() => decodeBody(body, 'gzip', LIMIT))).toEqual({
      status: 400,
      code: ErrorCodes.API_BODY_NOT_GZIP,
    });
  });

  it.each(['br', 'deflate', 'gzip, gzip', 'zstd'])(
    'refuses Content-Encoding %s with 415',
    (coding) => {
      expect(refusal(() => decodeBody(gzipSync('a'), coding, LIMIT))).toEqual({
        status: 415,
        code: ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE,
      });
    },
  );

  it('leaves an empty gzip body empty, for the route to refuse', () => {
    expect(decodeBody(Buffer.alloc(0), 'gzip', LIMIT)).toHaveLength(0);
  });
});
