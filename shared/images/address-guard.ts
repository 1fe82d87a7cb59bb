/**
 * The SSRF guard of the image copy: which URLs and which resolved addresses may be fetched.
 * A provider answer must never make the pipeline fetch from inside the network, so the check is
 * made on the address actually connected to (through the socket's DNS lookup), not on the name.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ImageUrlRefusedError } from './errors.ts';

export interface UrlPolicy {
  /**
   * Origins (`http://127.0.0.1:8787`) that may be fetched over plain http and on a loopback
   * address: the local runtime names its simulator here, and nothing else is ever exempt (not
   * another port, not a private or link-local address). Empty on AWS. Each entry is checked by
   * {@link insecureOrigin} when the configuration is read.
   */
  readonly insecureOrigins: readonly string[];
  /** When non-empty, only these host names (or their subdomains) may be fetched. */
  readonly allowedHosts: readonly string[];
}

/** Every range that is not the public internet, IPv4 and IPv6. */
const nonPublic = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, including the instance metadata address
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved and broadcast
] as const) {
  nonPublic.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96], // NAT64
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  nonPublic.addSubnet(network, prefix, 'ipv6');
}

/** Whether an IP address (v4 or v6, including IPv4-mapped IPv6) is on the public internet. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !nonPublic.check(address, 'ipv4');
  if (family !== 6) return false;
  const mapped = ipv4MappedAddress(address);
  if (mapped !== undefined) return isPublicAddress(mapped);
  return !nonPublic.check(address, 'ipv6');
}

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d` or `::ffff:a9fe:a9fe`),
 * checked as IPv4. (Node's BlockList also matches IPv4 queries against mapped IPv6 rules, so the
 * mapped range cannot simply be listed.)
 */
function ipv4MappedAddress(address: string): string | undefined {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (dotted?.[1]) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex?.[1] || !hex[2]) return undefined;
  const high = Number.parseInt(hex[1], 16);
  const low = Number.parseInt(hex[2], 16);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** Whether an IP address is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped loopback). */
export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return loopback.check(address, 'ipv4');
  if (family !== 6) return false;
  const mapped = ipv4MappedAddress(address);
  return mapped === undefined ? loopback.check(address, 'ipv6') : isLoopbackAddress(mapped);
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Thrown when an exempt origin in the configuration is not a loopback http(s) origin. */
export class InsecureOriginError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InsecureOriginError';
  }
}

/**
 * Checks one entry of {@link UrlPolicy.insecureOrigins} and answers it normalised: it must be
 * exactly an origin (scheme, loopback host, port; no path, no credentials), so a mistaken
 * configuration can never exempt a private network or the instance metadata address.
 */
export function insecureOrigin(entry: string): string {
  let url: URL;
  try {
    url = new URL(entry);
  } catch (error) {
    throw new InsecureOriginError(`"${entry}" is not a URL origin`, { cause: error });
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (
    !['http:', 'https:'].includes(url.protocol) ||
    url.username !== '' ||
    url.password !== '' ||
    entry.replace(/\/$/, '') !== url.origin
  ) {
    throw new InsecureOriginError(`"${entry}" must be an origin such as http://127.0.0.1:8787`);
  }
  if (host !== 'localhost' && !isLoopbackAddress(host)) {
    throw new InsecureOriginError(
      `"${entry}" is not a loopback origin (127.0.0.0/8, ::1, localhost)`,
    );
  }
  return url.origin;
}

function isExempt(url: URL, policy: UrlPolicy): boolean {
  return policy.insecureOrigins.includes(url.origin);
}

/** Checks what can be checked on the URL itself, before any connection. */
export function checkImageUrl(rawUrl: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch (error) {
    throw new ImageUrlRefusedError('The image URL is not a valid URL', { cause: error });
  }
  if (url.username !== '' || url.password !== '') {
    throw new ImageUrlRefusedError('Image URLs with credentials are not allowed');
  }
  // The one exception: an origin the configuration names (the local simulator's).
  if (isExempt(url, policy)) return url;
  if (url.protocol !== 'https:') {
    throw new ImageUrlRefusedError(`Image URL scheme ${url.protocol} is not allowed`);
  }
  // WHATWG URL parsing has already turned numeric forms (2852039166, 0xA9FEA9FE) into dotted IPv4.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (
    policy.allowedHosts.length > 0 &&
    !policy.allowedHosts.some((name) => hostMatches(host, name))
  ) {
    throw new ImageUrlRefusedError(`Image host ${host} is not in the allowed hosts`);
  }
  if (isIP(host) !== 0 && !isPublicAddress(host)) {
    throw new ImageUrlRefusedError(`Image host ${host} is not a public address`);
  }
  return url;
}

/**
 * Which addresses a connection for this URL may reach: public ones, and loopback ones only for
 * an exempt origin.
 */
export function addressCheck(url: URL, policy: UrlPolicy): (address: string) => boolean {
  const exempt = isExempt(url, policy);
  return (address) => isPublicAddress(address) || (exempt && isLoopbackAddress(address));
}

function hostMatches(host: string, allowed: string): boolean {
  const name = allowed.toLowerCase();
  return host === name || host.endsWith(`.${name}`);
}

/**
 * A DNS lookup for sockets that refuses non-public answers, so the address checked is the
 * address connected to (no window for DNS rebinding between a check and the connection).
 */
export function guardedLookup(isAllowed: (address: string) => boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as LookupAddress[];
      const refused = list.find((entry) => !isAllowed(entry.address));
      if (refused || list.length === 0) {
        const reason = refused
          ? `resolves to non-public address ${refused.address}`
          : 'has no address';
        return callback(new ImageUrlRefusedError(`Image host ${hostname} ${reason}`), '', 0);
      }
      if (options.all) return callback(null, list as never, 0);
      const [first] = list as [LookupAddress];
      return callback(null, first.address, first.family);
    });
  };
}
