import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { PromptFileFormat } from '#shared/prompt-files/keys.ts';
import {
  PARSER_FILE_ERROR_CODES,
  type ParseLimits,
  type PromptFileItem,
  parsePromptFile,
} from '#shared/prompt-files/parser.ts';
import { REQUEST_DEFAULTS, WarningCodes } from '#shared/request/schema.ts';
import { chunked } from './helpers.ts';

const LIMITS: ParseLimits = { maxBytes: 1024 * 1024, maxLines: 1000, maxLineBytes: 1024 };

async function parse(
  content: string | Uint8Array,
  format: PromptFileFormat,
  options: { limits?: Partial<ParseLimits>; chunkSize?: number } = {},
): Promise<PromptFileItem[]> {
  const items: PromptFileItem[] = [];
  const body = chunked(content, options.chunkSize);
  for await (const item of parsePromptFile(body, format, { ...LIMITS, ...options.limits })) {
    items.push(item);
  }
  return items;
}

/** Each item as a short string, easy to compare: `1 ok a cat`, `2 skip`, `3 003001002`, `file 090005005`. */
function summarise(items: readonly PromptFileItem[]): string[] {
  return items.map((item) => {
    if (item.kind === 'request') return `${item.line} ok ${item.request.prompt}`;
    if (item.kind === 'skipped') return `${item.line} skip`;
    if (item.kind === 'invalid') return `${item.line} ${item.error.code}`;
    return `file ${item.error.code}`;
  });
}

function fileError(items: readonly PromptFileItem[]): string | undefined {
  const last = items.at(-1);
  return last?.kind === 'file-error' ? last.error.code : undefined;
}

describe('.txt prompt files', () => {
  it('makes each line a prompt with the request defaults', async () => {
    const items = await parse('a red fox\na blue whale\n', 'txt');

    expect(summarise(items)).toEqual(['1 ok a red fox', '2 ok a blue whale']);
    expect(items[0]).toEqual({
      kind: 'request',
      line: 1,
      request: { prompt: 'a red fox', ...REQUEST_DEFAULTS },
      warnings: [],
    });
  });

  it('skips comment and blank lines but still counts them as line numbers', async () => {
    const items = await parse('# header\n\na cat\n   \n  # indented comment\na dog', 'txt');

    expect(summarise(items)).toEqual([
      '1 skip',
      '2 skip',
      '3 ok a cat',
      '4 skip',
      '5 skip',
      '6 ok a dog',
    ]);
  });

  it('reads UTF-8 with a BOM and CRLF line endings', async () => {
    const items = await parse('\uFEFFa lighthouse\r\n一座黎明时的灯塔\r\n\r\n', 'txt');

    expect(summarise(items)).toEqual(['1 ok a lighthouse', '2 ok 一座黎明时的灯塔', '3 skip']);
  });

  it('trims the prompt and warns about one longer than recommended', async () => {
    const long = 'b'.repeat(121);
    const items = await parse(`  spaced  \n${long}\n`, 'txt');

    expect(summarise(items)).toEqual(['1 ok spaced', `2 ok ${long}`]);
    expect(items[1]).toMatchObject({
      warnings: [{ code: WarningCodes.PROMPT_LONGER_THAN_RECOMMENDED }],
    });
  });

  it('refuses a prompt over 800 characters with 003001002', async () => {
    const items = await parse(`${'x'.repeat(801)}\nok\n`, 'txt');

    expect(summarise(items)).toEqual(['1 003001002', '2 ok ok']);
  });

  it('reads a multi-byte character split across chunks', async () => {
    const items = await parse('😀 one\n灯塔 two\n', 'txt', { chunkSize: 1 });

    expect(summarise(items)).toEqual(['1 ok 😀 one', '2 ok 灯塔 two']);
  });
});

