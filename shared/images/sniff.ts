/** Recognises an image by its first bytes, whatever the Content-Type claims. */

export type ImageType = 'image/png' | 'image/jpeg' | 'image/webp';

/** Bytes needed to recognise the type and, for PNG, read the size from IHDR. */
export const SNIFF_BYTES = 24;

export function sniffImageType(head: Uint8Array): ImageType | undefined {
  const starts = (bytes: number[], offset = 0) =>
    bytes.every((byte, i) => head[offset + i] === byte);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp';
  return undefined;
}

/** Width and height from a PNG's IHDR chunk (always the first chunk). */
export function pngDimensions(head: Uint8Array): { width: number; height: number } | undefined {
  if (head.length < SNIFF_BYTES || sniffImageType(head) !== 'image/png') return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}
