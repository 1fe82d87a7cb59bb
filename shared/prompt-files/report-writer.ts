/**
 * Writing a prompt file's report beside it (`reports/<key>.json`) once every line is answered,
 * and logging the outcome.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { logger } from '#shared/observability/powertools.ts';
import { PromptFileReportError } from './errors.ts';
import { reportKeyOf } from './keys.ts';
import type { PromptFileDeps, PromptFileOutcome } from './processor.ts';
import type { ReportBuilder } from './report.ts';

export async function writeReport(
  report: ReportBuilder,
  deps: PromptFileDeps,
): Promise<PromptFileOutcome> {
  const built = report.build((deps.now ?? (() => new Date()))());
  const reportKey = reportKeyOf(built.key);
  try {
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: built.bucket,
        Key: reportKey,
        Body: JSON.stringify(built),
        ContentType: 'application/json; charset=utf-8',
      }),
    );
  } catch (error) {
    throw new PromptFileReportError(`Writing the report s3://${built.bucket}/${reportKey} failed`, {
      cause: error,
    });
  }
  logger.info('Prompt file processed', {
    bucket: built.bucket,
    objectKey: built.key,
    reportKey,
    summary: built.summary,
    error: built.error,
  });
  return {
    status: 'reported',
    bucket: built.bucket,
    key: built.key,
    reportKey,
    summary: built.summary,
    ...(built.error && { error: built.error }),
  };
}
