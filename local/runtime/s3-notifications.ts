/**
 * S3 -> Lambda notifications as the template configures them, with each delivery journalled
 * while in flight so a restart delivers again what a stop cut off.
 */
import { type CfnTemplate, resolveIntrinsics } from '#infra/asl.ts';
import { journalledInvocations, type OnRetriesExhausted } from '#local/runtime/async-invocation.ts';
import type { Invoker } from '#local/runtime/invoke-access.ts';
import type { PendingJournal, PendingWork } from '#local/runtime/journal.ts';
import type { S3NotificationEvent } from '#local/runtime/storage.ts';
import { decodeEventKey } from '#shared/prompt-files/keys.ts';

/** In the data dir: S3 deliveries not yet done. */
export const DELIVERIES_JOURNAL = 's3-deliveries-in-flight.jsonl';

/**
 * S3 -> Lambda as the template configures it: each object event whose key matches a
 * notification's prefix invokes its function asynchronously, with Lambda's two retries.
 */
export function wireS3Notifications(
  template: CfnTemplate,
  storage: { onS3Event(listener: (event: S3NotificationEvent) => void): void },
  lambda: Invoker,
  journal: PendingJournal<S3Delivery>,
  timeScale: number,
  log: (line: string) => void,
  onRetriesExhausted?: OnRetriesExhausted,
): {
  redeliver(bucket: string, key: string): { delivered: number };
  resume(delivery: PendingWork<S3Delivery>): void;
  stop(): void;
} {
  const notifications = Object.values(template.Resources)
    .filter((resource) => resource.Type === 'Custom::S3BucketNotifications')
    .map((resource) => resolveIntrinsics(resource.Properties, template) as S3NotificationConfig);
  // The latest event record of each object, so a test can have it delivered again.
  const latest = new Map<string, S3NotificationEvent['Records'][number]>();
  // Each delivery is in the journal from before its invocation until it succeeded or its
  // retries ran out, as Lambda keeps an asynchronous invocation until then.
  const invocations = journalledInvocations(
    journal,
    (delivery: S3Delivery) => ({
      lambda,
      functionArn: delivery.functionArn,
      event: { Records: [delivery.record] },
    }),
    timeScale,
    log,
    onRetriesExhausted,
  );
  const deliver = (record: S3NotificationEvent['Records'][number]): number => {
    const s3 = record.s3 as { bucket: { name: string }; object: { key: string } };
    const eventName = `s3:${String(record.eventName)}`;
    // Decoded once, as S3 encoded it, for the filter rules (which name keys as they are).
    const key = decodeEventKey(s3.object.key);
    latest.set(`${s3.bucket.name}/${key}`, record);
    let delivered = 0;
    for (const notification of notifications) {
      if (notification.BucketName !== s3.bucket.name) continue;
      for (const target of notification.NotificationConfiguration.LambdaFunctionConfigurations ??
        []) {
        if (!matches(target, eventName, key)) continue;
        delivered++;
        invocations.invoke({ functionArn: target.LambdaFunctionArn, record });
      }
    }
    return delivered;
  };
  storage.onS3Event((event) => {
    for (const record of event.Records) deliver(record);
  });
  return {
    redeliver(bucket, key) {
      const record = latest.get(`${bucket}/${key}`);
      return { delivered: record ? deliver(record) : 0 };
    },
    resume: invocations.resume,
    stop: invocations.stop,
  };
}

/** One S3 event record on its way to one function (a journal entry while in flight). */
export interface S3Delivery {
  readonly functionArn: string;
  readonly record: S3NotificationEvent['Records'][number];
}

interface S3NotificationConfig {
  readonly BucketName: string;
  readonly NotificationConfiguration: {
    readonly LambdaFunctionConfigurations?: ReadonlyArray<{
      readonly Events: readonly string[];
      readonly LambdaFunctionArn: string;
      readonly Filter?: {
        readonly Key?: { readonly FilterRules?: ReadonlyArray<{ Name: string; Value: string }> };
      };
    }>;
  };
}

function matches(
  target: NonNullable<
    S3NotificationConfig['NotificationConfiguration']['LambdaFunctionConfigurations']
  >[number],
  eventName: string,
  key: string,
): boolean {
  const eventMatches = target.Events.some((pattern) =>
    pattern.endsWith('*') ? eventName.startsWith(pattern.slice(0, -1)) : pattern === eventName,
  );
  const rules = target.Filter?.Key?.FilterRules ?? [];
  return (
    eventMatches &&
    rules.every((rule) =>
      rule.Name.toLowerCase() === 'prefix' ? key.startsWith(rule.Value) : key.endsWith(rule.Value),
    )
  );
}
