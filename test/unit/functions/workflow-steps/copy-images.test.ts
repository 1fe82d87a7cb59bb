/** CopyImages through its handler and as a step: images served by a real HTTP server, S3 mocked. */
import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import { startSimulator } from '#local/simulator/index.ts';
import { copyImagesStep } from '#shared/generation/copy-step.ts';
import {
  completedTask,
  context,
  copyImages,
  freshImport,
  type Handler,
  images,
  png,
  queued,
  s3,
} from './support.ts';

/** What the copy records of generation gen-1's first image, stored from these bytes. */
function firstImageStored(bytes: Buffer, width: number, height: number): Record<string, unknown> {
  return {
    bucket: 'images',
    key: 'images/alice/gen-1/0.png',
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    contentType: 'image/png',
    width,
    height,
  };
}

describe('CopyImages', () => {
  it('streams each image into the images bucket with its sha256, type and size', async () => {
    const done = await completedTask();
    // S3 reads the streamed body; the mock must too, or the copy never sees its bytes.
    s3.on(PutObjectCommand).callsFake(async (input: { Body: AsyncIterable<Buffer> }) => {
      for await (const _chunk of input.Body);
      return {};
    });
    const imageUrl = done.images?.[0]?.url as string;
    const served = Buffer.from(await (await fetch(imageUrl)).arrayBuffer());

    const result = (await copyImages(
      { id: 'gen-1', owner: 'alice', request: queued.request, images: done.images },
      context,
    )) as { images: Array<Record<string, unknown>>; dynamoImages: unknown[] };

    expect(result.images).toEqual([
      { ...firstImageStored(served, 512, 512), jobId: done.images?.[0]?.jobId },
    ]);
    expect(result.dynamoImages).toEqual([
      expect.objectContaining({
        M: expect.objectContaining({ key: { S: 'images/alice/gen-1/0.png' } }),
      }),
    ]);
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put).toMatchObject({
      Bucket: 'images',
      Key: 'images/alice/gen-1/0.png',
      ContentType: 'image/png',
      ContentLength: served.length,
    });
  });

  it('fails with ImageTruncatedError, for the workflow to retry, when the download is cut short', async () => {
    const truncating = await startSimulator({ latencyMs: 0, faults: { imageTruncated: 1 } });
    try {
      const headers = { authorization: 'Bearer any', 'content-type': 'application/json' };
      const created = await fetch(`${truncating.url}/v1/images/generations`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: 'spark_t2i_3_0', prompt: 'x', width: 512, height: 512 }),
      });
      const { id } = (await created.json()) as { id: string };
      const polled = (await (
        await fetch(`${truncating.url}/v1/tasks/${id}`, { headers })
      ).json()) as {
        output: Array<{ content: Array<{ url: string }> }>;
      };
      s3.on(PutObjectCommand).callsFake(async (input: { Body: AsyncIterable<Buffer> }) => {
        for await (const _chunk of input.Body);
        return {};
      });

      // This simulator is another local origin: a handler configured to exempt it too.
      process.env.IMAGE_INSECURE_ORIGINS = `${process.env.IMAGE_INSECURE_ORIGINS},${truncating.url}`;
      const { handler } = (await freshImport('copy-images')) as {
        handler: Handler<unknown>;
      };
      await expect(
        handler(
          {
            id: 'gen-1',
            owner: 'alice',
            request: queued.request,
            images: polled.output[0]?.content,
          },
          context,
        ),
      ).rejects.toMatchObject({ name: 'ImageTruncatedError' });
    } finally {
      await truncating.close();
    }
  });

  it.each([
    'https://169.254.169.254/latest/meta-data/iam',
    'http://169.254.169.254/latest/meta-data/iam',
    'http://10.0.0.7/images/a.png',
  ])('refuses %s, although the simulator origin is exempt', async (url) => {
    const images = [{ url }];
    await expect(
      copyImages({ id: 'gen-1', owner: 'alice', request: queued.request, images }, context),
    ).rejects.toMatchObject({
      name: 'ImageUrlRefusedError',
    });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});

