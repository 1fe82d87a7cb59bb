import './env.ts';
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, imageOrigins } from '#shared/console/page.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { IMAGES_BUCKET, REGION } from './env.ts';
import { apiEvent, bodyOf, lambdaContext } from './support.ts';

// Run from source, the function builds the page's files on first use (esbuild), as --from-source.
const { handler } = await import('../../../../functions/console/handler.ts');

const call = (path: string, resource: string, file?: string, fullPath = `/v1${path}`) => {
  const event = apiEvent({
    owner: null,
    path,
    ...(file !== undefined && { pathParameters: { file } }),
  });
  return handler(
    { ...event, resource, requestContext: { ...event.requestContext, path: fullPath } },
    lambdaContext(),
  );
};

describe('the console function', () => {
  it('answers the page at the root with a strict policy: own scripts and styles, the bucket’s images, no framing', async () => {
    const response = await call('/', '/');
    expect(response.statusCode).toBe(200);
    expect(response.headers?.['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toContain('<script type="module" src="console/app.js"></script>');
    expect(response.body).not.toMatch(/<script>|<style>| style=| on\w+=/);
    expect(response.headers).toMatchObject({
      'content-security-policy': `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https://${IMAGES_BUCKET}.s3.${REGION}.amazonaws.com; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    });
  }, 60_000);

  it('redirects the stage root asked without its slash, so the page’s relative names resolve', async () => {
    const response = await call('/', '/', undefined, '/v1');
    expect(response.statusCode).toBe(308);
    expect(response.headers?.location).toBe('/v1/');
  });

  it.each([
    ['app.js', 'text/javascript; charset=utf-8'],
    ['app.css', 'text/css; charset=utf-8'],
  ])('answers console/%s as %s', async (file, type) => {
    const response = await call(`/console/${file}`, '/console/{file}', file);
    expect(response.statusCode).toBe(200);
    expect(response.headers?.['content-type']).toBe(type);
    expect(response.body.length).toBeGreaterThan(500);
  });

  it.each(['index.html', '../handler.ts', 'toString', '__proto__'])(
    'answers 404 in the error shape for console/%s',
    async (file) => {
      const response = await call(`/console/${file}`, '/console/{file}', file);
      expect(response.statusCode).toBe(404);
      expect(bodyOf(response)).toMatchObject({ error: { code: ErrorCodes.API_NOT_FOUND } });
    },
  );
});

describe('imageOrigins', () => {
  it.each([
    [
      { bucket: 'b', region: 'eu-west-1', forcePathStyle: false },
      ['https://b.s3.eu-west-1.amazonaws.com'],
    ],
    [
      { bucket: 'b', region: 'eu-west-1', forcePathStyle: true },
      ['https://s3.eu-west-1.amazonaws.com'],
    ],
    [
      { bucket: 'b', region: 'us-east-1', endpoint: 'http://127.0.0.1:4569', forcePathStyle: true },
      ['http://127.0.0.1:4569'],
    ],
    [
      {
        bucket: 'b',
        region: 'us-east-1',
        endpoint: 'https://s3.example.com',
        forcePathStyle: false,
      },
      ['https://b.s3.example.com'],
    ],
  ])('names where pre-signed URLs of %j point', (location, origins) => {
    expect(imageOrigins(location)).toEqual(origins);
    expect(contentSecurityPolicy(origins)).toContain(`img-src 'self' ${origins.join(' ')};`);
  });
});
