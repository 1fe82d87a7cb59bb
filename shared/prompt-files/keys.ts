/**
 * What an object key says about a prompt file: whether it is one at all, its format (by
 * extension), its owner (by folder) and where its report goes.
 */
import { createHash } from 'node:crypto';
import { ownerSchema } from '#shared/generation/model.ts';

/** Prompt files live under this prefix; the S3 notification filters on it. */
export const PROMPTS_PREFIX = 'prompts/';
/** Reports are written under this prefix, in the same bucket. Never processed. */
export const REPORTS_PREFIX = 'reports/';
/** S3's own limit on key length, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

export const PROMPT_FILE_FORMATS = ['txt', 'jsonl', 'json'] as const;
export type PromptFileFormat = (typeof PROMPT_FILE_FORMATS)[number];

/** The format named by the key's extension, case-insensitively; `undefined` if it is none of ours. */
export function formatOf(key: string): PromptFileFormat | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1).toLowerCase();
  const dot = name.lastIndexOf('.');
  if (dot === -1) return undefined;
  const extension = name.slice(dot + 1);
  return (PROMPT_FILE_FORMATS as readonly string[]).includes(extension)
    ? (extension as PromptFileFormat)
    : undefined;
}

/** Why a key is not processed at all (no report is written for it). */
export type IgnoreReason = 'report' | 'outside-prompts' | 'folder';

/**
 * Keys this trigger must not touch. Reports are refused whatever the notification's filter says,
 * so a misconfigured bucket cannot loop (a report triggering a report). Folder placeholders (the
 * console's "Create folder" writes `prompts/alice/`) are not files.
 */
export function ignoreReason(key: string): IgnoreReason | undefined {
  if (key.startsWith(REPORTS_PREFIX)) return 'report';
  if (!key.startsWith(PROMPTS_PREFIX)) return 'outside-prompts';
  if (key.endsWith('/')) return 'folder';
  return undefined;
}

export type OwnerResolution =
  | { readonly ok: true; readonly owner: string }
  | { readonly ok: false; readonly folder: string };

/**
 * `prompts/<owner>/…` belongs to `<owner>` (it must be a valid owner name); a file directly under
 * `prompts/` belongs to the default owner.
 */
export function ownerOf(key: string, defaultOwner: string): OwnerResolution {
  const rest = key.slice(PROMPTS_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash === -1) return { ok: true, owner: defaultOwner };
  const folder = rest.slice(0, slash);
  return ownerSchema.safeParse(folder).success
    ? { ok: true, owner: folder }
    : { ok: false, folder };
}

/**
 * `reports/<key>.json`. A key so long that the report's key would pass S3's 1024-byte limit
 * gets `reports/long-keys/<sha256 of key>.json` instead; the report names the file inside.
 */
export function reportKeyOf(key: string): string {
  const reportKey = `${REPORTS_PREFIX}${key}.json`;
  if (Buffer.byteLength(reportKey, 'utf8') <= MAX_KEY_BYTES) return reportKey;
  const digest = createHash('sha256').update(key, 'utf8').digest('hex');
  return `${REPORTS_PREFIX}long-keys/${digest}.json`;
}

/** S3 notifications URL-encode keys, with `+` for a space. */
export function decodeEventKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, '%20'));
  } catch {
    return raw;
  }
}
