/**
 * The AWS list prices the benchmark's cost model uses — the one place they are written down.
 * us-east-1, on-demand, no free tier, first pricing tier; USD. Checked 2026-12-01 against the
 * figures below; check the pages again before quoting a result as money.
 *
 * Only what the workflow itself pays per generation is priced. Not modelled: CloudWatch Logs
 * ingestion of the state machine's ALL-level execution logs and X-Ray traces (both grow with the
 * number of states entered, so leaving them out flatters the variant with more transitions),
 * the provider's own charge (the same for every variant), storage.
 */
export const PRICES = {
  /** https://aws.amazon.com/step-functions/pricing/ — Standard workflows. */
  stepFunctionsStandardTransition: { usd: 0.025 / 1000, per: 'state transition' },
  /** https://aws.amazon.com/lambda/pricing/ — requests. */
  lambdaRequest: { usd: 0.2 / 1_000_000, per: 'request' },
  /** https://aws.amazon.com/lambda/pricing/ — Arm duration, first 7.5 billion GB-s a month. */
  lambdaArmGbSecond: { usd: 0.0000133334, per: 'GB-second' },
  /**
   * https://aws.amazon.com/dynamodb/pricing/on-demand/ — write request unit (1 KB). AWS announced
   * a 50 % cut of on-demand throughput prices in November 2024 ($0.625); the older, higher figure
   * is kept so the model does not understate, and DynamoDB is a few per cent of either total.
   */
  dynamodbWriteRequestUnit: { usd: 1.25 / 1_000_000, per: 'write request unit' },
  /** Same page — read request unit (4 KB strongly consistent, or two eventually consistent). */
  dynamodbReadRequestUnit: { usd: 0.25 / 1_000_000, per: 'read request unit' },
  /** https://aws.amazon.com/s3/pricing/ — S3 Standard PUT, COPY, POST, LIST requests. */
  s3PutRequest: { usd: 0.005 / 1000, per: 'PUT/POST request' },
  /** Same page — GET and other requests. */
  s3GetRequest: { usd: 0.0004 / 1000, per: 'GET request' },
  /** https://aws.amazon.com/eventbridge/pricing/ — custom events published (64 KB chunks). */
  eventBridgeEvent: { usd: 1 / 1_000_000, per: 'custom event' },
  /** https://aws.amazon.com/api-gateway/pricing/ — REST API requests, first 333 million. */
  apiGatewayRestRequest: { usd: 3.5 / 1_000_000, per: 'REST API request' },
} as const;

export const PRICES_CHECKED = '2026-12-01';

/** What one generation used, as measured. */
export interface Usage {
  readonly transitions: number;
  /** Invocations of the workflow's functions (CreateTask, PollTask, CopyImages, ClassifyFailure). */
  readonly lambdaRequests: number;
  /** Their billed duration × configured memory. */
  readonly lambdaGbSeconds: number;
  readonly dynamodbWriteUnits: number;
  readonly dynamodbReadUnits: number;
  readonly s3PutRequests: number;
  readonly s3GetRequests: number;
  readonly events: number;
}

export interface CostBreakdown {
  readonly stepFunctions: number;
  readonly lambdaRequests: number;
  readonly lambdaDuration: number;
  readonly dynamodb: number;
  readonly s3: number;
  readonly eventBridge: number;
  readonly total: number;
}

/** The orchestration cost of one generation in USD. */
export function orchestrationCost(usage: Usage): CostBreakdown {
  const parts = {
    stepFunctions: usage.transitions * PRICES.stepFunctionsStandardTransition.usd,
    lambdaRequests: usage.lambdaRequests * PRICES.lambdaRequest.usd,
    lambdaDuration: usage.lambdaGbSeconds * PRICES.lambdaArmGbSecond.usd,
    dynamodb:
      usage.dynamodbWriteUnits * PRICES.dynamodbWriteRequestUnit.usd +
      usage.dynamodbReadUnits * PRICES.dynamodbReadRequestUnit.usd,
    s3:
      usage.s3PutRequests * PRICES.s3PutRequest.usd + usage.s3GetRequests * PRICES.s3GetRequest.usd,
    eventBridge: usage.events * PRICES.eventBridgeEvent.usd,
  };
  return { ...parts, total: Object.values(parts).reduce((sum, value) => sum + value, 0) };
}

/** Lambda bills each invocation's duration rounded up to the millisecond, at its memory. */
export function billedGbSeconds(durationMs: number, memoryMb: number): number {
  return (Math.ceil(durationMs) / 1000) * (memoryMb / 1024);
}
