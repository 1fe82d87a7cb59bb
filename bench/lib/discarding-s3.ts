/**
 * An S3-compatible endpoint that reads and drops every byte it is sent: just enough of the
 * protocol (PutObject, and CreateMultipartUpload / UploadPart / CompleteMultipartUpload /
 * AbortMultipartUpload) for the copy step's uploads. Copying to it measures the copy step's own
 * cost, without the local S3 server's (which writes every part to disk and assembles them again).
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DiscardingS3 {
  readonly endpoint: string;
  /** Bytes received in request bodies. */
  bytes(): number;
  close(): Promise<void>;
}

export async function startDiscardingS3(): Promise<DiscardingS3> {
  let received = 0;
  const server = createServer((req, res) => {
    void answer(req, res, (n) => {
      received += n;
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bytes: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, count: (n: number) => void) {
  for await (const chunk of req as AsyncIterable<Buffer>) count(chunk.length);
  const url = new URL(req.url ?? '/', 'http://s3');
  const [, bucket = '', ...rest] = url.pathname.split('/');
  const key = rest.join('/');
  const etag = `"${randomUUID().replaceAll('-', '')}"`;
  if (req.method === 'POST' && url.searchParams.has('uploads')) {
    return xml(
      res,
      `<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${randomUUID()}</UploadId></InitiateMultipartUploadResult>`,
    );
  }
  if (req.method === 'POST' && url.searchParams.has('uploadId')) {
    return xml(
      res,
      `<CompleteMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><ETag>${etag}</ETag></CompleteMultipartUploadResult>`,
    );
  }
  if (req.method === 'DELETE') {
    res.writeHead(204).end();
    return;
  }
  res.writeHead(200, { etag, 'content-length': 0 }).end();
}

function xml(res: ServerResponse, body: string): void {
  const text = `<?xml version="1.0" encoding="UTF-8"?>${body}`;
  res.writeHead(200, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
