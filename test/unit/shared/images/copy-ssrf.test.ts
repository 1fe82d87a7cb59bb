/**
 * The SSRF guard through the real copy: real HTTP servers on 127.0.0.1 (only their origin is
 * exempt, as the local runtime exempts its simulator), a fake resolver standing in for DNS, and
 * S3 mocked. Every hostile URL must end in ImageUrlRefusedError without a connection to where it
 * points.
 */
import type { LookupAddress } from 'node:dns';
import { request } from 'node:http';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type Resolver,
  type UrlPolicy,
  verifyConnectedAddress,
} from '#shared/images/address-guard.ts';
import { copyImage } from '#shared/images/copy.ts';
import { ImageUrlRefusedError } from '#shared/images/errors.ts';
import { type LoopbackServer, listenOnLoopback } from '../../../helpers/loopback-server.ts';

const s3 = mockClient(S3Client);
/** A 1x1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

let server: LoopbackServer;
let origin: string;
let port: number;
/** Paths the server was asked for, in order. */
let requested: string[] = [];

/** `/redirect/N?to=URL` redirects N times (to itself), then to `to` or to `/image.png`. */
function handle(path: string): { status: number; headers: Record<string, string>; body?: Buffer } {
  const url = new URL(path, origin);
  if (url.pathname === '/image.png') {
    return { status: 200, headers: { 'content-type': 'image/png' }, body: PNG };
  }
  const redirect = /^\/redirect\/(\d+)$/.exec(url.pathname);
  if (redirect) {
    const left = Number(redirect[1]);
    const to = url.searchParams.get('to');
    const location =
      left > 1
        ? `/redirect/${left - 1}${to ? `?to=${encodeURIComponent(to)}` : ''}`
        : (to ?? '/image.png');
    return { status: 302, headers: { location } };
  }
  return { status: 404, headers: {} };
}

beforeAll(async () => {
  server = await listenOnLoopback((req, res) => {
    requested.push(req.url ?? '');
    const answer = handle(req.url ?? '/');
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  });
  ({ port, origin } = server);
});
afterAll(() => server.close());
beforeEach(() => {
  requested = [];
  s3.reset();
  s3.on(PutObjectCommand).resolves({});
});

/** A resolver from a table; it records every name it was asked for. */
function fakeResolver(table: Record<string, string[]>) {
  const asked: string[] = [];
  const resolve: Resolver = (hostname, _options, callback) => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses) {
      const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
        code: 'ENOTFOUND',
      });
      return callback(error, []);
    }
    callback(
      null,
      addresses.map(
        (address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }),
      ),
    );
  };
  return { resolve, asked };
}

function copy(url: string, policy: UrlPolicy, resolve?: Resolver) {
  return copyImage({
    s3: new S3Client({ region: 'us-east-1' }),
    url,
    bucket: 'images',
    key: () => 'images/x.png',
    policy,
    maxBytes: 1024 * 1024,
    timeoutMs: 5000,
    ...(resolve && { resolve }),
  });
}

const strict: UrlPolicy = { insecureOrigins: [], allowedHosts: [] };
const exempt = (): UrlPolicy => ({ insecureOrigins: [origin], allowedHosts: [] });

