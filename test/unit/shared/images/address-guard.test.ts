import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '#shared/config/env.ts';
import { copySettingsFromEnv } from '#shared/config/pipeline-env.ts';
import {
  addressCheck,
  checkImageUrl,
  InsecureOriginError,
  insecureOrigin,
  isLoopbackAddress,
  isPublicAddress,
  type UrlPolicy,
} from '#shared/images/address-guard.ts';
import { ImageUrlRefusedError } from '#shared/images/errors.ts';

const strict: UrlPolicy = { insecureOrigins: [], allowedHosts: [] };
const SIMULATOR = 'http://127.0.0.1:8787';
const local: UrlPolicy = { insecureOrigins: [SIMULATOR], allowedHosts: [] };

describe('isPublicAddress', () => {
  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '100.63.255.255', // just below carrier-grade NAT
    '100.128.0.0', // just above it
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255', // just below multicast
    '2606:4700:4700::1111',
    '2a00:1450:4001:82b::200e',
    '2001:200::1', // just past 2001::/23
    '::ffff:8.8.8.8', // IPv4-mapped, public inside
    '64:ff9b::8.8.8.8', // NAT64 of a public address
    '64:ff9b::808:808',
  ])('accepts the public address %s', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it.each([
    ['"this network" 0.0.0.0/8', '0.0.0.0'],
    ['"this network" 0.0.0.0/8', '0.255.255.255'],
    ['private 10/8', '10.1.2.3'],
    ['carrier-grade NAT 100.64/10', '100.64.0.1'],
    ['carrier-grade NAT 100.64/10', '100.127.255.255'],
    ['loopback', '127.0.0.1'],
    ['loopback', '127.255.255.254'],
    ['link-local', '169.254.0.1'],
    ['the instance metadata address', '169.254.169.254'],
    ['private 172.16/12', '172.16.0.1'],
    ['private 172.16/12', '172.31.255.255'],
    ['IETF protocol assignments 192.0.0/24', '192.0.0.8'],
    ['documentation 192.0.2/24', '192.0.2.1'],
    ['6to4 relay anycast', '192.88.99.1'],
    ['private 192.168/16', '192.168.1.1'],
    ['benchmarking 198.18/15', '198.18.0.1'],
    ['benchmarking 198.18/15', '198.19.255.255'],
    ['documentation 198.51.100/24', '198.51.100.7'],
    ['documentation 203.0.113/24', '203.0.113.9'],
    ['multicast 224/4', '224.0.0.1'],
    ['multicast 224/4', '239.255.255.250'],
    ['reserved 240/4', '240.0.0.1'],
    ['the broadcast address', '255.255.255.255'],
    ['IPv6 unspecified', '::'],
    ['IPv6 loopback', '::1'],
    ['IPv6 loopback, uncompressed', '0:0:0:0:0:0:0:1'],
    ['IPv4-compatible loopback', '::127.0.0.1'],
    ['IPv4-compatible loopback, hex', '::7f00:1'],
    ['IPv4-compatible metadata address', '::169.254.169.254'],
    ['IPv4-compatible public address (deprecated form)', '::8.8.8.8'],
    ['IPv4-mapped loopback', '::ffff:127.0.0.1'],
    ['IPv4-mapped metadata address', '::ffff:169.254.169.254'],
    ['IPv4-mapped metadata address, hex', '::ffff:a9fe:a9fe'],
    ['IPv4-mapped private, uncompressed', '0:0:0:0:0:ffff:0a00:0007'],
    ['IPv4-mapped private, upper case', '::FFFF:10.0.0.7'],
    ['IPv4-translated loopback', '::ffff:0:127.0.0.1'],
    ['IPv4-translated metadata address', '::ffff:0:a9fe:a9fe'],
    ['NAT64 of the metadata address', '64:ff9b::169.254.169.254'],
    ['NAT64 of a private address', '64:ff9b::a00:7'],
    ['NAT64 local-use prefix', '64:ff9b:1::8.8.8.8'],
    ['discard-only 100::/64', '100::1'],
    ['Teredo 2001::/32', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
    ['Teredo 2001::/32', '2001::1'],
    ['ORCHIDv2 2001:20::/28', '2001:20::1'],
    ['benchmarking 2001:2::/48', '2001:2::1'],
    ['documentation 2001:db8::/32', '2001:db8::1'],
    ['6to4 of a private address', '2002:0a00:0007::1'],
    ['6to4 of the metadata address', '2002:a9fe:a9fe::1'],
    ['6to4 of a public address (all of 2002::/16 is refused)', '2002:0808:0808::1'],
    ['documentation 3fff::/20', '3fff::1'],
    ['unique local fc00::/7', 'fc00::1'],
    ['unique local fc00::/7', 'fd00:ec2::254'],
    ['link-local fe80::/10', 'fe80::1'],
    ['link-local with a zone id', 'fe80::1%eth0'],
    ['site-local fec0::/10', 'fec0::1'],
    ['multicast ff00::/8', 'ff02::1'],
    ['multicast ff00::/8', 'ff0e::1'],
    ['outside global unicast', '4000::1'],
    ['not an address', 'not-an-address'],
    ['not an address', '999.1.1.1'],
  ])('refuses %s (%s)', (_range, address) => {
    expect(isPublicAddress(address)).toBe(false);
  });
});

describe('isLoopbackAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.7', false],
    ['169.254.169.254', false],
    ['::', false],
    ['::127.0.0.1', false],
    ['64:ff9b::127.0.0.1', false],
    ['localhost', false],
  ])('%s is loopback: %s', (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
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