describe('.jsonl prompt files', () => {
  it('makes each line a request object and skips blank lines', async () => {
    const content = [
      '{"prompt":"a cat","seed":42,"width":1024,"height":1024}',
      '',
      '{"prompt":"a dog","use_pre_llm":false}',
    ].join('\n');

    const items = await parse(content, 'jsonl');

    expect(summarise(items)).toEqual(['1 ok a cat', '2 skip', '3 ok a dog']);
    expect(items[0]).toMatchObject({
      request: { seed: 42, width: 1024, height: 1024, use_pre_llm: true },
    });
    expect(items[2]).toMatchObject({ request: { use_pre_llm: false, seed: -1 } });
  });

  it('reads a BOM and CRLF line endings', async () => {
    const items = await parse('\uFEFF{"prompt":"one"}\r\n{"prompt":"two"}\r\n', 'jsonl');

    expect(summarise(items)).toEqual(['1 ok one', '2 ok two']);
  });

  it.each([
    [ErrorCodes.PROMPT_LINE_NOT_JSON, '{"prompt": "unterminated'],
    [ErrorCodes.PROMPT_LINE_NOT_JSON, '# a comment is not JSON in .jsonl'],
    [ErrorCodes.REQUEST_NOT_OBJECT, '"a bare string"'],
    [ErrorCodes.REQUEST_NOT_OBJECT, '[{"prompt":"in an array"}]'],
    [ErrorCodes.REQUEST_NOT_OBJECT, 'null'],
    [ErrorCodes.MISSING_PROMPT, '{"seed":5}'],
    [ErrorCodes.INVALID_PROMPT_LENGTH, '{"prompt":""}'],
    [ErrorCodes.INVALID_USE_PRE_LLM, '{"prompt":"x","use_pre_llm":"yes"}'],
    [ErrorCodes.INVALID_SEED, '{"prompt":"x","seed":0}'],
    [ErrorCodes.INVALID_SIZE, '{"prompt":"x","width":-1024,"height":1024}'],
    [ErrorCodes.INVALID_ASPECT_RATIO, '{"prompt":"x","width":2048,"height":512}'],
    [ErrorCodes.SIZE_PAIR_REQUIRED, '{"prompt":"x","width":1024}'],
    [ErrorCodes.SIZE_NOT_INTEGER, '{"prompt":"x","width":1024.5,"height":1024}'],
    [ErrorCodes.SIZE_OUT_OF_RANGE, '{"prompt":"x","width":256,"height":256}'],
    [ErrorCodes.UNKNOWN_FIELD, '{"prompt":"x","negative_prompt":"y"}'],
  ])('reports %s for the line %s and keeps reading', async (code, line) => {
    const items = await parse(`${line}\n{"prompt":"next"}\n`, 'jsonl');

    expect(summarise(items)).toEqual([`1 ${code}`, '2 ok next']);
    const invalid = items[0];
    expect(invalid?.kind === 'invalid' && invalid.error.message).toMatch(/\S/);
  });
});