describe('CopyImages, failure paths', () => {
  const copy = (url: string) =>
    copyImages(
      { id: 'gen-1', owner: 'alice', request: queued.request, images: [{ url }] },
      context,
    );
  /** The step itself, for the settings a handler only takes from its environment. */
  const copyStep = (url: string, deps: Partial<Parameters<typeof copyImagesStep>[1]> = {}) =>
    copyImagesStep(
      { id: 'gen-1', owner: 'alice', request: queued.request, images: [{ url }] },
      {
        s3: new S3Client({}),
        bucket: 'images',
        policy: { insecureOrigins: [new URL(url).origin], allowedHosts: [] },
        maxImageBytes: 50 * 1024 * 1024,
        timeoutMs: 30_000,
        ...deps,
      },
    );
  const stored = () =>
    s3.commandCalls(PutObjectCommand).length +
    s3.commandCalls(CompleteMultipartUploadCommand).length;

  beforeEach(() => {
    // A streaming PUT reads its body as S3 would, so the copy sees every byte go out.
    s3.on(PutObjectCommand).callsFake(async (input: { Body: AsyncIterable<Buffer> }) => {
      for await (const _chunk of input.Body);
      return {};
    });
  });

  it('stores a PNG served by a plain HTTP server, with its sha256 and its own size', async () => {
    const url = images.route('/fine.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      response.end(png);
    });

    const result = (await copy(url)) as { images: Array<Record<string, unknown>> };

    expect(result.images).toEqual([firstImageStored(png, 64, 48)]);
    expect(stored()).toBe(1);
  });

  it.each([
    [404, 'ImageDownloadError', /HTTP 404/],
    [500, 'ImageDownloadError', /HTTP 500/],
    [403, 'ImageUrlExpiredError', /403/],
  ])('fails an image URL answering %i with %s, storing nothing', async (status, name, message) => {
    const url = images.route(`/status-${status}.png`, (_, response) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"no"}');
    });
    await expect(copy(url)).rejects.toMatchObject({
      name,
      message: expect.stringMatching(message),
    });
    expect(stored()).toBe(0);
  });

  it('fails with ImageTruncatedError when the body ends before its Content-Length', async () => {
    const url = images.route('/truncated.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length + 1000 });
      response.write(png, () => response.destroy());
    });
    await expect(copy(url)).rejects.toMatchObject({
      name: 'ImageTruncatedError',
      message: `Image download ended after ${png.length} of ${png.length + 1000} bytes`,
    });
    // A declared length makes the copy one streaming PUT of exactly that length: S3 refuses a
    // body that ends short of it, so nothing is stored (the mock only sees the request begin).
  });

  it.each([
    ['text/html', 'the content type', /served text\/html/],
    ['application/json; charset=utf-8', 'the content type', /served application\/json/],
  ])(
    'refuses a body served as %s (by %s), whatever its bytes',
    async (contentType, _by, message) => {
      const url = images.route(`/typed-${contentType.replaceAll(/\W/g, '')}`, (_, response) => {
        response.writeHead(200, { 'content-type': contentType }).end(png);
      });
      await expect(copy(url)).rejects.toMatchObject({
        name: 'NotAnImageError',
        message: expect.stringMatching(message),
      });
      expect(stored()).toBe(0);
    },
  );

  it.each([
    ['a GIF', Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(200, 7)])],
    ['an HTML page', Buffer.from(`<html><body>${'x'.repeat(200)}</body></html>`)],
    [
      'a RIFF file that is not WebP',
      Buffer.concat([Buffer.from('RIFF\0\0\0\0WAVE'), Buffer.alloc(100)]),
    ],
    ['shorter than any image header', Buffer.from('nope')],
    ['empty', Buffer.alloc(0)],
  ])('refuses a body that is %s, even when it claims image/png', async (what, body) => {
    const url = images.route(`/magic-${what.replaceAll(' ', '-')}`, (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length });
      response.end(body);
    });
    await expect(copy(url)).rejects.toMatchObject({
      name: 'NotAnImageError',
      message: 'The image is not a PNG, JPEG or WebP',
    });
    expect(stored()).toBe(0);
  });

  it.each([
    [
      'JPEG',
      Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(300, 3)]),
      'image/jpeg',
      'jpg',
    ],
    [
      'WebP',
      Buffer.concat([Buffer.from('RIFF\x10\0\0\0WEBPVP8 '), Buffer.alloc(300, 3)]),
      'image/webp',
      'webp',
    ],
  ])(
    'recognises a %s by its first bytes when served as application/octet-stream',
    async (_, body, type, extension) => {
      const url = images.route(`/octet-${extension}`, (__, response) => {
        response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
      });
      const result = (await copy(url)) as { images: Array<Record<string, unknown>> };
      expect(result.images[0]).toMatchObject({
        contentType: type,
        key: `images/alice/gen-1/0.${extension}`,
        size: body.length,
        // No header to read the size from: the requested size stands.
        width: 512,
        height: 512,
      });
      expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.ContentType).toBe(type);
    },
  );

  it('refuses an image whose Content-Length is over the limit before reading it', async () => {
    const url = images.route('/declared-large.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      response.end(png);
    });
    await expect(copyStep(url, { maxImageBytes: png.length - 1 })).rejects.toMatchObject({
      name: 'ImageTooLargeError',
      message: `Image is ${png.length} bytes; the limit is ${png.length - 1}`,
    });
    expect(stored()).toBe(0);
  });

  it('stops an image without Content-Length once the streamed bytes pass the limit, and hangs up', async () => {
    let closed!: () => void;
    const hungUp = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const url = images.route('/endless.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png' });
      response.write(png);
      const more = setInterval(() => response.write(Buffer.alloc(1024)), 5);
      response.on('close', () => {
        clearInterval(more);
        closed();
      });
    });

    await expect(copyStep(url, { maxImageBytes: 8192 })).rejects.toMatchObject({
      name: 'ImageTooLargeError',
      message: 'Image is larger than the limit of 8192 bytes',
    });
    expect(stored()).toBe(0);
    // The download is dropped at once, not left open until the per-image timeout (30 s here).
    await expect(
      Promise.race([hungUp.then(() => 'closed'), new Promise((r) => setTimeout(r, 2000, 'open'))]),
    ).resolves.toBe('closed');
  });

  it('accepts an image exactly at the limit', async () => {
    const url = images.route('/at-limit.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png' });
      response.end(png);
    });
    const result = await copyStep(url, { maxImageBytes: png.length });
    expect(result.images[0]?.size).toBe(png.length);
  });

  it('refuses a plain http URL when http is not allowed, without connecting', async () => {
    const url = images.route('/plain-http.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png' }).end(png);
    });
    await expect(
      copyStep(url, {
        policy: { insecureOrigins: [], allowedHosts: [] },
      }),
    ).rejects.toMatchObject({
      name: 'ImageUrlRefusedError',
      message: 'Image URL scheme http: is not allowed',
    });
    expect(images.requested).not.toContain('/plain-http.png');
  });

  it('fails with ImageDownloadError when the image stalls past the per-image time limit', async () => {
    const url = images.route('/stalled.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      response.write(png.subarray(0, 100));
    });
    await expect(copyStep(url, { timeoutMs: 300 })).rejects.toMatchObject({
      name: 'ImageDownloadError',
      message: 'Image download timed out after 300 ms',
    });
  });

  it('fails with ImageDownloadError, keeping the S3 error as cause, when storing the image fails', async () => {
    const failure = new S3ServiceException({
      name: 'InternalError',
      $fault: 'server',
      $metadata: { httpStatusCode: 500 },
      message: 'We encountered an internal error',
    });
    s3.on(PutObjectCommand).rejects(failure);
    const url = images.route('/put-fails.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png' }).end(png);
    });

    const error = (await copy(url).catch((caught: unknown) => caught)) as Error;

    expect(error).toMatchObject({
      name: 'ImageDownloadError',
      message: 'Storing the image failed',
    });
    expect(error.cause).toMatchObject({ name: 'InternalError' });
  });

  it('aborts the multipart upload of a large image whose part upload fails', async () => {
    // Of undeclared length (no Content-Length) and over a part's size, so the copy goes through
    // a multipart upload.
    const large = Buffer.concat([png, Buffer.alloc(9 * 1024 * 1024)]);
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' });
    s3.on(UploadPartCommand).rejects(
      new S3ServiceException({
        name: 'SlowDown',
        $fault: 'server',
        $metadata: {},
        message: 'slow',
      }),
    );
    s3.on(AbortMultipartUploadCommand).resolves({});
    const url = images.route('/large.png', (_, response) => {
      response.writeHead(200, { 'content-type': 'image/png' });
      response.end(large);
    });

    // The failed part ends the upload; the download it was reading from is cut at the same
    // moment, so the copy reports either side of that (both retried by the workflow alike).
    await expect(copy(url)).rejects.toMatchObject({
      name: expect.stringMatching(/^Image(Download|Truncated)Error$/),
    });
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
    expect(s3.commandCalls(AbortMultipartUploadCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'images',
      Key: 'images/alice/gen-1/0.png',
      UploadId: 'upload-1',
    });
  });
});
