/**
 * Properties of the prompt-file parser on hostile files: lines past the 64 KiB line limit,
 * invalid UTF-8 anywhere, and JSON nested 100,000 deep (in a .json file and in a .jsonl line).
 * The parse always ends, in bounded time, with every line answered and every code documented;
 * nothing throws, nothing overflows the stack.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { PromptFileFormat } from '#shared/prompt-files/keys.ts';
import {
  DEFAULT_MAX_LINE_BYTES,
  PARSER_FILE_ERROR_CODES,
  type ParseLimits,
  type PromptFileItem,
  parsePromptFile,
} from '#shared/prompt-files/parser.ts';
import { chunked } from './helpers.ts';

const DOCUMENTED = new Set<string>(Object.values(ErrorCodes));
const DEEP = 100_000;
const deepArray = `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`;
const deepObject = `${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}`;

async function parse(
  content: string | Uint8Array,
  format: PromptFileFormat,
  limits: Partial<ParseLimits> = {},
  chunkSize?: number,
): Promise<PromptFileItem[]> {
  const items: PromptFileItem[] = [];
  const body = chunked(content, chunkSize);
  const all = { maxBytes: 8 * 1024 * 1024, maxLines: 10_000, ...limits };
  for await (const item of parsePromptFile(body, format, all)) items.push(item);
  return items;
}

/** Every item well formed, every code documented, a file error only last. */
function expectWellFormed(items: readonly PromptFileItem[]) {
  expect(items.length).toBeGreaterThan(0);
  items.forEach((item, index) => {
    if (item.kind === 'invalid') expect(DOCUMENTED.has(item.error.code)).toBe(true);
    if (item.kind === 'file-error') {
      expect(index).toBe(items.length - 1);
      expect(PARSER_FILE_ERROR_CODES).toContain(item.error.code);
    }
  });
  const lines = items.flatMap((item) => ('line' in item ? [item.line] : []));
  expect(lines).toEqual([...lines].sort((a, b) => a - b));
}

function codes(items: readonly PromptFileItem[]): string[] {
  return items.map((item) =>
    item.kind === 'request'
      ? 'ok'
      : item.kind === 'skipped'
        ? 'skip'
        : `${item.kind === 'file-error' ? 'file ' : ''}${item.error.code}`,
  );
}

const encoder = new TextEncoder();
const validLine = (format: 'txt' | 'jsonl') =>
  fc
    .stringMatching(/^[a-z][a-z ]{0,30}[a-z]$/)
    .map((prompt) => (format === 'txt' ? prompt : JSON.stringify({ prompt })));

