import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { generationIdSchema } from '#shared/generation/model.ts';
import { POLLING_STATS_KEY, PollingStatsStore } from '#shared/generation/polling-stats.ts';

const dynamo = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const now = new Date('2026-11-24T10:00:00.000Z');

beforeEach(() => dynamo.reset());

describe('the learned provider durations', () => {
  it('live under a key no generation id can take', () => {
    expect(generationIdSchema.safeParse(POLLING_STATS_KEY).success).toBe(false);
  });

  it('are read as the newest numbers, oldest first', async () => {
    dynamo.on(GetCommand).resolves({ Item: { samples: [1, 'x', 2, 3, 4, 5] } });

    expect(await new PollingStatsStore(client, 'generations', 3).recent()).toEqual([3, 4, 5]);
    expect(dynamo.commandCalls(GetCommand)[0]?.args[0].input).toMatchObject({
      TableName: 'generations',
      Key: { id: POLLING_STATS_KEY },
    });
  });

  it('are none before the first generation', async () => {
    dynamo.on(GetCommand).resolves({});
    expect(await new PollingStatsStore(client, 'generations', 3).recent()).toEqual([]);
  });

  it('grow by one atomic append per completed generation', async () => {
    dynamo.on(UpdateCommand).resolves({ Attributes: { samples: [9.5] } });

    await new PollingStatsStore(client, 'generations', 3).record(9.5, now);

    const calls = dynamo.commandCalls(UpdateCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({
      Key: { id: POLLING_STATS_KEY },
      UpdateExpression: expect.stringContaining('list_append(if_not_exists(samples, :empty)'),
      ExpressionAttributeValues: { ':sample': [9.5], ':empty': [] },
    });
  });

  it('are trimmed to the newest `keep` once twice as many are stored', async () => {
    dynamo
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { samples: [1, 2, 3, 4, 5, 6] } })
      .resolves({});

    await new PollingStatsStore(client, 'generations', 3).record(6, now);

    const trim = dynamo.commandCalls(UpdateCommand)[1]?.args[0].input;
    expect(trim).toMatchObject({
      UpdateExpression: 'REMOVE samples[0], samples[1], samples[2]',
      ConditionExpression: 'size(samples) >= :length',
      ExpressionAttributeValues: { ':length': 6 },
    });
  });

  it('are trimmed by one writer only when several race', async () => {
    dynamo
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { samples: [1, 2, 3, 4, 5, 6] } })
      .rejects(new ConditionalCheckFailedException({ message: 'trimmed', $metadata: {} }));

    await expect(
      new PollingStatsStore(client, 'generations', 3).record(6, now),
    ).resolves.toBeUndefined();
  });
});
