import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { renderPng } from '#local/simulator/png.ts';

const base = { prompt: 'a lighthouse at dawn', seed: 42, width: 512, height: 512 };

describe('renderPng', () => {
  it.each([
    [512, 512],
    [1328, 1328],
    [3024, 1296],
    [1296, 3024],
    [1, 1],
    [7, 3],
  ])('renders a decodable PNG of exactly %i x %i', async (width, height) => {
    const png = PNG.sync.read(await renderPng({ ...base, width, height }));

    expect(png.width).toBe(width);
    expect(png.height).toBe(height);
  });

  it.each([
    [512, 512],
    [1296, 3024],
    [3024, 1296],
  ])(
    'writes a zlib stream whose length and Adler-32 match the %i x %i scanlines',
    async (width, height) => {
      const file = await renderPng({ ...base, width, height });

      // inflateSync verifies the zlib trailer's Adler-32 and throws on a mismatch.
      const scanlines = inflateSync(idatOf(file));

      expect(scanlines.length).toBe(height * (width * 3 + 1));
    },
  );

  it('gives the same bytes for the same prompt, positive seed and size', async () => {
    const first = await renderPng(base);
    const second = await renderPng({ ...base });

    expect(second.equals(first)).toBe(true);
  });

  it('ignores the nonce when the seed is positive', async () => {
    const plain = await renderPng(base);
    const withNonce = await renderPng({ ...base, nonce: 'anything' });

    expect(withNonce.equals(plain)).toBe(true);
  });

  it.each([
    ['seed', { seed: 43 }],
    ['prompt', { prompt: 'a lighthouse at dusk' }],
    ['size', { width: 640, height: 512 }],
  ])('gives another image for another %s', async (_name, change) => {
    const original = PNG.sync.read(await renderPng(base));
    const changed = PNG.sync.read(await renderPng({ ...base, ...change }));

    expect(changed.data.equals(original.data)).toBe(false);
  });

  it('gives a random image for seed -1', async () => {
    const first = await renderPng({ ...base, seed: -1 });
    const second = await renderPng({ ...base, seed: -1 });

    expect(second.equals(first)).toBe(false);
  });

  it('keeps a seed -1 image stable for one nonce and changes it for another', async () => {
    const first = await renderPng({ ...base, seed: -1, nonce: 'task-a' });
    const again = await renderPng({ ...base, seed: -1, nonce: 'task-a' });
    const other = await renderPng({ ...base, seed: -1, nonce: 'task-b' });

    expect(again.equals(first)).toBe(true);
    expect(other.equals(first)).toBe(false);
  });

  it('draws more than one colour', async () => {
    const { data } = PNG.sync.read(await renderPng(base));
    const colours = new Set<number>();
    for (let i = 0; i < data.length; i += 4) {
      colours.add(
        ((data[i] as number) << 16) | ((data[i + 1] as number) << 8) | (data[i + 2] as number),
      );
    }

    expect(colours.size).toBeGreaterThan(10);
  });

  it('pads the file to at least padToBytes with a chunk decoders skip', async () => {
    const padded = await renderPng({ ...base, padToBytes: 2_000_000 });
    const decoded = PNG.sync.read(padded);

    expect(padded.length).toBe(2_000_000);
    expect(decoded.width).toBe(512);
    expect(padded.includes(Buffer.from('spDa', 'latin1'))).toBe(true);
    expect(PNG.sync.read(await renderPng(base)).data.equals(decoded.data)).toBe(true);
  });

  it('overshoots padToBytes by at most a chunk header when the shortfall is tiny', async () => {
    const unpadded = (await renderPng(base)).length;
    const padded = await renderPng({ ...base, padToBytes: unpadded + 5 });

    expect(padded.length).toBe(unpadded + 12);
    expect(PNG.sync.read(padded).height).toBe(512);
  });

  it('leaves the file alone when it is already larger than padToBytes', async () => {
    const unpadded = await renderPng(base);
    const padded = await renderPng({ ...base, padToBytes: 100 });

    expect(padded.equals(unpadded)).toBe(true);
  });

  it('ends with an IEND chunk after the padding', async () => {
    const padded = await renderPng({ ...base, padToBytes: 100_000 });

    expect(padded.subarray(-8, -4).toString('latin1')).toBe('IEND');
  });

  it('renders the widest 2K size in well under 100 ms', async () => {
    await renderPng({ ...base, width: 3024, height: 1296 });
    const started = performance.now();
    await renderPng({ ...base, seed: 7, width: 3024, height: 1296 });

    expect(performance.now() - started).toBeLessThan(100);
  });

  it.each([
    ['a zero width', { width: 0 }],
    ['a fractional height', { height: 1.5 }],
    ['an enormous width', { width: 100_000 }],
  ])('refuses %s', async (_name, change) => {
    await expect(renderPng({ ...base, ...change })).rejects.toThrow(RangeError);
  });
});

/** The concatenated data of every IDAT chunk. */
function idatOf(file: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let offset = 8; offset < file.length; ) {
    const length = file.readUInt32BE(offset);
    const type = file.toString('latin1', offset + 4, offset + 8);
    if (type === 'IDAT') parts.push(file.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  return Buffer.concat(parts);
}
