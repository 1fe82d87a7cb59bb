/**
 * The prompt-file parser: an async generator over the file's bytes that yields, in order, every
 * line as a validated request, a coded error, or a skipped line, and a file-level error when the
 * file is refused (as a whole, or from some point on). It never throws for anything in the file;
 * only the stream itself failing (a network error) escapes.
 *
 * - `.txt`: the line is the prompt. Blank lines and lines whose first non-blank character is `#`
 *   are skipped, and still counted, so line numbers match an editor's.
 * - `.jsonl`: each line is one request object. Blank lines are skipped.
 * - `.json`: an array of requests, or `{defaults, prompts}` where `prompts` holds prompt strings or
 *   request objects and `defaults` is merged under each; the "line" is the 1-based array index. A
 *   string in a plain array is a prompt too. It is read whole, up to the byte limit.
 *
 * Every file is UTF-8, with or without a BOM, with LF or CRLF line endings.
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import { isPlainObject } from '#shared/json.ts';
import {
  type GenerationRequest,
  type RequestWarning,
  validateGenerationRequest,
} from '#shared/request/schema.ts';
import { PromptFileRejectedError } from './errors.ts';
import type { PromptFileFormat } from './keys.ts';
import { decodeText, physicalLines, readAll } from './lines.ts';

/** 64 KiB: far above any valid request (a prompt is at most 800 characters). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export interface ParseLimits {
  /** Bytes in the file. */
  readonly maxBytes: number;
  /** Lines (or `.json` entries); a prompt past it is not used and the file gets `090005002`. */
  readonly maxLines: number;
  /** Bytes in one line of a `.txt` or `.jsonl` file. @default 65536 */
  readonly maxLineBytes?: number;
}

/** A code and a message, as the report shows them. */
export interface CodedError {
  readonly code: string;
  readonly message: string;
}

export type PromptFileItem =
  | {
      readonly kind: 'request';
      readonly line: number;
      readonly request: GenerationRequest;
      readonly warnings: readonly RequestWarning[];
    }
  | { readonly kind: 'invalid'; readonly line: number; readonly error: CodedError }
  | { readonly kind: 'skipped'; readonly line: number }
  /** Always the last item: nothing after it is read. */
  | { readonly kind: 'file-error'; readonly error: CodedError };

/** The file-level codes the parser can yield. */
export const PARSER_FILE_ERROR_CODES: readonly string[] = [
  ErrorCodes.PROMPT_FILE_TOO_LARGE,
  ErrorCodes.PROMPT_FILE_TOO_MANY_LINES,
  ErrorCodes.PROMPT_FILE_NOT_TEXT,
  ErrorCodes.PROMPT_FILE_EMPTY,
  ErrorCodes.PROMPT_FILE_INVALID_JSON,
];

export async function* parsePromptFile(
  body: AsyncIterable<Uint8Array | string>,
  format: PromptFileFormat,
  limits: ParseLimits,
): AsyncGenerator<PromptFileItem, void, undefined> {
  let prompts = 0;
  try {
    const items = format === 'json' ? jsonItems(body, limits) : lineItems(body, format, limits);
    for await (const item of items) {
      if (item.kind !== 'skipped') prompts++;
      yield item;
    }
  } catch (error) {
    if (!(error instanceof PromptFileRejectedError)) throw error;
    yield { kind: 'file-error', error: { code: error.code, message: error.message } };
    return;
  }
  if (prompts === 0) {
    yield {
      kind: 'file-error',
      error: {
        code: ErrorCodes.PROMPT_FILE_EMPTY,
        message:
          format === 'json'
            ? 'The file has no prompt in it'
            : 'The file has no prompt in it (only blank or comment lines)',
      },
    };
  }
}

