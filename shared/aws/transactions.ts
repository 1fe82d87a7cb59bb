/**
 * TransactWriteItems as the batch counts use it: all or nothing, with DynamoDB's cancellation
 * reasons turned into an answer the caller can act on. A transaction DynamoDB cancels because
 * another one held an item (`TransactionConflict`) is sent again, with backoff and jitter: the
 * counter shards are shared by the lines of a batch, so two of them meeting is expected.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';

type TransactItems = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>;

export type TransactOutcome =
  | { readonly ok: true }
  /** A condition did not hold: the index of each item whose condition failed, and its old item. */
  | {
      readonly ok: false;
      readonly failed: ReadonlyArray<{
        readonly index: number;
        readonly item?: Record<string, unknown>;
      }>;
    };

const CONFLICT_ATTEMPTS = 8;

export async function transactWrite(
  client: DynamoDBDocumentClient,
  items: TransactItems,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<TransactOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.send(new TransactWriteCommand({ TransactItems: items }));
      return { ok: true };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const failed = reasons.flatMap((reason, index) =>
        reason.Code === 'ConditionalCheckFailed'
          ? [{ index, ...(reason.Item && { item: reason.Item as Record<string, unknown> }) }]
          : [],
      );
      if (failed.length > 0) return { ok: false, failed };
      const conflict = reasons.some((reason) => reason.Code === 'TransactionConflict');
      if (!conflict || attempt >= CONFLICT_ATTEMPTS) throw error;
      await sleep(Math.floor(Math.random() * Math.min(1000, 25 * 2 ** attempt)));
    }
  }
}
