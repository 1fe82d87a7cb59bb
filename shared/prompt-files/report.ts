/**
 * The report of one prompt file, written to `reports/<key>.json` in the input bucket for every
 * file the trigger looks at, however bad: it lists each line as started (`{line, id}`) or refused
 * (`{line, error}`), so no line is ever dropped without a word. Blank and comment lines are only
 * counted (`summary.skipped`). A file-level `error` says why the file, or the rest of it from some
 * line on, was not used; lines listed before it stand (their generations were started).
 */
import type { RequestWarning } from '#shared/request/schema.ts';
import type { PromptFileFormat } from './keys.ts';
import type { CodedError } from './parser.ts';

export type ReportLine =
  | {
      readonly line: number;
      /** The generation id (`GET /generations/{id}`). */
      readonly id: string;
      /** Accepted with a warning, e.g. a prompt longer than the provider recommends. */
      readonly warnings?: readonly RequestWarning[];
    }
  | { readonly line: number; readonly error: CodedError };

export interface ReportSummary {
  /** Lines read (`.json`: array entries): accepted + rejected + skipped. */
  readonly lines: number;
  /** Lines whose generation was started (or had been, by an earlier delivery of the event). */
  readonly accepted: number;
  /** Lines refused with an error. */
  readonly rejected: number;
  /** Blank and comment lines. */
  readonly skipped: number;
}

/** What a report says of its file, known before any line is read. */
export interface ReportHead {
  readonly bucket: string;
  readonly key: string;
  /** The S3 version the generations came from, in a versioned bucket. */
  readonly versionId?: string;
  /** The object's ETag, without quotes; absent only when the object could not be read at all. */
  readonly etag?: string;
  /** The owner the generations belong to (for a refused folder, the folder name as written). */
  readonly owner: string;
  /** The format by extension; `null` for a file that is not a prompt file. */
  readonly format: PromptFileFormat | null;
}

export interface PromptFileReport extends ReportHead {
  /** The batch the file is (`GET /batches/{id}`); absent for a file refused before it was one. */
  readonly batchId?: string;
  readonly createdAt: string;
  readonly summary: ReportSummary;
  readonly lines: readonly ReportLine[];
  readonly error?: CodedError;
}

/** Collects a report as the file is read. */
export class ReportBuilder {
  readonly #head: ReportHead;
  readonly #lines: ReportLine[] = [];
  #accepted = 0;
  #rejected = 0;
  #skipped = 0;
  #error: CodedError | undefined;
  #batchId: string | undefined;

  constructor(head: ReportHead) {
    this.#head = head;
  }

  /** The batch the file is. */
  inBatch(batchId: string): void {
    this.#batchId = batchId;
  }

  accepted(line: number, id: string, warnings: readonly RequestWarning[] = []): void {
    this.#accepted++;
    this.#lines.push(warnings.length > 0 ? { line, id, warnings } : { line, id });
  }

  rejected(line: number, error: CodedError): void {
    this.#rejected++;
    this.#lines.push({ line, error });
  }

  skipped(_line: number): void {
    this.#skipped++;
  }

  /** The file-level error; the first one wins. */
  fail(error: CodedError): void {
    this.#error ??= error;
  }

  get error(): CodedError | undefined {
    return this.#error;
  }

  get summary(): ReportSummary {
    return {
      lines: this.#accepted + this.#rejected + this.#skipped,
      accepted: this.#accepted,
      rejected: this.#rejected,
      skipped: this.#skipped,
    };
  }

  build(createdAt: Date): PromptFileReport {
    const { versionId, etag, ...head } = this.#head;
    return {
      bucket: head.bucket,
      key: head.key,
      ...(versionId !== undefined && { versionId }),
      ...(etag !== undefined && { etag }),
      owner: head.owner,
      format: head.format,
      ...(this.#batchId !== undefined && { batchId: this.#batchId }),
      createdAt: createdAt.toISOString(),
      summary: this.summary,
      lines: this.#lines,
      ...(this.#error !== undefined && { error: this.#error }),
    };
  }
}
