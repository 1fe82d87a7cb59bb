/**
 * Hostile bodies for POST /generations, as fast-check arbitraries: nesting from 1 to 6,000 levels
 * (in `metadata`, or the body itself as objects or arrays), encodings (UTF-8 with and without a
 * byte-order mark, malformed UTF-8 sequences spliced in anywhere, Latin-1, UTF-16 in either
 * order with and without its mark, escaped lone surrogates), sizes up to past the 64 KB limit,
 * and the content types clients send. Each case says which answers it may get, so a test can
 * hold the API to more than "not a 5xx".
 */
import fc from 'fast-check';
import { type ErrorCode, ErrorCodes } from '#shared/errors/codes.ts';

export interface HostileBody {
  readonly bytes: Uint8Array;
  /** The Content-Type header; undefined = none. */
  readonly contentType: string | undefined;
  /** How it was made, for failure messages. */
  readonly description: string;
  /** The codes the answer may carry; empty = a 202 is the only right answer. */
  readonly expectedCodes: readonly ErrorCode[];
}

/** The API's largest body (`MAX_BODY_BYTES`) and deepest nesting (`MAX_BODY_DEPTH`). */
const MAX_BYTES = 64 * 1024;
const MAX_DEPTH = 64;

/** Byte sequences that are not UTF-8, of every kind the decoder must refuse. */
export const MALFORMED_UTF8: readonly (readonly number[])[] = [
  [0x80], // a continuation byte with no lead
  [0xbf],
  [0xc0, 0xaf], // overlong '/'
  [0xc1, 0xbf],
  [0xe0, 0x80, 0xaf], // overlong, three bytes
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate, encoded
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
  [0xf8, 0x88, 0x80, 0x80, 0x80], // five-byte form
  [0xfe],
  [0xff],
  [0xe2, 0x82], // truncated
  [0xc3], // truncated at the end
];

type Shape = 'metadata' | 'objects' | 'arrays';

const JSON_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON;charset=UTF-8',
  'application/vnd.api+json',
] as const;
const OTHER_TYPES = [
  'text/plain',
  'text/plain;charset=UTF-8',
  '',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/json; charset=utf-16',
  'application/json; charset=iso-8859-1',
  'application/jsonx',
] as const;

const contentTypes: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...JSON_TYPES) },
  { weight: 2, arbitrary: fc.constantFrom(...OTHER_TYPES) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** JSON text nested `depth` levels in the given shape (depth 1 = a flat request). */
function nested(shape: Shape, depth: number, padding: string): string {
  // Not ASCII, so that Latin-1 and UTF-16 make bytes that are not UTF-8.
  const prompt = `"prompt":"a lighthouse café${padding}"`;
  if (shape === 'arrays') return `${'['.repeat(depth)}${']'.repeat(depth)}`;
  if (shape === 'objects') {
    return `${'{"a":'.repeat(depth - 1)}{${prompt}}${'}'.repeat(depth - 1)}`;
  }
  const inner = Math.max(depth - 1, 0);
  const metadata =
    inner === 0 ? '' : `,"metadata":${'{"a":'.repeat(inner - 1)}{}${'}'.repeat(inner - 1)}`;
  return `{${prompt}${metadata}}`;
}

type Encoding =
  | { kind: 'utf8' }
  | { kind: 'utf8-bom' }
  | { kind: 'malformed'; sequence: readonly number[]; at: number }
  | { kind: 'latin1' }
  | { kind: 'utf16le'; bom: boolean }
  | { kind: 'utf16be'; bom: boolean }
  | { kind: 'lone-surrogate'; escape: string };

const encodings: fc.Arbitrary<Encoding> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'utf8' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'utf8-bom' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('malformed' as const),
      sequence: fc.constantFrom(...MALFORMED_UTF8),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'latin1' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('utf16le' as const), bom: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('utf16be' as const), bom: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('lone-surrogate' as const),
      escape: fc.constantFrom('\\ud800', '\\udbff', '\\udc00', '\\udfff', '\\ud83c\\ud83c'),
    }),
  },
);