async function* lineItems(
  body: AsyncIterable<Uint8Array | string>,
  format: 'txt' | 'jsonl',
  limits: ParseLimits,
): AsyncGenerator<PromptFileItem, void, undefined> {
  const maxLineBytes = limits.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  for await (const physical of physicalLines(body, { maxBytes: limits.maxBytes, maxLineBytes })) {
    const { line } = physical;
    if ('text' in physical && isSkipped(physical.text, format)) {
      yield { kind: 'skipped', line };
      continue;
    }
    if (line > limits.maxLines) throw tooManyLines(limits.maxLines);
    if (!('text' in physical)) {
      yield invalid(line, {
        code: ErrorCodes.PROMPT_LINE_TOO_LONG,
        message: `The line is ${physical.bytes} bytes long; the limit is ${maxLineBytes}`,
      });
      continue;
    }
    if (format === 'txt') {
      yield validated(line, { prompt: physical.text });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(physical.text);
    } catch (error) {
      yield invalid(line, {
        code: ErrorCodes.PROMPT_LINE_NOT_JSON,
        message: `The line is not valid JSON: ${(error as Error).message}`,
      });
      continue;
    }
    yield validated(line, value);
  }
}

async function* jsonItems(
  body: AsyncIterable<Uint8Array | string>,
  limits: ParseLimits,
): AsyncGenerator<PromptFileItem, void, undefined> {
  const text = decodeText(await readAll(body, limits.maxBytes));
  if (text.trim() === '') return;
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (cause) {
    throw invalidJson(`The file is not valid JSON: ${(cause as Error).message}`, cause);
  }
  const entries = requestsOf(document);
  for (const [index, entry] of entries.entries()) {
    const line = index + 1;
    if (line > limits.maxLines) throw tooManyLines(limits.maxLines);
    yield validated(line, entry);
  }
}

/** The requests a `.json` document holds, defaults merged in. */
function requestsOf(document: unknown): unknown[] {
  if (Array.isArray(document)) return document.map((entry) => asRequest(entry, {}));
  if (!isPlainObject(document)) {
    throw invalidJson(
      'The file must hold an array of requests or an object {"defaults", "prompts"}',
    );
  }
  const unknownKeys = Object.keys(document).filter(
    (key) => key !== 'defaults' && key !== 'prompts',
  );
  if (unknownKeys.length > 0) {
    throw invalidJson(
      `Unknown top-level field ${unknownKeys.map((key) => `"${key}"`).join(', ')}; only "defaults" and "prompts" are allowed`,
    );
  }
  if (!Array.isArray(document.prompts)) {
    throw invalidJson('"prompts" must be an array of prompt strings or request objects');
  }
  const defaults = document.defaults ?? {};
  if (!isPlainObject(defaults)) throw invalidJson('"defaults" must be an object');
  return document.prompts.map((entry) => asRequest(entry, defaults));
}

/** A string is a prompt; an object is a request over the defaults; anything else stays as is. */
function asRequest(entry: unknown, defaults: Record<string, unknown>): unknown {
  if (typeof entry === 'string') return { ...defaults, prompt: entry };
  if (isPlainObject(entry)) return { ...defaults, ...entry };
  return entry;
}

function validated(line: number, value: unknown): PromptFileItem {
  const result = validateGenerationRequest(value);
  return result.ok
    ? { kind: 'request', line, request: result.request, warnings: result.warnings }
    : invalid(line, { code: result.error.code, message: result.error.message });
}

function invalid(line: number, error: CodedError): PromptFileItem {
  return { kind: 'invalid', line, error };
}

function isSkipped(text: string, format: 'txt' | 'jsonl'): boolean {
  const trimmed = text.trim();
  return trimmed === '' || (format === 'txt' && trimmed.startsWith('#'));
}

function tooManyLines(maxLines: number): PromptFileRejectedError {
  return new PromptFileRejectedError(
    ErrorCodes.PROMPT_FILE_TOO_MANY_LINES,
    `The file has more than ${maxLines} lines; line ${maxLines + 1} and after were not started`,
  );
}

function invalidJson(message: string, cause?: unknown): PromptFileRejectedError {
  return new PromptFileRejectedError(ErrorCodes.PROMPT_FILE_INVALID_JSON, message, { cause });
}