describe('.json prompt files', () => {
  it('reads an array of requests, a string being a prompt, the index being the line', async () => {
    const items = await parse('[{"prompt":"a cat","seed":7}, "a dog", {"seed":3}]', 'json');

    expect(summarise(items)).toEqual([
      '1 ok a cat',
      '2 ok a dog',
      `3 ${ErrorCodes.MISSING_PROMPT}`,
    ]);
    expect(items[0]).toMatchObject({ request: { seed: 7 } });
  });

  it('merges defaults under each entry of {defaults, prompts}', async () => {
    const document = {
      defaults: { width: 1664, height: 928, seed: 11 },
      prompts: [
        'a wide landscape',
        { prompt: 'a square', width: 1328, height: 1328 },
        { seed: 5 },
        42,
      ],
    };

    const items = await parse(JSON.stringify(document), 'json');

    expect(summarise(items)).toEqual([
      '1 ok a wide landscape',
      '2 ok a square',
      `3 ${ErrorCodes.MISSING_PROMPT}`,
      `4 ${ErrorCodes.REQUEST_NOT_OBJECT}`,
    ]);
    expect(items[0]).toMatchObject({ request: { width: 1664, height: 928, seed: 11 } });
    expect(items[1]).toMatchObject({ request: { width: 1328, height: 1328, seed: 11 } });
  });

  it('gives every line the code of a bad default', async () => {
    const document = { defaults: { seed: 'random' }, prompts: ['a', 'b'] };

    const items = await parse(JSON.stringify(document), 'json');

    expect(summarise(items)).toEqual([
      `1 ${ErrorCodes.INVALID_SEED}`,
      `2 ${ErrorCodes.INVALID_SEED}`,
    ]);
  });

  it('reads a BOM and CRLF line endings', async () => {
    const items = await parse('\uFEFF[\r\n  "one",\r\n  "two"\r\n]\r\n', 'json');

    expect(summarise(items)).toEqual(['1 ok one', '2 ok two']);
  });

  it.each([
    ['text that is not JSON', '[{"prompt": "x"},'],
    ['a number', '42'],
    ['a string', '"a cat"'],
    ['an object without prompts', '{"defaults": {}}'],
    ['prompts that is not an array', '{"prompts": "a cat"}'],
    ['defaults that is not an object', '{"defaults": [1], "prompts": ["a"]}'],
    ['an unknown top-level field', '{"prompts": ["a"], "model": "x"}'],
  ])('refuses %s with 090005007', async (_name, content) => {
    const items = await parse(content, 'json');

    expect(summarise(items)).toEqual([`file ${ErrorCodes.PROMPT_FILE_INVALID_JSON}`]);
  });

  it.each([
    ['an empty array', '[]'],
    ['empty prompts', '{"defaults": {"seed": 3}, "prompts": []}'],
    ['white space only', ' \r\n\t'],
  ])('refuses %s as empty (090005005)', async (_name, content) => {
    expect(summarise(await parse(content, 'json'))).toEqual([
      `file ${ErrorCodes.PROMPT_FILE_EMPTY}`,
    ]);
  });

  it('refuses a file over the byte limit while reading it (090005001)', async () => {
    const items = await parse(JSON.stringify(['x'.repeat(200)]), 'json', {
      limits: { maxBytes: 100 },
    });

    expect(summarise(items)).toEqual([`file ${ErrorCodes.PROMPT_FILE_TOO_LARGE}`]);
  });

  it('starts no entry past the line limit and says 090005002', async () => {
    const items = await parse(JSON.stringify(['a', 'b', 'c', 'd']), 'json', {
      limits: { maxLines: 2 },
    });

    expect(summarise(items)).toEqual([
      '1 ok a',
      '2 ok b',
      `file ${ErrorCodes.PROMPT_FILE_TOO_MANY_LINES}`,
    ]);
  });
});

