import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { validateWebhook } from '#shared/webhooks/request.ts';
import { checkWebhookUrl } from '#shared/webhooks/target.ts';

const onAws = (url: string) => checkWebhookUrl(url, { insecureOrigins: [] });
const locally = (url: string) =>
  checkWebhookUrl(url, { insecureOrigins: ['http://127.0.0.1:9000'] });

describe('the webhook field', () => {
  it('takes an https URL and defaults the events to every event of its resource', () => {
    expect(validateWebhook({ url: 'https://hooks.example.com/in' }, 'generation', onAws)).toEqual({
      ok: true,
      webhook: {
        url: 'https://hooks.example.com/in',
        events: ['generation.completed', 'generation.failed', 'generation.cancelled'],
      },
    });
    expect(validateWebhook({ url: 'https://hooks.example.com/b' }, 'batch', onAws)).toEqual({
      ok: true,
      webhook: { url: 'https://hooks.example.com/b', events: ['batch.completed'] },
    });
  });

  it('keeps the events asked for', () => {
    const result = validateWebhook(
      { url: 'https://hooks.example.com/in', events: ['generation.failed'] },
      'generation',
      onAws,
    );
    expect(result).toMatchObject({ ok: true, webhook: { events: ['generation.failed'] } });
  });

  it.each([
    ['a string', 'https://hooks.example.com'],
    ['no url', { events: ['generation.completed'] }],
    ['an unknown field', { url: 'https://hooks.example.com', secret: 'x' }],
    ['an event of another resource', { url: 'https://h.example.com', events: ['batch.completed'] }],
    ['an unknown event', { url: 'https://h.example.com', events: ['generation.started'] }],
    ['no events', { url: 'https://h.example.com', events: [] }],
    [
      'an event twice',
      { url: 'https://h.example.com', events: ['generation.failed', 'generation.failed'] },
    ],
    ['a URL too long', { url: `https://h.example.com/${'a'.repeat(2048)}` }],
  ])('refuses %s with 090007001', (_, value) => {
    const result = validateWebhook(value, 'generation', onAws);
    expect(result).toMatchObject({ ok: false, problem: { code: ErrorCodes.WEBHOOK_INVALID } });
  });

  it.each([
    ['plain http', 'http://hooks.example.com/in'],
    ['credentials', 'https://user:pass@hooks.example.com/in'],
    ['the instance metadata address', 'https://169.254.169.254/latest/meta-data'],
    ['a private address', 'https://10.0.0.7/hook'],
    ['a loopback address', 'https://127.0.0.1:9000/hook'],
    ['IPv6 loopback', 'https://[::1]/hook'],
    ['an IPv4-mapped private address', 'https://[::ffff:192.168.1.1]/hook'],
    ['a decimal IPv4 form of the metadata address', 'https://2852039166/'],
    ['localhost', 'https://localhost/hook'],
    ['another scheme', 'file:///etc/passwd'],
    ['not a URL', 'hooks'],
  ])('refuses %s with 090007002', (_, url) => {
    const result = validateWebhook({ url }, 'generation', onAws);
    expect(result).toMatchObject({ ok: false, problem: { code: ErrorCodes.WEBHOOK_URL_REFUSED } });
  });

  it('allows plain http to 127.0.0.1 only on the origin the configuration names', () => {
    expect(locally('http://127.0.0.1:9000/hook')).toBeUndefined();
    expect(locally('http://127.0.0.1:9001/hook')).toMatch(/scheme http/);
    expect(locally('http://10.0.0.1:9000/hook')).toMatch(/scheme http/);
    expect(onAws('http://127.0.0.1:9000/hook')).toMatch(/scheme http/);
  });
});