function encode(text: string, encoding: Encoding): Uint8Array {
  switch (encoding.kind) {
    case 'utf8':
      return new Uint8Array(Buffer.from(text, 'utf8'));
    case 'utf8-bom':
      return new Uint8Array(Buffer.concat([Buffer.of(0xef, 0xbb, 0xbf), Buffer.from(text)]));
    case 'malformed': {
      const bytes = Buffer.from(text, 'utf8');
      const at = Math.floor(encoding.at * bytes.length);
      return new Uint8Array(
        Buffer.concat([bytes.subarray(0, at), Buffer.from(encoding.sequence), bytes.subarray(at)]),
      );
    }
    case 'latin1':
      return new Uint8Array(Buffer.from(text, 'latin1'));
    case 'utf16le':
    case 'utf16be': {
      const le = Buffer.from(text, 'utf16le');
      const bytes = encoding.kind === 'utf16le' ? le : Buffer.from(le).swap16();
      const bom = encoding.kind === 'utf16le' ? Buffer.of(0xff, 0xfe) : Buffer.of(0xfe, 0xff);
      return new Uint8Array(encoding.bom ? Buffer.concat([bom, bytes]) : bytes);
    }
    case 'lone-surrogate':
      return new Uint8Array(
        Buffer.from(text.replace('lighthouse', `lighthouse ${encoding.escape}`)),
      );
  }
}

/**
 * The codes a case may be answered with, in the API's order of checks: size, type, UTF-8, depth,
 * JSON, then the rules. Where an encoding makes the text something else entirely (UTF-16,
 * Latin-1 of non-ASCII), any of the checks after the type may be the first to refuse it.
 */
function expectedCodes(
  bytes: Uint8Array,
  contentType: string | undefined,
  encoding: Encoding,
  shape: Shape,
  depth: number,
): readonly ErrorCode[] {
  if (bytes.byteLength > MAX_BYTES) return [ErrorCodes.API_BODY_TOO_LARGE];
  if (contentType === undefined || !JSON_TYPES.includes(contentType as never)) {
    return [ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE];
  }
  if (!isUtf8(bytes)) return [ErrorCodes.API_BODY_NOT_UTF8];
  const tooDeep = depth > MAX_DEPTH;
  if (encoding.kind === 'utf16le' || encoding.kind === 'utf16be') {
    // ASCII in UTF-16 (the array shapes) is valid UTF-8 with NULs between: deep text is still
    // deep, else not JSON.
    return tooDeep ? [ErrorCodes.API_BODY_TOO_DEEP] : [ErrorCodes.API_BODY_NOT_JSON];
  }
  if (tooDeep) return [ErrorCodes.API_BODY_TOO_DEEP];
  if (encoding.kind === 'lone-surrogate') {
    return shape === 'arrays' ? [ErrorCodes.REQUEST_NOT_OBJECT] : [ErrorCodes.API_BODY_NOT_UTF8];
  }
  if (shape === 'arrays') return [ErrorCodes.REQUEST_NOT_OBJECT];
  if (shape === 'objects' && depth > 1) return [ErrorCodes.MISSING_PROMPT];
  return [];
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A body of any nesting, encoding, size and declared type, with the answers it may get. */
export const hostileBodies: fc.Arbitrary<HostileBody> = fc
  .record({
    shape: fc.constantFrom<Shape>('metadata', 'objects', 'arrays'),
    depth: fc.oneof(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: MAX_DEPTH - 2, max: MAX_DEPTH + 2 }),
      fc.integer({ min: 1, max: 6000 }),
    ),
    // Mostly small; some near and past the limit (the metadata limit of 2 KB does not apply to
    // the prompt, whose padding makes the size).
    padding: fc.oneof(
      { weight: 6, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: MAX_BYTES - 200, max: MAX_BYTES + 2000 }) },
    ),
    encoding: encodings,
    contentType: contentTypes,
  })
  .map(({ shape, depth, padding, encoding, contentType }) => {
    const text = nested(shape, depth, 'x'.repeat(padding));
    const bytes = encode(text, encoding);
    const codes = expectedCodes(bytes, contentType, encoding, shape, depth);
    // A long prompt is refused by its own rule once everything before it passed.
    const expected = padding > 0 && codes.length === 0 ? [ErrorCodes.INVALID_PROMPT_LENGTH] : codes;
    return {
      bytes,
      contentType,
      description: `${shape} ${depth} deep, ${JSON.stringify(encoding)}, ${bytes.byteLength} bytes, ${contentType === undefined ? 'no Content-Type' : `Content-Type ${JSON.stringify(contentType)}`}`,
      expectedCodes: expected,
    };
  });
