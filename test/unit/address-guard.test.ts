import { describe, expect, it } from 'vitest';
import { checkImageUrl, isPublicAddress, type UrlPolicy } from '#shared/images/address-guard.ts';
import { ImageUrlRefusedError } from '#shared/images/errors.ts';

const strict: UrlPolicy = { allowHttp: false, allowPrivateAddresses: false, allowedHosts: [] };

describe('isPublicAddress', () => {
  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111'])(
    'accepts the public address %s',
    (address) => {
      expect(isPublicAddress(address)).toBe(true);
    },
  );

  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'fc00::1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    'not-an-address',
  ])('refuses %s', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });
});

describe('checkImageUrl', () => {
  it('accepts a public https URL', () => {
    expect(checkImageUrl('https://cdn.example.com/a.png?sig=1', strict).hostname).toBe(
      'cdn.example.com',
    );
  });

  it.each([
    ['plain http', 'http://cdn.example.com/a.png'],
    ['file:', 'file:///etc/passwd'],
    ['data:', 'data:image/png;base64,iVBORw0KGgo='],
    ['ftp:', 'ftp://example.com/a.png'],
    ['credentials in the URL', 'https://user:pass@cdn.example.com/a.png'],
    ['a userinfo trick', 'https://cdn.example.com@169.254.169.254/latest/meta-data/'],
    ['the metadata address', 'https://169.254.169.254/latest/meta-data/'],
    ['a decimal IPv4 address', 'https://2852039166/'],
    ['a hexadecimal IPv4 address', 'https://0xA9FEA9FE/'],
    ['an octal-dotted address', 'https://0177.0.0.1/'],
    ['loopback', 'https://127.0.0.1/a.png'],
    ['IPv6 loopback', 'https://[::1]/a.png'],
    ['IPv4-mapped IPv6', 'https://[::ffff:a9fe:a9fe]/a.png'],
    ['a private network', 'https://10.0.0.7/a.png'],
    ['not a URL', 'not a url'],
  ])('refuses %s', (_name, url) => {
    expect(() => checkImageUrl(url, strict)).toThrow(ImageUrlRefusedError);
  });

  it('refuses hosts outside a configured allow-list, subdomains included', () => {
    const policy = { ...strict, allowedHosts: ['spark-cdn.example.com'] };
    expect(checkImageUrl('https://img.spark-cdn.example.com/a.png', policy).hostname).toBe(
      'img.spark-cdn.example.com',
    );
    expect(() => checkImageUrl('https://evil.example.com/a.png', policy)).toThrow(
      ImageUrlRefusedError,
    );
    expect(() => checkImageUrl('https://spark-cdn.example.com.evil.com/a.png', policy)).toThrow(
      ImageUrlRefusedError,
    );
  });

  it('allows the local simulator only under the explicit local policy', () => {
    const local = { allowHttp: true, allowPrivateAddresses: true, allowedHosts: [] };
    expect(checkImageUrl('http://127.0.0.1:8787/images/a.png', local).port).toBe('8787');
    expect(() => checkImageUrl('http://127.0.0.1:8787/images/a.png', strict)).toThrow(
      ImageUrlRefusedError,
    );
  });
});
