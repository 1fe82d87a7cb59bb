/**
 * A small, fast PNG encoder for the simulator's "generated" images.
 *
 * The picture is a few horizontal bands of vertical stripes, with colours and widths drawn from a
 * sha256 of (prompt, seed, width, height) — so the bytes are a pure function of those when the
 * seed is positive, and random for seed -1 (a per-task nonce, or random bytes, joins the hash).
 *
 * Speed matters more than beauty: the simulator renders hundreds of these on two cores. Each band
 * repeats one row, and every repeated row is written with PNG's "Up" filter, which turns it into
 * zeros. The IDAT zlib stream is assembled from independently compressed pieces (a deflate stream
 * may be a concatenation of byte-aligned, non-final blocks, which is what a sync flush produces):
 * each band's first row as a stored block, then runs of Up rows taken from a per-width cache of
 * power-of-two runs, compressed once on the libuv thread pool. So no full-size raw image is ever
 * allocated (fresh multi-megabyte buffers cost more in page faults than compressing them), and a
 * render is a few row copies and checksums, whatever the height.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { constants, crc32, deflateRaw } from 'node:zlib';

const deflateRawAsync = promisify(deflateRaw);

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Length, type and CRC around each chunk's data. */
const CHUNK_OVERHEAD = 12;
/** Largest data length a PNG chunk may declare (2^31 - 1). */
const MAX_CHUNK_DATA = 0x7fff_ffff;
/**
 * The padding chunk's type: lowercase first letter = ancillary (decoders skip it), lowercase
 * second = private, uppercase third = the reserved bit, lowercase fourth = safe to copy.
 */
const PADDING_CHUNK_TYPE = 'spDa';
/** Side limit well above the provider's sizes (3024 is its widest); guards against typos. */
const MAX_SIDE = 16_384;
const BYTES_PER_PIXEL = 3;
const FILTER_NONE = 0;
const FILTER_UP = 2;
/** Longest cached run of Up rows (2^8); longer runs repeat it. */
const MAX_RUN_EXPONENT = 8;
/** Widths whose run ladders are kept; the provider's recommended sizes use ten. */
const MAX_CACHED_WIDTHS = 64;
/**
 * Each piece ends with a sync flush: byte-aligned, not final, so pieces concatenate. Z_RLE suits
 * data that is mostly runs of zeros: faster and smaller than general matching at level 1.
 */
const PIECE_OPTIONS = {
  level: 1,
  strategy: constants.Z_RLE,
  finishFlush: constants.Z_SYNC_FLUSH,
} as const;
/** zlib header: deflate, 32 KiB window, fastest-compression hint; (0x78 << 8 | 0x01) % 31 = 0. */
const ZLIB_HEADER = Buffer.from([0x78, 0x01]);
/** An empty final block with fixed Huffman codes: ends the deflate stream. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);
const ADLER_BASE = 65_521;
/** A stored deflate block holds at most this many bytes. */
const MAX_STORED_BLOCK = 65_535;

/** What to draw. */
export interface PngSpec {
  readonly prompt: string;
  /** -1 for a random image; otherwise the image is a pure function of the other fields. */
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  /**
   * Extra entropy for seed -1, so one task's random image stays the same across downloads.
   * Ignored for positive seeds (which must not depend on anything but prompt, seed and size).
   */
  readonly nonce?: string;
  /** Pad the file with a private ancillary chunk until it is at least this many bytes. */
  readonly padToBytes?: number;
}

/** Renders the image for `spec` as a complete PNG file. */
export async function renderPng(spec: PngSpec): Promise<Buffer> {
  assertSide('width', spec.width);
  assertSide('height', spec.height);
  const bytes = new ByteSource(entropyFor(spec));
  const idat = await compressImage(spec.width, spec.height, bytes);
  const chunks: ChunkPlan[] = [
    { type: 'IHDR', data: ihdr(spec.width, spec.height) },
    { type: 'IDAT', data: idat },
  ];
  const iend: ChunkPlan = { type: 'IEND', zeros: 0 };
  const unpadded = PNG_SIGNATURE.length + planLength([...chunks, iend]);
  chunks.push(...paddingPlan(unpadded, spec.padToBytes ?? 0), iend);
  return writePng(chunks);
}