describe('lines past the line limit', () => {
  it.each<'txt' | 'jsonl'>(['txt', 'jsonl'])(
    'a %s line of 64 KiB and one byte is refused alone; the lines around it are used',
    async (format) => {
      const huge = 'x'.repeat(DEFAULT_MAX_LINE_BYTES + 1);
      const line = format === 'txt' ? 'a cat' : '{"prompt":"a cat"}';

      const items = await parse(`${line}\n${huge}\n${line}\n`, format, {}, 4096);

      expect(codes(items)).toEqual(['ok', ErrorCodes.PROMPT_LINE_TOO_LONG, 'ok']);
    },
  );

  it('refuses exactly the lines over the limit, whatever the lengths and chunking', async () => {
    const maxLineBytes = 64;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<'txt' | 'jsonl'>('txt', 'jsonl'),
        fc.array(fc.integer({ min: 1, max: 3 * maxLineBytes }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 100 }),
        fc.boolean(),
        async (format, lengths, chunkSize, crlf) => {
          const lines = lengths.map((length) =>
            format === 'txt'
              ? `p${'q'.repeat(length - 1)}`
              : JSON.stringify({ prompt: 'p'.repeat(Math.max(1, length - 13)) }),
          );
          const items = await parse(
            lines.join(crlf ? '\r\n' : '\n'),
            format,
            { maxLineBytes },
            chunkSize,
          );

          expectWellFormed(items);
          expect(items.map((item) => ('line' in item ? item.line : 0))).toEqual(
            lines.map((_, index) => index + 1),
          );
          lines.forEach((line, index) => {
            const item = items[index] as PromptFileItem;
            if (Buffer.byteLength(line) > maxLineBytes) {
              expect(item).toMatchObject({ error: { code: ErrorCodes.PROMPT_LINE_TOO_LONG } });
            } else {
              expect(item.kind === 'request' || item.kind === 'invalid').toBe(true);
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** Byte sequences that are never valid UTF-8. */
const invalidUtf8 = fc.constantFrom(
  [0xff],
  [0xc0, 0xaf], // overlong '/'
  [0xe0, 0x80, 0xaf], // overlong
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
  [0x80], // a continuation byte alone
  [0xe2, 0x82], // a truncated sequence, then more text
);

describe('invalid UTF-8 anywhere', () => {
  it('refuses the file with 090005004 wherever the bad bytes are, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<PromptFileFormat>('txt', 'jsonl', 'json'),
        fc.array(validLine('jsonl'), { maxLength: 20 }),
        fc.nat(),
        invalidUtf8,
        fc.integer({ min: 1, max: 64 }),
        async (format, lines, at, bad, chunkSize) => {
          const text =
            format === 'json' ? `[${lines.join(',')}]` : lines.join('\n').concat('\n', 'tail');
          const bytes = encoder.encode(text);
          const cut = at % (bytes.length + 1);
          const file = Buffer.concat([
            bytes.subarray(0, cut),
            Buffer.from(bad),
            bytes.subarray(cut),
          ]);

          const items = await parse(file, format, {}, chunkSize);

          expectWellFormed(items);
          expect(items.at(-1)).toMatchObject({
            kind: 'file-error',
            error: { code: ErrorCodes.PROMPT_FILE_NOT_TEXT },
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('deeply nested JSON', () => {
  it.each([
    ['an array nested 100,000 deep', deepArray, ErrorCodes.REQUEST_NOT_OBJECT],
    [
      'an object nested 100,000 deep as a field',
      `{"prompt":"x","seed":${deepObject}}`,
      ErrorCodes.INVALID_SEED,
    ],
    [
      'an unknown field nested 100,000 deep',
      `{"prompt":"x","extra":${deepArray}}`,
      ErrorCodes.UNKNOWN_FIELD,
    ],
  ])('answers a .jsonl line holding %s with its code', async (_name, line, code) => {
    const items = await parse(`{"prompt":"before"}\n${line}\n{"prompt":"after"}\n`, 'jsonl', {
      maxLineBytes: 4 * 1024 * 1024,
    });

    expect(codes(items)).toEqual(['ok', code, 'ok']);
  });

  it('refuses the same line under the default line limit, without parsing it', async () => {
    const items = await parse(`${deepArray}\n{"prompt":"after"}\n`, 'jsonl');

    expect(codes(items)).toEqual([ErrorCodes.PROMPT_LINE_TOO_LONG, 'ok']);
  });

  it.each([
    [
      'a request, then an array nested 100,000 deep',
      `[{"prompt":"x"},${deepArray}]`,
      ['ok', ErrorCodes.REQUEST_NOT_OBJECT],
    ],
    ['the file itself nested 100,000 deep', deepArray, [ErrorCodes.REQUEST_NOT_OBJECT]],
    ['prompts nested 100,000 deep', `{"prompts":[${deepArray}]}`, [ErrorCodes.REQUEST_NOT_OBJECT]],
    [
      'defaults nested 100,000 deep',
      `{"defaults":{"seed":${deepObject}},"prompts":["x"]}`,
      [ErrorCodes.INVALID_SEED],
    ],
    ['an object nested 100,000 deep', deepObject, [`file ${ErrorCodes.PROMPT_FILE_INVALID_JSON}`]],
    [
      'an unclosed array nested 100,000 deep',
      '['.repeat(DEEP),
      [`file ${ErrorCodes.PROMPT_FILE_INVALID_JSON}`],
    ],
  ])('answers a .json file holding %s with documented codes', async (_name, text, expected) => {
    const items = await parse(text, 'json');

    expectWellFormed(items);
    expect(codes(items)).toEqual(expected);
  });
});
