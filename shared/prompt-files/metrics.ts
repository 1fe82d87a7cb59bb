/** CloudWatch metrics of the prompt-file trigger, from the outcome of one event. */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { PromptFileEventResult } from './processor.ts';

export function recordPromptFileMetrics(result: PromptFileEventResult, metrics: Metrics): void {
  let accepted = 0;
  let rejected = 0;
  let refused = 0;
  for (const record of result.records) {
    if (record.status !== 'reported') continue;
    accepted += record.summary.accepted;
    rejected += record.summary.rejected;
    if (record.error) refused++;
  }
  metrics.addMetric('PromptFileLinesAccepted', MetricUnit.Count, accepted);
  metrics.addMetric('PromptFileLinesRejected', MetricUnit.Count, rejected);
  metrics.addMetric('PromptFilesWithFileError', MetricUnit.Count, refused);
}