describe('names are checked on the addresses they resolve to', () => {
  it.each([
    ['a name resolving to 10/8', 'https://images.example.com/a.png', ['10.0.0.7']],
    [
      'a name resolving to the metadata address',
      'https://169.254.169.254.nip.io/',
      ['169.254.169.254'],
    ],
    ['a name resolving to loopback', 'https://localtest.me/a.png', ['127.0.0.1']],
    [
      'a name with one public and one private address',
      'https://mixed.example.com/a.png',
      ['8.8.8.8', '10.0.0.7'],
    ],
    [
      'a name resolving to an IPv4-mapped private address',
      'https://v6.example.com/a.png',
      ['::ffff:10.0.0.7'],
    ],
    ['a name resolving to unique-local IPv6', 'https://ula.example.com/a.png', ['fd00:ec2::254']],
    [
      'an upper-case name with a trailing dot',
      'https://METADATA.Google.Internal./x',
      ['169.254.169.254'],
    ],
  ])('refuses %s', async (_name, url, addresses) => {
    const host = new URL(url).hostname;
    const { resolve, asked } = fakeResolver({ [host]: addresses });

    await expect(copy(url, strict, resolve)).rejects.toBeInstanceOf(ImageUrlRefusedError);

    expect(asked).toEqual([host]);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('refuses a loopback answer even for an exempt origin named by host name, unless loopback', async () => {
    const byName = `http://localhost:${port}`;
    const policy = { insecureOrigins: [byName], allowedHosts: [] };
    const toPrivate = fakeResolver({ localhost: ['10.0.0.7'] });
    await expect(copy(`${byName}/image.png`, policy, toPrivate.resolve)).rejects.toBeInstanceOf(
      ImageUrlRefusedError,
    );

    // The same origin resolving to loopback is copied: the resolver really decides.
    const toLoopback = fakeResolver({ localhost: ['127.0.0.1'] });
    const copied = await copy(`${byName}/image.png`, policy, toLoopback.resolve);
    expect(copied).toMatchObject({ size: PNG.length, contentType: 'image/png' });
    expect(toLoopback.asked).toEqual(['localhost']);
  });
});

describe('redirects are re-checked and bounded', () => {
  it('copies the image after three redirects on the exempt origin', async () => {
    const copied = await copy(`${origin}/redirect/3`, exempt());

    expect(copied).toMatchObject({ size: PNG.length, contentType: 'image/png' });
    expect(requested).toEqual(['/redirect/3', '/redirect/2', '/redirect/1', '/image.png']);
  });

  it('refuses a fourth redirect without following it', async () => {
    await expect(copy(`${origin}/redirect/4`, exempt())).rejects.toBeInstanceOf(
      ImageUrlRefusedError,
    );
    expect(requested).toEqual(['/redirect/4', '/redirect/3', '/redirect/2', '/redirect/1']);
  });

  it.each([
    ['the metadata address', 'http://169.254.169.254/latest/meta-data/'],
    ['the metadata address over https', 'https://169.254.169.254/latest/meta-data/'],
    ['a private address', 'http://10.0.0.7/a.png'],
    ['the metadata address in decimal', 'http://2852039166/latest/meta-data/'],
    ['a userinfo trick', 'https://cdn.example.com@169.254.169.254/'],
    ['another port on loopback', 'http://127.0.0.1:1/a.png'],
    ['file:', 'file:///etc/passwd'],
  ])('refuses a redirect to %s', async (_name, target) => {
    const { resolve, asked } = fakeResolver({});

    await expect(
      copy(`${origin}/redirect/1?to=${encodeURIComponent(target)}`, exempt(), resolve),
    ).rejects.toBeInstanceOf(ImageUrlRefusedError);

    expect(asked).toEqual([]);
    expect(requested).toHaveLength(1);
  });

  it('refuses a redirect to a name resolving to a private address', async () => {
    const { resolve, asked } = fakeResolver({ 'internal.example.com': ['10.0.0.7'] });

    await expect(
      copy(
        `${origin}/redirect/1?to=${encodeURIComponent('https://internal.example.com/a.png')}`,
        exempt(),
        resolve,
      ),
    ).rejects.toBeInstanceOf(ImageUrlRefusedError);

    expect(asked).toEqual(['internal.example.com']);
  });
});

describe('hostile URLs', () => {
  it.each([
    'http://2852039166/',
    'https://2852039166/',
    'http://0xA9FEA9FE/',
    'https://0xA9FEA9FE/',
    'https://0251.0376.0251.0376/',
    'https://169.254.169.254./latest/meta-data/',
    'HTTPS://169.254.169.254/latest/meta-data/',
    'http://[::ffff:169.254.169.254]/',
    'https://[::ffff:169.254.169.254]/',
    'https://[::ffff:a9fe:a9fe]/',
    'https://[::169.254.169.254]/',
    'https://[64:ff9b::169.254.169.254]/',
    'https://[2002:a9fe:a9fe::1]/',
    'https://[fd00:ec2::254]/latest/meta-data/',
    'https://[fe80::1]/',
    'https://[::1]/',
    'https://[::]/',
    'https://0.0.0.0/',
    'https://127.1/',
    'file:///etc/passwd',
    'data:image/png;base64,iVBORw0KGgo=',
    'gopher://127.0.0.1:6379/_INFO',
    'ftp://cdn.example.com/a.png',
    'https://cdn.example.com@169.254.169.254/',
    'https://cdn.example.com:pass@169.254.169.254/',
    'https://user@cdn.example.com/a.png',
    'http://cdn.example.com/a.png',
    'javascript:alert(1)',
    '//cdn.example.com/a.png',
  ])('refuses %s without resolving or connecting', async (url) => {
    const { resolve, asked } = fakeResolver({});

    await expect(copy(url, exempt(), resolve)).rejects.toBeInstanceOf(ImageUrlRefusedError);

    expect(asked).toEqual([]);
    expect(requested).toEqual([]);
  });

  it('matches allowed hosts without case or a trailing dot, and nothing else', async () => {
    const policy = { insecureOrigins: [], allowedHosts: ['cdn.spark.example.com'] };
    const { resolve, asked } = fakeResolver({});
    // Allowed, so it gets as far as resolving (which fails here: no such name).
    await expect(copy('https://CDN.Spark.Example.COM./a.png', policy, resolve)).rejects.toThrow(
      /ENOTFOUND/,
    );
    expect(asked).toEqual(['cdn.spark.example.com.']);
    await expect(
      copy('https://cdn.spark.example.com.evil.com/a.png', policy, resolve),
    ).rejects.toBeInstanceOf(ImageUrlRefusedError);
    expect(asked).toHaveLength(1);
  });
});

describe('the connected address is checked again (defence in depth)', () => {
  it('destroys a connection whose peer is not allowed, before sending anything', async () => {
    const outgoing = request(`${origin}/image.png`);
    verifyConnectedAddress(outgoing, () => false);

    const error = await new Promise<Error>((resolve) => {
      outgoing.on('error', resolve);
      outgoing.on('response', () => resolve(new Error('answered')));
      outgoing.end();
    });

    expect(error).toBeInstanceOf(ImageUrlRefusedError);
    expect(error.message).toMatch(/127\.0\.0\.1/);
    expect(requested).toEqual([]);
  });

  it('lets a connection whose peer is allowed carry on', async () => {
    const outgoing = request(`${origin}/image.png`);
    verifyConnectedAddress(outgoing, (address) => address === '127.0.0.1');

    const status = await new Promise<number | undefined>((resolve, reject) => {
      outgoing.on('error', reject);
      outgoing.on('response', (response) => {
        response.resume();
        resolve(response.statusCode);
      });
      outgoing.end();
    });

    expect(status).toBe(200);
    expect(requested).toEqual(['/image.png']);
  });
});
