/**
 * The logger's redaction: the replacer on its own, and the configured Powertools logger writing
 * real log lines (stdout captured), so what is asserted is what CloudWatch would receive.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateApiKey, hashApiKey } from '#shared/api/keys.ts';
import { logger } from '#shared/observability/powertools.ts';
import {
  isSecretKey,
  REDACTED,
  redactingReplacer,
  scrubText,
} from '#shared/observability/redaction.ts';
import { newWebhookSecret } from '#shared/webhooks/secrets.ts';
import { signDelivery } from '#shared/webhooks/signing.ts';

describe('isSecretKey', () => {
  it.each([
    'authorization',
    'Authorization',
    'authorizationToken',
    'token',
    'sessionToken',
    'X-Amz-Security-Token',
    'apiKey',
    'api_key',
    'x-api-key',
    'sparkApiKey',
    'SPARK_API_KEY',
    'secret',
    'SecretString',
    'secretAccessKey',
    'clientSecret',
    'password',
    'dbPassword',
    'passwd',
    'keyHash',
    'credentials',
    'privateKey',
    'cookie',
    'Set-Cookie',
    'key',
    'spark_key',
    'sparkKey',
  ])('redacts the value of %s', (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each([
    'owner',
    'id',
    'prompt',
    'input_tokens',
    'output_tokens',
    'total_tokens',
    'sha256',
    'objectKey',
    'reportKey',
    'keyPrefix',
    'bucket',
    'sparkTaskId',
    'idempotencyKey',
    'message',
    '',
  ])('keeps the value of %s', (key) => {
    expect(isSecretKey(key)).toBe(false);
  });
});

describe('scrubText', () => {
  const apiKey = generateApiKey();

  it.each([
    ['a bearer token', 'Authorization: Bearer local-simulator-key', 'local-simulator-key'],
    ['a bearer token in lower case', 'sent "bearer abc.def-ghi" upstream', 'abc.def-ghi'],
    ['basic credentials', 'Basic dXNlcjpwYXNz', 'dXNlcjpwYXNz'],
    ['an API key of ours', `unknown key ${apiKey} refused`, apiKey],
    ['an API key in a URL', `https://x.example/?key=${apiKey}&a=1`, apiKey],
    [
      'a pre-signed URL signature',
      'https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abcdef0123',
      'abcdef0123',
    ],
    ['a session token in a URL', '?X-Amz-Security-Token=IQoJb3JpZ2lu&x=1', 'IQoJb3JpZ2lu'],
    ['an x-api-key header line', 'sent x-api-key: k3y-v4lue upstream', 'k3y-v4lue'],
    ['an api_key query parameter', 'GET /generations?api_key=q-v4lue&limit=5', 'q-v4lue'],
    ['a key query parameter', 'GET /?limit=5&key=q-v4lue', 'q-v4lue'],
    ['a Token scheme', 'authorization=Token t0k3n-v4lue', 't0k3n-v4lue'],
    ['a spark_key JSON member in a string', '{"prompt":"x","spark_key":"sp-v4lue"}', 'sp-v4lue'],
    ['a secret after another name', 'failed: x-api-key: k3y-v4lue', 'k3y-v4lue'],
  ])('removes %s', (_name, text, secret) => {
    const scrubbed = scrubText(text);
    expect(scrubbed).not.toContain(secret);
    expect(scrubbed).toContain(REDACTED);
  });

  it('leaves ordinary text alone', () => {
    const text = 'Spark poll answered HTTP 503 (003001098: busy); task sk-7 mask_value 0123abcd';
    expect(scrubText(text)).toBe(text);
  });

  it('keeps the scheme and the names around a redacted value', () => {
    expect(scrubText('a=1&api_key=v4lue&limit=5 authorization: Token abc; input_tokens: 12')).toBe(
      `a=1&api_key=${REDACTED}&limit=5 authorization: Token ${REDACTED}; input_tokens: 12`,
    );
  });
});

describe('redactingReplacer', () => {
  it('redacts secret keys at any depth and scrubs every string', () => {
    const apiKey = generateApiKey();
    const entry = {
      message: `Authorization refused for Bearer ${apiKey}`,
      event: {
        authorizationToken: `Bearer ${apiKey}`,
        headers: { Authorization: `Bearer ${apiKey}`, 'x-api-key': apiKey, accept: 'json' },
        items: [{ keyHash: hashApiKey(apiKey), owner: 'alice' }],
      },
      secret: { SecretString: 'spark-key' },
      usage: { input_tokens: 12, output_tokens: 3 },
    };

    const text = JSON.stringify(entry, redactingReplacer);

    expect(text).not.toContain(apiKey);
    expect(text).not.toContain(hashApiKey(apiKey));
    expect(text).not.toContain('spark-key');
    expect(JSON.parse(text)).toEqual({
      message: `Authorization refused for Bearer ${REDACTED}`,
      event: {
        authorizationToken: REDACTED,
        headers: { Authorization: REDACTED, 'x-api-key': REDACTED, accept: 'json' },
        items: [{ keyHash: REDACTED, owner: 'alice' }],
      },
      secret: REDACTED,
      usage: { input_tokens: 12, output_tokens: 3 },
    });
  });
});

describe('the configured logger', () => {
  let lines: string[];
  beforeEach(() => {
    lines = [];
    const capture = (chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    };
    vi.spyOn(process.stdout, 'write').mockImplementation(capture as never);
    vi.spyOn(process.stderr, 'write').mockImplementation(capture as never);
    vi.spyOn(console, 'info').mockImplementation((line: unknown) => capture(line));
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => capture(line));
    vi.spyOn(console, 'debug').mockImplementation((line: unknown) => capture(line));
    vi.spyOn(console, 'warn').mockImplementation((line: unknown) => capture(line));
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => capture(line));
    logger.setLogLevel('DEBUG');
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('never writes a key, its hash or a provider key, in fields, messages or errors', () => {
    const apiKey = generateApiKey();
    const sparkKey = 'spark-provider-key-123';
    const event = {
      type: 'TOKEN',
      authorizationToken: `Bearer ${apiKey}`,
      methodArn: 'arn:aws:execute-api:us-east-1:1:api/prod/GET/generations',
    };

    logger.debug('authorizer event', { event });
    logger.info(`retrying with Authorization: Bearer ${sparkKey}`);
    logger.warn('lookup', { keyHash: hashApiKey(apiKey), owner: 'alice' });
    logger.error(
      'provider call failed',
      new Error(`request with "authorization: Bearer ${sparkKey}" failed`, {
        cause: new Error(`key ${apiKey} rejected`),
      }),
    );

    const output = lines.join('\n');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(output).toContain('authorizer event');
    expect(output).toContain('alice');
    expect(output).not.toContain(apiKey);
    expect(output).not.toContain(hashApiKey(apiKey));
    expect(output).not.toContain(sparkKey);
    expect(output).toContain(REDACTED);
  });

  it('never writes a webhook signing secret or a signature, in fields, messages or errors', () => {
    const secret = newWebhookSecret();
    const headers = signDelivery([secret], 'msg_1', new Date(), '{}');
    const signature = headers['webhook-signature'].slice('v1,'.length);

    logger.info('webhook secret read', { owner: 'alice', answer: { whsec: secret } });
    logger.info(`signing with ${secret}`);
    logger.warn('delivery headers', { headers });
    logger.error(
      'delivery failed',
      new Error(`receiver said bad signature ${headers['webhook-signature']}`),
    );

    const output = lines.join('\n');
    expect(output).toContain('webhook secret read');
    expect(output).toContain('msg_1');
    expect(output).not.toContain(secret);
    expect(output).not.toContain(secret.slice('whsec_'.length));
    expect(output).not.toContain(signature);
  });
});
