import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '#shared/config/env.ts';
import { copySettingsFromEnv } from '#shared/config/pipeline-env.ts';
import {
  addressCheck,
  checkImageUrl,
  InsecureOriginError,
  insecureOrigin,
  isPublicAddress,
  type UrlPolicy,
} from '#shared/images/address-guard.ts';
import { ImageUrlRefusedError } from '#shared/images/errors.ts';

const strict: UrlPolicy = { insecureOrigins: [], allowedHosts: [] };
const SIMULATOR = 'http://127.0.0.1:8787';
const local: UrlPolicy = { insecureOrigins: [SIMULATOR], allowedHosts: [] };

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
});

describe('the exempt origin (the local simulator)', () => {
  it('is fetched over http, on its loopback address, only when the policy names it', () => {
    expect(checkImageUrl(`${SIMULATOR}/images/a.png`, local).port).toBe('8787');
    expect(addressCheck(new URL(`${SIMULATOR}/images/a.png`), local)('127.0.0.1')).toBe(true);
    expect(() => checkImageUrl(`${SIMULATOR}/images/a.png`, strict)).toThrow(ImageUrlRefusedError);
    expect(addressCheck(new URL(`${SIMULATOR}/images/a.png`), strict)('127.0.0.1')).toBe(false);
  });

  it.each([
    ['the metadata address over http', 'http://169.254.169.254/latest/meta-data/iam/'],
    ['a private network over http', 'http://10.0.0.7/images/a.png'],
    ['the metadata address over https', 'https://169.254.169.254/latest/meta-data/'],
    ['another port of the same host', 'http://127.0.0.1:8788/images/a.png'],
    ['another loopback address', 'http://127.0.0.2:8787/images/a.png'],
    ['the same port by name', 'http://localhost:8787/images/a.png'],
    ['https on the same host and port', 'https://127.0.0.1:8787/images/a.png'],
    ['plain http elsewhere', 'http://cdn.example.com/a.png'],
    ['credentials on the exempt origin', 'http://user:pass@127.0.0.1:8787/images/a.png'],
  ])('does not extend to %s', (_name, url) => {
    expect(() => checkImageUrl(url, local)).toThrow(ImageUrlRefusedError);
  });

  it('lets a connection for any other URL reach public addresses only', () => {
    const check = addressCheck(new URL('https://cdn.example.com/a.png'), local);
    expect(check('8.8.8.8')).toBe(true);
    expect(check('127.0.0.1')).toBe(false);
    expect(check('10.0.0.7')).toBe(false);
    expect(check('169.254.169.254')).toBe(false);
  });

  it('lets a connection for the exempt origin reach loopback, never a private address', () => {
    const check = addressCheck(new URL(`${SIMULATOR}/images/a.png`), local);
    expect(check('127.0.0.1')).toBe(true);
    expect(check('::1')).toBe(true);
    expect(check('10.0.0.7')).toBe(false);
    expect(check('169.254.169.254')).toBe(false);
  });

  it.each([
    'http://127.0.0.1:8787',
    'http://127.0.0.1:8787/',
    'http://[::1]:9000',
    'http://localhost:3000',
  ])('accepts the loopback origin %s in the configuration', (origin) => {
    expect(insecureOrigin(origin)).toBe(origin.replace(/\/$/, ''));
  });

  it.each([
    'http://169.254.169.254',
    'http://10.0.0.7:8080',
    'http://cdn.example.com',
    'http://127.0.0.1:8787/images',
    'http://user@127.0.0.1:8787',
    'file:///etc/passwd',
    '127.0.0.1:8787',
    '*',
  ])('refuses %s as an exempt origin in the configuration', (origin) => {
    expect(() => insecureOrigin(origin)).toThrow(InsecureOriginError);
  });

  it('is read from IMAGE_INSECURE_ORIGINS, empty by default', () => {
    expect(copySettingsFromEnv({}).policy).toEqual({ insecureOrigins: [], allowedHosts: [] });
    expect(
      copySettingsFromEnv({
        IMAGE_INSECURE_ORIGINS: `${SIMULATOR}, http://[::1]:9000`,
        IMAGE_ALLOWED_HOSTS: 'cdn.example.com',
      }).policy,
    ).toEqual({
      insecureOrigins: [SIMULATOR, 'http://[::1]:9000'],
      allowedHosts: ['cdn.example.com'],
    });
    expect(() => copySettingsFromEnv({ IMAGE_INSECURE_ORIGINS: 'http://10.0.0.7' })).toThrow(
      ConfigurationError,
    );
  });
});