/** A chunk to write: its data, or (for padding) a run of zero bytes not yet allocated. */
type ChunkPlan =
  | { readonly type: string; readonly data: Buffer }
  | { readonly type: string; readonly zeros: number };

function assertSide(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > MAX_SIDE) {
    throw new RangeError(`PNG ${name} must be an integer from 1 to ${MAX_SIDE}, got ${value}`);
  }
}

/** The seed material: a hash of the request for positive seeds, fresh randomness otherwise. */
function entropyFor(spec: PngSpec): Buffer {
  if (spec.seed === -1 && spec.nonce === undefined) return randomBytes(32);
  const nonce = spec.seed === -1 ? spec.nonce : undefined;
  const material = JSON.stringify([spec.prompt, spec.seed, spec.width, spec.height, nonce]);
  return createHash('sha256').update(material).digest();
}

/**
 * An endless byte stream derived from a 32-byte seed (sha256 in counter mode), so the drawing
 * can take as many "random" choices as it needs while staying deterministic.
 */
class ByteSource {
  readonly #seed: Buffer;
  #block: Buffer = Buffer.alloc(0);
  #offset = 0;
  #counter = 0;

  constructor(seed: Buffer) {
    this.#seed = seed;
  }

  /** One byte, 0-255. */
  next(): number {
    if (this.#offset >= this.#block.length) {
      this.#block = createHash('sha256')
        .update(this.#seed)
        .update(String(this.#counter++))
        .digest();
      this.#offset = 0;
    }
    return this.#block[this.#offset++] as number;
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    const value = (this.next() << 8) | this.next();
    return min + (value % (max - min + 1));
  }
}

/** A piece of the deflate stream, with what the zlib trailer needs to know about its input. */
interface Piece {
  readonly deflated: Buffer;
  readonly rawLength: number;
  readonly adler: number;
}

/**
 * The IDAT payload: a zlib stream of the filtered scanlines. Each band is its first row (filter
 * None, real pixels) then `bandHeight - 1` Up rows, which are all zeros after their filter byte.
 */
async function compressImage(width: number, height: number, bytes: ByteSource): Promise<Buffer> {
  const stride = width * BYTES_PER_PIXEL + 1;
  const starts = bandBoundaries(height, bytes);
  // Draw every row first, in order, so the byte stream (hence the image) stays deterministic.
  const rows = starts.map(() => stripedRow(width, bytes));
  const ladder = await upRowLadder(stride);
  const pieces: Piece[] = [];
  starts.forEach((start, band) => {
    const end = starts[band + 1] ?? height;
    pieces.push(storedPiece(rows[band] as Buffer), ...upRowRun(ladder, end - start - 1));
  });
  return zlibStream(pieces);
}

/**
 * Pixel rows of gradients barely compress, so they go in as stored (uncompressed) deflate blocks:
 * a header byte (not final, type 00), LEN and its complement, then the bytes — no zlib call.
 */
function storedPiece(raw: Buffer): Piece {
  const blocks: Buffer[] = [];
  for (let offset = 0; offset < raw.length; offset += MAX_STORED_BLOCK) {
    const data = raw.subarray(offset, offset + MAX_STORED_BLOCK);
    const header = Buffer.alloc(5);
    header.writeUInt16LE(data.length, 1);
    header.writeUInt16LE(~data.length & 0xffff, 3);
    blocks.push(header, data);
  }
  return { deflated: Buffer.concat(blocks), rawLength: raw.length, adler: adler32(raw) };
}

async function compressPiece(raw: Buffer): Promise<Piece> {
  const deflated = await deflateRawAsync(raw, PIECE_OPTIONS);
  return { deflated, rawLength: raw.length, adler: adler32(raw) };
}

/** zlib header, the pieces' deflate blocks, a final empty block, and the Adler-32 of it all. */
function zlibStream(pieces: readonly Piece[]): Buffer {
  let adler = 1;
  for (const piece of pieces) adler = adler32Combine(adler, piece.adler, piece.rawLength);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(adler);
  const blocks = pieces.map((piece) => piece.deflated);
  return Buffer.concat([ZLIB_HEADER, ...blocks, FINAL_EMPTY_BLOCK, trailer]);
}

/** Compressed runs of 2^0 … 2^MAX_RUN_EXPONENT Up rows of one width, built once per width. */
const ladders = new Map<number, Promise<Piece[]>>();

function upRowLadder(stride: number): Promise<Piece[]> {
  let ladder = ladders.get(stride);
  if (ladder) {
    // Map keeps insertion order: re-inserting marks this width as recently used.
    ladders.delete(stride);
  } else {
    ladder = buildLadder(stride);
    // A failed build must not be cached.
    ladder.catch(() => ladders.delete(stride));
  }
  ladders.set(stride, ladder);
  for (const oldest of ladders.keys()) {
    if (ladders.size <= MAX_CACHED_WIDTHS) break;
    ladders.delete(oldest);
  }
  return ladder;
}

async function buildLadder(stride: number): Promise<Piece[]> {
  const rows = 1 << MAX_RUN_EXPONENT;
  const raw = Buffer.alloc(stride * rows);
  for (let row = 0; row < rows; row++) raw[row * stride] = FILTER_UP;
  const exponents = Array.from({ length: MAX_RUN_EXPONENT + 1 }, (_, k) => k);
  return Promise.all(exponents.map((k) => compressPiece(raw.subarray(0, stride << k))));
}

/** `count` Up rows as ladder pieces: whole runs of the longest, then the binary remainder. */
function upRowRun(ladder: readonly Piece[], count: number): Piece[] {
  const longest = ladder[MAX_RUN_EXPONENT] as Piece;
  const pieces: Piece[] = [];
  for (let left = count; left >= 1 << MAX_RUN_EXPONENT; left -= 1 << MAX_RUN_EXPONENT) {
    pieces.push(longest);
  }
  const remainder = count % (1 << MAX_RUN_EXPONENT);
  for (let k = MAX_RUN_EXPONENT - 1; k >= 0; k--) {
    if (remainder & (1 << k)) pieces.push(ladder[k] as Piece);
  }
  return pieces;
}

function adler32(data: Uint8Array): number {
  // 5552 is the most bytes that can be summed before the 32-bit sums could overflow (zlib's NMAX).
  const chunk = 5552;
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(i + chunk, data.length);
    for (; i < end; i++) {
      a += data[i] as number;
      b += a;
    }
    a %= ADLER_BASE;
    b %= ADLER_BASE;
  }
  return ((b << 16) | a) >>> 0;
}

/** Adler-32 of A followed by B, from their checksums and B's length (zlib's adler32_combine). */
function adler32Combine(adlerA: number, adlerB: number, lengthB: number): number {
  const remainder = lengthB % ADLER_BASE;
  let sum1 = adlerA & 0xffff;
  let sum2 = (remainder * sum1) % ADLER_BASE;
  sum1 += (adlerB & 0xffff) + ADLER_BASE - 1;
  sum2 += (adlerA >>> 16) + (adlerB >>> 16) + ADLER_BASE - remainder;
  if (sum1 >= ADLER_BASE) sum1 -= ADLER_BASE;
  if (sum1 >= ADLER_BASE) sum1 -= ADLER_BASE;
  if (sum2 >= ADLER_BASE * 2) sum2 -= ADLER_BASE * 2;
  if (sum2 >= ADLER_BASE) sum2 -= ADLER_BASE;
  return ((sum2 << 16) | sum1) >>> 0;
}

/** The first row of each horizontal band, ascending, starting at 0. */
function bandBoundaries(height: number, bytes: ByteSource): number[] {
  const bands = Math.min(height, bytes.between(2, 6));
  const starts = new Set<number>([0]);
  while (starts.size < bands) starts.add(bytes.between(1, height - 1));
  return [...starts].sort((a, b) => a - b);
}

/**
 * One scanline (filter byte None, then pixels) of vertical stripes, each a horizontal gradient
 * between two derived colours.
 */
function stripedRow(width: number, bytes: ByteSource): Buffer {
  const row = Buffer.alloc(width * BYTES_PER_PIXEL + 1);
  row[0] = FILTER_NONE;
  let x = 0;
  while (x < width) {
    const stripe = Math.min(
      width - x,
      bytes.between(Math.max(1, width >> 5), Math.max(1, width >> 2)),
    );
    const from = [bytes.next(), bytes.next(), bytes.next()];
    const to = [bytes.next(), bytes.next(), bytes.next()];
    for (let i = 0; i < stripe; i++) {
      const t = stripe === 1 ? 0 : i / (stripe - 1);
      const pixel = 1 + (x + i) * BYTES_PER_PIXEL;
      for (let c = 0; c < BYTES_PER_PIXEL; c++) {
        const a = from[c] as number;
        const b = to[c] as number;
        row[pixel + c] = Math.round(a + (b - a) * t);
      }
    }
    x += stripe;
  }
  return row;
}

/** IHDR: 8-bit truecolour (RGB), no interlace. */
function ihdr(width: number, height: number): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data[8] = 8; // bit depth
  data[9] = 2; // colour type: truecolour
  data[10] = 0; // compression: deflate
  data[11] = 0; // filter method: adaptive
  data[12] = 0; // interlace: none
  return data;
}

function dataLength(plan: ChunkPlan): number {
  return 'data' in plan ? plan.data.length : plan.zeros;
}

function planLength(plans: readonly ChunkPlan[]): number {
  return plans.reduce((sum, plan) => sum + CHUNK_OVERHEAD + dataLength(plan), 0);
}

/**
 * Writes the whole file into one buffer. A padded 100 MB file is allocated once, zero-filled
 * by Buffer.alloc, so padding costs one allocation and one CRC pass rather than several copies.
 */
function writePng(plans: readonly ChunkPlan[]): Buffer {
  const out = Buffer.alloc(PNG_SIGNATURE.length + planLength(plans));
  let offset = PNG_SIGNATURE.copy(out, 0);
  for (const plan of plans) {
    const length = dataLength(plan);
    out.writeUInt32BE(length, offset);
    out.write(plan.type, offset + 4, 'latin1');
    if ('data' in plan) plan.data.copy(out, offset + 8);
    // The CRC covers the chunk type and data, not the length.
    const crc = crc32(out.subarray(offset + 4, offset + 8 + length));
    out.writeUInt32BE(crc, offset + 8 + length);
    offset += CHUNK_OVERHEAD + length;
  }
  return out;
}

/**
 * Padding chunks that bring a file of `unpadded` bytes to at least `target` bytes. A chunk costs
 * 12 bytes even when empty, so a shortfall under 12 overshoots slightly ("at least", not
 * "exactly"); beyond 2 GiB the padding is split, as a chunk's length is limited to 2^31 - 1.
 */
function paddingPlan(unpadded: number, target: number): ChunkPlan[] {
  const plans: ChunkPlan[] = [];
  let missing = target - unpadded;
  while (missing > 0) {
    const zeros = Math.min(MAX_CHUNK_DATA, Math.max(0, missing - CHUNK_OVERHEAD));
    plans.push({ type: PADDING_CHUNK_TYPE, zeros });
    missing -= zeros + CHUNK_OVERHEAD;
  }
  return plans;
}
