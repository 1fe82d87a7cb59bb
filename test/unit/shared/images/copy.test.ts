/**
 * The copy's checks on what an image URL serves, against a real HTTP server on 127.0.0.1 (its
 * origin exempt, as the simulator's is locally) with S3 mocked: size limits declared and
 * streamed, truncated bodies, content types and magic bytes, expired and missing URLs.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { copyImage } from '#shared/images/copy.ts';
import {
  ImageDownloadError,
  ImageTooLargeError,
  ImageTruncatedError,
  ImageUrlExpiredError,
  NotAnImageError,
} from '#shared/images/errors.ts';
import { type LoopbackServer, listenOnLoopback } from '../../../helpers/loopback-server.ts';

const s3 = mockClient(S3Client);
const LIMIT = 4096;
/** A PNG signature and IHDR (64 x 32), then filler: enough for the sniffer and the size. */
const png = (bytes: number) => {
  const head = Buffer.from('89504e470d0a1a0a0000000d49484452000000400000002008060000', 'hex');
  return Buffer.concat([head, Buffer.alloc(Math.max(0, bytes - head.length), 7)]);
};

let server: LoopbackServer;
let origin: string;

beforeAll(async () => {
  server = await listenOnLoopback((req, res) => {
    switch (req.url) {
      case '/ok.png': {
        const body = png(3000);
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length });
        return res.end(body);
      }
      case '/declared-too-large.png':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': LIMIT + 1 });
        return res.end(png(LIMIT + 1));
      case '/streamed-too-large.png':
        // No Content-Length: only counting the bytes can catch it.
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(png(LIMIT));
        return res.end(Buffer.alloc(LIMIT));
      case '/truncated.png':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': 3000 });
        res.write(png(1000));
        return setTimeout(() => res.destroy(), 20);
      case '/page.html':
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html>not an image</html>');
      case '/gif-as-png.png':
        res.writeHead(200, { 'content-type': 'image/png' });
        return res.end(Buffer.from('GIF89a________________________'));
      case '/expired.png':
        res.writeHead(403);
        return res.end();
      default:
        res.writeHead(404);
        return res.end();
    }
  });
  origin = server.origin;
});
afterAll(() => server.close());
beforeEach(() => {
  s3.reset();
  // A streaming PUT reads its body as S3 would.
  s3.on(PutObjectCommand).callsFake(async (input: { Body: AsyncIterable<Buffer> }) => {
    for await (const _chunk of input.Body);
    return {};
  });
});

const copy = (path: string) =>
  copyImage({
    s3: new S3Client({ region: 'us-east-1' }),
    url: `${origin}${path}`,
    bucket: 'images',
    key: (type) => `images/x.${type.split('/')[1]}`,
    policy: { insecureOrigins: [origin], allowedHosts: [] },
    maxBytes: LIMIT,
    timeoutMs: 5000,
  });

describe('copyImage', () => {
  it('stores the image with its size, sha256, type and dimensions', async () => {
    const served = png(3000);

    const copied = await copy('/ok.png');

    expect(copied).toEqual({
      bucket: 'images',
      key: 'images/x.png',
      size: served.length,
      sha256: createHash('sha256').update(served).digest('hex'),
      contentType: 'image/png',
      width: 64,
      height: 32,
    });
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'images',
      Key: 'images/x.png',
      ContentType: 'image/png',
    });
  });

  it.each([
    ['declares more than the size limit', '/declared-too-large.png', ImageTooLargeError],
    [
      'streams more than the size limit without declaring it',
      '/streamed-too-large.png',
      ImageTooLargeError,
    ],
    ['ends before its Content-Length', '/truncated.png', ImageTruncatedError],
    ['is served as text/html', '/page.html', NotAnImageError],
    ['claims image/png but is not a PNG, JPEG or WebP', '/gif-as-png.png', NotAnImageError],
    ['answers 403 (expired)', '/expired.png', ImageUrlExpiredError],
    ['answers 404', '/missing.png', ImageDownloadError],
  ])('refuses an image URL that %s', async (_name, path, type) => {
    await expect(copy(path)).rejects.toBeInstanceOf(type);
  });
});
