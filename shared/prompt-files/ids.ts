/**
 * Generation ids of prompt-file lines. The id is the Step Functions execution name, and it is a
 * pure function of where the line came from, so S3 delivering the same event twice (it delivers
 * at least once) starts nothing new: the second `StartExecution` meets the existing execution.
 */
import { createHash } from 'node:crypto';

/** What pins one version of one file: its version id, or its ETag in an unversioned bucket. */
export interface FileIdentity {
  readonly bucket: string;
  readonly key: string;
  /** S3 version id; absent (or S3's literal `"null"`) when the bucket is not versioned. */
  readonly versionId?: string;
  /** ETag as S3 answers it (quotes are ignored). */
  readonly etag: string;
}

/** Prefix of prompt-file generation ids, so their origin shows at a glance. */
export const PROMPT_FILE_ID_PREFIX = 'f_';

/** `f_` + the first 40 hex digits of a SHA-256 over (bucket, key, version or ETag, line). */
export function promptLineId(file: FileIdentity, line: number): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([file.bucket, file.key, versionOf(file), line]), 'utf8')
    .digest('hex');
  return `${PROMPT_FILE_ID_PREFIX}${digest.slice(0, 40)}`;
}

/** The part of the identity that changes with the content: `v:<version id>` or `e:<etag>`. */
export function versionOf(file: FileIdentity): string {
  return hasVersion(file.versionId) ? `v:${file.versionId}` : `e:${unquoteEtag(file.etag)}`;
}

/** S3 answers `"null"` as the version id of objects written while versioning was off. */
export function hasVersion(versionId: string | undefined): versionId is string {
  return versionId !== undefined && versionId !== '' && versionId !== 'null';
}

export function unquoteEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}
