/** Configuration of the prompt-file trigger: variable names and defaults. */
import { API_KEYS_TABLE_VARIABLE } from '../api/key-table.ts';
import { envInt } from '../config/env.ts';
import * as z from '../zod.ts';

/** Variables of the prompt-file function (besides `EnvNames.stateMachineArn`). */
export const PromptFileEnv = {
  /** Owner of files directly under `prompts/` (`local` in the local runtime). Required. */
  defaultOwner: 'DEFAULT_OWNER',
  /** File size limit in bytes. @default 52428800 (50 MiB) */
  maxBytes: 'PROMPT_FILE_MAX_BYTES',
  /** Line limit. @default 50000 */
  maxLines: 'PROMPT_FILE_MAX_LINES',
  /** Generations started a second, per file, unless the time left needs more. @default 25 */
  startsPerSecond: 'PROMPT_FILE_STARTS_PER_SECOND',
  /** The API keys table, to check that a folder's owner has a key. Required. */
  apiKeysTable: API_KEYS_TABLE_VARIABLE,
} as const;

export const DEFAULT_PROMPT_FILE_MAX_BYTES = 50 * 1024 * 1024;
export const DEFAULT_PROMPT_FILE_MAX_LINES = 50_000;

/** A positive whole number read from the environment, with a default. */
export const envPositiveInt = (fallback: number) =>
  z.pipe(envInt(fallback), z.int().check(z.positive()));