describe('file-level errors of line formats', () => {
  it.each(['txt', 'jsonl', 'json'] as const)(
    'refuses a %s file with a NUL byte as binary (090005004)',
    async (format) => {
      const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);

      expect(summarise(await parse(png, format))).toEqual([
        `file ${ErrorCodes.PROMPT_FILE_NOT_TEXT}`,
      ]);
    },
  );

  it.each(['txt', 'jsonl', 'json'] as const)(
    'refuses a %s file of invalid UTF-8 (090005004)',
    async (format) => {
      const latin1 = Buffer.from('"caf\xe9"\n', 'latin1');

      expect(summarise(await parse(latin1, format))).toEqual([
        `file ${ErrorCodes.PROMPT_FILE_NOT_TEXT}`,
      ]);
    },
  );

  it('refuses a file that ends inside a multi-byte character (090005004)', async () => {
    const truncated = Buffer.concat([Buffer.from('a cat\n'), Buffer.from('😀').subarray(0, 2)]);

    const items = await parse(truncated, 'txt');

    expect(fileError(items)).toBe(ErrorCodes.PROMPT_FILE_NOT_TEXT);
  });

  it('refuses the file before its first line when the first chunk is binary', async () => {
    const content = Buffer.concat([Buffer.from('a cat\na dog\n'), Buffer.from([0xff, 0xfe, 0])]);

    const items = await parse(content, 'txt');

    expect(summarise(items)).toEqual([`file ${ErrorCodes.PROMPT_FILE_NOT_TEXT}`]);
  });

  it.each([
    ['nothing at all', ''],
    ['a BOM only', '\uFEFF'],
    ['blank lines only', '\n\r\n   \n'],
    ['comments only', '# one\n# two\n'],
  ])('refuses a .txt file of %s as empty (090005005)', async (_name, content) => {
    const items = await parse(content, 'txt');

    expect(fileError(items)).toBe(ErrorCodes.PROMPT_FILE_EMPTY);
    expect(items.filter((item) => item.kind !== 'skipped')).toHaveLength(1);
  });

  it('refuses a stream longer than the byte limit as it arrives (090005001)', async () => {
    const items = await parse('a cat\n'.repeat(100), 'txt', {
      limits: { maxBytes: 50 },
      chunkSize: 20,
    });

    expect(fileError(items)).toBe(ErrorCodes.PROMPT_FILE_TOO_LARGE);
  });

  it('starts no line past the line limit and says 090005002', async () => {
    const items = await parse('one\ntwo\nthree\nfour\n', 'txt', { limits: { maxLines: 2 } });

    expect(summarise(items)).toEqual([
      '1 ok one',
      '2 ok two',
      `file ${ErrorCodes.PROMPT_FILE_TOO_MANY_LINES}`,
    ]);
  });

  it('does not count blank and comment lines past the limit as too many', async () => {
    const items = await parse('one\ntwo\n\n# end\n', 'txt', { limits: { maxLines: 2 } });

    expect(summarise(items)).toEqual(['1 ok one', '2 ok two', '3 skip', '4 skip']);
  });

  it.each(['txt', 'jsonl'] as const)(
    'reports a %s line over the line limit as 090005008 and reads on',
    async (format) => {
      const long =
        format === 'txt' ? 'y'.repeat(5000) : JSON.stringify({ prompt: 'y'.repeat(5000) });
      const next = format === 'txt' ? 'next' : '{"prompt":"next"}';

      const items = await parse(`${long}\n${next}\n`, format, { chunkSize: 100 });

      expect(summarise(items)).toEqual([`1 ${ErrorCodes.PROMPT_LINE_TOO_LONG}`, '2 ok next']);
      expect(items[0]).toMatchObject({
        error: { message: expect.stringMatching(/5\d{3} bytes.*1024/) },
      });
    },
  );

  it('accepts a line of exactly the line limit, its CR not counted', async () => {
    const exact = 'z'.repeat(LIMITS.maxLineBytes as number);

    const items = await parse(`${exact}\r\n${exact}z\r\n`, 'jsonl');

    expect(summarise(items)).toEqual([
      `1 ${ErrorCodes.PROMPT_LINE_NOT_JSON}`,
      `2 ${ErrorCodes.PROMPT_LINE_TOO_LONG}`,
    ]);
  });

  it('lets a failing stream fail the parse, as a read error and not a file error', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.from('a cat\n'));
        this.destroy(new Error('socket reset'));
      },
    });

    const consume = async () => {
      for await (const _item of parsePromptFile(failing, 'txt', LIMITS)) {
        // drain
      }
    };

    await expect(consume()).rejects.toThrow('socket reset');
  });
});

describe('parsePromptFile on arbitrary bytes', () => {
  it('never throws: every input gives lines and at most one documented file error, last', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          fc
            .array(
              fc.oneof(
                fc.string(),
                fc.constantFrom('\n', '\r\n', '#', '{"prompt":"x"}', '\uFEFF', '[', ']'),
              ),
            )
            .map((parts) => new TextEncoder().encode(parts.join(''))),
        ),
        fc.constantFrom<PromptFileFormat>('txt', 'jsonl', 'json'),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 20 }),
        async (bytes, format, chunkSize, maxLines) => {
          const items = await parse(bytes, format, {
            chunkSize,
            limits: { maxLines, maxLineBytes: 64 },
          });

          expect(items.length).toBeGreaterThan(0);
          const fileErrors = items.filter((item) => item.kind === 'file-error');
          expect(fileErrors.length).toBeLessThanOrEqual(1);
          if (fileErrors[0]) {
            expect(items.at(-1)).toBe(fileErrors[0]);
            expect(PARSER_FILE_ERROR_CODES).toContain(fileErrors[0].error.code);
          }
          const lines = items.flatMap((item) => ('line' in item ? [item.line] : []));
          expect(lines).toEqual([...lines].sort((a, b) => a - b));
          expect(new Set(lines).size).toBe(lines.length);
          expect(
            items.filter((item) => item.kind === 'request' || item.kind === 'invalid').length,
          ).toBeLessThanOrEqual(maxLines);
        },
      ),
      { numRuns: 500 },
    );
  });
});
