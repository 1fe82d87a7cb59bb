/**
 * A streaming line splitter for prompt files: bytes in, numbered lines out, with memory bounded
 * by the per-line limit whatever the file size. It is stricter than `node:readline`, which
 * replaces bad bytes silently: a NUL byte or invalid UTF-8 refuses the file (`090005004`), the
 * byte limit is enforced as bytes arrive (`090005001`), and a line longer than the line limit is
 * reported as such, its bytes dropped as they stream past.
 *
 * Each chunk is checked as a whole before any of its lines is handed on, so a binary file is
 * refused before its first line is used (bad bytes further in stop the file there).
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import { PromptFileRejectedError } from './errors.ts';

export interface LineLimits {
  /** The file's byte limit. */
  readonly maxBytes: number;
  /** A line's byte limit, not counting its line ending. */
  readonly maxLineBytes: number;
}

/** One line of the file, 1-based; a UTF-8 BOM and a trailing CR are removed. */
export type PhysicalLine =
  | { readonly line: number; readonly text: string }
  | { readonly line: number; readonly tooLong: true; readonly bytes: number };

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const BOM = '\uFEFF';

export async function* physicalLines(
  body: AsyncIterable<Uint8Array | string>,
  limits: LineLimits,
): AsyncGenerator<PhysicalLine, void, undefined> {
  // Decoding every chunk as a stream validates UTF-8 across chunk boundaries; its text is unused.
  const validator = new TextDecoder('utf-8', { fatal: true });
  let received = 0;
  let lineNumber = 1;
  let parts: Buffer[] = [];
  let lineBytes = 0;
  let overflow = false;

  const append = (segment: Buffer): void => {
    if (segment.length === 0) return;
    // One byte of slack for the CR of a CRLF ending, which does not count against the limit.
    if (!overflow && lineBytes + segment.length <= limits.maxLineBytes + 1) {
      parts.push(segment);
    } else {
      overflow = true;
      parts = [];
    }
    lineBytes += segment.length;
  };

  const finish = (): PhysicalLine => {
    const line = lineNumber++;
    let result: PhysicalLine;
    if (overflow) {
      result = { line, tooLong: true, bytes: lineBytes };
    } else {
      let bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, lineBytes);
      if (bytes.at(-1) === CARRIAGE_RETURN) bytes = bytes.subarray(0, -1);
      let text = bytes.toString('utf8');
      let length = bytes.length;
      if (line === 1 && text.startsWith(BOM)) {
        text = text.slice(1);
        length -= 3;
      }
      result =
        length > limits.maxLineBytes ? { line, tooLong: true, bytes: length } : { line, text };
    }
    parts = [];
    lineBytes = 0;
    overflow = false;
    return result;
  };

  for await (const raw of body) {
    const chunk = toBuffer(raw);
    if (chunk.length === 0) continue;
    const offset = received;
    received += chunk.length;
    if (received > limits.maxBytes) {
      throw new PromptFileRejectedError(
        ErrorCodes.PROMPT_FILE_TOO_LARGE,
        `The file is larger than the limit of ${limits.maxBytes} bytes`,
      );
    }
    const nul = chunk.indexOf(0);
    if (nul !== -1) {
      throw notText(`The file has a NUL byte at byte ${offset + nul + 1}: it is binary, not text`);
    }
    try {
      validator.decode(chunk, { stream: true });
    } catch (cause) {
      throw notText(`The file is not valid UTF-8 (in bytes ${offset + 1}-${received})`, cause);
    }
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      append(chunk.subarray(start, newline === -1 ? chunk.length : newline));
      if (newline === -1) break;
      yield finish();
      start = newline + 1;
    }
  }
  try {
    validator.decode();
  } catch (cause) {
    throw notText('The file is not valid UTF-8 (it ends inside a character)', cause);
  }
  if (lineBytes > 0 || overflow) yield finish();
}

/** Reads a whole body, refusing it past `maxBytes`; for `.json`, which is parsed as one value. */
export async function readAll(
  body: AsyncIterable<Uint8Array | string>,
  maxBytes: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const raw of body) {
    const chunk = toBuffer(raw);
    received += chunk.length;
    if (received > maxBytes) {
      throw new PromptFileRejectedError(
        ErrorCodes.PROMPT_FILE_TOO_LARGE,
        `The file is larger than the limit of ${maxBytes} bytes`,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, received);
}

/** Decodes a whole file as strict UTF-8 text, without its BOM. */
export function decodeText(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    throw notText(`The file has a NUL byte at byte ${nul + 1}: it is binary, not text`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw notText('The file is not valid UTF-8', cause);
  }
  return text.startsWith(BOM) ? text.slice(1) : text;
}

function notText(message: string, cause?: unknown): PromptFileRejectedError {
  return new PromptFileRejectedError(ErrorCodes.PROMPT_FILE_NOT_TEXT, message, { cause });
}

function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.isBuffer(chunk)
    ? chunk
    : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
