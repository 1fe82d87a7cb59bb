/**
 * The SSRF guard of the image copy: which URLs and which resolved addresses may be fetched.
 * A provider answer must never make the pipeline fetch from inside the network, so the check is
 * made on the addresses a name resolves to, inside the socket's own DNS lookup, and once more on
 * the address the socket connected to, never only on the name.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import type { ClientRequest } from 'node:http';
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

/**
 * Every IPv4 range that is not the public internet (the IANA special-purpose registry's ranges
 * that are not globally reachable, and the reserved block).
 */
const nonPublicIpv4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT (shared address space)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, including the instance metadata address
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the limited broadcast address 255.255.255.255
] as const) {
  nonPublicIpv4.addSubnet(network, prefix, 'ipv4');
}

/**
 * Whether an IP address (v4 or v6, in any of its textual forms) is on the public internet.
 *
 * IPv6 is decided by allowing rather than listing: only global unicast (2000::/3) can be public,
 * which leaves out at once the loopback and unspecified addresses, the IPv4-compatible
 * (`::a.b.c.d`) and IPv4-translated (`::ffff:0:a.b.c.d`) forms, NAT64's local-use prefix,
 * discard-only, unique-local, link-local, site-local (fec0::/10) and multicast ranges. Inside
 * 2000::/3, the ranges that embed an IPv4 address somewhere we cannot trust (Teredo, 6to4) or
 * are not routed are refused. The two forms whose IPv4 address is what a connection reaches —
 * IPv4-mapped `::ffff:a.b.c.d` and NAT64 `64:ff9b::a.b.c.d` — are decided by that IPv4 address.
 */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !nonPublicIpv4.check(address, 'ipv4');
  if (family !== 6) return false;
  const groups = ipv6Groups(address);
  if (groups === undefined) return false;
  const embedded = embeddedIpv4(groups);
  if (embedded !== undefined) return isPublicAddress(embedded);
  return isGlobalUnicast(groups);
}

function isGlobalUnicast(groups: readonly number[]): boolean {
  const [first = 0, second = 0] = groups;
  if ((first & 0xe000) !== 0x2000) return false; // outside 2000::/3
  if (first === 0x2001 && second < 0x0200) return false; // 2001::/23: Teredo, ORCHID, benchmarking…
  if (first === 0x2001 && second === 0x0db8) return false; // documentation
  if (first === 0x2002) return false; // 6to4: embeds an IPv4 address, deprecated
  if (first === 0x3fff && second < 0x1000) return false; // 3fff::/20, documentation
  return true;
}

/**
 * The IPv4 address a connection to an IPv4-mapped (`::ffff:0:0/96`) or NAT64 well-known-prefix
 * (`64:ff9b::/96`) address actually reaches; undefined for every other address.
 */
function embeddedIpv4(groups: readonly number[]): string | undefined {
  const prefix = groups.slice(0, 6).join(':');
  if (prefix !== '0:0:0:0:0:65535' && prefix !== '100:65435:0:0:0:0') return undefined;
  const high = groups[6] ?? 0;
  const low = groups[7] ?? 0;
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a dotted tail converted). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.replace(/%.*$/, ''); // a zone id says which interface, not which address
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [head = '', tail = ''] = dotted.slice(1);
    if (isIP(tail) !== 4) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${head}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(missing).fill('0'), ...tail];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return undefined;
  return groups.map((group) => Number.parseInt(group, 16));
}

/** Whether an IP address is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped loopback). */
export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return address.split('.')[0] === '127';
  if (family !== 6) return false;
  const groups = ipv6Groups(address);
  if (groups === undefined) return false;
  if (groups.join(':') === '0:0:0:0:0:0:0:1') return true;
  const mapped = groups.slice(0, 6).join(':') === '0:0:0:0:0:65535';
  return mapped && (groups[6] ?? 0) >> 8 === 127;
}

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

/** Host names compare without case and without a trailing dot (`CDN.Example.com.`). */
function hostMatches(host: string, allowed: string): boolean {
  const name = allowed.toLowerCase().replace(/\.$/, '');
  const candidate = host.toLowerCase().replace(/\.$/, '');
  return candidate === name || candidate.endsWith(`.${name}`);
}

/**
 * The error a refused lookup or connection raises, from what was refused (`host x resolves to
 * non-public address y`): the image copy's by default; webhook deliveries give their own.
 */
export type RefusalOf = (reason: string) => Error;

const imageRefusal: RefusalOf = (reason) =>
  new ImageUrlRefusedError(reason.startsWith('host') ? `Image ${reason}` : `The image ${reason}`);

/** `dns.lookup` asked for every address: what {@link guardedLookup} resolves names with. */
export type Resolver = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemResolver: Resolver = (hostname, options, callback) =>
  dnsLookup(hostname, options, callback);

/**
 * A DNS lookup for sockets that refuses a name when any of its addresses is not allowed, so the
 * address checked is the address connected to (no window for DNS rebinding between a check and
 * the connection). `resolve` is the system resolver unless a test gives its own.
 */
export function guardedLookup(
  isAllowed: (address: string) => boolean,
  resolve: Resolver = systemResolver,
  refuse: RefusalOf = imageRefusal,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, list) => {
      if (error) return callback(error, '', 0);
      const refused = list.find((entry) => !isAllowed(entry.address));
      if (refused || list.length === 0) {
        const reason = refused
          ? `resolves to non-public address ${refused.address}`
          : 'has no address';
        return callback(refuse(`host ${hostname} ${reason}`), '', 0);
      }
      if (options.all) return callback(null, list as never, 0);
      const [first] = list as [LookupAddress];
      return callback(null, first.address, first.family);
    });
  };
}

/**
 * Defence in depth: once the request's socket is connected, its peer address is checked again,
 * whatever path led there (an IP literal needs no lookup, a pooled socket none either). A
 * connection to an address that is not allowed is destroyed before a byte is sent.
 */
export function verifyConnectedAddress(
  request: ClientRequest,
  isAllowed: (address: string) => boolean,
  refuse: RefusalOf = imageRefusal,
): void {
  request.once('socket', (socket) => {
    const verify = () => {
      const address = socket.remoteAddress;
      if (address !== undefined && isAllowed(address)) return;
      request.destroy(refuse(`connection reached non-public address ${address ?? '(unknown)'}`));
    };
    if (socket.connecting || socket.remoteAddress === undefined) socket.once('connect', verify);
    else verify();
  });
}
